#include "ltxguard/output/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <system_error>
#include <utility>
#include <vector>

#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::output {
namespace {

util::Error bad_listen(std::string_view listen, const char* message) {
  return util::make_error(util::ErrorCode::invalid_input, std::string(listen), message);
}

bool is_loopback(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

util::Result<ListenAddress> parse_listen_address(std::string_view listen, ListenScope scope) {
  ListenAddress out;
  std::string_view port_text;
  bool bracketed = false;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return util::fail(bad_listen(listen, "listen address must be HOST:PORT"));
    }
    out.host = std::string(listen.substr(1, close - 1));
    port_text = listen.substr(close + 2);
    bracketed = true;
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) {
      return util::fail(bad_listen(listen, "listen address must be HOST:PORT"));
    }
    out.host = std::string(listen.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return util::fail(bad_listen(listen, "listen address must be HOST:PORT"));
    }
    port_text = listen.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) {
    return util::fail(bad_listen(listen, "invalid port"));
  }
  int port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return util::fail(bad_listen(listen, "invalid port"));
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return util::fail(bad_listen(listen, "invalid port"));
  out.port = port;

  if (out.host.empty() && !bracketed) out.host = "0.0.0.0";  // Go's ":PORT": every address
  if (out.host == "localhost" && !bracketed) out.host = "127.0.0.1";
  in_addr v4{};
  in6_addr v6{};
  const bool ok = bracketed ? ::inet_pton(AF_INET6, out.host.c_str(), &v6) == 1
                            : ::inet_pton(AF_INET, out.host.c_str(), &v4) == 1;
  if (!ok) return util::fail(bad_listen(listen, "listen host must be an IP address or localhost"));
  if (scope == ListenScope::loopback_only && !is_loopback(out.host)) {
    return util::fail(bad_listen(listen,
                                 "refusing to listen on a non-loopback address (pass "
                                 "--listen-any to serve metrics to other hosts)"));
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
// After the reply the server shuts its side down and reads and drops what the client still
// sends, for this long or this many bytes, before it closes: closing with unread input would
// reset the connection and could destroy the reply before the client has read it.
constexpr auto kLinger = std::chrono::milliseconds(500);
constexpr size_t kLingerMaxBytes = 64 * 1024;
// When accept fails (out of descriptors or memory) the listening socket rests this long
// instead of waking poll() in a busy loop.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr int kListenBacklog = 128;

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string make_reply(int status, std::string_view content_type, std::string_view body,
                       bool allow_get = false) {
  if (status < 100 || status > 599) status = 500;
  std::string out;
  out.reserve(160 + body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  if (allow_get) out += "\r\nAllow: GET";
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

struct Request {
  std::string_view method;
  std::string_view target;
};

// Looks at the bytes received so far. Returns 0 while the header section is incomplete and
// within the limits, 200 with `req` set once it is complete and well-formed, or the status to
// refuse it with. Line limits come first, so an overlong line is named as such even when it
// also passes the total.
int scan_request(std::string_view in, Request& req) {
  std::string_view request_line;
  size_t pos = 0;
  for (bool first = true;; first = false) {
    const size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, (nl == std::string_view::npos ? in.size() : nl) - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kHttpMaxLineBytes) return first ? 414 : 400;
    if (nl == std::string_view::npos) return in.size() > kHttpMaxHeaderBytes ? 431 : 0;
    if (nl + 1 > kHttpMaxHeaderBytes) return 431;
    if (first) {
      request_line = line;
    } else if (line.empty()) {
      break;
    }
    pos = nl + 1;
  }
  // METHOD SP request-target SP HTTP-version, nothing else.
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return 400;
  req.method = request_line.substr(0, sp1);
  req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (req.method.empty() || req.target.empty() || req.target.find(' ') != std::string_view::npos ||
      (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    return 400;
  }
  return 200;
}

int poll_timeout_ms(Clock::time_point now, Clock::time_point next) {
  if (next == Clock::time_point::max()) return -1;
  if (next <= now) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::min<int64_t>(ms, 60'000));
}

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

// Owns the listening socket, the wake-up eventfd and every connection; all of it is touched
// only by the server thread, except wake().
class HttpServer::Loop {
 public:
  Loop(util::UniqueFd listen_fd, util::UniqueFd wake_fd, std::function<std::string()> metrics,
       std::function<HealthReply()> health)
      : listen_(std::move(listen_fd)),
        wake_(std::move(wake_fd)),
        metrics_(std::move(metrics)),
        health_(std::move(health)) {}

  void run();
  void wake() {
    stopping_ = true;
    const uint64_t one = 1;
    if (::write(wake_.get(), &one, sizeof one) < 0) {
      // Only an overflowing counter fails, and then the thread is awake anyway.
    }
  }

 private:
  enum class Phase { reading, writing, lingering };
  struct Conn {
    util::UniqueFd fd;
    Phase phase = Phase::reading;
    Clock::time_point deadline;
    std::string buf;  // the request so far, then the reply
    size_t done = 0;  // reply bytes sent, then bytes dropped while lingering
  };

  void accept_all(Clock::time_point now);
  // Each returns false when the connection is finished and is to be closed.
  bool read_request(Conn& c, Clock::time_point now);
  bool write_reply(Conn& c, Clock::time_point now);
  static bool drain(Conn& c);
  // The whole reply to a request received so far; empty while it is incomplete.
  std::string answer(std::string_view in);

  util::UniqueFd listen_;
  util::UniqueFd wake_;
  std::function<std::string()> metrics_;
  std::function<HealthReply()> health_;
  std::atomic<bool> stopping_{false};
  std::vector<Conn> conns_;  // in accept order: the front is the oldest
  Clock::time_point accept_paused_until_{};
};

void HttpServer::Loop::run() {
  std::vector<pollfd> fds;
  while (!stopping_) {
    Clock::time_point now = Clock::now();
    std::erase_if(conns_, [&](const Conn& c) { return c.deadline <= now; });
    const bool accepting = now >= accept_paused_until_;
    Clock::time_point next = accepting ? Clock::time_point::max() : accept_paused_until_;
    fds.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({accepting ? listen_.get() : -1, POLLIN, 0});  // poll skips a negative fd
    for (const Conn& c : conns_) {
      fds.push_back(
          {c.fd.get(), static_cast<short>(c.phase == Phase::writing ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline);
    }
    if (::poll(fds.data(), fds.size(), poll_timeout_ms(now, next)) < 0) {
      if (errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // ENOMEM
      continue;
    }
    if (fds[0].revents != 0) break;
    now = Clock::now();
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (fds[i + 2].revents == 0) continue;
      Conn& c = conns_[i];
      bool keep = false;
      switch (c.phase) {
        case Phase::reading:
          keep = read_request(c, now);
          break;
        case Phase::writing:
          keep = write_reply(c, now);
          break;
        case Phase::lingering:
          keep = drain(c);
          break;
      }
      if (!keep) c.fd.reset();
    }
    std::erase_if(conns_, [](const Conn& c) { return !c.fd.valid(); });
    if (fds[1].revents != 0) accept_all(now);
  }
}

void HttpServer::Loop::accept_all(Clock::time_point now) {
  // Bounded, so a storm of connects cannot starve the connections already open.
  for (size_t i = 0; i < kHttpMaxConnections; ++i) {
    const int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) accept_paused_until_ = now + kAcceptBackoff;
      return;
    }
    if (conns_.size() >= kHttpMaxConnections) conns_.erase(conns_.begin());
    Conn c;
    c.fd.reset(fd);
    c.deadline = now + std::chrono::seconds(kHttpTimeoutSeconds);
    conns_.push_back(std::move(c));
  }
}

bool HttpServer::Loop::read_request(Conn& c, Clock::time_point now) {
  char chunk[4096];
  // scan_request refuses a request at kHttpMaxHeaderBytes + 1 bytes, so there is always room.
  const size_t room = kHttpMaxHeaderBytes + 1 - c.buf.size();
  const ssize_t n = ::recv(c.fd.get(), chunk, std::min(sizeof chunk, room), 0);
  if (n < 0) return would_block(errno);
  if (n == 0) return false;  // the client gave up before its request was complete
  try {
    c.buf.append(chunk, static_cast<size_t>(n));
    std::string reply = answer(c.buf);
    if (reply.empty()) return true;
    c.buf = std::move(reply);
  } catch (...) {  // out of memory: drop this client, keep serving the others
    return false;
  }
  c.done = 0;
  c.phase = Phase::writing;
  c.deadline = now + std::chrono::seconds(kHttpTimeoutSeconds);
  return write_reply(c, now);
}

bool HttpServer::Loop::write_reply(Conn& c, Clock::time_point now) {
  while (c.done < c.buf.size()) {
    const ssize_t n =
        ::send(c.fd.get(), c.buf.data() + c.done, c.buf.size() - c.done, MSG_NOSIGNAL);
    if (n < 0) return would_block(errno);
    c.done += static_cast<size_t>(n);
  }
  ::shutdown(c.fd.get(), SHUT_WR);
  std::string().swap(c.buf);
  c.done = 0;
  c.phase = Phase::lingering;
  c.deadline = now + kLinger;
  return drain(c);
}

bool HttpServer::Loop::drain(Conn& c) {
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
    if (n == 0) return false;
    if (n < 0) return would_block(errno);
    c.done += static_cast<size_t>(n);
    if (c.done > kLingerMaxBytes) return false;
  }
}

std::string HttpServer::Loop::answer(std::string_view in) {
  Request req;
  switch (scan_request(in, req)) {
    case 0:
      return {};
    case 200:
      break;
    case 414:
      return make_reply(414, kTextContentType, "request line too long\n");
    case 431:
      return make_reply(431, kTextContentType, "request headers too large\n");
    default:
      return make_reply(400, kTextContentType, "bad request\n");
  }
  const std::string_view path = req.target.substr(0, req.target.find('?'));
  const bool is_metrics = path == "/metrics";
  if (!is_metrics && path != "/healthz") return make_reply(404, kTextContentType, "not found\n");
  if (req.method != "GET") {
    return make_reply(405, kTextContentType, "method not allowed\n", /*allow_get=*/true);
  }
  const char* what = is_metrics ? "metrics" : "health";
  std::string why;
  try {
    if (is_metrics) return make_reply(200, kMetricsContentType, metrics_());
    HealthReply h = health_();
    if (!h.body.empty() && h.body.back() != '\n') h.body += '\n';
    return make_reply(h.status, kTextContentType, h.body);
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown error";
  }
  return make_reply(500, kTextContentType, std::string(what) + " unavailable: " + why + "\n");
}

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { stop(); }

util::Result<void> HttpServer::start(const std::string& listen, ListenScope scope,
                                     std::function<std::string()> metrics,
                                     std::function<HealthReply()> health) {
  if (loop_) {
    return util::fail(util::make_error(util::ErrorCode::io, listen, "server already started"));
  }
  auto addr = parse_listen_address(listen, scope);
  if (!addr) return util::fail(addr.error());
  const std::string where = addr->host + ":" + std::to_string(addr->port);

  // parse_listen_address leaves a literal address: IPv6 exactly when it has a colon.
  const bool v6 = addr->host.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t ss_len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(addr->port));
    ::inet_pton(AF_INET6, addr->host.c_str(), &a->sin6_addr);
    ss_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(addr->port));
    ::inet_pton(AF_INET, addr->host.c_str(), &a->sin_addr);
    ss_len = sizeof(sockaddr_in);
  }
  util::UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return util::fail(util::sys_error(errno, where, "cannot listen"));
  // SO_REUSEADDR allows a quick restart. Not SO_REUSEPORT: that would let a second process of
  // the same user bind the same port and take half the scrapes.
  const int yes = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), ss_len) != 0 ||
      ::listen(fd.get(), kListenBacklog) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &ss_len) != 0) {
    return util::fail(util::sys_error(errno, where, "cannot listen"));
  }
  const int port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);

  util::UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid())
    return util::fail(util::sys_error(errno, where, "cannot start the server thread"));
  auto loop =
      std::make_unique<Loop>(std::move(fd), std::move(wake), std::move(metrics), std::move(health));
  try {
    thread_ = std::thread([l = loop.get()] { l->run(); });
  } catch (const std::system_error& e) {
    return util::fail(util::sys_error(e.code().value(), where, "cannot start the server thread"));
  }
  loop_ = std::move(loop);
  port_ = port;
  return {};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    loop_->wake();
    thread_.join();
  }
  loop_.reset();  // closes the listening socket and every connection
  port_ = 0;
}

}  // namespace ltxguard::output
