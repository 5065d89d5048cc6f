// Starting a child the one safe way for a root daemon: no shell, stdin from /dev/null,
// stdout/stderr on pipes, no other inherited fd (a library may leave fds without close-on-exec),
// default signal handling, an empty signal mask and its own process group. Shared by
// run_command (short helpers) and ChildProcess (the supervised Litestream).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

struct SpawnedChild {
  pid_t pid = -1;
  util::UniqueFd pidfd;      // readable once the child exited; invalid before Linux 5.3
  util::UniqueFd stdout_fd;  // read ends, non-blocking, close-on-exec
  util::UniqueFd stderr_fd;
};

struct SpawnOptions {
  // Sent to the child when this process dies, however it dies (PR_SET_PDEATHSIG): a
  // supervisor killed with SIGKILL must not leave Litestream running unguarded. 0 = none.
  // The kernel sends it when the *thread* that spawned exits: spawn from the main thread.
  int parent_death_signal = 0;
};

// argv[0] is looked up in PATH only when it has no '/'. Errors: invalid_input for an empty
// argv, not_found "program not found" (path = argv[0]), io otherwise.
[[nodiscard]] util::Result<SpawnedChild> spawn_piped(const std::vector<std::string>& argv,
                                                     const SpawnOptions& options = {});

// Waits until pid can be reaped or deadline passes; true (and *status) when reaped.
[[nodiscard]] bool reap_until(pid_t pid, int pidfd, std::chrono::steady_clock::time_point deadline, int* status);

}  // namespace ltxguard::sys
