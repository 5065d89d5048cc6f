// The record file `ltxguard watch --record` (and `ltxguard run`) appends to: one JSON object
// per line and sample, as cmd/watch.cpp's record_line() writes it. Parsed into one time series
// per database plus the events, for `ltxguard report`. Pure: text in, structs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ltxguard::formats {

// The file is hostile input: every limit below bounds memory whatever it holds.
struct WatchRecordLimits {
  size_t max_line_bytes = 1 << 20;  // a longer line is skipped whole (lines_too_long)
  // Later samples are counted, not kept: a week of 1 s samples fits (~140 B per database).
  size_t max_samples = 1'000'000;
  size_t max_databases = 64;       // points of further databases are dropped (db_points_dropped)
  size_t max_events = 100'000;     // later events are counted (events_dropped)
  size_t max_string_bytes = 4096;  // each kept string is cut to this, at a UTF-8 boundary
  // Total bytes of reasons and event messages kept; once spent, they are kept empty
  // (strings_emptied) so a record of ever-changing reasons cannot exhaust memory.
  size_t max_text_bytes = 64 << 20;
};

// The watch states (model::WatchState, which formats/ cannot see) plus `unknown` for a state
// name this version does not know. Ordered by severity; unknown sorts lowest.
enum class RecordState : uint8_t { unknown, ok, warning, critical, wedged };
[[nodiscard]] std::string_view to_string(RecordState s);  // "unknown", "ok", ... "wedged"

// One filesystem in one sample, for one database.
struct RecordFsValues {
  uint64_t dev = 0;
  uint64_t avail_bytes = 0;    // f_bavail: what the app sees unless it runs as root
  uint64_t free_bytes = 0;     // f_bfree
  uint64_t reserve_bytes = 0;  // the app reserve the watcher enforced there
  // remaining_staging_bytes summed over every database of the sample staging on this
  // filesystem: the third term of the watcher's headroom there.
  uint64_t charge_bytes = 0;
};

// One database in one sample.
struct RecordPoint {
  int64_t time_ms = 0;  // wall clock, ms since the epoch, 0 to 2^42 (else the line is malformed)
  // The database's filesystem and the one its staging lands on (equal when shared);
  // nullopt when the sample has no filesystem entry with that dev.
  std::optional<RecordFsValues> db_fs;
  std::optional<RecordFsValues> staging_fs;
  uint64_t wal_bytes = 0;
  uint64_t staging_bytes = 0;
  uint64_t remaining_staging_bytes = 0;
  int64_t headroom_bytes = 0;
  std::optional<double> seconds_to_reserve_breach;
  uint64_t disk_full_events_total = 0;
  RecordState state = RecordState::unknown;
  bool stop_recommended = false;
};

// Consecutive points of one database in one state; `reason` is the one recorded with the
// run's first point, i.e. why the state was entered. Reasons of later points are not kept.
struct StateRun {
  size_t first_point = 0;
  RecordState state = RecordState::unknown;
  std::string reason;
};

struct RecordDb {
  std::string path;
  std::vector<RecordPoint> points;  // in time order
  std::vector<StateRun> runs;
};

struct RecordEvent {
  int64_t time_ms = 0;  // of the sample that carried it
  std::string kind;     // "state_change", "disk_full", "protective_stop", ... verbatim, cut to 64 B
  std::string db;       // "" when it concerns no single database
  std::string message;
};

struct RecordFilesystem {
  uint64_t dev = 0;
  std::string mount;         // as first seen
  uint64_t total_bytes = 0;  // as last seen
};

struct WatchRecord {
  std::vector<RecordFilesystem> filesystems;    // distinct by dev, at most max_databases * 2
  std::vector<RecordDb> databases;              // in order of first appearance
  std::vector<RecordEvent> events;              // in time order
  size_t samples = 0;                           // valid lines kept
  int64_t first_time_ms = 0, last_time_ms = 0;  // of the kept samples
  size_t lines = 0;                             // non-blank lines seen
  size_t lines_malformed = 0;                   // not JSON or not a record line
  size_t lines_too_long = 0;
  size_t samples_out_of_order = 0;  // older than the sample before: skipped
  size_t samples_dropped = 0;       // beyond max_samples
  size_t db_points_dropped = 0;     // of databases beyond max_databases
  size_t events_dropped = 0;
  size_t strings_emptied = 0;  // reasons/messages over max_text_bytes
  // The first few problems, "line 3: databases[0].state is not a string", for the user.
  std::vector<std::string> problems;
};

// Feeds the file in chunks of any size (lines end at '\n'; a trailing '\r' is ignored), so a
// caller can stream a large file through bounded memory: the parser buffers at most one line
// of max_line_bytes. A line is a sample when it is a JSON object with an integer time_ms, a
// databases array whose entries have the fields record_line() writes, and optional
// filesystems and events arrays; unknown fields are ignored, unknown state names and event
// kinds are kept. Anything else counts as malformed and is skipped; blank lines are ignored.
class WatchRecordParser {
 public:
  explicit WatchRecordParser(WatchRecordLimits limits = {});

  void feed(std::string_view bytes);
  // Parses a last line that has no '\n' (a record cut mid-write is one malformed line) and
  // returns the result; the parser is left empty.
  [[nodiscard]] WatchRecord finish();

 private:
  void add_line(std::string_view line);
  std::string keep_text(std::string_view s);
  void problem(std::string what);

  WatchRecordLimits limits_;
  WatchRecord rec_;
  std::string partial_;    // the current line so far
  bool skipping_ = false;  // the current line is already too long
  size_t line_no_ = 0;     // 1-based number of the line being read
  size_t text_bytes_ = 0;
};

// Convenience over WatchRecordParser for a whole file in memory.
[[nodiscard]] WatchRecord parse_watch_record(std::string_view text, WatchRecordLimits limits = {});

}  // namespace ltxguard::formats
