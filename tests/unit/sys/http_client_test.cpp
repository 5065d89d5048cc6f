#include "ltxguard/sys/http_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

// A one-connection server on loopback: accepts, reads the request head, sends `reply` and
// closes, or with Hold::open keeps the connection until the test ends.
class RawServer {
 public:
  enum class Hold { close, open };
  explicit RawServer(std::string reply, Hold hold = Hold::close, int family = AF_INET)
      : ls_(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    if (ls_ < 0 || ::bind(ls_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(ls_, 4) != 0 || ::getsockname(ls_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
      return;
    }
    port_ = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    thread_ = std::thread([this, reply = std::move(reply), hold] {
      pollfd p{ls_, POLLIN, 0};
      while (!stop_ && ::poll(&p, 1, 10) == 0) {
      }
      if (stop_) return;
      const int c = ::accept(ls_, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      for (;;) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        std::lock_guard<std::mutex> lock(mu_);
        request_.append(buf, static_cast<size_t>(n));
        if (request_.find("\r\n\r\n") != std::string::npos) break;
      }
      (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      while (hold == Hold::open && !stop_)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ::close(c);
    });
  }
  ~RawServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (ls_ >= 0) ::close(ls_);
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  [[nodiscard]] int port() const { return port_; }  // 0 when the socket could not listen
  [[nodiscard]] std::string request() {
    std::lock_guard<std::mutex> lock(mu_);
    return request_;
  }

 private:
  int ls_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::string request_;
  std::thread thread_;
};

constexpr const char* kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

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
    // Chunked like Go's net/http sends a /metrics body of unknown length: 100 chunks.
    server_.Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
        if (offset >= 100 * 1000) {
          sink.done();
        } else {
          const std::string chunk(1000, static_cast<char>('a' + offset / 1000 % 26));
          sink.write(chunk.data(), chunk.size());
        }
        return true;
      });
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

TEST_F(HttpClientTest, ChunkedBodyFromHttplibIsDecoded) {
  auto r = http_get("127.0.0.1", port_, "/chunked", 2000, 1 << 20);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), 100u * 1000);
  EXPECT_EQ(r->substr(0, 1000), std::string(1000, 'a'));
  EXPECT_EQ(r->substr(99 * 1000), std::string(1000, 'a' + 99 % 26));
  auto capped = http_get("127.0.0.1", port_, "/chunked", 2000, 100 * 1000 - 1);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(capped.error().message, "response body larger than 99999 bytes");
}

TEST(HttpClientRawTest, SendsAGetWithHostAndConnectionClose) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "ok");
  const std::string req = server.request();
  EXPECT_EQ(req.rfind("GET /metrics HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << req;
  EXPECT_NE(req.find("\r\nConnection: close\r\n"), std::string::npos) << req;
}

// Sizes in hex, a chunk extension, upper-case digits, trailers after the last chunk.
TEST(HttpClientRawTest, ChunkedBodyIsDecoded) {
  RawServer server(std::string(kChunkedHead) + "4\r\nabcd\r\n5;name=value\r\nefghi\r\n1A\r\n" +
                   std::string(26, 'z') + "\r\n0\r\nX-Trailer: 1\r\n\r\n");
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "abcdefghi" + std::string(26, 'z'));
}

TEST(HttpClientRawTest, TruncatedChunkedBodyIsAnError) {
  for (const char* rest : {"10\r\nonly-ten-b", "4\r\nabcd\r\n", "4\r\nabcd", "4"}) {
    RawServer server(std::string(kChunkedHead) + rest);
    ASSERT_GT(server.port(), 0);
    auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
    ASSERT_FALSE(r) << rest;
    EXPECT_EQ(r.error().code, util::ErrorCode::io) << rest;
    EXPECT_EQ(r.error().message, "request failed: response ended early") << rest;
  }
}

TEST(HttpClientRawTest, MalformedChunkFramingIsAnError) {
  for (const char* rest : {"xyz\r\nabc\r\n0\r\n\r\n", "\r\n", "4\r\nabcdXX0\r\n\r\n",
                           "-4\r\nabcd\r\n0\r\n\r\n", "10000000000000000\r\n"}) {
    RawServer server(std::string(kChunkedHead) + rest);
    ASSERT_GT(server.port(), 0);
    auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
    ASSERT_FALSE(r) << rest;
    EXPECT_EQ(r.error().message, "request failed: malformed response") << rest;
  }
}

// A chunk announcing more than the cap is refused before its data is read.
TEST(HttpClientRawTest, OversizeChunkIsRefusedFromItsSize) {
  RawServer server(std::string(kChunkedHead) + "FFFFFFFF\r\nabc", RawServer::Hold::open);
  ASSERT_GT(server.port(), 0);
  const auto start = Clock::now();
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "response body larger than 1024 bytes");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
}

TEST(HttpClientRawTest, TruncatedContentLengthBodyIsAnError) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::io);
  EXPECT_EQ(r.error().message, "request failed: response ended early");
}

TEST(HttpClientRawTest, ContentLengthOverTheCapIsRefusedBeforeTheBody) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n", RawServer::Hold::open);
  ASSERT_GT(server.port(), 0);
  const auto start = Clock::now();
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "response body larger than 1024 bytes");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
}

TEST(HttpClientRawTest, BodyWithoutLengthEndsWithTheConnection) {
  RawServer server("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nup 1\n");
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "up 1\n");
  RawServer big("HTTP/1.0 200 OK\r\n\r\n" + std::string(2000, 'x'));
  ASSERT_GT(big.port(), 0);
  auto capped = http_get("127.0.0.1", big.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().message, "response body larger than 1024 bytes");
}

TEST(HttpClientRawTest, MalformedHeadIsAnError) {
  for (const char* reply : {"SSH-2.0-OpenSSH\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"}) {
    RawServer server(reply);
    ASSERT_GT(server.port(), 0);
    auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
    ASSERT_FALSE(r) << reply;
    EXPECT_EQ(r.error().message, "request failed: malformed response") << reply;
  }
}

TEST(HttpClientRawTest, RefusalIsReportedByItsStatusWhateverItsHeaders) {
  RawServer server("HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: gzip\r\n\r\n");
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::io);
  EXPECT_EQ(r.error().message, "HTTP status 503");
}

TEST(HttpClientRawTest, EndlessHeadersAreRefused) {
  RawServer server("HTTP/1.1 200 OK\r\n" + std::string(70 * 1024, 'h'), RawServer::Hold::open);
  ASSERT_GT(server.port(), 0);
  auto r = http_get("127.0.0.1", server.port(), "/metrics", 2000, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "request failed: response headers too large");
}

// Every read of a trickled body returns in time; only the deadline over the whole request
// bounds it.
TEST(HttpClientRawTest, BodyTricklingInStillTimesOutWithinBound) {
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
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    (void)!::send(c, head.data(), head.size(), MSG_NOSIGNAL);
    for (int i = 0; i < 50 && !stop; ++i) {
      if (::send(c, "1\r\nx\r\n", 6, MSG_NOSIGNAL) != 6) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
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

// A listener whose accept queue is full drops further SYNs, so connect() never completes:
// the non-blocking connect gives up at the deadline.
TEST(HttpClientNoServerTest, ConnectThatIsNeverAnsweredTimesOut) {
  const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(ls, 0), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const auto start = Clock::now();
  auto r = http_get("127.0.0.1", ntohs(a.sin_port), "/metrics", 300, 1024);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(filler);
  ::close(ls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::timeout);
  EXPECT_EQ(r.error().message, "no answer within 300 ms");
  EXPECT_GE(s, 0.29);
  EXPECT_LT(s, 1.0);
}

TEST(HttpClientRawTest, Ipv6LoopbackWorks) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6", RawServer::Hold::close,
                   AF_INET6);
  if (server.port() == 0) GTEST_SKIP() << "no IPv6 loopback here";
  auto r = http_get("::1", server.port(), "/metrics", 2000, 1024);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "v6");
  EXPECT_NE(server.request().find("\r\nHost: [::1]:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
}

TEST(HttpClientNoServerTest, PathThatCouldSplitTheRequestIsRefused) {
  for (const char* path : {"", "metrics", "/a b", "/a\r\nX: y"}) {
    auto r = http_get("127.0.0.1", 9, path, 100, 1024);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input) << path;
    EXPECT_EQ(r.error().message, "invalid request path") << path;
  }
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
