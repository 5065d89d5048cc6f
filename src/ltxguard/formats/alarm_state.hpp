// The supervisor's latched alarm: why Litestream was stopped, when, and how it was cleared.
// Stored as a small JSON document in the state dir (alarm.json) so it survives restarts; a
// file that does not parse counts as latched, since the alarm exists to fail safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

struct AlarmState {
  bool latched = false;
  int64_t latched_at_ms = 0;          // Unix ms of the protective stop
  std::string db_path;                // the database whose condition stopped Litestream
  std::string condition;              // model::to_string(Condition): "wedge", "cannot_fit", ...
  std::string reason;                 // the watch model's reason line, with the numbers
  int64_t headroom_bytes = 0;
  std::string stop_outcome;           // "exited 0 after SIGTERM in 0.4 s", "killed by SIGKILL after 10 s"
  std::vector<std::string> evidence_files;  // bundle written at the stop; empty when it failed
  std::string evidence_note;          // why there is no bundle, if so
  // What `ltxguard run` preflighted with, so `alarm clear` re-runs that preflight by default.
  // Absolute paths; "" = the default lookup (for config_path also: no config, the database came
  // from the command line). Absent in files written before these fields existed.
  std::string config_path;
  std::string policy_path;
  std::string litestream_bin;      // as run found it: a bare name is looked up in PATH
  std::string litestream_version;  // run's --litestream-version override, "" = detected
  // Set by `ltxguard alarm clear`.
  int64_t cleared_at_ms = 0;
  std::string cleared_how;            // "preflight ok (exit 0)" or "forced: <reason>"
};

// Pretty JSON with a trailing newline; field names are the member names.
[[nodiscard]] std::string serialize_alarm(const AlarmState& state);

// Accepts at most kMaxAlarmBytes. Unknown fields are ignored (a newer ltxguard may add some);
// a missing or non-boolean "latched" is invalid_input "<source>: ...".
[[nodiscard]] util::Result<AlarmState> parse_alarm(std::string_view json, std::string_view source);

inline constexpr size_t kMaxAlarmBytes = 256 * 1024;

}  // namespace ltxguard::formats
