// The latched alarm: `<state-dir>/alarm.json`, written by the supervisor at a protective stop
// and lifted only by a person (`ltxguard alarm clear`), after a fresh preflight passes or with
// --force and a reason that is logged. `ltxguard alarm status` shows it.
#pragma once

#include <optional>
#include <string>

#include "ltxguard/cmd/preflight.hpp"
#include "ltxguard/formats/alarm_state.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::cmd {

inline constexpr const char* kDefaultStateDir = "/var/lib/ltxguard";
inline constexpr const char* kAlarmFileName = "alarm.json";

// Creates the state dir (and parents, mode 0750) when missing. Refuses a symlink or a
// non-directory: ltxguard runs as root and writes here.
[[nodiscard]] util::Result<void> ensure_state_dir(const std::string& dir);

// nullopt when there is no alarm file. A file that cannot be parsed is reported as a latched
// alarm whose reason says so: the alarm fails safe.
[[nodiscard]] util::Result<std::optional<formats::AlarmState>> read_alarm(const std::string& state_dir);
[[nodiscard]] util::Result<void> write_alarm(const std::string& state_dir, const formats::AlarmState& state);

// What `ltxguard run` preflighted with. Recorded in the alarm at a protective stop so that
// `alarm clear` re-runs the same preflight wherever it is started from.
struct PreflightInputs {
  std::string config_path;  // the Litestream config run read, "" = none
  std::string policy_path;  // run's --policy, "" = the default lookup
  std::string litestream_bin;
  std::string litestream_version;  // run's --litestream-version, "" = detected
};
// Relative paths are made absolute against the current directory; a bare binary name stays
// (PATH lookup).
void record_preflight_inputs(formats::AlarmState& alarm, const PreflightInputs& used);

// The preflight `alarm clear` runs: each input given on its command line wins, else what the
// alarm recorded (--db defaults to the database that was stopped).
[[nodiscard]] PreflightArgs clear_preflight_args(const PreflightArgs& given,
                                                 const formats::AlarmState& alarm);

// The `ltxguard alarm clear` command line to print, shell-quoted: --state-dir always, then
// --config and --policy when not the defaults, --db when no config names the database,
// --litestream-bin (a path) and --litestream-version when run had them.
[[nodiscard]] std::string alarm_clear_command(const std::string& state_dir,
                                              const formats::AlarmState& alarm);

struct AlarmArgs {
  std::string state_dir = kDefaultStateDir;
  bool json = false;
  // clear only
  bool force = false;
  std::string reason;      // required with --force; logged and kept in the state file
  PreflightArgs preflight;  // the fresh preflight that must pass (exit 0 or 1)
};

// Exit 0 when no alarm is latched, 2 when one is (the reason and the next step on stdout).
[[nodiscard]] int run_alarm_status(const AlarmArgs& args);
// Exit 0 when cleared (or nothing was latched); 2 when the preflight does not pass (2 or 3)
// and --force was not given; the preflight's own 64-73 when it could not run; 64 for --force
// without --reason.
[[nodiscard]] int run_alarm_clear(const AlarmArgs& args);

}  // namespace ltxguard::cmd
