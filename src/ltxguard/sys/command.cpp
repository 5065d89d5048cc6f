#include "ltxguard/sys/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "ltxguard/util/unique_fd.hpp"

extern char** environ;

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

// Waits for pid to become reapable up to deadline; returns true and fills status if reaped.
bool reap(pid_t pid, int pidfd, Clock::time_point deadline, int* status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    const int left = ms_until(deadline);
    if (left == 0) return false;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      (void)::poll(&p, 1, left);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(left < 10 ? left : 10));
    }
  }
}

struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

util::Result<CommandResult> run_command(const std::vector<std::string>& argv, int timeout_ms,
                                        size_t max_output_bytes) {
  if (argv.empty() || argv[0].empty()) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "", "empty command"));
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return util::fail(util::sys_error(errno, argv[0], "cannot create pipe"));
  }
  util::UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return util::fail(util::sys_error(errno, argv[0], "cannot create pipe"));
  }
  util::UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  (void)::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  (void)::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err_w.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t all;
  sigset_t none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, cargv[0], &setup.actions, &setup.attr, cargv.data(), environ);
  if (rc != 0) {
    if (rc == ENOENT) {
      return util::fail(util::Error{util::ErrorCode::not_found, rc, argv[0], "program not found"});
    }
    return util::fail(util::sys_error(rc, argv[0], "cannot run program"));
  }
  out_w.reset();
  err_w.reset();
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the syscall directly. -1 on kernels
  // before 5.3: then only the pipes are polled.
  util::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

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
    reaped = reap(pid, pidfd.get(), wait_until, &status);
    if (!reaped) result.timed_out = true;
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);  // the whole group: a shell's children must not outlive the deadline
    ::kill(pid, SIGKILL);
    reaped =
        reap(pid, pidfd.get(), Clock::now() + std::chrono::milliseconds(kReapAfterKillMs), &status);
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
