#include "ltxguard/cmd/alarm.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/output/logger.hpp"
#include "ltxguard/output/text_escape.hpp"
#include "ltxguard/util/atomic_file.hpp"

namespace ltxguard::cmd {
namespace {

std::string alarm_path(const std::string& state_dir) { return state_dir + "/" + kAlarmFileName; }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc(int64_t ms) {
  const time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

util::Result<void> ensure_state_dir(const std::string& dir) {
  if (dir.empty()) return util::fail(util::make_error(util::ErrorCode::invalid_input, dir, "empty state dir"));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return util::fail(util::make_error(util::ErrorCode::unsafe_path, dir, "state dir is a symlink; refusing to follow it"));
    }
    if (!S_ISDIR(st.st_mode)) {
      return util::fail(util::make_error(util::ErrorCode::invalid_input, dir, "state dir is not a directory"));
    }
    return {};
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return util::fail(util::sys_error(ec.value(), dir, "cannot create state dir"));
  (void)::chmod(dir.c_str(), 0750);
  return {};
}

util::Result<std::optional<formats::AlarmState>> read_alarm(const std::string& state_dir) {
  sys::RealFileSystem fs;
  const std::string path = alarm_path(state_dir);
  auto st = fs.lstat(path);
  if (!st) {
    if (st.error().code == util::ErrorCode::not_found) return std::optional<formats::AlarmState>{};
    return util::fail(st.error());
  }
  auto text = fs.read_text(path, formats::kMaxAlarmBytes + 1);
  std::optional<formats::AlarmState> out;
  if (text) {
    if (auto parsed = formats::parse_alarm(*text, path)) out = *parsed;
  }
  if (!out) {
    formats::AlarmState s;
    s.latched = true;
    s.reason = fmt::format("{} exists but cannot be read as an alarm state ({}); inspect it, then clear with "
                           "`ltxguard alarm clear --force --reason ...`",
                           path, text ? "not valid JSON with \"latched\"" : text.error().to_string());
    out = s;
  }
  return out;
}

util::Result<void> write_alarm(const std::string& state_dir, const formats::AlarmState& state) {
  return util::write_file_atomic(alarm_path(state_dir), formats::serialize_alarm(state), 0600);
}

int run_alarm_status(const AlarmArgs& args) {
  auto alarm = read_alarm(args.state_dir);
  if (!alarm) return report_error(alarm.error());
  const bool latched = *alarm && (*alarm)->latched;
  if (args.json) {
    nlohmann::ordered_json j;
    j["state_dir"] = args.state_dir;
    j["latched"] = latched;
    j["alarm"] = *alarm ? nlohmann::ordered_json::parse(formats::serialize_alarm(**alarm)) : nlohmann::ordered_json(nullptr);
    std::fputs((j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n").c_str(), stdout);
    return latched ? kExitCritical : kExitOk;
  }
  if (!*alarm) {
    std::printf("no alarm: %s has no %s\n", args.state_dir.c_str(), kAlarmFileName);
    return kExitOk;
  }
  const formats::AlarmState& a = **alarm;
  // alarm.json is a file on disk: nothing in it may start a line of its own here.
  const auto esc = [](const std::string& s) { return output::escape_text(s); };
  if (!latched) {
    std::printf("alarm cleared %s (%s); last stop %s: %s\n", utc(a.cleared_at_ms).c_str(), esc(a.cleared_how).c_str(),
                a.latched_at_ms ? utc(a.latched_at_ms).c_str() : "-", esc(a.reason).c_str());
    return kExitOk;
  }
  std::printf("ALARM LATCHED%s\n", a.latched_at_ms ? (" since " + utc(a.latched_at_ms)).c_str() : "");
  if (!a.db_path.empty()) std::printf("  database:   %s\n", esc(a.db_path).c_str());
  if (!a.condition.empty()) std::printf("  condition:  %s\n", esc(a.condition).c_str());
  std::printf("  reason:     %s\n", esc(a.reason).c_str());
  if (!a.stop_outcome.empty()) std::printf("  Litestream: %s\n", esc(a.stop_outcome).c_str());
  for (const auto& e : a.evidence_files) std::printf("  evidence:   %s\n", esc(e).c_str());
  if (!a.evidence_note.empty()) std::printf("  evidence:   none (%s)\n", esc(a.evidence_note).c_str());
  std::printf(
      "\nLitestream stays stopped while this alarm is latched (`ltxguard run` exits 11).\n"
      "Next: free space or raise the budget, run `ltxguard cleanup --db DB` for what is safe to remove,\n"
      "then `ltxguard alarm clear --state-dir %s` (it runs a fresh preflight first).\n",
      esc(args.state_dir).c_str());
  return kExitCritical;
}

int run_alarm_clear(const AlarmArgs& args) {
  if (args.force && args.reason.empty()) {
    std::fprintf(stderr, "ltxguard: alarm clear --force needs --reason TEXT (it is logged)\n");
    return kExitUsage;
  }
  auto alarm = read_alarm(args.state_dir);
  if (!alarm) return report_error(alarm.error());
  if (!*alarm || !(*alarm)->latched) {
    std::printf("no alarm latched in %s\n", args.state_dir.c_str());
    return kExitOk;
  }
  formats::AlarmState a = **alarm;
  output::Logger logger(output::auto_sink(output::Logger::Sink::text), "ltxguard");
  std::string how;
  if (args.force) {
    how = "forced: " + args.reason;
  } else {
    PreflightArgs pf = args.preflight;
    pf.json = false;
    const int rc = run_preflight(pf);
    if (rc != kExitOk && rc != kExitWarning) {
      std::fprintf(stderr,
                   "ltxguard: alarm stays latched: the preflight exits %d (it must be 0 or 1 before Litestream may "
                   "start again). Free space or change the policy, or clear with --force --reason TEXT.\n",
                   rc);
      logger.log(output::Logger::Level::warning, "alarm_clear_refused",
                 fmt::format("alarm clear refused: preflight exit {}", rc), {{"state_dir", args.state_dir}});
      return kExitCritical;
    }
    how = fmt::format("preflight passed (exit {})", rc);
  }
  a.latched = false;
  a.cleared_at_ms = now_ms();
  a.cleared_how = how;
  if (auto w = write_alarm(args.state_dir, a); !w) return report_output_error(w.error());
  logger.log(args.force ? output::Logger::Level::warning : output::Logger::Level::info, "alarm_cleared",
             "alarm cleared: " + how, {{"state_dir", args.state_dir}, {"db", a.db_path}});
  std::printf("alarm cleared: %s\n", how.c_str());
  return kExitOk;
}

}  // namespace ltxguard::cmd
