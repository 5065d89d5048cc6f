#include "ltxguard/sys/command.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

TEST(CommandTest, CapturesExitCodeAndBothStreams) {
  auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10'000);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stdout_text, "out\n");
  EXPECT_EQ(r->stderr_text, "err\n");
  EXPECT_FALSE(r->output_truncated);
}

TEST(CommandTest, AbsolutePathRunsWithoutPathLookup) {
  auto r = run_command({"/bin/echo", "a b"}, 10'000);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "a b\n");
}

TEST(CommandTest, TimeoutKillsSleepWithinTheBound) {
  const auto start = Clock::now();
  auto r = run_command({"sleep", "30"}, 300);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(CommandTest, TimeoutKillsTheShellsChildrenToo) {
  // sh waits for sleep, which holds the pipes: killing only sh would leave us waiting for EOF.
  const auto start = Clock::now();
  auto r = run_command({"sh", "-c", "echo before; sleep 30; echo after"}, 300);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->stdout_text, "before\n");
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(CommandTest, ReturnsWhenChildExitsWhileGrandchildHoldsPipes) {
  const auto start = Clock::now();
  auto r = run_command({"sh", "-c", "sleep 3 & echo started"}, 10'000);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->stdout_text, "started\n");
  EXPECT_LT(seconds_since(start), 2.0);
}

TEST(CommandTest, MissingProgramIsNotFound) {
  auto r = run_command({"ltxguard-no-such-program-3f9a"}, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(r.error().message, "program not found");
  EXPECT_EQ(r.error().path, "ltxguard-no-such-program-3f9a");

  auto abs = run_command({"/nonexistent/dir/prog"}, 1000);
  ASSERT_FALSE(abs);
  EXPECT_EQ(abs.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(abs.error().to_string(),
            "/nonexistent/dir/prog: program not found (No such file or directory)");
}

TEST(CommandTest, NonExecutableIsIoError) {
  auto r = run_command({"/etc/hostname"}, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::io);
  EXPECT_EQ(r.error().message, "cannot run program");
}

TEST(CommandTest, EmptyArgvIsInvalid) {
  auto r = run_command({}, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "empty command");
}

TEST(CommandTest, HugeOutputIsTruncatedAndChildStillFinishes) {
  auto r = run_command({"head", "-c", "5000000", "/dev/zero"}, 10'000, 1 << 20);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->stdout_text.size(), size_t{1} << 20);
  EXPECT_TRUE(r->output_truncated);
}

TEST(CommandTest, SignalDeathIsReported) {
  auto r = run_command({"sh", "-c", "kill -TERM $$"}, 10'000);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_FALSE(r->timed_out);
}

TEST(CommandTest, StdinIsDevNullAndParentFdsAreNotInherited) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  const std::string probe =
      "cat; test -e /proc/self/fd/" + std::to_string(leaked) + " && echo leaked || echo closed";
  auto r = run_command({"sh", "-c", probe}, 10'000);
  ::close(leaked);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(r->timed_out);  // cat returned at once: stdin is at EOF
  EXPECT_EQ(r->stdout_text, "closed\n");
}

TEST(CommandTest, IgnoredSignalsAreResetForTheChild) {
  struct sigaction ignore {};
  struct sigaction old {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGTERM, &ignore, &old), 0);
  auto r = run_command({"sh", "-c", "kill -TERM $$; echo survived"}, 10'000);
  ::sigaction(SIGTERM, &old, nullptr);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->term_signal, SIGTERM);
  EXPECT_EQ(r->stdout_text, "");
}

}  // namespace
}  // namespace ltxguard::sys
