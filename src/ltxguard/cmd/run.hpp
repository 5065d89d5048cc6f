// `ltxguard run -- litestream replicate ...`: the supervisor. Preflight before the start,
// Litestream as a child whose output passes through unchanged and is scanned, the watcher's
// loop (same code as `watch`), and a protective stop (SIGTERM, SIGKILL after a grace) when
// staging is about to eat the application's reserve, with an evidence bundle and a latched
// alarm that keeps Litestream down until a person clears it.
#pragma once

#include <string>
#include <vector>

#include "ltxguard/cmd/watch.hpp"

namespace ltxguard::cmd {

// docs/exit-codes.md. Outside what Litestream itself returns (0, 1, and Go's 2 for flag
// errors), so a unit's RestartPreventExitStatus=10 11 12 names exactly the refusals and stops.
inline constexpr int kExitRefusedPreflight = 10;  // preflight critical: Litestream not started
inline constexpr int kExitAlarmLatched = 11;      // alarm latched: Litestream not started
inline constexpr int kExitProtectiveStop = 12;    // ltxguard stopped Litestream; alarm latched

struct RunArgs {
  // db_paths, config_path (default: the child's -config), policy, listen, interval, record,
  // textfile, log format, litestream_version, app_runs_as_root, force. The log source is the
  // child's own output.
  WatchArgs watch;
  std::string state_dir = "/var/lib/ltxguard";
  std::vector<std::string> child_argv;  // after "--"
};

// Returns the child's exit status when it ends on its own (128 + signal when killed), 0 after
// SIGTERM/SIGINT to ltxguard once the child is down, 10/11/12 above, 64-73 when it cannot run.
[[nodiscard]] int run_supervisor(const RunArgs& args);

}  // namespace ltxguard::cmd
