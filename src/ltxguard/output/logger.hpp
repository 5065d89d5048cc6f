// The watcher's structured log: one event per call, to journald (PRIORITY, MESSAGE_ID, ERRNO
// and one field per key) or as one logfmt or JSON line on stderr. Repeats of an event are
// rate-limited so a full disk cannot turn into a log flood, and a write that fails (EPIPE,
// ENOSPC) is counted and dropped, never fatal.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ltxguard::output {

// A longer message or field value keeps its first kMaxLogValueBytes bytes (never half a
// UTF-8 sequence) followed by "...": values may come from hostile files and log lines.
inline constexpr size_t kMaxLogValueBytes = 16 * 1024;
// At most this many (event, db) keys are tracked for rate limiting; beyond it the key seen
// longest ago is forgotten.
inline constexpr size_t kMaxRepeatKeys = 4096;
// A line waits at most this long for a blocked stderr (a stuck pipe) before it is dropped.
inline constexpr int kLogWriteTimeoutMs = 100;

struct LoggerOptions {
  // The same (event, fields["db"], level, fields["STATE"]) is written at most once per
  // interval; later repeats are counted and the next line written for the key carries
  // suppressed=N. A change to another state or level is always written.
  std::chrono::seconds repeat_interval{60};
  // Where text and JSON lines go, and where a journald sink falls back when journald refuses
  // an entry. Not owned.
  int fd = 2;
  // Time written on each line; default std::chrono::system_clock::now.
  std::function<std::chrono::system_clock::time_point()> wall_clock;
  // Time the rate limit measures, immune to clock steps; default steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> monotonic_clock;
  // Sends one journal entry; default sd_journal_sendv from sys::libsystemd(). Returns 0 or a
  // negative errno. Note that libsystemd returns 0 when no journald listens (the entry is
  // silently lost), which is why auto_sink picks journald only when stderr is the journal's own
  // stream.
  std::function<int(const struct iovec*, int)> journal_send;
};

class Logger {
 public:
  enum class Sink { journald, text, json };
  // journald PRIORITY: debug 7, info 6, warning 4, error 3, critical 2.
  enum class Level { debug, info, warning, error, critical };
  using Fields = std::map<std::string, std::string>;

  // ident is journald's SYSLOG_IDENTIFIER ("ltxguard"). A journald sink without journal_send
  // loads libsystemd here (no other sink does); when it cannot be loaded the logger writes text
  // lines to fd instead (sink() is then text), the first one a warning
  // event=journald_unavailable with msg="libsystemd not available: <dlerror>; logging to stderr".
  Logger(Sink sink, std::string ident, LoggerOptions options = {});

  // Writes one event, unless the same (event, fields["db"]) was written less than
  // repeat_interval ago: then it is only counted.
  //   event: a stable snake_case name ("reserve_breach"); journald gets it as LTXGUARD_EVENT
  //     and as MESSAGE_ID = message_id_for(event), text and JSON as event=.
  //   fields: journald field names are upper-cased, with characters outside [A-Z0-9_] as '_'.
  //     A name that collides with one the logger writes itself gets the prefix "LTXGUARD_"
  //     (journald) or "field_" (text, JSON).
  //   errno_value: ERRNO= in journald, errno= in text and JSON (28 for ENOSPC).
  // Text:  time=2025-01-02T03:04:05.678Z level=ERROR msg="..." event=... key=value ...
  //        errno=28 suppressed=N, values quoted as logfmt_value does.
  // JSON:  {"time":...,"level":...,"msg":...,"event":...,<fields as strings>,"errno":28,
  //        "suppressed":N}; invalid UTF-8 is replaced by U+FFFD.
  // Never throws for I/O; a failed write is counted in write_failures().
  void log(Level level, std::string_view event, std::string_view message, const Fields& fields = {},
           std::optional<int> errno_value = std::nullopt);

  // Writes, for every key whose interval has passed with repeats still unreported, the last
  // suppressed event with suppressed=N (N = the repeats not written before it). Call it once
  // per sampling tick so the count appears even when the event stops.
  void flush_suppressed();

  [[nodiscard]] Sink sink() const { return sink_; }
  // Lines (or journal entries) that could not be written.
  [[nodiscard]] uint64_t write_failures() const;
  // Events held back by the rate limit since start.
  [[nodiscard]] uint64_t suppressed_total() const;

 private:
  struct Entry {
    Level level = Level::info;
    std::string event;
    std::string message;
    Fields fields;
    std::optional<int> errno_value;
  };
  struct Repeat {
    std::chrono::steady_clock::time_point last_written;
    uint64_t suppressed = 0;
    Entry last;  // the last suppressed entry, for flush_suppressed
  };

  void write(const Entry& e, uint64_t suppressed);
  void write_journal(const Entry& e, uint64_t suppressed);
  void write_fd(const std::string& line);
  void make_room();

  Sink sink_;
  std::string ident_;
  LoggerOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Repeat> repeats_;
  uint64_t write_failures_ = 0;
  uint64_t suppressed_total_ = 0;
};

// journald when the process's stderr is the journal stream systemd set up ($JOURNAL_STREAM
// names the device and inode of stderr), else `fallback`.
[[nodiscard]] Logger::Sink auto_sink(Logger::Sink fallback = Logger::Sink::text);

// True when journal_stream ("<st_dev>:<st_ino>", decimal, as systemd sets $JOURNAL_STREAM)
// names the file open on fd. False when it does not parse or fstat fails.
[[nodiscard]] bool fd_is_journal_stream(std::string_view journal_stream, int fd);

// The journald MESSAGE_ID of an event: 32 lowercase hex digits, derived from the event name
// alone (two CRC-64 halves), so it stays the same across versions and hosts.
[[nodiscard]] std::string message_id_for(std::string_view event);

// A logfmt value as Go's slog TextHandler would write it: bare when it is non-empty and all
// printable (no space, '=', '"', '\\'), else double-quoted with \" \\ \n \r \t, \xHH for other
// control bytes and invalid UTF-8, \uHHHH for C1 controls, line/paragraph separators and bidi
// overrides. formats::parse_logfmt reads every value back to the same bytes.
[[nodiscard]] std::string logfmt_value(std::string_view value);

}  // namespace ltxguard::output
