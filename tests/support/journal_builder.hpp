// Builds a real systemd journal file for tests: entries in journal export format, converted
// by systemd-journal-remote (no running journald or systemd needed).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::testing {

inline constexpr const char* kJournalRemoteBin = "/lib/systemd/systemd-journal-remote";

// One entry: (FIELD, value) pairs in order. Values with a newline or a control byte are written
// in the binary export encoding, so MESSAGE may be arbitrary bytes.
using JournalFields = std::vector<std::pair<std::string, std::string>>;

// A typical service entry: __REALTIME_TIMESTAMP, _SYSTEMD_UNIT, _PID, PRIORITY, MESSAGE.
[[nodiscard]] JournalFields journal_entry(const std::string& unit, const std::string& message,
                                          int64_t realtime_usec, int priority = 6, int pid = 4242);

// Writes dir/<name>.export and converts it into dir/<name>.journal; returns the journal path.
// Errors: not_found when systemd-journal-remote is not installed (scripts/setup installs it),
// io when the conversion fails (with its stderr).
[[nodiscard]] util::Result<std::string> build_journal(const std::string& dir,
                                                      const std::vector<JournalFields>& entries,
                                                      const std::string& name = "test");

}  // namespace ltxguard::testing
