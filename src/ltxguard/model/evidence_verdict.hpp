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
  uint64_t wal_bytes = 0;          // last sample
  int64_t wal_growth_bytes = 0;    // last sample minus first sample
  // A Litestream process replicating this database is running; nullopt when the process
  // list could not be read.
  std::optional<bool> litestream_running_for_db;
  bool staging_found = false;      // a meta dir with Litestream files exists
  uint64_t staging_bytes = 0;      // last sample
  int64_t staging_growth_bytes = 0;     // last sample minus first sample
  int64_t staging_fs_consumed_bytes = 0;  // drop of free_bytes on the staging fs over the window
  double window_seconds = 0;
  // In-flight staging: the bytes an unfinished write still needs (expected final size of an
  // .ltx.tmp snapshot minus what is written), nullopt when nothing is in flight or unknown.
  bool in_flight = false;
  std::optional<uint64_t> remaining_staging_bytes;
  // Replica: true when a replica is known to be behind and not advancing (0.3 stuck replica,
  // a metrics gap that does not close, replica errors in the log); false when every replica
  // with a known position advances; nullopt when no position is known.
  std::optional<bool> replica_stuck;
  // A replica known to be behind though not proven stuck: nothing uploaded yet, or a metrics
  // gap seen once. Replicas keep up only when replica_stuck is false and this is not set.
  bool replica_behind = false;
  std::string replica_detail;  // the evidence behind stuck/behind, e.g. "s3: gap 2, not closing"
  uint64_t reserve_bytes = 0;      // the application's reserve on the DB filesystem
  // Logs: nullopt when no log could be read.
  std::optional<uint64_t> log_disk_full_lines;
  std::optional<uint64_t> log_error_lines;
};

// Which rule made staging_is_driver true: staging's share of its filesystem, Litestream's
// share of the database's filesystem with the WAL it pins, or the growth while sampled.
enum class DriverRule { none, staging_share, pinned_wal, growth };

struct EvidenceVerdict {
  Answer staging_is_driver = Answer::unknown;
  DriverRule driver_rule = DriverRule::none;
  Answer staging_fits = Answer::unknown;
  Answer wal_blocked = Answer::unknown;
  Answer visible_in_logs = Answer::unknown;
  std::vector<std::string> reasons;  // one line per answer, numbers included, in that order
  // share of the used bytes on the staging filesystem that staging holds, in percent
  std::optional<uint64_t> staging_share_percent;
  // App WAL bytes beyond what checkpoints keep it at, counted against Litestream because its
  // read transaction pins them (see wal_pinned_bytes()); 0 when not counted.
  uint64_t pinned_wal_bytes = 0;
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
// SQLite's default auto-checkpoint and Litestream's own checkpoint threshold: a WAL nobody
// pins is reset after about this many frames, so its file stays near this size.
inline constexpr uint64_t kWalCheckpointPages = 1000;

// The WAL file size checkpoints keep it at: header + kWalCheckpointPages frames; 0 when the
// page size is unknown.
[[nodiscard]] uint64_t wal_checkpoint_bytes(uint32_t page_size_bytes);

// App WAL bytes Litestream's read transaction pins: only when a Litestream for this database
// runs and the application cannot commit (no room for its WAL), the WAL bytes beyond
// wal_checkpoint_bytes. An unpinned WAL would be checkpointed and reused in place instead of
// needing new room; Litestream holds its read transaction for as long as it runs (0.5
// releases it only around its own checkpoints), so it is the reader that pins it.
[[nodiscard]] uint64_t wal_pinned_bytes(const EvidenceInput& in);
// WAL growth over the window past wal_checkpoint_bytes while a Litestream for this database
// runs: growth a checkpoint would have made unnecessary (as `ltxguard run` counts it).
[[nodiscard]] uint64_t wal_pinned_growth_bytes(const EvidenceInput& in);

[[nodiscard]] EvidenceVerdict decide_evidence(const EvidenceInput& in);

}  // namespace ltxguard::model
