// A bounded HTTP/1.1 GET for scraping a local /metrics endpoint (Litestream's `addr:`): plain
// HTTP on a POSIX socket, no redirects, a deadline and a size cap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

// The body of GET http://host:port/path when the status is 200. Sends `GET path HTTP/1.1`
// with Host and `Connection: close`, and reads a body framed by Content-Length, by
// `Transfer-Encoding: chunked` (Go's net/http chunks bodies over a few KiB; trailers are not
// read) or by the end of the connection. timeout_ms bounds the whole request (connect, headers
// and body, even from a server that trickles bytes): every wait is a poll() on the time left.
// The host is resolved with getaddrinfo, without a bound: pass an IP address where a hung
// resolver matters; each address it returns is tried in turn. Errors (path = the URL):
//   timeout "no answer within N ms" when the deadline passes first;
//   io "cannot connect" when no address takes the connection;
//   io "HTTP status N" for any status but 200 (its body is not read);
//   invalid_input "response body larger than N bytes" when the body passes max_bytes (a
//     Content-Length says so before any of it is read; otherwise the rest is not read);
//   io "request failed" with the errno when a send or receive fails, and io "request
//     failed: response ended early" (connection closed before the headers or the whole body),
//     "request failed: malformed response" (status line, header or chunk framing), "request
//     failed: response headers too large" (status line and headers over 64 KiB);
//   invalid_input "invalid request path" for a path not starting with '/' or holding a
//     space or control character.
[[nodiscard]] util::Result<std::string> http_get(const std::string& host, int port,
                                                 const std::string& path, int timeout_ms,
                                                 size_t max_bytes);

// Splits a listen address as Litestream's `addr:` writes it into (host, port): ":9090" ->
// ("127.0.0.1", 9090); "localhost:9090"; "127.0.0.1:9090"; "[::1]:9090" -> ("::1", 9090).
// The wildcards 0.0.0.0 and [::] become the loopback address of their family, since that is
// where a server listening on all addresses is reached from this host.
// Errors: invalid_input for a missing or non-numeric port, a port outside 1..65535, or an
// IPv6 address without brackets.
[[nodiscard]] util::Result<std::pair<std::string, int>> parse_host_port(std::string_view addr);

}  // namespace ltxguard::sys
