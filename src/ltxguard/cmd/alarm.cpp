#include "ltxguard/cmd/alarm.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/output/logger.hpp"
#include "ltxguard/output/text_escape.hpp"
#include "ltxguard/sys/proc.hpp"
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

constexpr std::string_view kDefaultPolicyPath = "/etc/ltxguard/policy.yml";

// One word for a POSIX shell: as it is when it holds only characters no shell treats
// specially, else single-quoted.
std::string shell_word(std::string_view s) {
  constexpr std::string_view kPlain =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./,:@%+=";
  if (!s.empty() && s.find_first_not_of(kPlain) == std::string_view::npos) return std::string(s);
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string absolute(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.string();
}

// Why a preflight exit of 64-73 means it never measured anything (docs/exit-codes.md).
std::string could_not_run_why(int rc) {
  switch (rc) {
    case kExitUsage:
      return "no database to check, or a bad option";
    case kExitDataErr:
      return "the Litestream config or the policy does not parse";
    case kExitNoInput:
      return "the database, the Litestream config or the policy is missing or unreadable";
    case kExitCantCreate:
      return "its output cannot be written";
    default:
      return "an internal error";
  }
}

}  // namespace

void record_preflight_inputs(formats::AlarmState& alarm, const PreflightInputs& used) {
  alarm.config_path = absolute(used.config_path);
  alarm.policy_path = absolute(used.policy_path);
  const bool bare = used.litestream_bin.find('/') == std::string::npos;  // PATH lookup
  alarm.litestream_bin = bare ? used.litestream_bin : absolute(used.litestream_bin);
  alarm.litestream_version = used.litestream_version;
}

PreflightArgs clear_preflight_args(const PreflightArgs& given, const formats::AlarmState& alarm) {
  PreflightArgs pf = given;
  if (pf.db_paths.empty() && !alarm.db_path.empty()) pf.db_paths = {alarm.db_path};
  if (pf.config_path.empty()) pf.config_path = alarm.config_path;
  if (pf.policy_path.empty()) pf.policy_path = alarm.policy_path;
  if (pf.litestream_bin.empty()) pf.litestream_bin = alarm.litestream_bin;
  if (pf.litestream_version.empty()) pf.litestream_version = alarm.litestream_version;
  return pf;
}

std::string alarm_clear_command(const std::string& state_dir, const formats::AlarmState& a) {
  std::string cmd = "ltxguard alarm clear --state-dir " + shell_word(state_dir);
  if (!a.config_path.empty() && a.config_path != sys::kDefaultLitestreamConfig) {
    cmd += " --config " + shell_word(a.config_path);
  }
  if (a.config_path.empty() && !a.db_path.empty()) cmd += " --db " + shell_word(a.db_path);
  if (!a.policy_path.empty() && a.policy_path != kDefaultPolicyPath) {
    cmd += " --policy " + shell_word(a.policy_path);
  }
  if (a.litestream_bin.find('/') != std::string::npos) {
    cmd += " --litestream-bin " + shell_word(a.litestream_bin);
  }
  if (!a.litestream_version.empty()) {
    cmd += " --litestream-version " + shell_word(a.litestream_version);
  }
  return cmd;
}

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
  std::string cleanup =
      "ltxguard cleanup --db " + (a.db_path.empty() ? std::string("DB") : shell_word(a.db_path));
  if (!a.config_path.empty() && a.config_path != sys::kDefaultLitestreamConfig) {
    cleanup += " --config " + shell_word(a.config_path);
  }
  if (args.state_dir != kDefaultStateDir) cleanup += " --state-dir " + shell_word(args.state_dir);
  std::printf(
      "\nLitestream stays stopped while this alarm is latched (`ltxguard run` exits 11).\n"
      "Next: free space or raise the budget, run `%s` for what is safe to remove,\n"
      "then `%s` (it runs a fresh preflight first).\n",
      esc(cleanup).c_str(), esc(alarm_clear_command(args.state_dir, a)).c_str());
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
    PreflightArgs pf = clear_preflight_args(args.preflight, a);
    pf.json = false;
    // Say which inputs came from alarm.json: the operator sees which preflight decides.
    std::vector<std::string> recorded;
    const auto note = [&](const std::string& given, const std::string& used,
                          std::string_view flag) {
      if (given.empty() && !used.empty())
        recorded.push_back(fmt::format("{} {}", flag, shell_word(used)));
    };
    note(args.preflight.db_paths.empty() ? "" : "given", pf.db_paths.empty() ? "" : pf.db_paths[0],
         "--db");
    note(args.preflight.config_path, pf.config_path, "--config");
    note(args.preflight.policy_path, pf.policy_path, "--policy");
    note(args.preflight.litestream_bin, pf.litestream_bin, "--litestream-bin");
    note(args.preflight.litestream_version, pf.litestream_version, "--litestream-version");
    if (!recorded.empty()) {
      std::printf("preflight with what `ltxguard run` used (from %s): %s\n", kAlarmFileName,
                  output::escape_text(fmt::format("{}", fmt::join(recorded, " "))).c_str());
      std::fflush(stdout);
    }
    const int rc = run_preflight(pf);
    if (rc != kExitOk && rc != kExitWarning) {
      if (rc >= kExitUsage) {
        // Nothing was measured: "free space" would send the operator after the wrong problem.
        std::fprintf(
            stderr,
            "ltxguard: alarm stays latched: the preflight could not run: %s (exit %d, its error is "
            "above). Fix that (pass --db, --config, --policy as `ltxguard run` had them), or clear "
            "with --force --reason TEXT.\n",
            could_not_run_why(rc).c_str(), rc);
      } else if (rc == kExitUnknown) {
        std::fprintf(
            stderr,
            "ltxguard: alarm stays latched: the preflight exits 3 (unknown: a term it needs was "
            "not measured, see above; it must be 0 or 1 before Litestream may start again). "
            "Supply what it names (e.g. --litestream-version X.Y.Z), or clear with --force "
            "--reason TEXT.\n");
      } else {
        std::fprintf(stderr,
                     "ltxguard: alarm stays latched: the preflight exits %d (it must be 0 or 1 "
                     "before Litestream may start again). Free space or change the policy, or "
                     "clear with --force --reason TEXT.\n",
                     rc);
      }
      logger.log(output::Logger::Level::warning, "alarm_clear_refused",
                 fmt::format("alarm clear refused: preflight exit {}", rc), {{"state_dir", args.state_dir}});
      return rc >= kExitUsage ? rc : kExitCritical;
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
