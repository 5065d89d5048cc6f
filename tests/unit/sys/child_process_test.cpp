#include "ltxguard/sys/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace ltxguard::sys {
namespace {

using namespace std::chrono_literals;

ExitStatus wait_exit(ChildProcess& c) {
  for (int i = 0; i < 1000; ++i) {
    if (auto s = c.poll_exit()) return *s;
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "child did not exit";
  return {};
}

// Everything the child writes on one stream until EOF, through a pump into a pipe we read.
struct Captured {
  std::vector<std::string> lines;
  std::string passed_through;
};

Captured pump_all(int from_fd, size_t max_line = 64 * 1024) {
  int p[2];
  EXPECT_EQ(::pipe2(p, O_NONBLOCK), 0);
  OutputPump pump(from_fd, p[1], max_line);
  Captured c;
  char buf[65536];
  while (!pump.at_eof()) {
    pollfd fd{from_fd, POLLIN, 0};
    (void)::poll(&fd, 1, 1000);
    for (auto& l : pump.pump()) c.lines.push_back(std::move(l));
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) c.passed_through.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  ::close(p[1]);
  return c;
}

TEST(ChildProcessTest, ExitStatusIsPassedOn) {
  auto c = ChildProcess::start({"/bin/sh", "-c", "exit 7"});
  ASSERT_TRUE(c) << c.error().to_string();
  const ExitStatus s = wait_exit(*c);
  EXPECT_FALSE(s.signaled);
  EXPECT_EQ(s.code, 7);
  EXPECT_EQ(s.shell_code(), 7);
  EXPECT_EQ(s.describe(), "exited 7");
  EXPECT_FALSE(c->running());
}

TEST(ChildProcessTest, CooperativeChildEndsOnSigterm) {
  auto c = ChildProcess::start({"sleep", "30"});
  ASSERT_TRUE(c);
  const StopOutcome o = c->stop(5s, nullptr);
  EXPECT_FALSE(o.killed);
  EXPECT_TRUE(o.reaped);
  EXPECT_TRUE(o.status.signaled);
  EXPECT_EQ(o.status.signal, SIGTERM);
  EXPECT_EQ(o.status.shell_code(), 143);
  EXPECT_LT(o.waited_ms, 4000);
  EXPECT_NE(o.describe().find("killed by SIGTERM after SIGTERM in"), std::string::npos) << o.describe();
}

TEST(ChildProcessTest, ChildIgnoringSigtermIsKilledAfterTheGrace) {
  // exec so the shell itself (not a subshell) ignores TERM; the loop's sleeps die with the group.
  auto c = ChildProcess::start({"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(c);
  pollfd fd{c->stdout_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 5000), 1);  // the trap is set before we signal
  const StopOutcome o = c->stop(300ms, nullptr);
  EXPECT_TRUE(o.killed);
  EXPECT_TRUE(o.reaped);
  EXPECT_EQ(o.status.signal, SIGKILL);
  EXPECT_GE(o.waited_ms, 300);
  EXPECT_NE(o.describe().find("then SIGKILL: SIGTERM was ignored for the whole grace"), std::string::npos) << o.describe();
}

// Field test: `run -- wrapper.sh` where the script starts Litestream without `exec`. SIGTERM
// ended the shell at once and the wedged Litestream (which ignores SIGTERM) was left running.
// Dead, or a zombie waiting for init (which in a container may take its time).
bool gone_or_zombie(pid_t pid) {
  if (::kill(pid, 0) == -1 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST(ChildProcessTest, WhatAWrapperLeftInItsGroupIsStoppedToo) {
  // The inner shell prints its pid only once it ignores SIGTERM.
  auto c = ChildProcess::start(
      {"/bin/sh", "-c", "/bin/sh -c 'trap \"\" TERM; echo $$; while :; do sleep 0.05; done' & wait"});
  ASSERT_TRUE(c);
  pollfd fd{c->stdout_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 5000), 1);
  char buf[64] = {};
  ASSERT_GT(::read(c->stdout_fd(), buf, sizeof buf - 1), 0);
  const pid_t inner = static_cast<pid_t>(std::atoi(buf));
  ASSERT_GT(inner, 0);
  const StopOutcome o = c->stop(300ms, nullptr);
  EXPECT_FALSE(c->group_alive());
  EXPECT_TRUE(o.reaped);
  EXPECT_TRUE(o.killed);
  EXPECT_EQ(o.status.signal, SIGTERM);  // the wrapper itself took the SIGTERM
  EXPECT_NE(o.describe().find("then SIGKILL for what it left in its process group"), std::string::npos)
      << o.describe();
  EXPECT_TRUE(gone_or_zombie(inner));
}

TEST(ChildProcessTest, AGroupLeftBehindByAChildThatExitedIsEndedByStop) {
  auto c = ChildProcess::start({"/bin/sh", "-c", "sleep 30 & echo started"});
  ASSERT_TRUE(c);
  const ExitStatus st = wait_exit(*c);
  EXPECT_EQ(st.code, 0);
  EXPECT_TRUE(c->group_alive());  // the sleep
  const StopOutcome o = c->stop(2s, nullptr);
  EXPECT_FALSE(c->group_alive());
  EXPECT_FALSE(o.killed);  // sleep takes SIGTERM
  EXPECT_TRUE(o.reaped);
}

TEST(ChildProcessTest, StopKeepsDrainingAChattyChild) {
  // 1 MiB of output during shutdown would block on a 64 KiB pipe nobody reads.
  auto c = ChildProcess::start(
      {"/bin/sh", "-c", "trap 'head -c 1048576 /dev/zero; exit 0' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(c);
  pollfd fd{c->stdout_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 5000), 1);
  size_t drained = 0;
  const int out = c->stdout_fd();
  const StopOutcome o = c->stop(5s, [&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(out, buf, sizeof buf)) > 0) drained += static_cast<size_t>(n);
  });
  EXPECT_FALSE(o.killed) << o.describe();
  EXPECT_EQ(o.status.code, 0);
  EXPECT_GE(drained, 1u << 20);
}

TEST(ChildProcessTest, NoInheritedFdsBesidesStdio) {
  // No O_CLOEXEC, as a library may leave its fds; a high number so ls's own directory fd is not it.
  const int opened = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(opened, 0);
  const int leaked = ::dup2(opened, 57);
  ::close(opened);
  ASSERT_EQ(leaked, 57);
  auto c = ChildProcess::start({"/bin/sh", "-c", "ls /proc/self/fd"});
  ::close(leaked);
  ASSERT_TRUE(c);
  const Captured out = pump_all(c->stdout_fd());
  // 0, 1, 2 and the directory ls itself is reading.
  EXPECT_LE(out.lines.size(), 4u) << out.passed_through;
  for (const auto& l : out.lines) EXPECT_NE(l, std::to_string(leaked)) << out.passed_through;
}

TEST(ChildProcessTest, PumpPassesBytesThroughAndSplitsLines) {
  auto c = ChildProcess::start({"/bin/sh", "-c", "printf 'one\\ntwo\\n\\nlast-no-newline'; printf 'err\\n' >&2"});
  ASSERT_TRUE(c);
  const Captured out = pump_all(c->stdout_fd());
  EXPECT_EQ(out.passed_through, "one\ntwo\n\nlast-no-newline");
  EXPECT_EQ(out.lines, (std::vector<std::string>{"one", "two", "", "last-no-newline"}));
  const Captured err = pump_all(c->stderr_fd());
  EXPECT_EQ(err.lines, std::vector<std::string>{"err"});
}

TEST(ChildProcessTest, OverlongLinesAreCut) {
  auto c = ChildProcess::start({"/bin/sh", "-c", "head -c 25 /dev/zero | tr '\\0' x; echo"});
  ASSERT_TRUE(c);
  const Captured out = pump_all(c->stdout_fd(), 10);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"}));
  EXPECT_EQ(out.passed_through.size(), 26u);
}

// Fills fd (blocking) until it takes no more, through a temporary O_NONBLOCK.
void fill(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  ASSERT_EQ(::fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
  const std::string chunk(4096, 'x');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_EQ(::fcntl(fd, F_SETFL, flags), 0);
}

// A paused pager or a stuck log collector on our stdout must not stall the supervisor: the
// pump drops what the destination cannot take, and still returns every line to scan.
void expect_pump_does_not_block_on(int to_fd) {
  fill(to_fd);
  int from[2];
  ASSERT_EQ(::pipe2(from, O_NONBLOCK), 0);
  const std::string text = "level=ERROR msg=\"sync error\"\nsecond\n";
  ASSERT_EQ(::write(from[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  OutputPump pump(from[0], to_fd);
  ::alarm(10);  // a pump that blocks would hang the test: end it loudly instead
  const auto lines = pump.pump();
  ::alarm(0);
  ::close(from[0]);
  ::close(from[1]);
  EXPECT_EQ(lines, (std::vector<std::string>{"level=ERROR msg=\"sync error\"", "second"}));
  EXPECT_EQ(pump.dropped_bytes(), text.size());
}

TEST(ChildProcessTest, PumpDropsWhatAFullPipeCannotTakeInsteadOfBlocking) {
  int to[2];
  ASSERT_EQ(::pipe(to), 0);
  expect_pump_does_not_block_on(to[1]);
  ::close(to[0]);
  ::close(to[1]);
}

TEST(ChildProcessTest, PumpDropsWhatAFullSocketCannotTakeInsteadOfBlocking) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  expect_pump_does_not_block_on(sv[0]);
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(ChildProcessTest, PumpCountsNothingDroppedWhenTheReaderKeepsUp) {
  int to[2];
  ASSERT_EQ(::pipe2(to, O_NONBLOCK), 0);
  int from[2];
  ASSERT_EQ(::pipe2(from, O_NONBLOCK), 0);
  const std::string text(100'000, 'y');  // more than one pipe buffer, drained as it goes
  size_t written = 0;
  std::string got;
  char buf[65536];
  OutputPump pump(from[0], to[1]);
  while (got.size() < text.size()) {
    if (written < text.size()) {
      const ssize_t w = ::write(from[1], text.data() + written, text.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
    }
    (void)pump.pump();
    ssize_t n;
    while ((n = ::read(to[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, text);
  EXPECT_EQ(pump.dropped_bytes(), 0u);
  for (int fd : {to[0], to[1], from[0], from[1]}) ::close(fd);
}

TEST(ChildProcessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid = 0;
  {
    auto c = ChildProcess::start({"sleep", "30"});
    ASSERT_TRUE(c);
    pid = c->pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcessTest, MissingProgramIsNotFound) {
  auto c = ChildProcess::start({"/nonexistent/litestream", "replicate"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(c.error().message, "program not found");
  EXPECT_EQ(c.error().path, "/nonexistent/litestream");
}

// A supervisor killed with SIGKILL (OOM killer, kill -9) cannot stop its child; the kernel
// must. The test becomes a subreaper so the orphaned child is reparented to it and its
// end can be observed.
TEST(ChildProcessTest, ChildGetsSigtermWhenTheSupervisorIsKilled) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t supervisor = ::fork();
  ASSERT_GE(supervisor, 0);
  if (supervisor == 0) {
    auto c = ChildProcess::start({"sleep", "30"});
    const pid_t pid = c ? c->pid() : -1;
    (void)!::write(report[1], &pid, sizeof pid);
    ::pause();  // killed by the parent below: no destructor runs
    ::_exit(0);
  }
  ::close(report[1]);
  pid_t child = -1;
  ASSERT_EQ(::read(report[0], &child, sizeof child), static_cast<ssize_t>(sizeof child));
  ::close(report[0]);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  ASSERT_EQ(::waitpid(supervisor, nullptr, 0), supervisor);
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 500 && reaped == 0; ++i) {
    reaped = ::waitpid(child, &status, WNOHANG);
    if (reaped == 0) std::this_thread::sleep_for(10ms);
  }
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);
  if (reaped == 0) {
    ::kill(child, SIGKILL);
    (void)::waitpid(child, nullptr, 0);
  }
  ASSERT_EQ(reaped, child) << "the orphaned child was still running 5 s after its supervisor died";
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

// A daemon may be started with stdin and stdout closed: the spawn's pipes then land on fds 0
// and 1, and a naive dup2 onto 0..2 would clobber or keep close-on-exec on them.
TEST(ChildProcessTest, ClosedStdinAndStdoutInTheParentStillGiveTheChildItsPipes) {
  const int saved_in = ::dup(0);
  const int saved_out = ::dup(1);
  ASSERT_GE(saved_in, 0);
  ASSERT_GE(saved_out, 0);
  ::close(0);
  ::close(1);
  bool started = false;
  int out_fd = -1;
  Captured out, err;
  ExitStatus status;
  {
    auto c = ChildProcess::start({"sh", "-c", "cat; echo out; echo err >&2"});
    started = c.has_value();
    if (started) {
      out_fd = c->stdout_fd();
      out = pump_all(c->stdout_fd());
      err = pump_all(c->stderr_fd());
      status = wait_exit(*c);
    }
  }  // closes the pipes on 0 and 1 again
  ::dup2(saved_in, 0);
  ::dup2(saved_out, 1);
  ::close(saved_in);
  ::close(saved_out);
  ASSERT_TRUE(started);
  EXPECT_EQ(out_fd, 0);
  EXPECT_EQ(out.passed_through, "out\n");
  EXPECT_EQ(err.passed_through, "err\n");
  EXPECT_EQ(status.code, 0);
}

}  // namespace
}  // namespace ltxguard::sys

namespace ltxguard::sys {
namespace {

TEST(ChildProcessKillNowTest, KillNowEndsTheGraceEarly) {
  auto c = ChildProcess::start({"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(c);
  pollfd fd{c->stdout_fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&fd, 1, 5000), 1);
  int checks = 0;
  const StopOutcome o = c->stop(std::chrono::seconds(30), nullptr, [&] { return ++checks >= 3; });
  EXPECT_TRUE(o.killed);
  EXPECT_TRUE(o.cut_short);
  EXPECT_EQ(o.status.signal, SIGKILL);
  EXPECT_LT(o.waited_ms, 5000);  // not the 30 s grace
  EXPECT_NE(o.describe().find("grace cut short"), std::string::npos) << o.describe();
}

}  // namespace
}  // namespace ltxguard::sys
