#include "ltxguard/sys/journal.hpp"

#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

namespace ltxguard::sys {
namespace {

struct JournalCloser {
  void operator()(sd_journal* j) const { sd_journal_close(j); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalCloser>;

struct Opened {
  JournalPtr journal;  // null when unavailable
  std::string why_unavailable;
  std::string end_cursor;  // newest entry of any unit, before the unit match is applied
};

std::string unit_name(const std::string& unit) {
  return unit.find('.') == std::string::npos ? unit + ".service" : unit;
}

std::string take_cursor(sd_journal* j) {
  char* c = nullptr;
  if (sd_journal_get_cursor(j, &c) < 0 || c == nullptr) return {};
  std::string s(c);
  std::free(c);
  return s;
}

// Stats an explicit source path: missing is not_found, the wrong file type invalid_input.
util::Result<void> check_path(const std::string& path, bool want_directory) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      return util::fail(
          util::Error{util::ErrorCode::not_found, e, path,
                      want_directory ? "journal directory not found" : "journal file not found"});
    }
    return util::fail(util::sys_error(e, path, "cannot stat journal source"));
  }
  if (want_directory && !S_ISDIR(st.st_mode)) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, path, "not a directory"));
  }
  if (!want_directory && !S_ISREG(st.st_mode)) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, path, "not a regular file"));
  }
  return {};
}

util::Result<Opened> open_source(const JournalSource& source) {
  Opened o;
  sd_journal* raw = nullptr;
  std::string where;
  int r = 0;
  switch (source.kind) {
    case JournalSource::Kind::system:
      where = "/var/log/journal or /run/log/journal";
      r = sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY);
      if (r < 0) {
        o.why_unavailable = std::string("cannot open the system journal: ") + std::strerror(-r);
        return o;
      }
      break;
    case JournalSource::Kind::directory: {
      where = source.path;
      if (auto ok = check_path(source.path, true); !ok) return util::fail(ok.error());
      r = sd_journal_open_directory(&raw, source.path.c_str(), 0);
      if (r < 0)
        return util::fail(util::sys_error(-r, source.path, "cannot open journal directory"));
      break;
    }
    case JournalSource::Kind::file: {
      where = source.path;
      if (auto ok = check_path(source.path, false); !ok) return util::fail(ok.error());
      const char* paths[] = {source.path.c_str(), nullptr};
      r = sd_journal_open_files(&raw, paths, 0);
      if (r < 0) {
        if (r == -EBADMSG || r == -EPROTONOSUPPORT || r == -ENODATA) {
          return util::fail(
              util::Error{util::ErrorCode::invalid_input, -r, source.path, "not a journal file"});
        }
        return util::fail(util::sys_error(-r, source.path, "cannot open journal file"));
      }
      break;
    }
  }
  o.journal.reset(raw);
  uint64_t usage_bytes = 0;
  if (sd_journal_get_usage(raw, &usage_bytes) < 0 || usage_bytes == 0) {
    o.journal.reset();
    o.why_unavailable = "no readable journal files in " + where;
    return o;
  }
  // The data threshold bounds what sd-journal decompresses per field: a hostile 1 GB MESSAGE
  // costs kMaxJournalMessageBytes, not 1 GB.
  (void)sd_journal_set_data_threshold(raw, kMaxJournalMessageBytes + 16);
  if (sd_journal_seek_tail(raw) >= 0 && sd_journal_previous(raw) > 0) {
    o.end_cursor = take_cursor(raw);
  }
  if (!source.unit.empty()) {
    const std::string u = unit_name(source.unit);
    const std::string own = "_SYSTEMD_UNIT=" + u;
    const std::string about = "UNIT=" + u;
    if (sd_journal_add_match(raw, own.data(), own.size()) < 0 ||
        sd_journal_add_disjunction(raw) < 0 || sd_journal_add_match(raw, "_PID=1", 0) < 0 ||
        sd_journal_add_match(raw, about.data(), about.size()) < 0) {
      return util::fail(
          util::make_error(util::ErrorCode::invalid_input, source.unit, "bad unit name"));
    }
  }
  return o;
}

// The value of FIELD in the current entry, at most max_bytes of it; empty when absent.
std::string field(sd_journal* j, std::string_view name, size_t max_bytes) {
  const void* data = nullptr;
  size_t len = 0;
  const std::string key(name);
  if (sd_journal_get_data(j, key.c_str(), &data, &len) < 0 || data == nullptr) return {};
  // data is "NAME=value"
  if (len <= name.size() + 1) return {};
  const char* value = static_cast<const char*>(data) + name.size() + 1;
  const size_t value_len = len - name.size() - 1;
  return std::string(value, std::min(value_len, max_bytes));
}

int parse_int(const std::string& s, int fallback) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return (ec == std::errc() && end == s.data() + s.size()) ? v : fallback;
}

JournalEntry read_entry(sd_journal* j) {
  JournalEntry e;
  uint64_t usec = 0;
  if (sd_journal_get_realtime_usec(j, &usec) >= 0 && usec <= INT64_MAX) {
    e.realtime_usec = static_cast<int64_t>(usec);
  }
  const int priority = parse_int(field(j, "PRIORITY", 8), -1);
  e.priority = (priority >= 0 && priority <= 7) ? priority : -1;
  e.pid = parse_int(field(j, "_PID", 16), 0);
  e.unit = field(j, "_SYSTEMD_UNIT", 256);
  if (e.pid == 1) {
    std::string about = field(j, "UNIT", 256);
    if (!about.empty()) e.unit = std::move(about);
  }
  e.message = field(j, "MESSAGE", kMaxJournalMessageBytes);
  e.cursor = take_cursor(j);
  return e;
}

}  // namespace

util::Result<JournalTail> read_journal_tail(const JournalSource& source, size_t max_entries) {
  auto opened = open_source(source);
  if (!opened) return util::fail(opened.error());
  JournalTail tail;
  if (!opened->journal) {
    tail.why_unavailable = std::move(opened->why_unavailable);
    return tail;
  }
  tail.available = true;
  sd_journal* j = opened->journal.get();
  if (max_entries > 0 && sd_journal_seek_tail(j) >= 0) {
    // A corrupt file ends the walk (sd_journal_previous < 0); what was read stays.
    while (tail.entries.size() < max_entries && sd_journal_previous(j) > 0) {
      tail.entries.push_back(read_entry(j));
    }
  }
  std::reverse(tail.entries.begin(), tail.entries.end());
  tail.last_cursor = tail.entries.empty() ? opened->end_cursor : tail.entries.back().cursor;
  return tail;
}

util::Result<JournalTail> read_journal_since(const JournalSource& source, const std::string& cursor,
                                             size_t max_entries) {
  auto opened = open_source(source);
  if (!opened) return util::fail(opened.error());
  JournalTail tail;
  if (!opened->journal) {
    tail.why_unavailable = std::move(opened->why_unavailable);
    tail.last_cursor = cursor;
    return tail;
  }
  tail.available = true;
  if (cursor.empty()) {
    tail.last_cursor = opened->end_cursor;
    return tail;
  }
  sd_journal* j = opened->journal.get();
  if (sd_journal_seek_cursor(j, cursor.c_str()) < 0) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, source.path,
                                       "invalid journal cursor \"" + cursor.substr(0, 200) + "\""));
  }
  bool first = true;
  while (tail.entries.size() < max_entries && sd_journal_next(j) > 0) {
    // seek_cursor lands on the cursor's own entry when it still exists: it was already seen.
    if (first && sd_journal_test_cursor(j, cursor.c_str()) > 0) {
      first = false;
      continue;
    }
    first = false;
    tail.entries.push_back(read_entry(j));
  }
  tail.last_cursor = tail.entries.empty() ? cursor : tail.entries.back().cursor;
  return tail;
}

}  // namespace ltxguard::sys
