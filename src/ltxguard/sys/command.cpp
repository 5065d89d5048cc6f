#include "ltxguard/sys/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "ltxguard/sys/spawn.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

// How long a SIGKILLed child may take to die before we stop waiting for it: a child stuck in
// uninterruptible I/O (a hung NFS or a full FUSE disk) must not hang the caller with it.
constexpr int kReapAfterKillMs = 5000;

int ms_until(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > 60'000 ? 60'000 : static_cast<int>(left);
}

// One captured stream: reads whatever the pipe holds, keeps up to the cap.
struct Stream {
  util::UniqueFd fd;
  std::string* out = nullptr;
  bool truncated = false;

  // Reads until the pipe is empty (EAGAIN) or at EOF; closes fd at EOF or on error.
  void drain(size_t max_bytes) {
    char buf[16384];
    while (fd.valid()) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) {
        const size_t got = static_cast<size_t>(n);
        const size_t room = max_bytes > out->size() ? max_bytes - out->size() : 0;
        out->append(buf, got < room ? got : room);
        if (got > room) truncated = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      fd.reset();  // EOF or a read error: the stream is over either way
    }
  }
};

}  // namespace

util::Result<CommandResult> run_command(const std::vector<std::string>& argv, int timeout_ms,
                                        size_t max_output_bytes) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);

  auto spawned = spawn_piped(argv);
  if (!spawned) return util::fail(spawned.error());
  const pid_t pid = spawned->pid;
  util::UniqueFd pidfd = std::move(spawned->pidfd);
  util::UniqueFd out_r = std::move(spawned->stdout_fd);
  util::UniqueFd err_r = std::move(spawned->stderr_fd);

  CommandResult result;
  Stream streams[2];
  streams[0].fd = std::move(out_r);
  streams[0].out = &result.stdout_text;
  streams[1].fd = std::move(err_r);
  streams[1].out = &result.stderr_text;

  bool exited = false;
  for (;;) {
    pollfd fds[3];
    nfds_t n = 0;
    for (auto& s : streams) {
      if (s.fd.valid()) fds[n++] = pollfd{s.fd.get(), POLLIN, 0};
    }
    if (n == 0) break;  // both streams at EOF: the child is done or about to be
    if (pidfd.valid()) fds[n++] = pollfd{pidfd.get(), POLLIN, 0};
    const int left = ms_until(deadline);
    if (left == 0) {
      result.timed_out = true;
      break;
    }
    const int ready = ::poll(fds, n, left);
    if (ready < 0 && errno != EINTR) break;
    for (auto& s : streams) s.drain(max_output_bytes);
    if (pidfd.valid() && (fds[n - 1].revents & POLLIN)) {
      // The child exited; what it wrote is already in the pipes. A grandchild may keep the
      // pipes open for ever, so take what is there and stop reading.
      for (auto& s : streams) s.drain(max_output_bytes);
      exited = true;
      break;
    }
  }

  int status = 0;
  bool reaped = false;
  if (!result.timed_out) {
    const auto wait_until = exited ? Clock::now() + std::chrono::seconds(1) : deadline;
    reaped = reap_until(pid, pidfd.get(), wait_until, &status);
    if (!reaped) result.timed_out = true;
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);  // the whole group: a shell's children must not outlive the deadline
    ::kill(pid, SIGKILL);
    reaped =
        reap_until(pid, pidfd.get(), Clock::now() + std::chrono::milliseconds(kReapAfterKillMs), &status);
    for (auto& s : streams) s.drain(max_output_bytes);
  }
  result.output_truncated = streams[0].truncated || streams[1].truncated;
  if (reaped) {
    if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.term_signal = WTERMSIG(status);
    }
  }
  return result;
}

}  // namespace ltxguard::sys
