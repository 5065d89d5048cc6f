// The watcher's HTTP endpoint: GET /metrics and GET /healthz on loopback, served by one thread
// running a poll() loop over non-blocking sockets (plain POSIX, no HTTP library). Small limits,
// per-connection deadlines and a connection cap keep slow or hostile local clients from
// holding it or each other up.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "ltxguard/util/error.hpp"

namespace ltxguard::output {

// A connection has this long from accept to send its whole request line and headers, and
// again this long to take the whole reply; it is closed at either deadline. A client that
// trickles bytes therefore holds its connection for at most this long, and never holds any
// other connection up. One request per connection (every reply says `Connection: close`).
inline constexpr int kHttpTimeoutSeconds = 2;
// A request line longer than this (without its CRLF) gets 414, a header line longer than this
// 400, and a request whose line and headers together pass kHttpMaxHeaderBytes 431. A request
// body is never read: GET needs none, and other methods are refused from their headers.
inline constexpr size_t kHttpMaxLineBytes = 8192;
inline constexpr size_t kHttpMaxHeaderBytes = 16384;
// Connections served at once. Accepting one more closes the oldest, so clients that only hold
// connections open cannot keep a new one out; memory stays bounded by about this many times
// (kHttpMaxHeaderBytes + one reply).
inline constexpr size_t kHttpMaxConnections = 64;

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class ListenScope { loopback_only, any_address };

// The listen address split into a literal IP and a port: "127.0.0.1:9097", "[::1]:9097",
// "localhost:9097" (taken as 127.0.0.1; no name is ever resolved). ":9097" and a missing host
// mean every address (0.0.0.0), as in Go. Port 0 picks a free port.
// Errors, all invalid_input with path = the listen string: "listen address must be
// HOST:PORT" (no colon, IPv6 without brackets), "invalid port" (not 0..65535), "listen host
// must be an IP address or localhost", and, when scope is loopback_only and the host is not in
// 127.0.0.0/8 or ::1: "refusing to listen on a non-loopback address (pass --listen-any to
// serve metrics to other hosts)".
struct ListenAddress {
  std::string host;  // a literal IPv4 or IPv6 address, without brackets
  int port = 0;
};
[[nodiscard]] util::Result<ListenAddress> parse_listen_address(std::string_view listen,
                                                               ListenScope scope);

struct HealthReply {
  int status = 200;  // 200 in ok/warning, 503 in critical/wedged
  std::string body;  // one line: the state, or the reason it is not healthy
};

// Routes: GET /metrics -> 200 metrics() with kMetricsContentType; GET /healthz -> health().
// The query string is ignored. Any other path 404, another method on a known path 405
// (Allow: GET; HEAD too, since nobody needs it), a malformed request line 400, a callback
// that throws 500. Only HTTP/1.0 and HTTP/1.1 requests are answered. The callbacks run on the
// server's one thread, so every other connection waits while one runs: they must only copy a
// snapshot taken under a lock (Metrics::serialize does).
class HttpServer {
 public:
  HttpServer();
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the server thread before it returns. Errors:
  // parse_listen_address's; "cannot listen" with path "<host>:<port>" and the errno when the
  // socket, bind or listen fails (address in use, not an address of this host); io "server
  // already started"; io "cannot start the server thread".
  [[nodiscard]] util::Result<void> start(const std::string& listen, ListenScope scope,
                                         std::function<std::string()> metrics,
                                         std::function<HealthReply()> health);
  // Wakes the thread, closes the listening socket and every connection (a reply in progress
  // is cut off) and joins it; returns within milliseconds unless a callback is running.
  // Idempotent.
  void stop();
  // The bound port (useful after port 0); 0 when not started.
  [[nodiscard]] int port() const { return port_; }

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace ltxguard::output
