#include "ltxguard/cmd/cleanup.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/alarm.hpp"
#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/cleanup_inputs.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/evidence_bundle.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/output/cleanup_report.hpp"
#include "ltxguard/sys/state_dir.hpp"
#include "ltxguard/util/atomic_file.hpp"
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::cmd {
namespace {

using model::CleanupClass;
using nlohmann::ordered_json;

constexpr const char* kJournalName = "cleanup-journal.jsonl";
constexpr const char* kPlanName = "cleanup-plan.json";
// The processes are looked at again before the first removal and after every this many.
constexpr size_t kRecheckEveryFiles = 64;

struct Refusal {
  int exit_code;
  std::string text;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "ltxguard: %s\n", message.c_str());
  return kExitUsage;
}

// A journal line. Paths come from the disk and may be invalid UTF-8: nlohmann's default
// handler throws on them (which would abort mid-apply), so they are replaced by U+FFFD; the
// line's dev and ino still name the file exactly.
std::string journal_line(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// A state dir or quarantine that is missing is an input problem (66); anything else about it
// means the output cannot be written where asked (73).
int output_error(const util::Error& e) {
  std::fprintf(stderr, "ltxguard: %s\n", e.to_string().c_str());
  return e.code == util::ErrorCode::not_found ? kExitNoInput : kExitCantCreate;
}

std::string utc_stamp(std::chrono::system_clock::time_point t, bool iso) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y%m%dT%H%M%SZ", &tm);
  if (!iso) return buf;
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03}Z", buf, ms);
}

std::string human(uint64_t bytes) {
  return util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX)));
}

std::string config_flag(const CleanupArgs& a) {
  return a.config_path.empty() ? "" : " --config " + a.config_path;
}

// Reasons --apply cannot go ahead now, most urgent first: what a stopped Litestream fixes
// (75) before what the meta dir itself forbids (77).
std::vector<Refusal> refusals(const CleanupMeasurement& m) {
  std::vector<Refusal> out;
  if (!m.proc_note.empty()) {
    out.push_back({kExitTempFail, "cannot read the process list (" + m.proc_note +
                                      "): cannot prove Litestream is stopped; run as root"});
  }
  for (const auto& p : m.litestream_for_db) {
    out.push_back(
        {kExitTempFail, fmt::format("Litestream is running for this database: {}; stop it first "
                                    "(docs/runbook.md#stop-litestream-safely)",
                                    describe_process(p))});
  }
  for (const auto& o : m.meta_holders) {
    out.push_back(
        {kExitTempFail,
         fmt::format("pid {} ({}) has {} open: something still uses Litestream's staging; "
                     "stop it first",
                     o.pid, o.comm, o.path)});
  }
  if (!m.meta_dir_error.empty()) out.push_back({kExitNoPerm, m.meta_dir_error});
  if (m.meta_dir) {
    for (const auto& e : m.meta_dir->refusals()) out.push_back({kExitNoPerm, e.to_string()});
  }
  return out;
}

output::CleanupContext make_context(const CleanupMeasurement& m, const CleanupArgs& args,
                                    const std::vector<Refusal>& refused,
                                    const model::CleanupPlan& plan) {
  output::CleanupContext ctx;
  ctx.db_path = m.input.db_path;
  ctx.meta_path = m.input.meta_path;
  ctx.layout = formats::to_string(m.input.layout);
  ctx.meta_fs_mount = m.input.meta_fs_mount;
  ctx.litestream_running = m.input.litestream_running;
  for (const auto& p : m.litestream_other) ctx.litestream_other.push_back(describe_process(p));
  for (const auto& r : m.replicas) ctx.replicas.push_back(fmt::format("{}: {}", r.name, r.reason));
  for (const auto& r : refused) ctx.refusals.push_back(r.text);
  ctx.headers = m.headers;
  const std::string self =
      fmt::format("ltxguard cleanup --db {}{}", m.input.db_path, config_flag(args));
  if (!m.input.litestream_running.empty()) {
    ctx.next_step =
        "stop Litestream for this database (docs/runbook.md#stop-litestream-safely), then run `" +
        self + "` again";
  } else if (!refused.empty()) {
    ctx.next_step = "nothing can be removed here safely: " + refused.front().text;
  } else if (plan.safe.files > 0) {
    ctx.next_step = fmt::format(
        "`{} --apply --state-dir DIR` (DIR on another filesystem) removes the safe files "
        "({}) after writing an evidence bundle",
        self, human(plan.safe.allocated_bytes));
  } else if (plan.review.files > 0) {
    ctx.next_step =
        "nothing is safe to remove: read each review reason; after confirming retention, restore "
        "point "
        "and upload state, `" +
        self + " --apply --include-review --reason TEXT` removes them";
  } else {
    ctx.next_step = "nothing to clean up here";
  }
  return ctx;
}

formats::Redactor make_cleanup_redactor(const std::optional<formats::LitestreamConfig>& config,
                                        bool show_paths) {
  formats::RedactionOptions ro;
  ro.show_replica_paths = show_paths;
  return config ? formats::make_redactor(*config, process_env(), ro) : formats::Redactor(ro);
}

void print(const output::CleanupContext& ctx, const model::CleanupPlan& plan,
           const output::CleanupApplyReport* ap, const formats::Redactor& red, bool json) {
  if (json) {
    std::fputs((output::cleanup_json(ctx, plan, ap, red)
                    .dump(2, ' ', false, ordered_json::error_handler_t::replace) +
                "\n")
                   .c_str(),
               stdout);
  } else {
    std::fputs(output::cleanup_text(ctx, plan, ap, red).c_str(), stdout);
  }
}

// After apply: does the next start of Litestream fit, and what exactly to do next.
// `alarm_clear` is the command that lifts an alarm latched in the state dir, "" when none is:
// `ltxguard run` keeps Litestream stopped until it is cleared, whatever systemctl is told.
void conclude(output::CleanupApplyReport& ap, const CleanupArgs& args, const std::string& db,
              const std::optional<model::BudgetResult>& budget, formats::Layout layout,
              const std::string& alarm_clear) {
  const std::string check = fmt::format("ltxguard preflight --db {}{}", db, config_flag(args));
  const std::string then_clear =
      alarm_clear.empty() ? "" : "; then clear the latched alarm: `" + alarm_clear + "`";
  if (!budget) {
    ap.verdict_line =
        "whether restarting Litestream would fill the disk again is unknown: the budget could not "
        "be "
        "computed (" +
        ap.budget_error + ")";
    ap.next_step =
        "fix the policy, then `" + check + "`; start Litestream only when it passes" + then_clear;
    return;
  }
  const std::string what = layout == formats::Layout::v0_5
                               ? "its next sync stages a full snapshot of about 1x the database"
                               : "its next sync copies the WAL into a new shadow WAL";
  switch (budget->verdict) {
    case model::Verdict::critical:
      ap.restart_would_fill = true;
      ap.verdict_line = "restarting Litestream now would fill the disk again: " + what +
                        " and the budget is CRITICAL";
      ap.next_step = fmt::format("do not start Litestream yet: {}; then `{}` until it passes{}",
                                 budget->advice.empty() ? "free space on the filesystem named above"
                                                        : budget->advice.front(),
                                 check, then_clear);
      return;
    case model::Verdict::unknown:
      ap.verdict_line = "whether restarting Litestream would fill the disk again is unknown: " +
                        (budget->unknowns.empty() ? std::string("a term was not measured")
                                                  : budget->unknowns.front());
      ap.next_step = "`" + check +
                     " --litestream-version X.Y.Z` (the version you run); start Litestream only "
                     "when it passes" +
                     then_clear;
      return;
    case model::Verdict::warning:
    case model::Verdict::ok:
      ap.verdict_line = fmt::format("restarting Litestream now fits the budget ({}): {}",
                                    model::to_string(budget->verdict), what);
      ap.next_step = fmt::format(
          "{}start Litestream again (`systemctl start litestream`; `systemctl unmask --runtime "
          "litestream` "
          "first if you masked it), then confirm a replica advances: `ltxguard evidence --db "
          "{}{}`",
          alarm_clear.empty() ? ""
                              : "first clear the latched alarm (`ltxguard run` keeps Litestream "
                                "stopped until then): `" +
                                    alarm_clear + "`; then ",
          db, config_flag(args));
      return;
  }
}

}  // namespace

int run_cleanup(const CleanupArgs& args) {
  if (args.include_review && !args.apply) return usage_error("--include-review needs --apply");
  if (args.include_review && args.reason.find_first_not_of(" \t\n") == std::string::npos) {
    return usage_error(
        "--include-review needs --reason TEXT: say why review files may go (it is journaled)");
  }
  if (!args.quarantine_dir.empty() && !args.apply) return usage_error("--quarantine needs --apply");

  sys::RealFileSystem fs;
  sys::RealProcessTable procs;
  auto setup = load_cleanup_setup(fs, procs, {args.db_path, args.config_path, args.policy_path,
                                              args.litestream_bin, args.litestream_version});
  if (!setup) return report_error(setup.error());
  const std::string& db_path = setup->db_path;
  const LoadedConfig& loaded = setup->loaded;
  CleanupMeasurement& m = setup->m;
  BudgetOptions& bo = setup->budget_opts;
  if (m.input.layout == formats::Layout::v0_5) {
    bo.rate_window_ms = 0;  // the reset entry: a rough answer now beats a second of waiting
    (void)budget_now_and_reset(fs, bo, m);
  }
  const model::CleanupPlan plan = model::plan_cleanup(m.input);
  const std::vector<Refusal> refused = refusals(m);
  output::CleanupContext ctx = make_context(m, args, refused, plan);
  const formats::Redactor red = make_cleanup_redactor(loaded.config, args.show_replica_paths);

  if (!args.apply) {
    print(ctx, plan, nullptr, red, args.json);
    return kExitOk;
  }
  if (!refused.empty()) {
    print(ctx, plan, nullptr, red, args.json);
    std::fprintf(stderr, "ltxguard: refusing to apply: %s\n",
                 red.redact(refused.front().text).c_str());
    return refused.front().exit_code;
  }
  std::vector<const model::CleanupItem*> todo;
  for (const auto& i : plan.items) {
    if (i.removable &&
        (i.cls == CleanupClass::safe || (args.include_review && i.cls == CleanupClass::review))) {
      todo.push_back(&i);
    }
  }
  if (todo.empty() || !m.meta_dir) {
    ctx.next_step = "nothing to apply: " + ctx.next_step;
    print(ctx, plan, nullptr, red, args.json);
    return kExitOk;
  }

  // Evidence first, off the filesystem under pressure; nothing is removed if it cannot be kept.
  const auto started = std::chrono::system_clock::now();
  const std::string stamp = utc_stamp(started, false);
  auto state = sys::check_state_dir(args.state_dir, {m.db_dev, m.meta_dev}, args.force);
  if (!state) return output_error(state.error());
  std::optional<sys::Quarantine> quarantine;
  if (!args.quarantine_dir.empty()) {
    auto q = sys::Quarantine::create(args.quarantine_dir, "ltxguard-cleanup-" + stamp,
                                     {m.db_dev, m.meta_dev});
    if (!q) return output_error(q.error());
    quarantine = std::move(*q);
  }
  auto evidence_dir = sys::make_unique_dir(*state + "/evidence", stamp);
  if (!evidence_dir) return output_error(evidence_dir.error());
  collect::EvidenceOptions eo;
  eo.db_path = db_path;
  eo.config = loaded.config;
  eo.config_path = loaded.path;
  eo.samples = 1;
  eo.interval_ms = 0;
  eo.litestream_bin = args.litestream_bin;
  BundleOptions bundle_opts;
  bundle_opts.show_replica_paths = args.show_replica_paths;
  const Bundle bundle = build_bundle(fs, procs, eo, setup->policy, bundle_opts);
  if (auto ok = check_bundle_dir(fs, *evidence_dir, bundle.evidence, args.force); !ok)
    return output_error(ok.error());
  auto written = write_bundle(bundle, *evidence_dir);
  if (!written) return output_error(written.error());
  const std::string plan_path = *evidence_dir + "/" + kPlanName;
  const std::string plan_json = output::cleanup_json(ctx, plan, nullptr, red)
                                    .dump(2, ' ', false, ordered_json::error_handler_t::replace) +
                                "\n";
  if (auto w = util::write_file_atomic(plan_path, plan_json, 0600); !w)
    return output_error(w.error());
  written->push_back(plan_path);

  auto journal = sys::AppendOnlyFile::open(*state + "/" + kJournalName);
  if (!journal) return output_error(journal.error());
  const std::string operator_reason = red.redact(args.reason);
  ordered_json start = {{"time", utc_stamp(started, true)},
                        {"run", stamp},
                        {"event", "apply_start"},
                        {"db", red.redact(db_path)},
                        {"meta_dir", red.redact(m.input.meta_path)},
                        {"evidence_dir", red.redact(*evidence_dir)},
                        {"include_review", args.include_review},
                        {"reason", operator_reason},
                        {"quarantine", quarantine ? red.redact(quarantine->path()) : ""},
                        {"files_planned", todo.size()}};
  if (auto w = journal->append_line(journal_line(start)); !w) return output_error(w.error());

  output::CleanupApplyReport ap;
  ap.evidence_dir = *evidence_dir;
  ap.evidence_files = *written;
  ap.journal_path = journal->path();
  ap.quarantine_dir = quarantine ? quarantine->path() : "";
  for (size_t n = 0; n < todo.size(); ++n) {
    if (n % kRecheckEveryFiles == 0) {
      // Collecting evidence took time: Litestream may have been started again meanwhile.
      CleanupMeasurement again = measure_cleanup(fs, procs, setup->measure_opts);
      if (auto now = refusals(again); !now.empty() && now.front().exit_code == kExitTempFail) {
        const ordered_json stop = {{"time", utc_stamp(std::chrono::system_clock::now(), true)},
                                   {"run", stamp},
                                   {"event", "apply_aborted"},
                                   {"error", red.redact(now.front().text)}};
        (void)journal->append_line(journal_line(stop));
        std::fprintf(stderr, "ltxguard: stopped applying: %s\n",
                     red.redact(now.front().text).c_str());
        ap.skipped_files += todo.size() - n;
        break;
      }
    }
    const model::CleanupItem& i = *todo[n];
    output::CleanupAction a;
    a.rel_path = i.rel_path;
    a.cls = i.cls;
    a.size_bytes = i.size_bytes;
    a.allocated_bytes = i.allocated_bytes;
    const sys::FileIdentity id{i.dev, i.ino, i.size_bytes};
    if (quarantine) {
      auto dest = m.meta_dir->move_to(i.rel_path, id, *quarantine);
      a.action = dest ? "quarantined" : "skipped";
      if (dest) a.destination = *dest;
      if (!dest) a.error = dest.error().to_string();
    } else {
      auto r = m.meta_dir->remove(i.rel_path, id);
      a.action = r ? "removed" : "skipped";
      if (!r) a.error = r.error().to_string();
    }
    const auto h = m.headers.find(i.rel_path);
    ordered_json line = {
        {"time", utc_stamp(std::chrono::system_clock::now(), true)},
        {"run", stamp},
        {"event", a.action},
        {"path", red.redact(i.path)},
        {"class", model::to_string(i.cls)},
        {"size_bytes", i.size_bytes},
        {"allocated_bytes", i.allocated_bytes},
        {"dev", i.dev},
        {"ino", i.ino},
        {"header_bytes", h == m.headers.end() ? 0 : h->second.size()},
        {"header_crc64", h == m.headers.end() ? "" : output::header_crc64_hex(h->second)},
        {"header_hex", h == m.headers.end() ? "" : output::hex(h->second)},
        {"destination", red.redact(a.destination)},
        {"error", red.redact(a.error)}};
    if (i.cls == CleanupClass::review) line["reason"] = operator_reason;
    if (a.action == "skipped") {
      ++ap.skipped_files;
    } else {
      ++ap.done_files;
      ap.done_allocated_bytes += i.allocated_bytes;
    }
    ap.actions.push_back(std::move(a));
    if (auto w = journal->append_line(journal_line(line)); !w) {
      // An action that cannot be journaled is the last one taken.
      std::fprintf(stderr, "ltxguard: stopped applying: %s\n", w.error().to_string().c_str());
      ap.skipped_files += todo.size() - n - 1;
      break;
    }
  }
  const ordered_json end = {{"time", utc_stamp(std::chrono::system_clock::now(), true)},
                            {"run", stamp},
                            {"event", "apply_end"},
                            {"done_files", ap.done_files},
                            {"done_allocated_bytes", ap.done_allocated_bytes},
                            {"skipped_files", ap.skipped_files}};
  (void)journal->append_line(journal_line(end));

  if (auto st = sys::fs_stats_nearest(fs, m.input.meta_path))
    ap.avail_after_bytes = st->avail_bytes;
  bo.rate_window_ms = 1000;  // the app's write rate is part of the answer now
  auto budget_inputs = measure_budget_inputs(fs, bo);
  auto budget = model::compute_budget(budget_inputs.input);
  if (budget) {
    ap.budget = *budget;
  } else {
    ap.budget_error = budget.error().to_string();
  }
  std::string alarm_clear;
  if (auto alarm = read_alarm(*state); alarm && *alarm && (*alarm)->latched) {
    alarm_clear = alarm_clear_command(*state, **alarm);
  }
  conclude(ap, args, db_path, ap.budget, m.input.layout, alarm_clear);
  print(ctx, plan, &ap, red, args.json);
  if (ap.skipped_files > 0) return kExitTempFail;
  return ap.budget ? model::exit_code(ap.budget->verdict) : kExitUnknown;
}

}  // namespace ltxguard::cmd
