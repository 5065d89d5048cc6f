#include "ltxguard/sys/http_client.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>

#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxHeadBytes = 64 * 1024;  // status line and headers
constexpr size_t kMaxChunkLineBytes = 1024;  // a chunk-size line with its extensions
constexpr size_t kReadBytes = 16 * 1024;     // one recv()

std::string url_of(const std::string& host, int port, const std::string& path) {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", host, v6 ? "]" : "", port, path);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);  // ASCII letters; header names are tokens
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// One non-blocking socket and the request's deadline: every wait is a poll() on the time left.
class Exchange {
 public:
  Exchange(std::string url, std::chrono::milliseconds timeout)
      : url_(std::move(url)), timeout_(timeout), deadline_(Clock::now() + timeout) {}

  util::Error timed_out() const {
    return util::make_error(util::ErrorCode::timeout, url_,
                            fmt::format("no answer within {} ms", timeout_.count()));
  }
  util::Error failed(std::string_view why) const {
    return util::make_error(util::ErrorCode::io, url_, fmt::format("request failed: {}", why));
  }
  util::Error bad_status(int status) const {
    return util::make_error(util::ErrorCode::io, url_, fmt::format("HTTP status {}", status));
  }
  util::Error too_big(size_t max_bytes) const {
    return util::make_error(util::ErrorCode::invalid_input, url_,
                            fmt::format("response body larger than {} bytes", max_bytes));
  }

  util::Result<void> connect(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) {
      return util::fail(cannot_connect());
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      fd_.reset(
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
      if (!fd_.valid()) continue;
      if (::connect(fd_.get(), ai->ai_addr, ai->ai_addrlen) == 0) return {};
      if (errno != EINPROGRESS) continue;
      if (auto w = wait(POLLOUT); !w) return w;
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) return {};
    }
    fd_.reset();
    return util::fail(cannot_connect());
  }

  util::Result<void> send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (auto w = wait(POLLOUT); !w) return w;
      } else if (errno != EINTR) {
        return util::fail(util::sys_error(errno, url_, "request failed"));
      }
    }
    return {};
  }

  // Appends up to max bytes that arrive next to `out`; 0 at the end of the connection.
  util::Result<size_t> read_some(std::string& out, size_t max) {
    char buf[kReadBytes];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf, std::min(max, sizeof buf), 0);
      if (n >= 0) {
        out.append(buf, static_cast<size_t>(n));
        return static_cast<size_t>(n);
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (auto w = wait(POLLIN); !w) return util::fail(w.error());
      } else if (errno != EINTR) {
        return util::fail(util::sys_error(errno, url_, "request failed"));
      }
    }
  }

 private:
  util::Error cannot_connect() const {
    return util::make_error(util::ErrorCode::io, url_, "cannot connect");
  }

  // Waits until the socket is ready for `events` or the deadline passes (a timeout error).
  // Errors and hang-ups count as ready: the following call reports them.
  util::Result<void> wait(short events) {
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) return util::fail(timed_out());
      pollfd p{fd_.get(), events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) return {};
      if (r < 0 && errno != EINTR)
        return util::fail(util::sys_error(errno, url_, "request failed"));
    }
  }

  std::string url_;
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
  util::UniqueFd fd_;
};

// Where the blank line that ends the head finishes, or npos while it has not arrived.
size_t head_end(std::string_view buf) {
  for (size_t nl = buf.find('\n'); nl != std::string_view::npos; nl = buf.find('\n', nl + 1)) {
    if (nl + 1 < buf.size() && buf[nl + 1] == '\n') return nl + 2;
    if (nl + 2 < buf.size() && buf[nl + 1] == '\r' && buf[nl + 2] == '\n') return nl + 3;
  }
  return std::string_view::npos;
}

enum class Framing { to_eof, length, chunked };

struct Head {
  int status = 0;
  Framing framing = Framing::to_eof;
  uint64_t content_length = 0;
};

// "HTTP/1.x NNN reason" and the header lines after it; false when malformed.
bool parse_head(std::string_view head, Head& out) {
  size_t nl = head.find('\n');
  const std::string_view status_line = trim(head.substr(0, nl));
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return false;
  }
  const std::string_view code = status_line.substr(9, 3);
  int status = 0;
  const auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
  if (ec != std::errc() || end != code.data() + code.size() || status < 100) return false;
  out.status = status;
  bool have_length = false;
  while (nl != std::string_view::npos) {
    const size_t start = nl + 1;
    nl = head.find('\n', start);
    const std::string_view line = trim(
        head.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Transfer-Encoding")) {
      // Only chunked can be decoded here, and it is always the last coding applied.
      const size_t comma = value.rfind(',');
      const std::string_view last =
          trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
      if (!iequals(last, "chunked")) return false;
      out.framing = Framing::chunked;
    } else if (iequals(name, "Content-Length")) {
      uint64_t n = 0;
      const auto [e, err] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || err != std::errc() || e != value.data() + value.size() ||
          (have_length && n != out.content_length)) {
        return false;
      }
      have_length = true;
      out.content_length = n;
    }
  }
  if (have_length && out.framing != Framing::chunked) out.framing = Framing::length;
  return true;
}

// Decodes a chunked body: `raw` holds the bytes received after the head; more are read as
// needed. Stops at the last (zero-size) chunk without waiting for trailers.
util::Result<std::string> read_chunked(Exchange& ex, std::string raw, size_t max_bytes) {
  enum class State { size_line, data, data_end };
  State state = State::size_line;
  std::string body;
  uint64_t left = 0;  // of the current chunk
  size_t pos = 0;     // in raw
  for (;;) {
    bool need_more = false;
    if (state == State::size_line) {
      const size_t nl = raw.find('\n', pos);
      if (nl == std::string::npos) {
        if (raw.size() - pos > kMaxChunkLineBytes)
          return util::fail(ex.failed("malformed response"));
        need_more = true;
      } else {
        std::string_view line(raw.data() + pos, nl - pos);
        line = trim(line.substr(0, line.find(';')));
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), left, 16);
        if (line.empty() || ec != std::errc() || end != line.data() + line.size()) {
          return util::fail(ex.failed("malformed response"));
        }
        pos = nl + 1;
        if (left == 0) return body;
        if (left > max_bytes - body.size()) return util::fail(ex.too_big(max_bytes));
        state = State::data;
      }
    } else if (state == State::data) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(left, raw.size() - pos));
      body.append(raw, pos, take);
      pos += take;
      left -= take;
      if (left == 0) {
        state = State::data_end;
      } else {
        need_more = true;
      }
    } else {
      if (raw.size() - pos < 2) {
        need_more = true;
      } else if (raw.compare(pos, 2, "\r\n") != 0) {
        return util::fail(ex.failed("malformed response"));
      } else {
        pos += 2;
        state = State::size_line;
      }
    }
    if (need_more) {
      raw.erase(0, pos);
      pos = 0;
      auto n = ex.read_some(raw, kReadBytes);
      if (!n) return util::fail(n.error());
      if (*n == 0) return util::fail(ex.failed("response ended early"));
    }
  }
}

util::Result<std::string> exchange(const std::string& host, int port, const std::string& path,
                                   Exchange& ex, size_t max_bytes) {
  if (auto c = ex.connect(host, port); !c) return util::fail(c.error());
  const bool v6 = host.find(':') != std::string::npos;
  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}{}{}:{}\r\nUser-Agent: ltxguard\r\nAccept: */*\r\n"
      "Connection: close\r\n\r\n",
      path, v6 ? "[" : "", host, v6 ? "]" : "", port);
  if (auto s = ex.send_all(request); !s) return util::fail(s.error());

  std::string buf;
  size_t end = std::string::npos;
  while ((end = head_end(buf)) == std::string::npos) {
    if (buf.size() > kMaxHeadBytes) return util::fail(ex.failed("response headers too large"));
    auto n = ex.read_some(buf, kReadBytes);
    if (!n) return util::fail(n.error());
    if (*n == 0) return util::fail(ex.failed("response ended early"));
  }
  if (end > kMaxHeadBytes) return util::fail(ex.failed("response headers too large"));
  Head head;
  const bool well_formed = parse_head(std::string_view(buf).substr(0, end), head);
  // A refusal is reported as such even when a header after its status line is odd.
  if (head.status != 0 && head.status != 200) return util::fail(ex.bad_status(head.status));
  if (!well_formed) return util::fail(ex.failed("malformed response"));
  buf.erase(0, end);
  if (head.framing == Framing::chunked) return read_chunked(ex, std::move(buf), max_bytes);

  std::string body = std::move(buf);
  if (head.framing == Framing::length) {
    if (head.content_length > max_bytes) return util::fail(ex.too_big(max_bytes));
    const auto want = static_cast<size_t>(head.content_length);
    while (body.size() < want) {
      auto n = ex.read_some(body, want - body.size());
      if (!n) return util::fail(n.error());
      if (*n == 0) return util::fail(ex.failed("response ended early"));
    }
    body.resize(want);  // anything after the announced length is not the body
    return body;
  }
  for (;;) {  // to the end of the connection
    if (body.size() > max_bytes) return util::fail(ex.too_big(max_bytes));
    auto n = ex.read_some(body, max_bytes + 1 - body.size());
    if (!n) return util::fail(n.error());
    if (*n == 0) return body;
  }
}

}  // namespace

util::Result<std::string> http_get(const std::string& host, int port, const std::string& path,
                                   int timeout_ms, size_t max_bytes) {
  const std::string url = url_of(host, port, path);
  if (path.empty() || path.front() != '/' || std::any_of(path.begin(), path.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      })) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, url, "invalid request path"));
  }
  try {
    Exchange ex(url, std::chrono::milliseconds(timeout_ms < 1 ? 1 : timeout_ms));
    return exchange(host, port, path, ex, max_bytes);
  } catch (const std::exception& e) {  // out of memory
    return util::fail(util::make_error(util::ErrorCode::io, url, e.what()));
  }
}

util::Result<std::pair<std::string, int>> parse_host_port(std::string_view addr) {
  const auto bad = [&](std::string_view why) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, std::string(addr),
                                       fmt::format("invalid address: {}", why)));
  };
  std::string host;
  std::string_view port_text;
  if (!addr.empty() && addr.front() == '[') {
    const size_t close = addr.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = std::string(addr.substr(1, close - 1));
    if (host.empty()) return bad("empty IPv6 address");
    if (close + 1 >= addr.size() || addr[close + 1] != ':') return bad("expected host:port");
    port_text = addr.substr(close + 2);
  } else {
    const size_t colon = addr.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    host = std::string(addr.substr(0, colon));
    if (host.find(':') != std::string::npos) return bad("an IPv6 address needs brackets");
    port_text = addr.substr(colon + 1);
  }
  int port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return bad("port must be 1..65535");
  }
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return std::pair<std::string, int>{host, port};
}

}  // namespace ltxguard::sys
