#include "ltxguard/sys/http_client.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

// A real httplib server on 127.0.0.1 and a free port, serving in its own thread.
class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("litestream_db_size{db=\"/d/app.db\"} 16384\n", "text/plain");
    });
    server_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      // Longer than any client timeout below, but ends early when the test tears down.
      const auto until = Clock::now() + std::chrono::seconds(5);
      while (!stopping_ && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      res.set_content("late", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 * 1024 * 1024, 'b'), "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op before the loop runs, so wait for it (bounded) to make TearDown safe.
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(server_.is_running());
  }
  void TearDown() override {
    stopping_ = true;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int port_ = 0;
};

TEST_F(HttpClientTest, ReturnsBodyOf200) {
  auto body = http_get("127.0.0.1", port_, "/metrics", 2000, 1 << 20);
  ASSERT_TRUE(body) << body.error().to_string();
  EXPECT_EQ(*body, "litestream_db_size{db=\"/d/app.db\"} 16384\n");
}

TEST_F(HttpClientTest, Non200IsAnErrorWithTheStatus) {
  auto r = http_get("127.0.0.1", port_, "/nope", 2000, 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::io);
  EXPECT_EQ(r.error().to_string(),
            "http://127.0.0.1:" + std::to_string(port_) + "/nope: HTTP status 404");
}

TEST_F(HttpClientTest, SlowServerTimesOutWithinBound) {
  const auto start = Clock::now();
  auto r = http_get("127.0.0.1", port_, "/slow", 300, 1 << 20);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::timeout);
  EXPECT_EQ(r.error().message, "no answer within 300 ms");
  EXPECT_LT(s, 1.5);
}

TEST_F(HttpClientTest, OversizeBodyIsAnError) {
  auto r = http_get("127.0.0.1", port_, "/big", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "response body larger than 1024 bytes");
  auto ok = http_get("127.0.0.1", port_, "/big", 2000, 2 * 1024 * 1024);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->size(), 2u * 1024 * 1024);
}

TEST(HttpClientNoServerTest, RefusedConnectionIsIoError) {
  // A port that was just free: bind, read it back, close.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int port = ntohs(a.sin_port);
  ::close(s);
  auto r = http_get("127.0.0.1", port, "/metrics", 1000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::io);
  EXPECT_EQ(r.error().message, "cannot connect");
}

// A hostile or wedged endpoint that accepts and then trickles its status line and headers
// one byte per 100 ms: every read returns in time, so only a deadline for the whole request
// bounds it.
TEST(HttpClientTrickleTest, HeadersTricklingInStillTimeOutWithinBound) {
  const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 4), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    const int c = ::accept(ls, nullptr, nullptr);
    if (c < 0) return;
    const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: " + std::string(200, 'x');
    for (size_t i = 0; i < head.size() && !stop; ++i) {
      if (::send(c, &head[i], 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::close(c);
  });
  const auto start = Clock::now();
  auto r = http_get("127.0.0.1", ntohs(a.sin_port), "/metrics", 300, 1024);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  server.join();
  ::close(ls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::timeout);
  EXPECT_EQ(r.error().message, "no answer within 300 ms");
  EXPECT_LT(s, 1.0);
}

TEST(ParseHostPortTest, AcceptsLitestreamAddrForms) {
  using P = std::pair<std::string, int>;
  EXPECT_EQ(parse_host_port(":9090"), P("127.0.0.1", 9090));
  EXPECT_EQ(parse_host_port("localhost:9090"), P("localhost", 9090));
  EXPECT_EQ(parse_host_port("127.0.0.1:9090"), P("127.0.0.1", 9090));
  EXPECT_EQ(parse_host_port("[::1]:9090"), P("::1", 9090));
  EXPECT_EQ(parse_host_port("0.0.0.0:9090"), P("127.0.0.1", 9090));
  EXPECT_EQ(parse_host_port("[::]:1"), P("::1", 1));
  EXPECT_EQ(parse_host_port("10.0.0.5:65535"), P("10.0.0.5", 65535));
}

TEST(ParseHostPortTest, RejectsBadAddresses) {
  for (const char* bad : {"9090", "host:", "host:0", "host:65536", "host:90x", "::1:9090",
                          "[::1]9090", "[::1", "[]:80", "host:-1", ""}) {
    auto r = parse_host_port(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input) << bad;
  }
  EXPECT_EQ(parse_host_port("::1:9090").error().message,
            "invalid address: an IPv6 address needs brackets");
  EXPECT_EQ(parse_host_port("host:0").error().message, "invalid address: port must be 1..65535");
}

}  // namespace
}  // namespace ltxguard::sys
