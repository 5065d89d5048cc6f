#include "ltxguard/sys/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

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
