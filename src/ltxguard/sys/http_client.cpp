#include "ltxguard/sys/http_client.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace ltxguard::sys {
namespace {

std::string url_of(const std::string& host, int port, const std::string& path) {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}{}", v6 ? "[" : "", host, v6 ? "]" : "", port, path);
}

// httplib's timeouts are per read, so a server trickling a byte at a time holds a request for
// as long as it likes. This shuts the client's socket down at the deadline (ClientImpl::stop
// is the one call httplib allows from another thread), and is joined when it goes away.
class DeadlineGuard {
 public:
  DeadlineGuard(httplib::Client& client, std::chrono::steady_clock::time_point deadline)
      : thread_([this, &client, deadline] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_until(lock, deadline, [this] { return done_; })) {
            fired_ = true;
            client.stop();
          }
        }) {}
  ~DeadlineGuard() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;
  [[nodiscard]] bool fired() const { return fired_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: starts after the members it uses exist
};

}  // namespace

util::Result<std::string> http_get(const std::string& host, int port, const std::string& path,
                                   int timeout_ms, size_t max_bytes) {
  using Clock = std::chrono::steady_clock;
  const std::string url = url_of(host, port, path);
  const auto timeout = std::chrono::milliseconds(timeout_ms < 1 ? 1 : timeout_ms);
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  std::string body;
  bool too_big = false;
  bool late = false;
  httplib::Error err = httplib::Error::Success;
  int status = 0;
  try {
    httplib::Client client(host, port);
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    client.set_keep_alive(false);
    client.set_follow_location(false);
    DeadlineGuard guard(client, deadline);
    auto res = client.Get(path, [&](const char* data, size_t len) {
      if (Clock::now() > deadline) {
        late = true;
        return false;
      }
      if (len > max_bytes - body.size()) {
        too_big = true;
        return false;
      }
      body.append(data, len);
      return true;
    });
    err = res.error();
    if (res) status = res->status;
    late = late || guard.fired();
  } catch (const std::exception& e) {
    return util::fail(util::make_error(util::ErrorCode::io, url, e.what()));
  }
  if (too_big) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, url,
                         fmt::format("response body larger than {} bytes", max_bytes)));
  }
  if (late || (err != httplib::Error::Success && Clock::now() - start >= timeout) ||
      err == httplib::Error::ConnectionTimeout) {
    return util::fail(util::make_error(util::ErrorCode::timeout, url,
                                       fmt::format("no answer within {} ms", timeout.count())));
  }
  if (err == httplib::Error::Connection) {
    return util::fail(util::make_error(util::ErrorCode::io, url, "cannot connect"));
  }
  if (err != httplib::Error::Success) {
    return util::fail(util::make_error(util::ErrorCode::io, url,
                                       fmt::format("request failed: {}", httplib::to_string(err))));
  }
  if (status != 200) {
    return util::fail(
        util::make_error(util::ErrorCode::io, url, fmt::format("HTTP status {}", status)));
  }
  return body;
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
