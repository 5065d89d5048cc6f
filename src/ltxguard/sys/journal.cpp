#include "ltxguard/sys/journal.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "ltxguard/sys/libsystemd.hpp"

namespace ltxguard::sys {
namespace {

struct JournalCloser {
  decltype(&::sd_journal_close) close = nullptr;
  void operator()(sd_journal* j) const { close(j); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalCloser>;

struct Opened {
  const LibSystemd* sd = nullptr;
  JournalPtr journal;  // null when unavailable
  std::string why_unavailable;
  std::string end_cursor;  // newest entry of any unit, before the unit match is applied
};

// The only directories sd_journal_open(SD_JOURNAL_LOCAL_ONLY) reads.
constexpr const char* kSystemJournalDirs[] = {"/var/log/journal", "/run/log/journal"};
constexpr const char* kSystemJournalWhere = "/var/log/journal or /run/log/journal";

// False when both system journal directories are absent, unreadable or empty: then there is
// no journal to read, and libsystemd is not loaded only to learn that (a container, a host
// without journald).
bool system_journal_may_exist() {
  for (const char* path : kSystemJournalDirs) {
    DIR* dir = ::opendir(path);
    if (dir == nullptr) continue;
    bool any = false;
    while (const dirent* e = ::readdir(dir)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        any = true;
        break;
      }
    }
    ::closedir(dir);
    if (any) return true;
  }
  return false;
}

std::string unit_name(const std::string& unit) {
  return unit.find('.') == std::string::npos ? unit + ".service" : unit;
}

std::string take_cursor(const LibSystemd& sd, sd_journal* j) {
  char* c = nullptr;
  if (sd.journal_get_cursor(j, &c) < 0 || c == nullptr) return {};
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
  if (source.kind == JournalSource::Kind::system && !system_journal_may_exist()) {
    Opened o;
    o.why_unavailable = std::string("no readable journal files in ") + kSystemJournalWhere;
    return o;
  }
  if (source.kind != JournalSource::Kind::system) {
    if (auto ok = check_path(source.path, source.kind == JournalSource::Kind::directory); !ok) {
      return util::fail(ok.error());
    }
  }
  // Loaded only now that a journal is really read, and after an explicit path checked out, so
  // a missing directory is not_found on a host without libsystemd too.
  const LibSystemd* loaded = libsystemd();
  if (loaded == nullptr) {
    return util::fail(util::make_error(util::ErrorCode::io, "",
                                       "libsystemd not available: " + libsystemd_error()));
  }
  const LibSystemd& sd = *loaded;
  Opened o;
  o.sd = &sd;
  o.journal = JournalPtr(nullptr, JournalCloser{sd.journal_close});
  sd_journal* raw = nullptr;
  std::string where;
  int r = 0;
  switch (source.kind) {
    case JournalSource::Kind::system:
      where = kSystemJournalWhere;
      r = sd.journal_open(&raw, SD_JOURNAL_LOCAL_ONLY);
      if (r < 0) {
        o.why_unavailable = std::string("cannot open the system journal: ") + std::strerror(-r);
        return o;
      }
      break;
    case JournalSource::Kind::directory: {
      where = source.path;
      r = sd.journal_open_directory(&raw, source.path.c_str(), 0);
      if (r < 0)
        return util::fail(util::sys_error(-r, source.path, "cannot open journal directory"));
      break;
    }
    case JournalSource::Kind::file: {
      where = source.path;
      const char* paths[] = {source.path.c_str(), nullptr};
      r = sd.journal_open_files(&raw, paths, 0);
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
  if (sd.journal_get_usage(raw, &usage_bytes) < 0 || usage_bytes == 0) {
    o.journal.reset();
    o.why_unavailable = "no readable journal files in " + where;
    return o;
  }
  // The data threshold bounds what sd-journal decompresses per field: a hostile 1 GB MESSAGE
  // costs kMaxJournalMessageBytes, not 1 GB.
  (void)sd.journal_set_data_threshold(raw, kMaxJournalMessageBytes + 16);
  if (sd.journal_seek_tail(raw) >= 0 && sd.journal_previous(raw) > 0) {
    o.end_cursor = take_cursor(sd, raw);
  }
  if (!source.unit.empty()) {
    const std::string u = unit_name(source.unit);
    const std::string own = "_SYSTEMD_UNIT=" + u;
    const std::string about = "UNIT=" + u;
    if (sd.journal_add_match(raw, own.data(), own.size()) < 0 ||
        sd.journal_add_disjunction(raw) < 0 || sd.journal_add_match(raw, "_PID=1", 0) < 0 ||
        sd.journal_add_match(raw, about.data(), about.size()) < 0) {
      return util::fail(
          util::make_error(util::ErrorCode::invalid_input, source.unit, "bad unit name"));
    }
  }
  return o;
}

// The value of FIELD in the current entry, at most max_bytes of it; empty when absent.
std::string field(const LibSystemd& sd, sd_journal* j, std::string_view name, size_t max_bytes) {
  const void* data = nullptr;
  size_t len = 0;
  const std::string key(name);
  if (sd.journal_get_data(j, key.c_str(), &data, &len) < 0 || data == nullptr) return {};
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

JournalEntry read_entry(const LibSystemd& sd, sd_journal* j) {
  JournalEntry e;
  uint64_t usec = 0;
  if (sd.journal_get_realtime_usec(j, &usec) >= 0 && usec <= INT64_MAX) {
    e.realtime_usec = static_cast<int64_t>(usec);
  }
  const int priority = parse_int(field(sd, j, "PRIORITY", 8), -1);
  e.priority = (priority >= 0 && priority <= 7) ? priority : -1;
  e.pid = parse_int(field(sd, j, "_PID", 16), 0);
  e.unit = field(sd, j, "_SYSTEMD_UNIT", 256);
  if (e.pid == 1) {
    std::string about = field(sd, j, "UNIT", 256);
    if (!about.empty()) e.unit = std::move(about);
  }
  e.message = field(sd, j, "MESSAGE", kMaxJournalMessageBytes);
  e.cursor = take_cursor(sd, j);
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
  const LibSystemd& sd = *opened->sd;
  sd_journal* j = opened->journal.get();
  if (max_entries > 0 && sd.journal_seek_tail(j) >= 0) {
    // A corrupt file ends the walk (sd_journal_previous < 0); what was read stays.
    while (tail.entries.size() < max_entries && sd.journal_previous(j) > 0) {
      tail.entries.push_back(read_entry(sd, j));
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
  const LibSystemd& sd = *opened->sd;
  sd_journal* j = opened->journal.get();
  if (sd.journal_seek_cursor(j, cursor.c_str()) < 0) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, source.path,
                                       "invalid journal cursor \"" + cursor.substr(0, 200) + "\""));
  }
  bool first = true;
  while (tail.entries.size() < max_entries && sd.journal_next(j) > 0) {
    // seek_cursor lands on the cursor's own entry when it still exists: it was already seen.
    if (first && sd.journal_test_cursor(j, cursor.c_str()) > 0) {
      first = false;
      continue;
    }
    first = false;
    tail.entries.push_back(read_entry(sd, j));
  }
  tail.last_cursor = tail.entries.empty() ? cursor : tail.entries.back().cursor;
  return tail;
}

}  // namespace ltxguard::sys
