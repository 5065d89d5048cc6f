#include "ltxguard/output/http_server.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>

#include <cerrno>
#include <chrono>
#include <exception>

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

void reply_text(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "text/plain; charset=utf-8");
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

HttpServer::HttpServer() = default;

HttpServer::~HttpServer() { stop(); }

util::Result<void> HttpServer::start(const std::string& listen, ListenScope scope,
                                     std::function<std::string()> metrics,
                                     std::function<HealthReply()> health) {
  if (server_)
    return util::fail(util::make_error(util::ErrorCode::io, listen, "server already started"));
  auto addr = parse_listen_address(listen, scope);
  if (!addr) return util::fail(addr.error());

  auto server = std::make_unique<httplib::Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kHttpWorkerThreads); };
  server->set_read_timeout(kHttpTimeoutSeconds, 0);
  server->set_write_timeout(kHttpTimeoutSeconds, 0);
  server->set_keep_alive_timeout(kHttpTimeoutSeconds);
  server->set_keep_alive_max_count(1);
  server->set_payload_max_length(kHttpMaxPayloadBytes);
  // httplib's default sets SO_REUSEPORT, which lets a second process of the same user bind
  // the same port and take half the scrapes. SO_REUSEADDR only allows a quick restart.
  server->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Decided before any body is read: unknown paths and methods cost the client nothing.
  server->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.path != "/metrics" && req.path != "/healthz") {
      reply_text(res, 404, "not found\n");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != "GET") {
      res.set_header("Allow", "GET");
      reply_text(res, 405, "method not allowed\n");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server->Get("/metrics",
              [metrics = std::move(metrics)](const httplib::Request&, httplib::Response& res) {
                try {
                  res.status = 200;
                  res.set_content(metrics(), std::string(kMetricsContentType).c_str());
                } catch (const std::exception& e) {
                  reply_text(res, 500, std::string("metrics unavailable: ") + e.what() + "\n");
                }
              });
  server->Get("/healthz",
              [health = std::move(health)](const httplib::Request&, httplib::Response& res) {
                try {
                  HealthReply h = health();
                  if (!h.body.empty() && h.body.back() != '\n') h.body += '\n';
                  reply_text(res, h.status, h.body);
                } catch (const std::exception& e) {
                  reply_text(res, 500, std::string("health unavailable: ") + e.what() + "\n");
                }
              });

  errno = 0;
  const int flags = AI_NUMERICHOST | AI_PASSIVE;
  int port = addr->port;
  bool bound = false;
  if (port == 0) {
    port = server->bind_to_any_port(addr->host, flags);
    bound = port > 0;
  } else {
    bound = server->bind_to_port(addr->host, port, flags);
  }
  if (!bound) {
    const int err = errno;
    return util::fail(
        util::sys_error(err, addr->host + ":" + std::to_string(addr->port), "cannot listen"));
  }

  httplib::Server* raw = server.get();
  loop_done_ = false;
  thread_ = std::thread([this, raw] {
    raw->listen_after_bind();
    loop_done_ = true;
  });
  // httplib's stop() does nothing until the accept loop runs: wait for it (bounded).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!raw->is_running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_ = std::move(server);
  port_ = port;
  if (!server_->is_running()) {
    stop();
    return util::fail(util::make_error(util::ErrorCode::timeout, listen, "server did not start"));
  }
  return {};
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    // httplib's stop() is a no-op until the accept loop runs, and must be called only once.
    while (!server_->is_running() && !loop_done_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    server_->stop();
    thread_.join();
  }
  server_.reset();
  port_ = 0;
}

}  // namespace ltxguard::output
