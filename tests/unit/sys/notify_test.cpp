#include "ltxguard/sys/notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "ltxguard/util/unique_fd.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

// Plays systemd: a datagram socket bound in a temp dir, named by $NOTIFY_SOCKET.
class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("notify.sock");
    sock_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(sock_.valid());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof(addr.sun_path));
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    ASSERT_EQ(::bind(sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{2, 0};
    ::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  void TearDown() override { ::unsetenv("NOTIFY_SOCKET"); }

  // The next datagram, or "" after 2 s.
  std::string receive() {
    char buf[4096];
    const ssize_t n = ::recv(sock_.get(), buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  testing::TempDir dir_;
  std::string path_;
  util::UniqueFd sock_;
};

TEST_F(NotifyTest, ReadyStatusWatchdogAndStoppingReachTheSocket) {
  EXPECT_TRUE(notify_ready());
  EXPECT_EQ(receive(), "READY=1");
  EXPECT_TRUE(notify_status("ok: headroom 3.2 GiB"));
  EXPECT_EQ(receive(), "STATUS=ok: headroom 3.2 GiB");
  EXPECT_TRUE(notify_watchdog());
  EXPECT_EQ(receive(), "WATCHDOG=1");
  EXPECT_TRUE(notify_stopping());
  EXPECT_EQ(receive(), "STOPPING=1");
}

TEST_F(NotifyTest, StatusCannotInjectAnotherAssignment) {
  EXPECT_TRUE(notify_status("critical: /d/x\nREADY=1\n.db"));
  EXPECT_EQ(receive(), "STATUS=critical: /d/x READY=1 .db");
}

TEST(NotifyNoSocketTest, EverythingIsANoOpWithoutNotifySocket) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(notify_ready());
  EXPECT_FALSE(notify_status("x"));
  EXPECT_FALSE(notify_watchdog());
  EXPECT_FALSE(notify_stopping());
}

TEST(NotifyStatusLineTest, CutsLongTextOnACharacterBoundary) {
  const std::string text = std::string(kMaxNotifyStatusBytes - 1, 'a') + "\xc3\xa9" + "more";
  EXPECT_EQ(notify_status_line(text), "STATUS=" + std::string(kMaxNotifyStatusBytes - 1, 'a'));
  EXPECT_EQ(notify_status_line(std::string(kMaxNotifyStatusBytes, 'b') + "c"),
            "STATUS=" + std::string(kMaxNotifyStatusBytes, 'b'));
  EXPECT_EQ(notify_status_line("tab\there\x7f"), "STATUS=tab here ");
}

TEST(WatchdogTest, IntervalOnlyWhenSetForThisProcess) {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(watchdog_usec(), std::nullopt);

  ::setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(watchdog_usec(), 3000000u);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(watchdog_usec(), 3000000u);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);  // meant for another
  EXPECT_EQ(watchdog_usec(), std::nullopt);
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "garbage", 1);
  EXPECT_EQ(watchdog_usec(), std::nullopt);
  ::unsetenv("WATCHDOG_USEC");
}

}  // namespace
}  // namespace ltxguard::sys
