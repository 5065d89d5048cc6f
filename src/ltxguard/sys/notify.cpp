#include "ltxguard/sys/notify.hpp"

#include <algorithm>
#include <cstdlib>

#include "ltxguard/sys/libsystemd.hpp"

namespace ltxguard::sys {
namespace {

// libsystemd is loaded only when there is a socket to notify: outside systemd it stays unmapped.
bool send(const std::string& state) {
  if (::getenv("NOTIFY_SOCKET") == nullptr) return false;
  const LibSystemd* sd = libsystemd();
  return sd != nullptr && sd->notify(0, state.c_str()) > 0;
}

}  // namespace

bool notify_ready() { return send("READY=1"); }

bool notify_stopping() { return send("STOPPING=1"); }

bool notify_watchdog() { return send("WATCHDOG=1"); }

std::string notify_status_line(std::string_view text) {
  std::string line = "STATUS=";
  size_t end = std::min(text.size(), kMaxNotifyStatusBytes);
  // Back up over UTF-8 continuation bytes so the cut never splits a character.
  if (end < text.size()) {
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  for (size_t i = 0; i < end; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    line += (c < 0x20 || c == 0x7F) ? ' ' : static_cast<char>(c);
  }
  return line;
}

bool notify_status(std::string_view text) { return send(notify_status_line(text)); }

std::optional<uint64_t> watchdog_usec() {
  // sd_watchdog_enabled answers 0 without $WATCHDOG_USEC: no need to load libsystemd for that.
  if (::getenv("WATCHDOG_USEC") == nullptr) return std::nullopt;
  const LibSystemd* sd = libsystemd();
  uint64_t usec = 0;
  if (sd != nullptr && sd->watchdog_enabled(0, &usec) > 0 && usec > 0) return usec;
  return std::nullopt;
}

}  // namespace ltxguard::sys
