// The watcher's HTTP endpoint (cpp-httplib): GET /metrics and GET /healthz on loopback, in
// worker threads of its own. Everything else is refused early, and small limits and short
// timeouts keep a slow or hostile local client from holding it.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "ltxguard/util/error.hpp"

namespace httplib {
class Server;
}

namespace ltxguard::output {

// Each read of a request and each write of a reply waits at most this long; an idle
// connection is closed after it. One request per connection (no keep-alive).
inline constexpr int kHttpTimeoutSeconds = 2;
// A request body larger than this is refused with 413 where httplib reads one; a GET's body
// is never read, and other methods are refused before theirs. Request lines over 8 KiB get
// 414 and header lines over 8 KiB 400 (cpp-httplib's own limits). cpp-httplib 0.11 does not
// bound the number of header lines: a local client can make a worker buffer them until it
// stops sending (loopback only by default is what keeps that local).
inline constexpr size_t kHttpMaxPayloadBytes = 1024;
// Worker threads, created at start. The timeouts are per read, so this many local clients
// that keep trickling bytes can occupy every worker and delay scrapes for as long as they
// keep it up; they never delay the sampler, which only the metrics/health callbacks touch.
inline constexpr size_t kHttpWorkerThreads = 4;

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
// Any other path 404, another method on a known path 405 (Allow: GET), a callback that
// throws 500. The callbacks run on worker threads: they must only copy a snapshot taken
// under a lock (Metrics::serialize does).
class HttpServer {
 public:
  HttpServer();
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving before it returns. Errors: parse_listen_address's; "cannot
  // listen" with path "<host>:<port>" and the errno when the bind fails (address in use, not
  // an address of this host); io "server already started".
  [[nodiscard]] util::Result<void> start(const std::string& listen, ListenScope scope,
                                         std::function<std::string()> metrics,
                                         std::function<HealthReply()> health);
  // Stops accepting and joins the threads; a request in progress may take up to
  // kHttpTimeoutSeconds to finish. Idempotent.
  void stop();
  // The bound port (useful after port 0); 0 when not started.
  [[nodiscard]] int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;  // runs the accept loop; workers belong to httplib's pool
  std::atomic<bool> loop_done_{false};
  int port_ = 0;
};

}  // namespace ltxguard::output
