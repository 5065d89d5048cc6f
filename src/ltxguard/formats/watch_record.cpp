#include "ltxguard/formats/watch_record.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace ltxguard::formats {
namespace {

using nlohmann::json;

// A record line nests four deep (line, databases, entry, in_flight entry); anything deeper is
// not a record line and is refused before the JSON parser builds it.
constexpr int kMaxNesting = 8;
constexpr size_t kMaxProblems = 5;
constexpr size_t kMaxKindBytes = 64;
// Wall-clock ms since the epoch up to the year 2109: any difference of two fits in int64
// with room, so time spans never overflow downstream.
constexpr int64_t kMaxTimeMs = int64_t{1} << 42;

std::string_view cut_utf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

bool nesting_within(std::string_view s, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

RecordState state_of(std::string_view s) {
  if (s == "ok") return RecordState::ok;
  if (s == "warning") return RecordState::warning;
  if (s == "critical") return RecordState::critical;
  if (s == "wedged") return RecordState::wedged;
  return RecordState::unknown;
}

bool get_u64(const json& o, const char* key, uint64_t& out) {
  const auto it = o.find(key);
  if (it == o.end()) return false;
  if (it->is_number_unsigned()) {
    out = it->get<uint64_t>();
    return true;
  }
  if (it->is_number_integer()) {
    const auto v = it->get<int64_t>();
    if (v < 0) return false;
    out = static_cast<uint64_t>(v);
    return true;
  }
  return false;
}

bool get_i64(const json& o, const char* key, int64_t& out) {
  const auto it = o.find(key);
  if (it == o.end()) return false;
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(v);
    return true;
  }
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return true;
  }
  return false;
}

// Missing is fine (out stays empty); present and not a string is not.
bool get_string(const json& o, const char* key, std::string_view& out) {
  const auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->is_string()) return false;
  out = it->get_ref<const std::string&>();
  return true;
}

struct LineFs {
  std::string_view mount;
  uint64_t dev = 0, total = 0, free = 0, avail = 0, reserve = 0;
};

struct LineDb {
  std::string_view path, reason;
  uint64_t db_dev = 0, staging_dev = 0;
  RecordPoint point;
};

struct LineEvent {
  std::string_view kind, db, message;
};

struct Line {
  int64_t time_ms = 0;
  std::vector<LineFs> fss;
  std::vector<LineDb> dbs;
  std::vector<LineEvent> events;
};

// Fills `out` from a parsed line; returns "" or what is wrong with it.
std::string read_line(const json& j, size_t max_databases, Line& out) {
  if (!j.is_object()) return "not a JSON object";
  if (!get_i64(j, "time_ms", out.time_ms)) return "time_ms missing or not an integer";
  if (out.time_ms < 0 || out.time_ms > kMaxTimeMs)
    return fmt::format("time_ms {} out of range", out.time_ms);

  if (const auto it = j.find("filesystems"); it != j.end()) {
    if (!it->is_array()) return "filesystems is not an array";
    if (it->size() > 2 * max_databases)
      return fmt::format("more than {} filesystems", 2 * max_databases);
    for (size_t i = 0; i < it->size(); ++i) {
      const json& f = (*it)[i];
      const auto field = [i](const char* name) {
        return fmt::format("filesystems[{}].{} missing or not an unsigned integer", i, name);
      };
      if (!f.is_object()) return fmt::format("filesystems[{}] is not an object", i);
      LineFs fs;
      if (!get_string(f, "mount", fs.mount))
        return fmt::format("filesystems[{}].mount is not a string", i);
      if (!get_u64(f, "dev", fs.dev)) return field("dev");
      if (!get_u64(f, "total_bytes", fs.total)) return field("total_bytes");
      if (!get_u64(f, "free_bytes", fs.free)) return field("free_bytes");
      if (!get_u64(f, "avail_bytes", fs.avail)) return field("avail_bytes");
      if (!get_u64(f, "reserve_bytes", fs.reserve)) return field("reserve_bytes");
      out.fss.push_back(fs);
    }
  }

  const auto dbs = j.find("databases");
  if (dbs == j.end() || !dbs->is_array()) return "databases missing or not an array";
  if (dbs->size() > max_databases) return fmt::format("more than {} databases", max_databases);
  for (size_t i = 0; i < dbs->size(); ++i) {
    const json& d = (*dbs)[i];
    const auto field = [i](const char* name, const char* what) {
      return fmt::format("databases[{}].{} missing or not {}", i, name, what);
    };
    constexpr const char* kUnsigned = "an unsigned integer";
    if (!d.is_object()) return fmt::format("databases[{}] is not an object", i);
    LineDb db;
    RecordPoint& p = db.point;
    p.time_ms = out.time_ms;
    const auto path = d.find("db");
    if (path == d.end() || !path->is_string() || path->get_ref<const std::string&>().empty()) {
      return field("db", "a non-empty string");
    }
    db.path = path->get_ref<const std::string&>();
    if (!get_u64(d, "db_fs_dev", db.db_dev)) return field("db_fs_dev", kUnsigned);
    if (!get_u64(d, "staging_fs_dev", db.staging_dev)) return field("staging_fs_dev", kUnsigned);
    if (!get_u64(d, "wal_bytes", p.wal_bytes)) return field("wal_bytes", kUnsigned);
    if (!get_u64(d, "staging_bytes", p.staging_bytes)) return field("staging_bytes", kUnsigned);
    if (!get_u64(d, "remaining_staging_bytes", p.remaining_staging_bytes)) {
      return field("remaining_staging_bytes", kUnsigned);
    }
    if (!get_i64(d, "headroom_bytes", p.headroom_bytes))
      return field("headroom_bytes", "an integer");
    if (!get_u64(d, "disk_full_events_total", p.disk_full_events_total)) {
      return field("disk_full_events_total", kUnsigned);
    }
    const auto state = d.find("state");
    if (state == d.end() || !state->is_string()) return field("state", "a string");
    p.state = state_of(state->get_ref<const std::string&>());
    if (!get_string(d, "reason", db.reason))
      return fmt::format("databases[{}].reason is not a string", i);
    if (const auto s = d.find("seconds_to_reserve_breach"); s != d.end() && !s->is_null()) {
      if (!s->is_number() || !std::isfinite(s->get<double>()) || s->get<double>() < 0) {
        return fmt::format("databases[{}].seconds_to_reserve_breach is not null or a number >= 0",
                           i);
      }
      p.seconds_to_reserve_breach = s->get<double>();
    }
    if (const auto s = d.find("stop_recommended"); s != d.end()) {
      if (!s->is_boolean())
        return fmt::format("databases[{}].stop_recommended is not a boolean", i);
      p.stop_recommended = s->get<bool>();
    }
    out.dbs.push_back(db);
  }

  if (const auto it = j.find("events"); it != j.end()) {
    if (!it->is_array()) return "events is not an array";
    for (size_t i = 0; i < it->size(); ++i) {
      const json& e = (*it)[i];
      if (!e.is_object()) return fmt::format("events[{}] is not an object", i);
      LineEvent ev;
      const auto kind = e.find("kind");
      if (kind == e.end() || !kind->is_string() || kind->get_ref<const std::string&>().empty()) {
        return fmt::format("events[{}].kind missing or not a non-empty string", i);
      }
      ev.kind = kind->get_ref<const std::string&>();
      if (!get_string(e, "db", ev.db)) return fmt::format("events[{}].db is not a string", i);
      if (!get_string(e, "message", ev.message))
        return fmt::format("events[{}].message is not a string", i);
      out.events.push_back(ev);
    }
  }
  return {};
}

uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

std::string_view to_string(RecordState s) {
  switch (s) {
    case RecordState::ok:
      return "ok";
    case RecordState::warning:
      return "warning";
    case RecordState::critical:
      return "critical";
    case RecordState::wedged:
      return "wedged";
    case RecordState::unknown:
      break;
  }
  return "unknown";
}

WatchRecordParser::WatchRecordParser(WatchRecordLimits limits) : limits_(limits) {}

void WatchRecordParser::problem(std::string what) {
  if (rec_.problems.size() < kMaxProblems) {
    rec_.problems.push_back(fmt::format("line {}: {}", line_no_, what));
  }
}

std::string WatchRecordParser::keep_text(std::string_view s) {
  s = cut_utf8(s, limits_.max_string_bytes);
  if (s.size() > limits_.max_text_bytes - std::min(text_bytes_, limits_.max_text_bytes)) {
    ++rec_.strings_emptied;
    return {};
  }
  text_bytes_ += s.size();
  return std::string(s);
}

void WatchRecordParser::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (partial_.empty() && !skipping_) ++line_no_;
    const size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (!skipping_) {
      if (partial_.size() + piece.size() > limits_.max_line_bytes) {
        skipping_ = true;
        partial_.clear();
        partial_.shrink_to_fit();
      } else {
        partial_.append(piece);
      }
    }
    if (nl == std::string_view::npos) return;
    if (skipping_) {
      ++rec_.lines;
      ++rec_.lines_too_long;
      problem(fmt::format("longer than {} bytes", limits_.max_line_bytes));
    } else {
      add_line(partial_);
    }
    partial_.clear();
    skipping_ = false;
    bytes.remove_prefix(nl + 1);
  }
}

WatchRecord WatchRecordParser::finish() {
  feed("\n");  // a last line without its newline; a no-op line count when there is none
  WatchRecord out = std::move(rec_);
  rec_ = WatchRecord{};
  partial_.clear();
  skipping_ = false;
  line_no_ = 0;
  text_bytes_ = 0;
  return out;
}

void WatchRecordParser::add_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  ++rec_.lines;

  json j;
  if (nesting_within(line, kMaxNesting)) {
    try {
      j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    } catch (const std::exception&) {
      j = json(json::value_t::discarded);
    }
  } else {
    ++rec_.lines_malformed;
    problem(fmt::format("nested deeper than {} levels", kMaxNesting));
    return;
  }
  if (j.is_discarded()) {
    ++rec_.lines_malformed;
    problem("not JSON");
    return;
  }
  Line l;
  std::string error;
  try {
    error = read_line(j, limits_.max_databases, l);
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) {
    ++rec_.lines_malformed;
    problem(error);
    return;
  }
  if (rec_.samples > 0 && l.time_ms < rec_.last_time_ms) {
    ++rec_.samples_out_of_order;
    problem(fmt::format("time_ms {} is older than the sample before ({}): skipped", l.time_ms,
                        rec_.last_time_ms));
    return;
  }
  if (rec_.samples >= limits_.max_samples) {
    ++rec_.samples_dropped;
    rec_.events_dropped += l.events.size();
    return;
  }
  if (rec_.samples == 0) rec_.first_time_ms = l.time_ms;
  rec_.last_time_ms = l.time_ms;
  ++rec_.samples;

  for (const LineFs& f : l.fss) {
    RecordFilesystem* known = nullptr;
    for (auto& k : rec_.filesystems) {
      if (k.dev == f.dev) known = &k;
    }
    if (known == nullptr && rec_.filesystems.size() < limits_.max_databases * 2) {
      rec_.filesystems.push_back(
          {f.dev, std::string(cut_utf8(f.mount, limits_.max_string_bytes)), 0});
      known = &rec_.filesystems.back();
    }
    if (known != nullptr) known->total_bytes = f.total;
  }

  const auto fs_values = [&](uint64_t dev) -> std::optional<RecordFsValues> {
    for (const LineFs& f : l.fss) {
      if (f.dev != dev) continue;
      RecordFsValues v{dev, f.avail, f.free, f.reserve, 0};
      for (const LineDb& d : l.dbs) {
        if (d.staging_dev == dev)
          v.charge_bytes = add_sat(v.charge_bytes, d.point.remaining_staging_bytes);
      }
      return v;
    }
    return std::nullopt;
  };

  for (size_t i = 0; i < l.dbs.size(); ++i) {
    LineDb& d = l.dbs[i];
    bool duplicate = false;
    for (size_t k = 0; k < i; ++k) duplicate = duplicate || l.dbs[k].path == d.path;
    if (duplicate) continue;
    const std::string_view path = cut_utf8(d.path, limits_.max_string_bytes);
    RecordDb* db = nullptr;
    for (auto& known : rec_.databases) {
      if (known.path == path) db = &known;
    }
    if (db == nullptr) {
      if (rec_.databases.size() >= limits_.max_databases) {
        ++rec_.db_points_dropped;
        continue;
      }
      rec_.databases.push_back(RecordDb{std::string(path), {}, {}});
      db = &rec_.databases.back();
    }
    d.point.db_fs = fs_values(d.db_dev);
    d.point.staging_fs = fs_values(d.staging_dev);
    if (db->runs.empty() || db->runs.back().state != d.point.state) {
      db->runs.push_back({db->points.size(), d.point.state, keep_text(d.reason)});
    }
    db->points.push_back(d.point);
  }

  for (const LineEvent& e : l.events) {
    const std::string_view kind =
        cut_utf8(e.kind, std::min(kMaxKindBytes, limits_.max_string_bytes));
    const std::string_view db = cut_utf8(e.db, limits_.max_string_bytes);
    const std::string_view message = cut_utf8(e.message, limits_.max_string_bytes);
    const size_t need = kind.size() + db.size() + message.size();
    if (rec_.events.size() >= limits_.max_events ||
        need > limits_.max_text_bytes - std::min(text_bytes_, limits_.max_text_bytes)) {
      ++rec_.events_dropped;
      continue;
    }
    text_bytes_ += need;
    rec_.events.push_back({l.time_ms, std::string(kind), std::string(db), std::string(message)});
  }
}

WatchRecord parse_watch_record(std::string_view text, WatchRecordLimits limits) {
  WatchRecordParser parser(limits);
  parser.feed(text);
  return parser.finish();
}

}  // namespace ltxguard::formats
