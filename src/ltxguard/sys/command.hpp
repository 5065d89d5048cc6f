// Runs a program to completion under a deadline and captures its output: the one way
// ltxguard starts short-lived helpers (systemctl, litestream version, journalctl).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

struct CommandResult {
  int exit_code = -1;      // the child's exit status; -1 when it was killed by a signal
  int term_signal = 0;     // the signal that killed it, 0 when it exited
  bool timed_out = false;  // ltxguard killed it because the deadline passed
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;  // a stream passed max_output_bytes; the rest was discarded
};

// Runs argv without a shell. argv[0] is looked up in PATH only when it has no '/'. The child
// gets stdin from /dev/null, no other inherited fds, default signal handling, and its own
// process group. When timeout_ms passes, the whole group gets SIGKILL and the child is reaped
// before returning (timed_out = true, with whatever output came before). Each stream keeps at
// most max_output_bytes; the rest is read and dropped so the child never blocks on a full pipe.
// A child that exits while a grandchild still holds its pipes returns at once.
// Errors: not_found "program not found" (path = argv[0]) when it does not exist;
// invalid_input for an empty argv; io when spawning fails otherwise.
[[nodiscard]] util::Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                                      int timeout_ms,
                                                      size_t max_output_bytes = 1 << 20);

}  // namespace ltxguard::sys
