// The supervised child (Litestream under `ltxguard run`): started through spawn_piped, its
// output read by the caller, stopped with SIGTERM and then SIGKILL after a bounded grace.
// Never SIGSTOP: a stopped Litestream keeps its read transaction open and the app's WAL
// cannot be checkpointed. The child gets its own process group so a terminal's Ctrl-C
// reaches only the supervisor, which decides how the child ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/sys/spawn.hpp"

namespace ltxguard::sys {

struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit() status when !signaled
  int signal = 0;  // the terminating signal when signaled
  // What a shell reports: the code, or 128 + signal.
  [[nodiscard]] int shell_code() const { return signaled ? 128 + signal : code; }
  // "exited 0", "killed by SIGKILL"
  [[nodiscard]] std::string describe() const;
};

struct StopOutcome {
  ExitStatus status;
  bool killed = false;   // SIGKILL was needed: the grace passed or was cut short
  bool cut_short = false; // kill_now() ended the grace early
  bool reaped = true;    // false: not even SIGKILL ended it (or its group) within 5 s
  int64_t waited_ms = 0; // from SIGTERM to exit
  [[nodiscard]] std::string describe() const;  // "exited 0 after SIGTERM in 0.2 s", ...
};

class ChildProcess {
 public:
  [[nodiscard]] static util::Result<ChildProcess> start(const std::vector<std::string>& argv);
  // A moved-from ChildProcess owns nothing (pid -1), so only one destructor kills the child.
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child still running here is killed (its group) and reaped: never left behind.
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const { return child_.pid; }
  [[nodiscard]] int stdout_fd() const { return child_.stdout_fd.get(); }
  [[nodiscard]] int stderr_fd() const { return child_.stderr_fd.get(); }
  [[nodiscard]] int exit_fd() const { return child_.pidfd.get(); }  // readable once it exited; -1 if none
  [[nodiscard]] bool running() const { return !status_; }

  // Reaps without blocking; the status once the child has ended.
  std::optional<ExitStatus> poll_exit();
  // Some process is still in the child's process group: the child itself, or what it started
  // and left behind when it ended (a wrapper script that did not `exec` Litestream).
  [[nodiscard]] bool group_alive() const;
  // Sends sig to the child's process group.
  void signal(int sig) const;
  // SIGTERM to the group, up to `grace` for the child and everything left in its group to
  // exit, then SIGKILL and up to 5 s more. Also ends a group whose child already ended.
  // `drain` is called whenever the child's output is readable, so a child that logs while
  // shutting down never blocks on a full pipe. `kill_now`, checked at least every 100 ms,
  // ends the grace early: a child that goes on writing while it ignores SIGTERM (0.3.13 after
  // a replica ENOSPC) must not get the whole grace to eat the reserve.
  StopOutcome stop(std::chrono::milliseconds grace, const std::function<void()>& drain,
                   const std::function<bool()>& kill_now = nullptr);

 private:
  explicit ChildProcess(SpawnedChild c) : child_(std::move(c)) {}
  // Returns false when kill_now() asked to stop waiting.
  bool wait_for_exit(std::chrono::steady_clock::time_point deadline, const std::function<void()>& drain,
                     const std::function<bool()>& kill_now);

  SpawnedChild child_;
  std::optional<ExitStatus> status_;
};

// Copies a child's stream to one of our fds unchanged and cuts it into lines for scanning.
// Copying never blocks: what the destination cannot take at once is dropped and counted,
// while every line is still scanned.
class OutputPump {
 public:
  // Neither fd is owned. A line longer than max_line_bytes is cut there (the rest of it
  // becomes the next "line"): log lines come from a process that may be misbehaving.
  OutputPump(int from_fd, int to_fd, size_t max_line_bytes = 64 * 1024);
  // Reads what is available (non-blocking), writes it through, returns the complete lines
  // without their '\n'; at EOF the unterminated rest is returned as a last line.
  std::vector<std::string> pump();
  [[nodiscard]] bool at_eof() const { return eof_; }
  // Bytes read from the child that our destination did not take.
  [[nodiscard]] uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  int from_fd_;
  int to_fd_;
  bool to_socket_ = false;
  uint64_t dropped_bytes_ = 0;
  size_t max_line_bytes_;
  std::string partial_;
  bool eof_ = false;
};

}  // namespace ltxguard::sys
