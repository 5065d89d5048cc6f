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
// Exit 0 when cleared (or nothing was latched); 2 when the preflight does not pass and
// --force was not given; 64 for --force without --reason.
[[nodiscard]] int run_alarm_clear(const AlarmArgs& args);

}  // namespace ltxguard::cmd
