#include "ltxguard/output/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::output {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kRefused =
    "refusing to listen on a non-loopback address (pass --listen-any to serve metrics to other "
    "hosts)";

// A raw TCP connection to 127.0.0.1:port, for requests httplib::Client will not send.
util::UniqueFd connect_raw(int port) {
  util::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
  timeval tv{10, 0};  // a bound on every test's wait, far above the server's own timeouts
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// A raw TCP connection to [::1]:port; invalid when there is no IPv6 loopback.
util::UniqueFd connect_raw_v6(int port) {
  util::UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  addr.sin6_addr = in6addr_loopback;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return {};
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void send_all(int fd, const std::string& data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

// Everything the server sends until it closes (or 10 s pass).
std::string read_until_close(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Sends a whole request and returns the whole reply.
std::string exchange(int port, const std::string& request) {
  auto fd = connect_raw(port);
  if (!fd.valid()) return "cannot connect";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return "cannot send";
  }
  return read_until_close(fd.get());
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = server_.start(
        "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string("ltxguard_up 1\n"); },
        [this] {
          std::lock_guard<std::mutex> lock(mutex_);
          return health_;
        });
    ASSERT_TRUE(r) << r.error().to_string();
    ASSERT_GT(server_.port(), 0);
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_.port());
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    return c;
  }
  void set_health(HealthReply h) {
    std::lock_guard<std::mutex> lock(mutex_);
    health_ = std::move(h);
  }

  std::mutex mutex_;
  HealthReply health_{200, "ok"};
  HttpServer server_;
};

TEST_F(HttpServerTest, MetricsIs200WithPrometheusContentType) {
  auto res = client().Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ltxguard_up 1\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
}

TEST_F(HttpServerTest, HealthzIs200WithStateWhenHealthy) {
  set_health({200, "warning"});
  auto res = client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "warning\n");
}

TEST_F(HttpServerTest, HealthzIs503WithReasonWhenCritical) {
  set_health({503, "critical: /srv/app.db headroom -2.0 GiB"});
  auto res = client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "critical: /srv/app.db headroom -2.0 GiB\n");
}

TEST_F(HttpServerTest, QueryStringStillServesTheKnownPath) {
  auto res = client().Get("/metrics?x=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  for (const char* path : {"/", "/metrics/", "/debug/pprof", "/../etc/passwd"}) {
    auto res = client().Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body, "not found\n") << path;
  }
}

TEST_F(HttpServerTest, OtherMethodsAre405WithAllowGet) {
  auto c = client();
  auto post = c.Post("/metrics", "x=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET");
  auto del = c.Delete("/healthz");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  auto head = c.Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
}

// The server answers without waiting for a body it does not need.
TEST_F(HttpServerTest, AnnouncedBodiesAreNeverWaitedFor) {
  const auto t0 = Clock::now();
  for (const char* method : {"GET", "POST"}) {
    auto fd = connect_raw(server_.port());
    ASSERT_TRUE(fd.valid());
    send_all(fd.get(), std::string(method) +
                           " /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n");
    const std::string reply = read_until_close(fd.get());
    EXPECT_EQ(reply.rfind(method == std::string("GET") ? "HTTP/1.1 200 " : "HTTP/1.1 405 ", 0), 0u)
        << reply;
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
}

TEST_F(HttpServerTest, OverlongHeaderLineIsRefusedWith400) {
  auto fd = connect_raw(server_.port());
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
  const std::string reply = read_until_close(fd.get());
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, OverlongRequestLineIsRefusedWith414) {
  auto fd = connect_raw(server_.port());
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "GET /metrics?" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string reply = read_until_close(fd.get());
  EXPECT_EQ(reply.rfind("HTTP/1.1 414 ", 0), 0u) << reply.substr(0, 200);
}

// A client that stops halfway through its request holds one worker until the read timeout,
// and nobody else meanwhile.
TEST_F(HttpServerTest, SlowClientDoesNotBlockAnotherAndIsDroppedAfterTimeout) {
  auto slow = connect_raw(server_.port());
  ASSERT_TRUE(slow.valid());
  const auto t0 = Clock::now();
  send_all(slow.get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");  // no blank line: incomplete

  auto res = client().Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));

  const std::string reply = read_until_close(slow.get());  // the server gives up on it
  const auto held = Clock::now() - t0;
  EXPECT_EQ(reply.find("200 OK"), std::string::npos) << reply;
  EXPECT_LT(held, std::chrono::seconds(kHttpTimeoutSeconds + 3));
}

TEST_F(HttpServerTest, OneRequestPerConnection) {
  auto fd = connect_raw(server_.port());
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string reply = read_until_close(fd.get());
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos) << reply;
}

TEST(HttpServerStartTest, CallbackThatThrowsIs500) {
  HttpServer server;
  auto r = server.start(
      "127.0.0.1:0", ListenScope::loopback_only,
      []() -> std::string { throw std::runtime_error("boom"); },
      []() -> HealthReply { throw std::runtime_error("bang"); });
  ASSERT_TRUE(r) << r.error().to_string();
  httplib::Client c("127.0.0.1", server.port());
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 500);
  EXPECT_EQ(m->body, "metrics unavailable: boom\n");
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 500);
  EXPECT_EQ(h->body, "health unavailable: bang\n");
}

TEST(HttpServerStartTest, NonLoopbackIsRefusedUnlessAllowed) {
  HttpServer server;
  auto r = server.start(
      "0.0.0.0:0", ListenScope::loopback_only, [] { return std::string(); },
      [] { return HealthReply{}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().to_string(), std::string("0.0.0.0:0: ") + kRefused);
  EXPECT_EQ(server.port(), 0);

  auto any = server.start(
      "0.0.0.0:0", ListenScope::any_address, [] { return std::string("x 1\n"); },
      [] { return HealthReply{}; });
  ASSERT_TRUE(any) << any.error().to_string();
  httplib::Client c("127.0.0.1", server.port());
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "x 1\n");
}

TEST(HttpServerStartTest, PortInUseFailsWithErrno) {
  HttpServer first;
  ASSERT_TRUE(first.start(
      "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string(); },
      [] { return HealthReply{}; }));
  HttpServer second;
  const std::string addr = "127.0.0.1:" + std::to_string(first.port());
  auto r = second.start(
      addr, ListenScope::loopback_only, [] { return std::string(); }, [] { return HealthReply{}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value, EADDRINUSE);
  EXPECT_EQ(r.error().to_string(), addr + ": cannot listen (Address already in use)");
}

TEST(HttpServerStartTest, SecondStartFailsAndStopIsIdempotent) {
  HttpServer server;
  ASSERT_TRUE(server.start(
      "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string(); },
      [] { return HealthReply{}; }));
  auto again = server.start(
      "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string(); },
      [] { return HealthReply{}; });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "server already started");
  const int port = server.port();
  server.stop();
  server.stop();
  EXPECT_EQ(server.port(), 0);
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1);
  EXPECT_FALSE(c.Get("/metrics"));
}

// The bound on the whole header section that cpp-httplib lacked: 16 KiB of short lines.
TEST_F(HttpServerTest, HeaderFloodIsRefusedWith431) {
  std::string lines;
  while (lines.size() <= kHttpMaxHeaderBytes) lines += "X: y\r\n";
  const std::string flood = exchange(server_.port(), "GET /metrics HTTP/1.1\r\n" + lines + "\r\n");
  EXPECT_EQ(flood.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u)
      << flood.substr(0, 200);
  // Just under the bound is still a GET.
  std::string request = "GET /metrics HTTP/1.1\r\n";
  while (request.size() + 8000 < kHttpMaxHeaderBytes)
    request += "A: " + std::string(4000, 'a') + "\r\n";
  request += "B: " + std::string(kHttpMaxHeaderBytes - request.size() - 7, 'b') + "\r\n\r\n";
  ASSERT_EQ(request.size(), kHttpMaxHeaderBytes);
  const std::string reply = exchange(server_.port(), request);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply.substr(0, 200);
}

TEST_F(HttpServerTest, MalformedRequestLinesAre400) {
  for (const char* request :
       {"GARBAGE\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
        "GET  /metrics HTTP/1.1\r\n\r\n", "\r\n\r\n"}) {
    const std::string reply = exchange(server_.port(), request);
    EXPECT_EQ(reply.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << request << reply;
  }
}

// HTTP/1.0, bare LF line ends, and a request that arrives in pieces.
TEST_F(HttpServerTest, RequestIsServedHoweverItArrives) {
  EXPECT_EQ(exchange(server_.port(), "GET /metrics HTTP/1.0\n\n").rfind("HTTP/1.1 200 OK\r\n", 0),
            0u);
  auto fd = connect_raw(server_.port());
  ASSERT_TRUE(fd.valid());
  for (const char* piece : {"GE", "T /heal", "thz HTTP/1.1\r", "\nHost: x\r\n", "\r", "\n"}) {
    send_all(fd.get(), piece);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::string reply = read_until_close(fd.get());
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("\r\n\r\nok\n"), std::string::npos) << reply;
}

// 100 clients that never finish their request (more than kHttpMaxConnections) do not keep
// a normal scrape waiting.
TEST_F(HttpServerTest, HundredSlowClientsDoNotDelayAScrape) {
  std::vector<util::UniqueFd> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(connect_raw(server_.port()));
    ASSERT_TRUE(slow.back().valid()) << i;
    send_all(slow.back().get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
  }
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    auto res = client().Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));
  }
}

// A client that asks for a large reply and never reads it holds only its own connection.
TEST(HttpServerStartTest, ClientThatDoesNotReadItsReplyDoesNotBlockOthers) {
  HttpServer server;
  ASSERT_TRUE(server.start(
      "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string(8 << 20, 'm'); },
      [] { return HealthReply{}; }));
  std::vector<util::UniqueFd> stuck;  // 8 MiB is more than the loopback socket buffers take
  for (int i = 0; i < 2; ++i) {
    stuck.push_back(connect_raw(server.port()));
    ASSERT_TRUE(stuck.back().valid());
    send_all(stuck.back().get(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  const auto t0 = Clock::now();
  const std::string reply = exchange(server.port(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply.substr(0, 200);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));  // a blocked write would take 2 s
}

TEST(HttpServerStartTest, StopIsPromptWithClientsConnected) {
  HttpServer server;
  ASSERT_TRUE(server.start(
      "127.0.0.1:0", ListenScope::loopback_only, [] { return std::string(8 << 20, 'm'); },
      [] { return HealthReply{}; }));
  auto idle = connect_raw(server.port());
  auto partial = connect_raw(server.port());
  auto unread = connect_raw(server.port());
  ASSERT_TRUE(idle.valid() && partial.valid() && unread.valid());
  send_all(partial.get(), "GET /metrics HTTP/1.1\r\n");
  send_all(unread.get(), "GET /metrics HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // all accepted and read
  const auto t0 = Clock::now();
  server.stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(500));  // the timeouts are 2 s
  const auto t1 = Clock::now();
  read_until_close(idle.get());  // closed by stop(), not by the 10 s receive timeout
  read_until_close(partial.get());
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(1));
}

TEST(HttpServerStartTest, ServesOnIpv6Loopback) {
  HttpServer server;
  auto r = server.start(
      "[::1]:0", ListenScope::loopback_only, [] { return std::string("v6 1\n"); },
      [] { return HealthReply{}; });
  if (!r && (r.error().errno_value == EADDRNOTAVAIL || r.error().errno_value == EAFNOSUPPORT)) {
    GTEST_SKIP() << "no IPv6 loopback here: " << r.error().to_string();
  }
  ASSERT_TRUE(r) << r.error().to_string();
  auto fd = connect_raw_v6(server.port());
  ASSERT_TRUE(fd.valid());
  send_all(fd.get(), "GET /metrics HTTP/1.1\r\nHost: [::1]\r\n\r\n");
  const std::string reply = read_until_close(fd.get());
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_EQ(reply.substr(reply.size() - 5), "v6 1\n");
}

TEST(ListenAddressTest, AcceptsLoopbackForms) {
  auto a = parse_listen_address("127.0.0.1:9097", ListenScope::loopback_only);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9097);
  auto l = parse_listen_address("localhost:9097", ListenScope::loopback_only);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->host, "127.0.0.1");
  auto v6 = parse_listen_address("[::1]:9097", ListenScope::loopback_only);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  auto other127 = parse_listen_address("127.8.9.10:0", ListenScope::loopback_only);
  ASSERT_TRUE(other127);
  EXPECT_EQ(other127->port, 0);
}

TEST(ListenAddressTest, RefusesEveryNonLoopbackForm) {
  for (const char* addr : {"0.0.0.0:9097", ":9097", "[::]:9097", "10.0.0.5:9097",
                           "[::ffff:10.0.0.5]:9097", "128.0.0.1:9097"}) {
    auto r = parse_listen_address(addr, ListenScope::loopback_only);
    ASSERT_FALSE(r) << addr;
    EXPECT_EQ(r.error().message, kRefused) << addr;
    EXPECT_TRUE(parse_listen_address(addr, ListenScope::any_address)) << addr;
  }
  auto mapped = parse_listen_address("[::ffff:127.0.0.1]:9097", ListenScope::loopback_only);
  EXPECT_TRUE(mapped);
}

TEST(ListenAddressTest, MalformedAddressesSayWhy) {
  auto msg = [](const char* addr) {
    auto r = parse_listen_address(addr, ListenScope::any_address);
    return r ? std::string("accepted") : r.error().to_string();
  };
  EXPECT_EQ(msg("9097"), "9097: listen address must be HOST:PORT");
  EXPECT_EQ(msg("::1:9097"), "::1:9097: listen address must be HOST:PORT");
  EXPECT_EQ(msg("[::1]9097"), "[::1]9097: listen address must be HOST:PORT");
  EXPECT_EQ(msg("127.0.0.1:"), "127.0.0.1:: invalid port");
  EXPECT_EQ(msg("127.0.0.1:65536"), "127.0.0.1:65536: invalid port");
  EXPECT_EQ(msg("127.0.0.1:-1"), "127.0.0.1:-1: invalid port");
  EXPECT_EQ(msg("127.0.0.1:+80"), "127.0.0.1:+80: invalid port");
  EXPECT_EQ(msg("metrics.example.com:9097"),
            "metrics.example.com:9097: listen host must be an IP address or localhost");
  EXPECT_EQ(msg("[127.0.0.1]:9097"),
            "[127.0.0.1]:9097: listen host must be an IP address or localhost");
}

}  // namespace
}  // namespace ltxguard::output
