// One Litestream log line, classified: the start-up version, sync errors (and which of them
// mean a full disk), 0.5's disk-full and temp-cleanup lines, replica errors, and 0.3's
// per-segment upload pair. Reads 0.3.12+/0.5 slog text, slog JSON, a journal MESSAGE (the
// same text) and the unstructured lines of 0.3.11 and older.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ltxguard::formats {

enum class LogSignature {
  none,
  startup_version,      // msg=litestream version=…
  sync_error_no_space,  // msg="sync error" whose error is ENOSPC/EDQUOT (0.3 shadow WAL, 0.5
                        // ≤0.5.14 LTX)
  disk_full_staging,    // 0.5.15+: "disk full while staging ltx file, replication paused …"
  temp_file_cleanup,    // 0.5.6+: "attempting temp file cleanup due to persistent disk errors"
  sync_error,           // msg="sync error", any other cause
  replica_error,        // ERROR from a replica goroutine (monitor/retainer/snapshotter/validation)
  write_wal_segment,    // 0.3: upload of a WAL segment started
  wal_segment_written,  // 0.3: that upload finished
  sync_recovered,  // 0.5.6+: "sync recovered" previous_errors=N, the first good sync after errors
};

struct LogLine {
  LogSignature signature = LogSignature::none;
  std::string level;  // "ERROR", "WARN", "INFO", "DEBUG", "TRACE" or "" (unstructured line)
  std::string msg;
  std::string db;       // the `db` attribute: a full path on 0.3, the base name on 0.5
  std::string version;  // for startup_version
  std::string error;
  std::string time;      // the `time` attribute as written, "" when absent
  std::string replica;   // the `replica` attribute (0.3: replica name; 0.5: client type)
  std::string position;  // 0.3 `position` (generation/index:offset) on segment lines
  std::string path;      // the `path` attribute (0.5 disk-full: the .ltx.tmp being staged)
  std::optional<uint64_t> consecutive_errors;  // 0.5.6+ sync error lines
};

// Classifies one line (trailing CR/LF ignored). For the start-up line the level is the
// record's own (0.5 adds a second `level` attribute holding the configured log level; the
// first one wins, in text and in JSON). A syslog-style prefix before `time=`,
// `level=` or a JSON object is skipped. Never throws; anything unrecognised is
// signature none with whatever fields could be read.
[[nodiscard]] LogLine classify_log_line(std::string_view line);

// True for sync_error_no_space, disk_full_staging, and any ERROR line whose error or
// message says "no space left on device" or "disk quota exceeded".
[[nodiscard]] bool is_disk_full(const LogLine& line);

struct LogCounts {
  uint64_t lines = 0;
  uint64_t errors = 0;           // ERROR lines, plus error signatures on unstructured lines
  uint64_t disk_full_lines = 0;  // is_disk_full()
  uint64_t temp_file_cleanup = 0;
  uint64_t sync_errors = 0;  // sync_error, sync_error_no_space and disk_full_staging
  std::string version;       // from the last start-up line seen
};

void count_log_line(LogCounts& counts, const LogLine& line);

}  // namespace ltxguard::formats
