#include "ltxguard/sys/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

extern char** environ;

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

// Where argv[0] may be: itself when it names a path, else each PATH entry in order (empty
// entries mean the current directory, as execvp has it). Built before fork(): the child of
// a multi-threaded process may not allocate.
std::vector<std::string> candidates(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    out.push_back(dir.empty() ? program : dir + "/" + program);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

// Moves fd to a descriptor >= 3 so dup2 onto 0..2 never clobbers a source that sits there
// (a parent started with a closed stdin hands out 0 for the next pipe).
int above_stdio(int fd) { return fd >= 3 ? fd : ::fcntl(fd, F_DUPFD_CLOEXEC, 3); }

[[noreturn]] void child_failed(int report_fd, int err) {
  (void)!::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

// Between fork() and execve(): async-signal-safe calls only. Reports errno through
// report_fd and exits 127 when something fails.
[[noreturn]] void exec_child(const std::vector<char*>& paths, char* const* argv, int out_w, int err_w, int report_fd,
                             pid_t parent, int parent_death_signal) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  if (::setpgid(0, 0) != 0) child_failed(report_fd, errno);
  if (parent_death_signal != 0) {
    if (::prctl(PR_SET_PDEATHSIG, parent_death_signal) != 0) child_failed(report_fd, errno);
    // The parent may have died before prctl: then nobody would ever send the signal.
    if (::getppid() != parent) ::_exit(127);
  }
  const int null_fd = above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  out_w = above_stdio(out_w);
  err_w = above_stdio(err_w);
  report_fd = above_stdio(report_fd);
  if (null_fd < 0 || out_w < 0 || err_w < 0 || report_fd < 0) child_failed(report_fd, errno);
  if (::dup2(null_fd, 0) < 0 || ::dup2(out_w, 1) < 0 || ::dup2(err_w, 2) < 0) child_failed(report_fd, errno);
  // Every other fd goes, whether or not a library set close-on-exec on it; the report
  // pipe stays until execve closes it.
  if (report_fd > 3) (void)::syscall(SYS_close_range, 3U, static_cast<unsigned>(report_fd - 1), 0U);
  (void)::syscall(SYS_close_range, static_cast<unsigned>(report_fd + 1), ~0U, 0U);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  // As execvp: the first candidate that runs wins; EACCES is kept over a later ENOENT.
  int err = ENOENT;
  for (char* path : paths) {
    ::execve(path, argv, environ);
    if (errno != ENOENT && errno != ENOTDIR) err = errno;
  }
  child_failed(report_fd, err);
}

}  // namespace

util::Result<SpawnedChild> spawn_piped(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "", "empty command"));
  }
  int out_pipe[2];
  int err_pipe[2];
  int report_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return util::fail(util::sys_error(errno, argv[0], "cannot create pipe"));
  }
  util::UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return util::fail(util::sys_error(errno, argv[0], "cannot create pipe"));
  }
  util::UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  if (::pipe2(report_pipe, O_CLOEXEC) != 0) {
    return util::fail(util::sys_error(errno, argv[0], "cannot create pipe"));
  }
  util::UniqueFd report_r(report_pipe[0]), report_w(report_pipe[1]);
  (void)::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
  (void)::fcntl(err_r.get(), F_SETFL, O_NONBLOCK);

  const std::vector<std::string> paths = candidates(argv[0]);
  std::vector<char*> cpaths;
  for (const auto& p : paths) cpaths.push_back(const_cast<char*>(p.c_str()));
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  // posix_spawn cannot set a parent-death signal, hence fork. Signals stay blocked across
  // fork so none of our handlers runs in the child before it resets them.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    exec_child(cpaths, cargv.data(), out_w.get(), err_w.get(), report_w.get(), parent, options.parent_death_signal);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return util::fail(util::sys_error(fork_errno, argv[0], "cannot run program"));
  report_w.reset();
  out_w.reset();
  err_w.reset();

  // execve closes the report pipe (EOF): anything read before that is the child's errno.
  int child_errno = 0;
  ssize_t got;
  do {
    got = ::read(report_r.get(), &child_errno, sizeof child_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof child_errno)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (child_errno == ENOENT) {
      return util::fail(util::Error{util::ErrorCode::not_found, child_errno, argv[0], "program not found"});
    }
    return util::fail(util::sys_error(child_errno, argv[0], "cannot run program"));
  }
  SpawnedChild child;
  child.pid = pid;
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
