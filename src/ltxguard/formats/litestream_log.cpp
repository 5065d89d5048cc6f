#include "ltxguard/formats/litestream_log.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "ltxguard/formats/logfmt.hpp"

namespace ltxguard::formats {
namespace {

// Messages and error texts as Litestream writes them (db.go, replica.go of v0.3.13 and
// v0.5.x; the unstructured forms from v0.3.11's log.Printf calls).
constexpr std::string_view kStartupMsg = "litestream";
constexpr std::string_view kSyncErrorMsg = "sync error";
constexpr std::string_view kDiskFullStagingMsg = "disk full while staging ltx file";
constexpr std::string_view kTempCleanupMsg = "attempting temp file cleanup";
constexpr std::string_view kWriteWalSegmentMsg = "write wal segment";
constexpr std::string_view kWalSegmentWrittenMsg = "wal segment written";
constexpr std::string_view kSyncRecoveredMsg = "sync recovered";
constexpr std::string_view kNoSpace = "no space left on device";
constexpr std::string_view kQuotaExceeded = "disk quota exceeded";
constexpr std::array<std::string_view, 7> kReplicaErrorMsgs = {
    "monitor error",
    "retainer error",
    "snapshotter error",
    "validation error",
    "auto-recovery failed",
    "snapshotter cannot determine generation",
    "snapshotter cannot determine latest snapshot"};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

std::string normalize_level(std::string_view raw) {
  std::string level;
  for (const char c : raw) {
    if (c == '+' || c == '-') break;  // slog prints custom levels as "INFO+2", "DEBUG-4"
    level += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (level == "WARNING") level = "WARN";
  return level;
}

std::optional<uint64_t> parse_count(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Stores one attribute; the first occurrence of a key wins.
void set_field(LogLine& out, std::string_view key, std::string value, bool& have_level) {
  auto set_once = [&](std::string& field) {
    if (field.empty()) field = std::move(value);
  };
  if (key == "level") {
    if (!have_level) out.level = normalize_level(value);
    have_level = true;
  } else if (key == "msg") {
    set_once(out.msg);
  } else if (key == "db") {
    set_once(out.db);
  } else if (key == "version") {
    set_once(out.version);
  } else if (key == "error" || key == "err") {
    set_once(out.error);
  } else if (key == "time") {
    set_once(out.time);
  } else if (key == "replica") {
    set_once(out.replica);
  } else if (key == "position") {
    set_once(out.position);
  } else if (key == "path") {
    set_once(out.path);
  } else if (key == "consecutive_errors") {
    if (!out.consecutive_errors) out.consecutive_errors = parse_count(value);
  }
}

// Reads only the top-level scalars of a JSON object. A SAX pass rather than a DOM: it keeps
// the first of duplicate keys (0.5's start-up line has two "level" keys), never builds
// nested values and never throws.
class TopLevelFields final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit TopLevelFields(LogLine& out) : out_(out) {}

  bool null() override { return true; }
  bool boolean(bool v) override { return scalar(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override { return scalar(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return scalar(s); }
  bool string(string_t& v) override { return scalar(std::move(v)); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool scalar(std::string v) {
    if (depth_ == 1) set_field(out_, key_, std::move(v), have_level_);
    return true;
  }
  LogLine& out_;
  std::string key_;
  int depth_ = 0;
  bool have_level_ = false;
};

bool read_json(std::string_view text, LogLine& out) {
  LogLine parsed;
  TopLevelFields sax(parsed);
  try {
    if (!nlohmann::json::sax_parse(text, &sax)) return false;
  } catch (const std::exception&) {
    return false;
  }
  out = std::move(parsed);
  return true;
}

void read_logfmt(std::string_view text, LogLine& out) {
  bool have_level = false;
  for (auto& f : parse_logfmt(text)) set_field(out, f.key, std::move(f.value), have_level);
}

// v0.3.11 and older: log.Printf with no flags, e.g. "litestream v0.3.9",
// "/d/app.db: sync error: <err>", "/d/app.db(s3): monitor error: <err>".
void read_unstructured(std::string_view text, LogLine& out) {
  out.msg = std::string(text);
  if (starts_with(text, "litestream ")) {
    const std::string_view v = text.substr(11);
    if (!v.empty() && (v.front() == 'v' || v.front() == '(') && !contains(v, ": ")) {
      out.msg = std::string(kStartupMsg);
      out.version = std::string(v);
      return;
    }
  }
  if (const size_t p = text.find(": sync error: "); p != std::string_view::npos) {
    out.db = std::string(text.substr(0, p));
    out.msg = std::string(kSyncErrorMsg);
    out.error = std::string(text.substr(p + 14));
    return;
  }
  if (const size_t p = text.find("): "); p != std::string_view::npos) {
    const std::string_view rest = text.substr(p + 3);
    for (const std::string_view m : kReplicaErrorMsgs) {
      if (starts_with(rest, m) && rest.substr(m.size(), 2) == ": ") {
        const std::string_view head = text.substr(0, p);
        const size_t open = head.rfind('(');
        if (open == std::string_view::npos) break;
        out.db = std::string(head.substr(0, open));
        out.replica = std::string(head.substr(open + 1));
        out.msg = std::string(m);
        out.error = std::string(rest.substr(m.size() + 2));
        return;
      }
    }
  }
}

// Where the structured part of a line starts, skipping a syslog/journal-export prefix.
enum class Shape { json, logfmt, unstructured };
std::pair<Shape, size_t> locate(std::string_view s) {
  if (!s.empty() && s.front() == '{') return {Shape::json, 0};
  if (starts_with(s, "time=") || starts_with(s, "level=")) return {Shape::logfmt, 0};
  size_t best = std::string_view::npos;
  Shape shape = Shape::unstructured;
  const auto consider = [&](std::string_view needle, size_t skip, Shape sh) {
    const size_t p = s.find(needle);
    if (p != std::string_view::npos && (best == std::string_view::npos || p + skip < best)) {
      best = p + skip;
      shape = sh;
    }
  };
  consider(" time=", 1, Shape::logfmt);
  consider(" level=", 1, Shape::logfmt);
  consider("{\"time\":", 0, Shape::json);
  consider("{\"level\":", 0, Shape::json);
  if (best == std::string_view::npos) return {Shape::unstructured, 0};
  return {shape, best};
}

bool is_no_space(std::string_view s) {
  return contains(s, kNoSpace) || contains(s, kQuotaExceeded);
}

}  // namespace

LogLine classify_log_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);

  LogLine out;
  auto [shape, start] = locate(line);
  const std::string_view text = line.substr(start);
  if (shape == Shape::json && !read_json(text, out)) shape = Shape::unstructured;
  if (shape == Shape::logfmt) read_logfmt(text, out);
  if (shape == Shape::unstructured) read_unstructured(line, out);

  const std::string_view msg = out.msg;
  if (msg == kStartupMsg && !out.version.empty()) {
    out.signature = LogSignature::startup_version;
  } else if (starts_with(msg, kDiskFullStagingMsg)) {
    out.signature = LogSignature::disk_full_staging;
  } else if (msg == kSyncErrorMsg) {
    out.signature =
        is_no_space(out.error) ? LogSignature::sync_error_no_space : LogSignature::sync_error;
  } else if (starts_with(msg, kTempCleanupMsg)) {
    out.signature = LogSignature::temp_file_cleanup;
  } else if (msg == kWriteWalSegmentMsg) {
    out.signature = LogSignature::write_wal_segment;
  } else if (msg == kWalSegmentWrittenMsg) {
    out.signature = LogSignature::wal_segment_written;
  } else if (msg == kSyncRecoveredMsg) {
    out.signature = LogSignature::sync_recovered;
  } else if (out.level == "ERROR" || (out.level.empty() && !out.replica.empty())) {
    bool replica = !out.replica.empty();
    for (const std::string_view m : kReplicaErrorMsgs) replica = replica || msg == m;
    if (replica) out.signature = LogSignature::replica_error;
  }
  return out;
}

bool is_disk_full(const LogLine& line) {
  switch (line.signature) {
    case LogSignature::sync_error_no_space:
    case LogSignature::disk_full_staging:
      return true;
    default:
      return line.level == "ERROR" && (is_no_space(line.error) || is_no_space(line.msg));
  }
}

void count_log_line(LogCounts& counts, const LogLine& line) {
  ++counts.lines;
  const LogSignature s = line.signature;
  const bool sync_error = s == LogSignature::sync_error || s == LogSignature::sync_error_no_space ||
                          s == LogSignature::disk_full_staging;
  if (line.level == "ERROR" ||
      (line.level.empty() && (sync_error || s == LogSignature::replica_error))) {
    ++counts.errors;
  }
  if (is_disk_full(line)) ++counts.disk_full_lines;
  if (s == LogSignature::temp_file_cleanup) ++counts.temp_file_cleanup;
  if (sync_error) ++counts.sync_errors;
  if (s == LogSignature::startup_version) counts.version = line.version;
}

}  // namespace ltxguard::formats
