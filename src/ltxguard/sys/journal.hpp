// Reads a unit's entries from the systemd journal (sd-journal): the system journal, a journal
// directory, or one journal file copied off a host. Read-only; no running journald needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

struct JournalSource {
  enum class Kind { system, directory, file } kind = Kind::system;
  std::string path;  // the directory or file; unused for system
  // "litestream" matches litestream.service; a name with a dot is used as is; empty = all.
  std::string unit;
};

struct JournalEntry {
  int64_t realtime_usec = 0;
  int priority = -1;  // syslog 0 (emerg) .. 7 (debug); -1 when absent or malformed
  int pid = 0;        // _PID; 1 for systemd's own messages about the unit
  // The unit the entry is about: _SYSTEMD_UNIT, or UNIT= for systemd's messages about it
  // ("Main process exited", "Scheduled restart job").
  std::string unit;
  // Raw bytes of MESSAGE, at most kMaxJournalMessageBytes: may be binary or invalid UTF-8,
  // and may hold newlines (Go panics). Writers must escape it.
  std::string message;
  std::string cursor;
};

inline constexpr size_t kMaxJournalMessageBytes = 16 * 1024;

struct JournalTail {
  bool available = false;
  std::string why_unavailable;        // e.g. "no journal files in /var/log/journal"
  std::vector<JournalEntry> entries;  // oldest first
  // Where the next read_journal_since continues: the newest entry returned, else the cursor
  // passed in, else the end of the journal (all units). Empty only for an empty journal.
  std::string last_cursor;
};

// The last max_entries entries of the unit, oldest first. The unit matches entries it wrote
// (_SYSTEMD_UNIT) and systemd's messages about it (_PID=1 with UNIT=), like `journalctl -u`.
// No journal, or no readable journal files, is available=false with the reason, not an error;
// for the system journal, empty or absent /var/log/journal and /run/log/journal say so without
// loading libsystemd.
// Errors: not_found (with the path) for a missing directory/file source, invalid_input for a
// path that is not a directory/regular file or a file that is not a journal, io "libsystemd not
// available: <dlerror text>" when libsystemd cannot be loaded (the first read loads it).
[[nodiscard]] util::Result<JournalTail> read_journal_tail(const JournalSource& source,
                                                          size_t max_entries);

// Entries of the unit after `cursor`, oldest first, at most max_entries (call again with
// last_cursor for the rest). An empty cursor returns no entries and sets last_cursor to the
// end of the journal, so the next call sees only what is written after this one. A cursor whose
// entry was vacuumed continues from the nearest later entry.
// Errors: as read_journal_tail, plus invalid_input for a cursor that does not parse.
[[nodiscard]] util::Result<JournalTail> read_journal_since(const JournalSource& source,
                                                           const std::string& cursor,
                                                           size_t max_entries);

}  // namespace ltxguard::sys
