// A bounded HTTP GET for scraping a local /metrics endpoint (Litestream's `addr:`): plain
// HTTP only, no redirects, a deadline and a size cap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

// The body of GET http://host:port/path when the status is 200. timeout_ms bounds the whole
// request: connect, headers and body, even from a server that trickles bytes (a watchdog
// thread shuts the socket down at the deadline). Names are resolved without a bound: pass an
// IP address where a hung resolver matters. Errors (path = the URL): timeout when no answer came within timeout_ms;
// io "cannot connect" and other transport failures; io "HTTP status N" for any other status;
// invalid_input "response body larger than N bytes" when the body passes max_bytes (the rest
// is not read).
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
