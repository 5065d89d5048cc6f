#include "ltxguard/sys/child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include <fmt/format.h>

#include "ltxguard/sys/proc.hpp"

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

// After SIGKILL a process stuck in uninterruptible I/O (a hung NFS) may still not go; the
// supervisor must not hang with it.
constexpr auto kAfterKill = std::chrono::seconds(5);

ExitStatus decode(int status) {
  ExitStatus e;
  if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    e.code = WEXITSTATUS(status);
  }
  return e;
}

// Writes what the destination takes right now and returns how much that was. Never blocks:
// a reader of our stdout that stops reading (a paused pager, a stuck log collector) must not
// stall the sampling that protects the disk. A pipe that polls writable has a free slot, so a
// write of at most PIPE_BUF then completes at once; a socket is sent to with MSG_DONTWAIT.
size_t write_available(int fd, bool is_socket, const char* p, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, PIPE_BUF);
    ssize_t w;
    if (is_socket) {
      w = ::send(fd, p + done, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      pollfd pfd{fd, POLLOUT, 0};
      if (::poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLOUT) == 0) break;
      w = ::write(fd, p + done, chunk);
    }
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // full (EAGAIN) or gone (EPIPE): the rest is dropped, not fatal
    done += static_cast<size_t>(w);
  }
  return done;
}

}  // namespace

std::string ExitStatus::describe() const {
  if (!signaled) return fmt::format("exited {}", code);
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("killed by SIG{}", abbrev) : fmt::format("killed by signal {}", signal);
}

std::string StopOutcome::describe() const {
  if (!reaped) return fmt::format("still running {:.1f} s after SIGKILL", static_cast<double>(waited_ms) / 1000.0);
  // The child ended on SIGTERM but what it started (a wrapper's Litestream) did not.
  const bool leftovers = killed && !(status.signaled && status.signal == SIGKILL);
  const char* how = !killed    ? ""
                    : leftovers && cut_short ? ", then SIGKILL for what it left in its process group: it went on "
                                               "filling the disk (grace cut short)"
                    : leftovers ? ", then SIGKILL for what it left in its process group: SIGTERM was ignored for "
                                  "the whole grace"
                    : cut_short ? ", then SIGKILL: it went on filling the disk (grace cut short)"
                                : ", then SIGKILL: SIGTERM was ignored for the whole grace";
  return fmt::format("{} after SIGTERM{} in {:.1f} s", status.describe(), how,
                     static_cast<double>(waited_ms) / 1000.0);
}

util::Result<ChildProcess> ChildProcess::start(const std::vector<std::string>& argv) {
  // SIGTERM, as systemd would stop it: if ltxguard itself is killed, Litestream must not go
  // on unguarded. SIGKILL would also end a healthy Litestream mid-upload.
  auto spawned = spawn_piped(argv, SpawnOptions{.parent_death_signal = SIGTERM});
  if (!spawned) return util::fail(spawned.error());
  return ChildProcess(std::move(*spawned));
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : child_(std::move(other.child_)), status_(other.status_) {
  other.child_.pid = -1;
}

ChildProcess::~ChildProcess() {
  if (child_.pid <= 0) return;
  if (status_) {
    if (group_alive()) ::kill(-child_.pid, SIGKILL);  // what a wrapper left behind
    return;
  }
  signal(SIGKILL);
  int status = 0;
  if (reap_until(child_.pid, child_.pidfd.get(), Clock::now() + kAfterKill, &status)) status_ = decode(status);
}

bool ChildProcess::group_alive() const {
  if (child_.pid <= 0) return false;
  // The kernel keeps a pid number out of reuse while it names a process group, so -pid
  // cannot reach strangers even after the leader was reaped.
  if (::kill(-child_.pid, 0) != 0 && errno != EPERM) return false;
  if (!status_) return true;  // the child itself
  // Orphans go to init, which reaps them when it gets round to it: a zombie still counts for
  // kill(2) but holds nothing and writes nothing, so only a live member keeps the group alive.
  return live_process_in_group(child_.pid);
}

std::optional<ExitStatus> ChildProcess::poll_exit() {
  if (status_) return status_;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(child_.pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == child_.pid) status_ = decode(status);
  return status_;
}

void ChildProcess::signal(int sig) const {
  if (child_.pid <= 0) return;
  // The group reaches helpers the child started (a wrapper script's Litestream); the pid
  // itself covers a child that left the group. Once reaped, the pid is not ours to signal.
  ::kill(-child_.pid, sig);
  if (!status_) ::kill(child_.pid, sig);
}

bool ChildProcess::wait_for_exit(Clock::time_point deadline, const std::function<void()>& drain,
                                 const std::function<bool()>& kill_now) {
  // Done when the child is reaped and nothing is left in its group: a wrapper that did not
  // `exec` dies on SIGTERM at once while the Litestream it started goes on.
  while (!poll_exit() || group_alive()) {
    if (kill_now && kill_now()) return false;
    // Rounded up: a truncated 0.9 ms would end the grace early.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return true;
    pollfd fds[3];
    nfds_t n = 0;
    if (child_.pidfd.valid() && !status_) fds[n++] = pollfd{child_.pidfd.get(), POLLIN, 0};
    if (child_.stdout_fd.valid()) fds[n++] = pollfd{child_.stdout_fd.get(), POLLIN, 0};
    if (child_.stderr_fd.valid()) fds[n++] = pollfd{child_.stderr_fd.get(), POLLIN, 0};
    // Without a pidfd, wake every 10 ms to poll waitpid.
    const int wait_ms = child_.pidfd.valid() && !status_ ? static_cast<int>(std::min<int64_t>(left, 100)) : 10;
    const int ready = ::poll(fds, n, wait_ms);
    if (ready > 0 && drain) drain();
    if (ready > 0) {
      // A pipe at EOF stays readable: stop polling it once the caller has drained it.
      for (nfds_t i = 0; i < n; ++i) {
        if ((fds[i].revents & POLLHUP) && !(fds[i].revents & POLLIN)) {
          if (fds[i].fd == child_.stdout_fd.get()) child_.stdout_fd.reset();
          if (fds[i].fd == child_.stderr_fd.get()) child_.stderr_fd.reset();
        }
      }
    }
  }
  return true;
}

StopOutcome ChildProcess::stop(std::chrono::milliseconds grace, const std::function<void()>& drain,
                               const std::function<bool()>& kill_now) {
  StopOutcome out;
  const auto started = Clock::now();
  if (!poll_exit() || group_alive()) {
    signal(SIGTERM);
    out.cut_short = !wait_for_exit(started + grace, drain, kill_now);
    if (!status_ || group_alive()) {
      out.killed = true;
      signal(SIGKILL);
      (void)wait_for_exit(Clock::now() + kAfterKill, drain, nullptr);
    }
  }
  out.waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  out.reaped = status_.has_value() && !group_alive();
  if (status_) out.status = *status_;
  return out;
}

OutputPump::OutputPump(int from_fd, int to_fd, size_t max_line_bytes)
    : from_fd_(from_fd), to_fd_(to_fd), max_line_bytes_(max_line_bytes == 0 ? 1 : max_line_bytes) {
  struct stat st {};
  to_socket_ = to_fd >= 0 && ::fstat(to_fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

std::vector<std::string> OutputPump::pump() {
  std::vector<std::string> lines;
  if (eof_ || from_fd_ < 0) return lines;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(from_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      eof_ = true;
      if (!partial_.empty()) lines.push_back(std::move(partial_));
      partial_.clear();
      break;
    }
    const size_t got = static_cast<size_t>(n);
    dropped_bytes_ += got - write_available(to_fd_, to_socket_, buf, got);
    for (size_t i = 0; i < got; ++i) {
      if (buf[i] == '\n') {
        lines.push_back(std::move(partial_));
        partial_.clear();
      } else {
        partial_.push_back(buf[i]);
        if (partial_.size() >= max_line_bytes_) {
          lines.push_back(std::move(partial_));
          partial_.clear();
        }
      }
    }
  }
  return lines;
}

}  // namespace ltxguard::sys
