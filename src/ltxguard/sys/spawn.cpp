#include "ltxguard/sys/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

extern char** environ;

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

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

util::Result<SpawnedChild> spawn_piped(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "", "empty command"));
  }
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
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  SpawnedChild child;
  const int rc = ::posix_spawnp(&child.pid, cargv[0], &setup.actions, &setup.attr, cargv.data(), environ);
  if (rc != 0) {
    if (rc == ENOENT) {
      return util::fail(util::Error{util::ErrorCode::not_found, rc, argv[0], "program not found"});
    }
    return util::fail(util::sys_error(rc, argv[0], "cannot run program"));
  }
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the syscall directly.
  child.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0)));
  child.stdout_fd = std::move(out_r);
  child.stderr_fd = std::move(err_r);
  return child;
}

bool reap_until(pid_t pid, int pidfd, Clock::time_point deadline, int* status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left_ms <= 0) return false;
    const int wait_ms = left_ms > 60'000 ? 60'000 : static_cast<int>(left_ms);
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      (void)::poll(&p, 1, wait_ms);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms < 10 ? wait_ms : 10));
    }
  }
}

}  // namespace ltxguard::sys
