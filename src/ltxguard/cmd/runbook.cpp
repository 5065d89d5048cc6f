#include "ltxguard/cmd/runbook.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/cleanup_inputs.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/output/runbook.hpp"

namespace ltxguard::cmd {
namespace {

std::string utc_now() {
  const std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void print(const output::Runbook& book, const formats::Redactor& red, const std::string& format) {
  const std::string text =
      format == "html" ? output::render_html(book, red) : output::render_markdown(book, red);
  std::fputs(text.c_str(), stdout);
}

}  // namespace

int run_runbook(const RunbookArgs& args) {
  if (args.format != "md" && args.format != "html") {
    std::fprintf(stderr, "ltxguard: --format: expected md or html, got '%s'\n",
                 args.format.c_str());
    return kExitUsage;
  }
  if (args.generic) {
    output::RunbookInput in;
    in.generic = true;
    print(output::build_runbook(in), formats::Redactor{}, args.format);
    return kExitOk;
  }
  if (args.db_path.empty()) {
    std::fprintf(stderr, "ltxguard: runbook needs --db PATH (or --generic)\n");
    return kExitUsage;
  }
  sys::RealFileSystem fs;
  sys::RealProcessTable procs;
  auto setup = load_cleanup_setup(fs, procs, {args.db_path, args.config_path, args.policy_path,
                                              args.litestream_bin, args.litestream_version});
  if (!setup) return report_error(setup.error());
  const std::string& db_path = setup->db_path;
  const LoadedConfig& loaded = setup->loaded;
  CleanupMeasurement& m = setup->m;
  const BudgetOptions& bo = setup->budget_opts;
  BudgetInputs bi;
  auto budget_now = budget_now_and_reset(fs, bo, m, &bi);
  const model::CleanupPlan plan = model::plan_cleanup(m.input);

  output::RunbookInput in;
  in.generated_at = utc_now();
  in.db_path = db_path;
  in.config_path = loaded.path;
  in.meta_path = m.input.meta_path;
  in.layout = formats::to_string(m.input.layout);
  in.litestream_version = bi.detected_version;
  const auto& files = m.input.db_files;
  in.db_bytes = files[0].size_bytes;
  in.wal_bytes = files[1].size_bytes;
  in.staged_bytes = m.scan.total_bytes;
  in.litestream_running = m.input.litestream_running;
  for (const auto& f : bi.input.filesystems) {
    output::RunbookFilesystem rf;
    rf.mount = f.mount;
    rf.total_bytes = f.total_bytes;
    rf.avail_bytes = f.avail_bytes;
    std::vector<std::string> roles;
    if (f.dev == m.db_dev) roles.push_back("database");
    if (f.dev == m.meta_dev) roles.push_back("meta dir");
    if (roles.empty()) roles.push_back("file replica");
    for (size_t i = 0; i < roles.size(); ++i) rf.roles += (i ? ", " : "") + roles[i];
    in.filesystems.push_back(std::move(rf));
  }
  in.plan = plan;
  if (budget_now) {
    in.budget_now = *budget_now;
    for (const auto& f : budget_now->filesystems) {
      if (f.dev == m.db_dev && f.reserve_bytes > 0)
        in.reserve_bytes = static_cast<uint64_t>(f.reserve_bytes);
      if (f.dev == m.meta_dev && f.staging_peak_bytes > 0) {
        in.staging_peak_bytes = static_cast<uint64_t>(f.staging_peak_bytes);
      }
    }
    // The budget once the files that are safe (or would be, once Litestream is stopped) are gone.
    bool in_flight = false;
    for (const auto& i : plan.items) {
      const bool safe =
          i.cls == model::CleanupClass::safe || i.class_if_stopped == model::CleanupClass::safe;
      if (safe && i.kind == "ltx_tmp") in_flight = true;
    }
    const auto after = model::budget_input_after_removal(
        bi.input, db_path,
        {plan.safe_if_stopped.allocated_bytes, plan.safe_if_stopped.size_bytes, in_flight, false});
    if (auto r = model::compute_budget(after)) in.budget_after_cleanup = *r;
  } else {
    auto r = model::compute_budget(bi.input);
    in.budget_error = r ? "" : r.error().to_string();
  }

  formats::RedactionOptions ro;
  ro.show_replica_paths = args.show_replica_paths;
  const formats::Redactor red = loaded.config
                                    ? formats::make_redactor(*loaded.config, process_env(), ro)
                                    : formats::Redactor(ro);
  print(output::build_runbook(in), red, args.format);
  return kExitOk;
}

}  // namespace ltxguard::cmd
