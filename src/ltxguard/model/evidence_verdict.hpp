// The evidence verdict: the incident's questions answered from measurements alone.
// Each answer is yes / no / unknown with the numbers that decided it, so an operator can
// check the reasoning by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ltxguard::model {

enum class Answer { yes, no, unknown };
[[nodiscard]] const char* to_string(Answer);  // "true", "false", "unknown"

// One filesystem as the verdict needs it; bytes as statvfs reports them.
struct VerdictFs {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;   // f_bfree: what a root process (Litestream as shipped) can still use
  uint64_t avail_bytes = 0;  // f_bavail: what a non-root application can still use
  bool known = false;
};

struct EvidenceInput {
  VerdictFs db_fs;                 // where the database and its WAL live
  VerdictFs staging_fs;            // where the meta dir lives (may be the same filesystem)
  bool same_filesystem = true;     // db_fs and staging_fs are one filesystem (st_dev)
  bool app_runs_as_root = false;   // then the app sees free_bytes, not avail_bytes
  uint32_t page_size_bytes = 0;    // 0 when the SQLite header could not be read
  uint64_t db_bytes = 0;
  uint64_t wal_bytes = 0;
  bool staging_found = false;      // a meta dir with Litestream files exists
  uint64_t staging_bytes = 0;      // last sample
  int64_t staging_growth_bytes = 0;     // last sample minus first sample
  int64_t staging_fs_consumed_bytes = 0;  // drop of free_bytes on the staging fs over the window
  double window_seconds = 0;
  // In-flight staging: the bytes an unfinished write still needs (expected final size of an
  // .ltx.tmp snapshot minus what is written), nullopt when nothing is in flight or unknown.
  bool in_flight = false;
  std::optional<uint64_t> remaining_staging_bytes;
  // Replica: true when a replica is known to be behind and not advancing (0.3 stuck replica).
  std::optional<bool> replica_stuck;
  uint64_t reserve_bytes = 0;      // the application's reserve on the DB filesystem
  // Logs: nullopt when no log could be read.
  std::optional<uint64_t> log_disk_full_lines;
  std::optional<uint64_t> log_error_lines;
};

struct EvidenceVerdict {
  Answer staging_is_driver = Answer::unknown;
  Answer staging_fits = Answer::unknown;
  Answer wal_blocked = Answer::unknown;
  Answer visible_in_logs = Answer::unknown;
  std::vector<std::string> reasons;  // one line per answer, numbers included, in that order
  // share of the used bytes on the staging filesystem that staging holds, in percent
  std::optional<uint64_t> staging_share_percent;
};

// Staging counts as the driver when it holds at least this share of the used bytes on its
// filesystem: at that point it is the largest single consumer next to the DB and its WAL.
inline constexpr uint64_t kDriverSharePercent = 25;
// While every replica is known to keep up, staging is transient and must dominate instead.
inline constexpr uint64_t kDriverShareWhenReplicatingPercent = 50;
// ... or when it accounts for at least this share of the bytes consumed while sampling
// (not counted while replicas keep up: 0.3 copies every WAL frame through staging).
inline constexpr uint64_t kDriverGrowthSharePercent = 50;
// Below this many bytes the app's WAL has no room for another commit of a few pages: SQLite
// writes whole frames (page + 24 bytes) and grows the -shm in 32 KiB steps.
inline constexpr uint64_t kWalMinRoomPages = 16;
inline constexpr uint64_t kWalMinRoomBytes = 1 << 20;

[[nodiscard]] EvidenceVerdict decide_evidence(const EvidenceInput& in);

}  // namespace ltxguard::model
