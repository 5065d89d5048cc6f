#include "ltxguard/cmd/run.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "ltxguard/cmd/alarm.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/evidence_bundle.hpp"
#include "ltxguard/cmd/preflight.hpp"
#include "ltxguard/cmd/watch_loop.hpp"
#include "ltxguard/formats/litestream_argv.hpp"
#include "ltxguard/formats/litestream_version.hpp"
#include "ltxguard/formats/litestream_log.hpp"
#include "ltxguard/model/protective_stop.hpp"
#include "ltxguard/model/space_guard.hpp"
#include "ltxguard/sys/child_process.hpp"
#include "ltxguard/sys/command.hpp"
#include "ltxguard/sys/reserved_file.hpp"
#include "ltxguard/sys/safe_remove.hpp"
#include "ltxguard/sys/state_dir.hpp"
#include "ltxguard/util/atomic_file.hpp"
#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::cmd {
namespace {

using output::Logger;
using Clock = std::chrono::steady_clock;

// SIGTERM to SIGKILL. 0.3.13 can hang on SIGTERM for ever after a replica ENOSPC; ten seconds
// is long enough for a healthy Litestream to finish its last sync and short enough that the
// app's WAL (pinned by Litestream's read transaction) gains little meanwhile.
constexpr uint64_t kDefaultGraceSeconds = 10;
// Room kept in the state dir for the evidence bundle and the alarm on a full disk.
constexpr uint64_t kScratchBytes = 4 << 20;
// The child's last lines kept for the evidence bundle (redacted when written).
constexpr size_t kRecentLines = 300;

std::string stamp(int64_t ms) {
  const time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string human(int64_t v) { return util::human_bytes(v); }

struct Supervisor {
  const RunArgs& args;
  const LoadedConfig& config;
  const formats::Policy& policy;
  WatchLoop& loop;
  sys::ChildProcess& child;
  Logger& log;
  sys::OutputPump out;
  sys::OutputPump err;
  std::deque<std::string> recent;
  sys::ReservedFile scratch;
  sys::ReservedFile ballast;
  bool warned_dropped = false;

  // Reads what the child wrote; returns true when a disk-full line was among it.
  bool drain() {
    bool disk_full = false;
    std::vector<std::string> lines;
    for (auto* pump : {&out, &err}) {
      for (auto& l : pump->pump()) lines.push_back(std::move(l));
    }
    for (const auto& l : lines) {
      if (formats::is_disk_full(formats::classify_log_line(l))) disk_full = true;
      recent.push_back(l);
      if (recent.size() > kRecentLines) recent.pop_front();
    }
    if (!lines.empty()) loop.sampler().add_log_lines(std::move(lines));
    if (!warned_dropped && out.dropped_bytes() + err.dropped_bytes() > 0) {
      // Once: the reader of our output stalls, so this line may well be dropped too; the
      // scan above still saw every line.
      warned_dropped = true;
      log.log(Logger::Level::warning, "output_dropped",
              "our stdout or stderr is not being read: Litestream's output is dropped there, not waited for "
              "(its lines are still scanned)",
              {{"stdout_dropped_bytes", std::to_string(out.dropped_bytes())},
               {"stderr_dropped_bytes", std::to_string(err.dropped_bytes())}});
    }
    return disk_full;
  }

  // The free-space floor per filesystem below which a grace in progress ends with SIGKILL.
  std::map<uint64_t, uint64_t> kill_below;

  uint64_t app_free(const sys::FsStats& st) const {
    return args.watch.app_runs_as_root ? st.free_bytes : st.avail_bytes;
  }

  // Sets the floors for the grace that starts now: the reserve, raised to half of the room
  // left above it. A Litestream that ignores SIGTERM and goes on writing (0.3.13 after a
  // replica ENOSPC) may spend at most half of what is left before SIGKILL; a healthy one
  // exits in well under a second and spends nothing.
  void arm_grace() {
    kill_below.clear();
    for (const auto& f : loop.last_sample().filesystems) {
      const uint64_t reserve = loop.model().reserve_bytes(f.dev);
      const uint64_t free_now = args.watch.app_runs_as_root ? f.free_bytes : f.avail_bytes;
      kill_below[f.dev] = reserve + (free_now > reserve ? (free_now - reserve) / 2 : 0);
    }
  }

  // During the grace: has app-visible free on a watched filesystem fallen under its floor?
  // One statvfs per filesystem, at most every 100 ms.
  bool grace_exhausted() const {
    sys::RealFileSystem fs;
    for (const auto& f : loop.last_sample().filesystems) {
      const auto it = kill_below.find(f.dev);
      if (it == kill_below.end() || it->second == 0) continue;
      auto st = fs.fs_stats(f.mount);
      if (!st || st->dev != f.dev) continue;
      if (app_free(*st) < it->second) return true;
    }
    return false;
  }

  std::chrono::milliseconds grace() const {
    return std::chrono::seconds(policy.stop_grace_seconds.value_or(kDefaultGraceSeconds));
  }

  // Evidence into <state-dir>/evidence/<stamp>: the bundle plus the child's last lines.
  std::vector<std::string> capture_evidence(const std::string& db_path, std::string& note) {
    if (scratch.held()) (void)scratch.release();  // its room is for exactly this
    auto dir = sys::make_unique_dir(args.state_dir + "/evidence", stamp(wall_ms()));
    if (!dir) {
      note = dir.error().to_string();
      return {};
    }
    collect::EvidenceOptions eo;
    eo.db_path = db_path;
    eo.config = config.config;
    eo.config_path = config.path;
    eo.log.kind = collect::LogSourceKind::lines;  // what Litestream printed, as we passed it on
    eo.log.lines.assign(recent.begin(), recent.end());
    eo.samples = 1;
    eo.interval_ms = 0;
    eo.litestream_bin = args.watch.litestream_bin;
    sys::RealFileSystem fs;
    sys::RealProcessTable procs;
    const Bundle bundle = build_bundle(fs, procs, eo, policy, BundleOptions{});
    auto written = write_bundle(bundle, *dir);
    if (!written) {
      note = written.error().to_string();
      return {};
    }
    const formats::Redactor red = bundle_redactor(config.config, bundle.evidence, formats::RedactionOptions{});
    std::string text;
    for (const auto& l : recent) text += red.redact(l) + "\n";
    const std::string log_path = *dir + "/litestream-output.log";
    if (auto w = util::write_file_atomic(log_path, text, 0600); w) {
      written->push_back(log_path);
    } else {
      note = w.error().to_string();
    }
    return *written;
  }

  // policy remove_staging_tmp_on_stop: the stopped Litestream's in-flight files, now that the
  // bundle holds their headers. Only *.tmp named in the last sample, through MetaDir.
  void remove_in_flight(const model::WatchSample& sample) {
    for (size_t i = 0; i < sample.databases.size() && i < loop.targets().size(); ++i) {
      const auto& db = sample.databases[i];
      if (db.in_flight.empty()) continue;
      auto meta = sys::MetaDir::open(loop.targets()[i].db_config.meta_path);
      if (!meta) {
        log.log(Logger::Level::warning, "staging_tmp_kept", meta.error().to_string(), {{"db", db.db_path}});
        continue;
      }
      for (const auto& f : db.in_flight) {
        struct stat st {};
        const std::string full = meta->path() + "/" + f.rel_path;
        if (::lstat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        const sys::FileIdentity id{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                                   static_cast<uint64_t>(st.st_size)};
        auto r = meta->remove(f.rel_path, id);
        if (r) {
          log.log(Logger::Level::warning, "staging_tmp_removed",
                  fmt::format("removed {} ({}) of the stopped Litestream", full, human(st.st_size)),
                  {{"db", db.db_path}, {"path", full}, {"bytes", std::to_string(st.st_size)}});
        } else {
          log.log(Logger::Level::warning, "staging_tmp_kept", r.error().to_string(), {{"db", db.db_path}});
        }
      }
    }
  }

  int protective_stop(const model::StopDecision& d) {
    const std::string condition = model::to_string(d.condition);
    Logger::Fields fields{{"db", d.db_path},
                          {"condition", condition},
                          {"headroom_bytes", std::to_string(d.headroom_bytes)},
                          {"pid", std::to_string(child.pid())}};
    if (d.seconds_to_reserve_breach) {
      fields["seconds_to_reserve_breach"] = fmt::format("{:.0f}", *d.seconds_to_reserve_breach);
    }
    if (d.litestream_share_percent) fields["litestream_share_percent"] = std::to_string(*d.litestream_share_percent);
    log.log(Logger::Level::error, "protective_stop",
            fmt::format("stopping Litestream (pid {}) to protect the application's reserve: {}: {}", child.pid(),
                        condition, d.reason),
            fields, d.condition == model::Condition::disk_full ? std::optional<int>(ENOSPC) : std::nullopt);

    // The app gets its room back first; stopping may take the whole grace.
    if (ballast.held()) {
      auto freed = ballast.release();
      if (freed) {
        log.log(Logger::Level::warning, "ballast_released", fmt::format("released ballast {} ({})", ballast.path(), human(static_cast<int64_t>(*freed))),
                {{"path", ballast.path()}, {"bytes", std::to_string(*freed)}});
      } else {
        log.log(Logger::Level::error, "ballast_release_failed", freed.error().to_string(), {{"path", ballast.path()}});
      }
    }

    arm_grace();
    const sys::StopOutcome outcome = child.stop(grace(), [this] { (void)drain(); }, [this] { return grace_exhausted(); });
    (void)drain();
    log.log(outcome.killed || !outcome.reaped ? Logger::Level::error : Logger::Level::warning, "litestream_stopped",
            "Litestream " + outcome.describe(), {{"db", d.db_path}, {"pid", std::to_string(child.pid())}});

    formats::AlarmState alarm;
    alarm.latched = true;
    alarm.latched_at_ms = wall_ms();
    alarm.db_path = d.db_path;
    alarm.condition = condition;
    alarm.reason = d.reason;
    alarm.headroom_bytes = d.headroom_bytes;
    alarm.stop_outcome = outcome.describe();
    record_preflight_inputs(alarm, {config.path, args.watch.policy_path, args.watch.litestream_bin,
                                    args.watch.litestream_version});
    alarm.evidence_files = capture_evidence(d.db_path, alarm.evidence_note);
    if (!alarm.evidence_files.empty()) {
      log.log(Logger::Level::info, "evidence_written", "evidence bundle: " + alarm.evidence_files.front(),
              {{"db", d.db_path}, {"path", alarm.evidence_files.front()}});
    } else {
      log.log(Logger::Level::error, "evidence_failed", "no evidence bundle: " + alarm.evidence_note, {{"db", d.db_path}});
    }
    if (policy.remove_staging_tmp_on_stop && outcome.reaped && !alarm.evidence_files.empty()) {
      remove_in_flight(loop.last_sample());
    }
    if (auto w = write_alarm(args.state_dir, alarm); !w) {
      log.log(Logger::Level::error, "alarm_write_failed",
              "cannot latch the alarm (Litestream may be started again by a restart): " + w.error().to_string(),
              {{"path", args.state_dir}}, w.error().errno_value ? std::optional<int>(w.error().errno_value) : std::nullopt);
    }
    log.log(Logger::Level::error, "alarm_latched",
            fmt::format("alarm latched in {}: Litestream stays stopped until `{}`", args.state_dir,
                        alarm_clear_command(args.state_dir, alarm)),
            {{"db", d.db_path}, {"state_dir", args.state_dir}});

    loop.metrics().count_protective_stop(d.db_path, condition);
    loop.metrics().set_supervisor(false, true);
    loop.override_health(503, fmt::format("stopped: ltxguard stopped Litestream ({}: {}); alarm latched\n", condition,
                                          d.reason));
    (void)loop.tick(wall_ms(), {{"protective_stop", d.db_path, condition + ": " + d.reason},
                                {"alarm_latched", d.db_path, "alarm latched in " + args.state_dir}});
    return kExitProtectiveStop;
  }
};

int refuse(Logger& log, int code, std::string_view event, const std::string& message) {
  log.log(Logger::Level::error, event, message);
  return code;
}

// A wrapped Litestream (`env litestream replicate …`, `python3 stand-in.py replicate …`) is
// asked for its version the same way it is started: what precedes the subcommand, then
// `version`. A PATH lookup of "litestream" could find a different one. "" when it does not
// answer with a version within 5 s.
std::string wrapped_version(const std::vector<std::string>& argv, size_t subcommand_index) {
  std::vector<std::string> cmd(argv.begin(), argv.begin() + static_cast<std::ptrdiff_t>(subcommand_index));
  cmd.emplace_back("version");
  auto r = sys::run_command(cmd, 5000, 4096);
  if (!r || r->timed_out || r->exit_code != 0) return "";
  const std::string first = r->stdout_text.substr(0, r->stdout_text.find('\n'));
  auto v = formats::parse_litestream_version(first);
  return v ? v->raw : "";
}

}  // namespace

int run_supervisor(const RunArgs& in) {
  RunArgs args = in;
  if (args.child_argv.empty()) {
    std::fprintf(stderr, "ltxguard: nothing to run: ltxguard run [flags] -- litestream replicate -config FILE\n");
    return kExitUsage;
  }
  const formats::LitestreamInvocation inv = formats::parse_litestream_argv(args.child_argv);
  if (args.watch.config_path.empty() && inv.config_path) args.watch.config_path = *inv.config_path;
  const bool positional_db = !inv.config_path && inv.subcommand == "replicate" && !inv.positional.empty();
  if (args.watch.db_paths.empty() && positional_db) args.watch.db_paths = {inv.positional[0]};
  if (args.watch.litestream_bin.empty() && inv.is_litestream) args.watch.litestream_bin = args.child_argv[0];
  if (args.watch.litestream_version.empty() && args.watch.litestream_bin.empty() && !inv.is_litestream &&
      inv.subcommand_index > 0) {
    args.watch.litestream_version = wrapped_version(args.child_argv, inv.subcommand_index);
  }
  args.watch.log.kind = collect::LogSourceKind::none;  // the child's own output is the log

  sys::RealFileSystem fs;
  auto loaded = positional_db && args.watch.config_path.empty() ? util::Result<LoadedConfig>(LoadedConfig{})
                                                                  : load_litestream_config(fs, args.watch.config_path);
  if (!loaded) return report_error(loaded.error());
  auto policy = load_policy(fs, args.watch.policy_path);
  if (!policy) return report_error(policy.error());
  Logger log(sink_for(args.watch.log_format), "ltxguard");

  if (auto ok = ensure_state_dir(args.state_dir); !ok) return report_output_error(ok.error());
  auto alarm = read_alarm(args.state_dir);
  if (!alarm) return report_error(alarm.error());
  if (*alarm && (*alarm)->latched) {
    return refuse(log, kExitAlarmLatched, "alarm_latched_refused",
                  fmt::format("not starting Litestream: alarm latched in {} ({}: {}); see `ltxguard alarm status "
                              "--state-dir {}`, then `{}`",
                              args.state_dir, (*alarm)->condition, (*alarm)->reason, args.state_dir,
                              alarm_clear_command(args.state_dir, **alarm)));
  }

  PreflightArgs pf;
  pf.db_paths = args.watch.db_paths;
  pf.config_path = loaded->path;
  pf.policy_path = args.watch.policy_path;
  pf.litestream_version = args.watch.litestream_version;
  pf.litestream_bin = args.watch.litestream_bin;
  if (args.watch.app_runs_as_root) pf.app_user = "root";
  pf.out = stderr;
  const int verdict = run_preflight(pf);
  if (verdict == kExitCritical) {
    return refuse(log, kExitRefusedPreflight, "preflight_refused",
                  "not starting Litestream: the preflight is critical (its equation is above); free space or "
                  "change the budget, then start again");
  }
  if (verdict >= kExitUsage) return verdict;
  log.log(verdict == kExitOk ? Logger::Level::info : Logger::Level::warning, "preflight",
          fmt::format("preflight exit {}: starting Litestream", verdict));

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before HTTP threads start: they inherit it
  util::UniqueFd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd.valid()) return report_error(util::sys_error(errno, "", "cannot create signalfd"));

  auto loop = WatchLoop::create(args.watch, *loaded, policy->policy);
  if (!loop) return report_error_with_outputs(loop.error(), {args.watch.record_path});
  WatchLoop& wl = **loop;
  wl.metrics().enable_supervisor();

  sys::ReservedFile scratch, ballast;
  if (auto s = sys::ReservedFile::create(args.state_dir + "/.scratch", kScratchBytes)) {
    scratch = std::move(*s);
  } else {
    log.log(Logger::Level::warning, "scratch_unavailable",
            "no room reserved for the evidence bundle: " + s.error().to_string(), {{"path", args.state_dir}});
  }
  if (policy->policy.ballast_bytes && *policy->policy.ballast_bytes > 0) {
    const std::string path =
        policy->policy.ballast_path.value_or(std::filesystem::path(wl.targets().front().db_path).parent_path().string() +
                                             "/.ltxguard-ballast");
    if (auto b = sys::ReservedFile::create(path, *policy->policy.ballast_bytes)) {
      ballast = std::move(*b);
      log.log(Logger::Level::info, "ballast_created", fmt::format("ballast {} holds {}", path, human(static_cast<int64_t>(ballast.bytes()))),
              {{"path", path}, {"bytes", std::to_string(ballast.bytes())}});
    } else {
      log.log(Logger::Level::warning, "ballast_unavailable", b.error().to_string(), {{"path", path}});
    }
  }
  if (inv.exec) {
    log.log(Logger::Level::warning, "litestream_exec",
            "Litestream runs the application with -exec: a protective stop ends the application too");
  }

  auto started = sys::ChildProcess::start(args.child_argv);
  if (!started) return report_error(started.error());
  sys::ChildProcess& child = *started;
  log.log(Logger::Level::info, "litestream_started",
          fmt::format("started {} (pid {})", args.child_argv[0], child.pid()), {{"pid", std::to_string(child.pid())}});
  wl.metrics().set_supervisor(true, false);
  wl.sampler().set_supervised_pid(child.pid());

  Supervisor sup{args, *loaded, policy->policy, wl, child, log,
                 sys::OutputPump(child.stdout_fd(), STDOUT_FILENO), sys::OutputPump(child.stderr_fd(), STDERR_FILENO),
                 {}, std::move(scratch), std::move(ballast), false, {}};

  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(args.watch.interval_seconds * 1000.0));
  auto next_tick = Clock::now();
  for (;;) {
    if (Clock::now() >= next_tick) {
      (void)wl.tick(wall_ms());
      if (auto d = model::decide_protective_stop(wl.model().status(), wl.last_sample(),
                                                 policy->policy.min_free_bytes, args.watch.app_runs_as_root)) {
        return sup.protective_stop(*d);
      }
      next_tick += interval;
      if (next_tick < Clock::now()) next_tick = Clock::now() + interval;  // fell behind: no burst
    }
    pollfd fds[4];
    nfds_t n = 0;
    fds[n++] = pollfd{sigfd.get(), POLLIN, 0};
    if (!sup.out.at_eof()) fds[n++] = pollfd{child.stdout_fd(), POLLIN, 0};
    if (!sup.err.at_eof()) fds[n++] = pollfd{child.stderr_fd(), POLLIN, 0};
    if (child.exit_fd() >= 0) fds[n++] = pollfd{child.exit_fd(), POLLIN, 0};
    // Woken at least every space-guard poll, and without a pidfd to notice the child's exit.
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now()).count();
    (void)::poll(fds, n, static_cast<int>(std::clamp<int64_t>(wait, 0, model::kSpaceGuardPollMs)));
    // A disk-full line, or free space falling fast, is acted on now, not at the next tick.
    if (sup.drain()) next_tick = Clock::now();
    if (wl.space_guard_due()) next_tick = Clock::now();

    signalfd_siginfo si{};
    if (::read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      log.log(Logger::Level::info, "run_stopping",
              fmt::format("signal {}: stopping Litestream (pid {})", si.ssi_signo, child.pid()));
      sup.arm_grace();
      const sys::StopOutcome o =
          child.stop(sup.grace(), [&sup] { (void)sup.drain(); }, [&sup] { return sup.grace_exhausted(); });
      (void)sup.drain();
      log.log(o.killed ? Logger::Level::warning : Logger::Level::info, "litestream_stopped", "Litestream " + o.describe());
      wl.metrics().set_supervisor(false, false);
      wl.write_textfile();
      // A requested stop is a clean stop when Litestream ended within the grace, however it
      // took the SIGTERM (0.3.13 often exits 1: "checkpoint: context canceled"). One that
      // needed SIGKILL is reported as such (137), so a unit shows it.
      return o.reaped && !o.killed ? kExitOk : o.status.shell_code();
    }
    if (auto st = child.poll_exit()) {
      (void)sup.drain();
      if (child.group_alive()) {
        // A wrapper that started Litestream without `exec` ended; what it started must not
        // run on unsupervised.
        sup.arm_grace();
        const sys::StopOutcome o =
            child.stop(sup.grace(), [&sup] { (void)sup.drain(); }, [&sup] { return sup.grace_exhausted(); });
        log.log(o.killed ? Logger::Level::warning : Logger::Level::info, "litestream_stopped",
                "the supervised process ended and left processes in its group; stopped them: " + o.describe(),
                {{"pid", std::to_string(child.pid())}});
      }
      const bool ok = !st->signaled && st->code == 0;
      log.log(ok ? Logger::Level::info : Logger::Level::error, "litestream_exited",
              fmt::format("Litestream {} on its own", st->describe()),
              {{"pid", std::to_string(child.pid())}, {"exit_status", std::to_string(st->shell_code())}});
      wl.metrics().set_supervisor(false, false);
      (void)wl.tick(wall_ms(), {{"litestream_exited", "", "Litestream " + st->describe()}});
      return st->shell_code();
    }
  }
}

}  // namespace ltxguard::cmd
