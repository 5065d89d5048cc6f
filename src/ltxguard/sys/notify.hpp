// systemd's notify protocol for a Type=notify service (sd_notify from libsystemd): readiness,
// a one-line status, and watchdog keep-alives. Every call is a no-op without $NOTIFY_SOCKET, so
// the watcher calls them unconditionally; libsystemd is loaded only once $NOTIFY_SOCKET is set,
// and without it (a minimal container) the calls stay no-ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ltxguard::sys {

// STATUS= is cut to this many bytes: systemctl status shows one line.
inline constexpr size_t kMaxNotifyStatusBytes = 256;

// "READY=1". True when the message was sent; false without $NOTIFY_SOCKET, without
// libsystemd, or on failure.
bool notify_ready();

// "STOPPING=1", before a clean shutdown. True when sent.
bool notify_stopping();

// "STATUS=<text>". Control characters (newlines among them, which would start another
// assignment such as READY=1 from text that came from the host) become spaces, and the text is
// cut to kMaxNotifyStatusBytes without splitting a UTF-8 sequence. True when sent.
bool notify_status(std::string_view text);

// "WATCHDOG=1". True when sent.
bool notify_watchdog();

// The watchdog interval systemd expects keep-alives within, from $WATCHDOG_USEC (and
// $WATCHDOG_PID, which must be this process when set); nullopt when the watchdog is off or
// libsystemd cannot be loaded.
// Send notify_watchdog() at least every half of it.
[[nodiscard]] std::optional<uint64_t> watchdog_usec();

// The STATUS= payload notify_status sends for `text` (exposed for tests).
[[nodiscard]] std::string notify_status_line(std::string_view text);

}  // namespace ltxguard::sys
