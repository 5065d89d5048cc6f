#include "ltxguard/output/logger.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "ltxguard/output/text_escape.hpp"
#include "ltxguard/sys/libsystemd.hpp"
#include "ltxguard/util/crc64.hpp"

namespace ltxguard::output {
namespace {

using Level = Logger::Level;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "DEBUG";
    case Level::info:
      return "INFO";
    case Level::warning:
      return "WARN";
    case Level::error:
      return "ERROR";
    case Level::critical:
      return "CRITICAL";
  }
  return "INFO";
}

int priority(Level l) {
  switch (l) {
    case Level::debug:
      return 7;
    case Level::info:
      return 6;
    case Level::warning:
      return 4;
    case Level::error:
      return 3;
    case Level::critical:
      return 2;
  }
  return 6;
}

// Cuts a value at kMaxLogValueBytes on a UTF-8 boundary.
std::string_view bounded(std::string_view v, bool* cut) {
  *cut = v.size() > kMaxLogValueBytes;
  if (!*cut) return v;
  size_t end = kMaxLogValueBytes;
  while (end > 0 && (static_cast<unsigned char>(v[end]) & 0xC0) == 0x80) --end;
  return v.substr(0, end);
}

std::string bounded_string(std::string_view v) {
  bool cut = false;
  std::string s(bounded(v, &cut));
  if (cut) s += "...";
  return s;
}

// A text/JSON key: [A-Za-z0-9_.-], anything else as '_'.
std::string text_key(std::string_view k) {
  std::string out;
  for (char c : k.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

bool is_text_reserved(std::string_view k) {
  return k == "time" || k == "level" || k == "msg" || k == "event" || k == "errno" ||
         k == "suppressed";
}

// A journald field name: upper case, [A-Z0-9_], not starting with a digit or '_', at most 64.
std::string journal_key(std::string_view k) {
  std::string out;
  for (char c : k.substr(0, 55)) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  static constexpr std::array<std::string_view, 11> kReserved = {
      "MESSAGE",         "MESSAGE_ID", "PRIORITY",  "ERRNO",     "SYSLOG_IDENTIFIER", "SYSLOG_PID",
      "SYSLOG_FACILITY", "CODE_FILE",  "CODE_LINE", "CODE_FUNC", "SUPPRESSED"};
  bool clash = out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9') ||
               out.rfind("LTXGUARD_", 0) == 0;
  for (auto r : kReserved) clash = clash || out == r;
  return clash ? "LTXGUARD_" + out : out;
}

std::string format_time(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  auto secs = static_cast<time_t>(ms.count() / 1000);
  auto milli = ms.count() % 1000;
  if (milli < 0) {
    milli += 1000;
    secs -= 1;
  }
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}

// Writes all of data to fd. SIGPIPE is blocked in this thread around the write, and one it
// raised is consumed, so a closed pipe is an error value and not the death of the process,
// whatever the process's signal disposition.
bool write_all(int fd, std::string_view data) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  bool ok = true;
  bool got_epipe = false;
  while (!data.empty()) {
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, kLogWriteTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      ok = false;
      break;
    }
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      got_epipe = errno == EPIPE;
      ok = false;
      break;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (got_epipe && !was_pending) {
    const timespec zero{0, 0};
    ::sigtimedwait(&pipe_set, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return ok;
}

}  // namespace

std::string logfmt_value(std::string_view v) {
  bool quote = v.empty();
  for (size_t i = 0; i < v.size() && !quote;) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c <= 0x20 || c == 0x7F || c == '=' || c == '"' || c == '\\') {
      quote = true;
      break;
    }
    uint32_t cp = 0;
    const size_t n = utf8_sequence(v, i, &cp);
    if (n == 0 || is_deceptive_code_point(cp)) quote = true;
    i += n == 0 ? 1 : n;
  }
  if (!quote) return std::string(v);
  // escape_text never writes a '"', so quoting one afterwards cannot double an escape.
  std::string out = "\"";
  for (const char ch : escape_text(v)) {
    if (ch == '"') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}

std::string message_id_for(std::string_view event) {
  const std::string a = "ltxguard/" + std::string(event);
  const std::string b = std::string(event) + "/ltxguard";
  auto bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  return fmt::format("{:016x}{:016x}", util::crc64_iso(bytes(a)), util::crc64_iso(bytes(b)));
}

bool fd_is_journal_stream(std::string_view journal_stream, int fd) {
  const size_t colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t dev = 0, ino = 0;
  const char* first = journal_stream.data();
  const char* mid = first + colon;
  const char* last = first + journal_stream.size();
  auto r1 = std::from_chars(first, mid, dev);
  auto r2 = std::from_chars(mid + 1, last, ino);
  if (r1.ec != std::errc() || r1.ptr != mid || r2.ec != std::errc() || r2.ptr != last ||
      colon == 0 || mid + 1 == last) {
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
}

Logger::Sink auto_sink(Logger::Sink fallback) {
  const char* js = ::getenv("JOURNAL_STREAM");
  if (js != nullptr && fd_is_journal_stream(js, STDERR_FILENO)) return Logger::Sink::journald;
  return fallback;
}

Logger::Logger(Sink sink, std::string ident, LoggerOptions options)
    : sink_(sink), ident_(std::move(ident)), options_(std::move(options)) {
  if (!options_.wall_clock) options_.wall_clock = [] { return std::chrono::system_clock::now(); };
  if (!options_.monotonic_clock) {
    options_.monotonic_clock = [] { return std::chrono::steady_clock::now(); };
  }
  if (sink_ != Sink::journald || options_.journal_send) return;
  // The only place the logger loads libsystemd: text and JSON sinks never map it.
  if (const sys::LibSystemd* sd = sys::libsystemd()) {
    options_.journal_send = sd->journal_sendv;
    return;
  }
  sink_ = Sink::text;
  Entry why;
  why.level = Level::warning;
  why.event = "journald_unavailable";
  why.message = "libsystemd not available: " + sys::libsystemd_error() + "; logging to stderr";
  write(why, 0);
}

void Logger::log(Level level, std::string_view event, std::string_view message,
                 const Fields& fields, std::optional<int> errno_value) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = options_.monotonic_clock();
  // The level and the state a change leads to are part of the key: a database going on from
  // warning to critical within the interval is news, not a repeat.
  std::string key(event);
  key += '\0';
  if (auto db = fields.find("db"); db != fields.end()) key += db->second;
  key += '\0';
  key += level_name(level);
  if (auto state = fields.find("STATE"); state != fields.end()) key += '\0' + state->second;

  Entry entry{level, std::string(event), bounded_string(message), {}, errno_value};
  for (const auto& [k, v] : fields) entry.fields.emplace(k, bounded_string(v));

  auto it = repeats_.find(key);
  if (it != repeats_.end() && now - it->second.last_written < options_.repeat_interval) {
    ++it->second.suppressed;
    ++suppressed_total_;
    it->second.last = std::move(entry);
    return;
  }
  const uint64_t suppressed = it == repeats_.end() ? 0 : it->second.suppressed;
  write(entry, suppressed);
  if (it == repeats_.end()) {
    make_room();
    it = repeats_.emplace(std::move(key), Repeat{}).first;
  }
  it->second.last_written = now;
  it->second.suppressed = 0;
  it->second.last = Entry{};
}

void Logger::flush_suppressed() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = options_.monotonic_clock();
  for (auto& [key, r] : repeats_) {
    if (r.suppressed == 0 || now - r.last_written < options_.repeat_interval) continue;
    write(r.last, r.suppressed - 1);  // the entry written is the last of the repeats
    r.last_written = now;
    r.suppressed = 0;
    r.last = Entry{};
  }
}

uint64_t Logger::write_failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return write_failures_;
}

uint64_t Logger::suppressed_total() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return suppressed_total_;
}

void Logger::make_room() {
  if (repeats_.size() < kMaxRepeatKeys) return;
  auto oldest = repeats_.begin();
  for (auto it = repeats_.begin(); it != repeats_.end(); ++it) {
    if (it->second.last_written < oldest->second.last_written) oldest = it;
  }
  repeats_.erase(oldest);
}

void Logger::write(const Entry& e, uint64_t suppressed) {
  if (sink_ == Sink::journald) {
    write_journal(e, suppressed);
    return;
  }
  const std::string time = format_time(options_.wall_clock());
  if (sink_ == Sink::json) {
    nlohmann::ordered_json j;
    j["time"] = time;
    j["level"] = level_name(e.level);
    j["msg"] = e.message;
    j["event"] = e.event;
    for (const auto& [k, v] : e.fields) {
      std::string key = text_key(k);
      if (is_text_reserved(key)) key = "field_" + key;
      j[key] = v;
    }
    if (e.errno_value) j["errno"] = *e.errno_value;
    if (suppressed > 0) j["suppressed"] = suppressed;
    write_fd(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    return;
  }
  std::string line = "time=" + time + " level=" + level_name(e.level) +
                     " msg=" + logfmt_value(e.message) + " event=" + logfmt_value(e.event);
  for (const auto& [k, v] : e.fields) {
    std::string key = text_key(k);
    if (is_text_reserved(key)) key = "field_" + key;
    line += " " + key + "=" + logfmt_value(v);
  }
  if (e.errno_value) line += fmt::format(" errno={}", *e.errno_value);
  if (suppressed > 0) line += fmt::format(" suppressed={}", suppressed);
  line += '\n';
  write_fd(line);
}

void Logger::write_journal(const Entry& e, uint64_t suppressed) {
  std::vector<std::string> items;
  items.push_back("MESSAGE=" + e.message);
  items.push_back(fmt::format("PRIORITY={}", priority(e.level)));
  items.push_back("MESSAGE_ID=" + message_id_for(e.event));
  items.push_back("SYSLOG_IDENTIFIER=" + ident_);
  items.push_back("LTXGUARD_EVENT=" + e.event);
  for (const auto& [k, v] : e.fields) items.push_back(journal_key(k) + "=" + v);
  if (e.errno_value) items.push_back(fmt::format("ERRNO={}", *e.errno_value));
  if (suppressed > 0) items.push_back(fmt::format("SUPPRESSED={}", suppressed));
  std::vector<struct iovec> iov;
  iov.reserve(items.size());
  for (auto& s : items) iov.push_back({s.data(), s.size()});
  if (options_.journal_send(iov.data(), static_cast<int>(iov.size())) >= 0) return;
  ++write_failures_;
  // journald went away: keep the event on stderr rather than lose it.
  const Sink saved = sink_;
  sink_ = Sink::text;
  write(e, suppressed);
  sink_ = saved;
}

void Logger::write_fd(const std::string& line) {
  if (!write_all(options_.fd, line)) ++write_failures_;
}

}  // namespace ltxguard::output
