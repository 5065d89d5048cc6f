// The cleanup plan: every file of a database's Litestream meta dir (and the database, -wal and
// -shm) classed safe / review / do-not-touch, with its bytes and the reason, plus totals and
// the free space after applying each class. A pure function of measurements; docs/cleanup.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/formats/litestream_layout.hpp"
#include "ltxguard/formats/ltx.hpp"
#include "ltxguard/model/budget.hpp"

namespace ltxguard::model {

// Ordered by how much care a file needs: a class never moves down the list by accident.
enum class CleanupClass { safe, review, do_not_touch };
[[nodiscard]] const char* to_string(CleanupClass c);  // "safe", "review", "do-not-touch"

// Bytes of a header recorded in the evidence bundle before a file is removed: what Litestream
// wrote about the file, never page contents. LTX: the 100-byte header. 0.3 shadow WAL: the
// 32-byte SQLite WAL header. 0.3 .wal.tmp: the first 24-byte frame header (the temp file
// holds frames only, copyToShadowWAL in 0.3.13 db.go). 0 for anything else.
[[nodiscard]] size_t header_record_bytes(formats::StagingKind kind);

// One file found under the meta dir.
struct CleanupFileInput {
  std::string path;           // absolute
  std::string rel_path;       // relative to the meta dir
  formats::StagingName name;  // unknown for a name Litestream does not write
  bool regular = true;
  std::string type_name = "regular";  // "symlink", "fifo", ... for display
  uint64_t dev = 0, ino = 0, nlink = 1;
  uint32_t uid = 0;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;                // st_blocks × 512: what removing it gives back
  std::optional<formats::LtxState> ltx_state;  // LTX files that were inspected
  std::string ltx_reason;                      // why incomplete or corrupt
  // The header (header_record_bytes of it, or the whole file when shorter) was read through
  // the vetted meta dir and goes into the evidence bundle before anything is removed.
  bool header_recorded = false;
  std::vector<std::string> holders;  // "pid 42 (litestream)" for each process holding it open
};

// The database, -wal or -shm: listed so the plan says out loud that they are never touched.
struct DbFileInput {
  std::string role;  // "database", "wal", "shm"
  std::string path;
  bool exists = false;
  uint64_t dev = 0, ino = 0;
  uint64_t size_bytes = 0, allocated_bytes = 0;
};

// What this host can prove about one replica's position (collect/replica_state).
struct CleanupReplica {
  std::string name;
  bool known = false;
  std::string reason;                 // how it was measured, or why it is unknown
  std::string generation;             // 0.3: the generation the position is in
  std::optional<uint32_t> wal_index;  // 0.3: highest WAL index the replica holds
  std::optional<uint64_t> max_txid;   // 0.5: highest TXID the replica holds
};

// `litestream reset` (0.5): what the budget says about the full snapshot it forces.
struct ResetAssessment {
  Verdict verdict = Verdict::unknown;
  uint64_t snapshot_bytes = 0;         // projected full snapshot (~1× the database)
  std::vector<std::string> equations;  // the budget's equation per filesystem
};

struct CleanupInput {
  std::string db_path;
  std::string meta_path;
  std::vector<DbFileInput> db_files;  // database, wal, shm in that order
  bool meta_exists = false;
  uint64_t meta_dev = 0;
  uint32_t meta_uid = 0;
  formats::Layout layout = formats::Layout::none;
  bool mixed_layouts = false;      // 0.3 generations next to a 0.5 ltx/ tree
  std::string current_generation;  // 0.3
  std::vector<CleanupFileInput> files;
  std::vector<CleanupReplica> replicas;
  // Litestream processes running for this database ("pid 42 (litestream replicate …)");
  // empty = stopped.
  std::vector<std::string> litestream_running;
  bool scan_complete = true;  // the meta dir walk saw everything (no errors, not truncated)
  std::optional<uint64_t> meta_fs_avail_bytes;  // f_bavail of the meta dir's filesystem
  std::string meta_fs_mount;
  bool meta_on_db_fs = true;
  std::optional<ResetAssessment> reset;  // 0.5 layout only: set by the caller from the budget
};

struct CleanupItem {
  std::string path;      // absolute; for the reset entry the command to run
  std::string rel_path;  // relative to the meta dir; "" for the database files and the reset entry
  std::string kind;      // formats::to_string(StagingKind), "database", "wal", "shm", "action"
  CleanupClass cls = CleanupClass::do_not_touch;
  // The class once Litestream is stopped, when Litestream running is what forces do-not-touch.
  std::optional<CleanupClass> class_if_stopped;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;
  std::string reason;
  // A file `cleanup --apply` may act on (safe, or review with --include-review): a regular
  // file under the meta dir. Never the database files, never the reset entry.
  bool removable = false;
  uint64_t dev = 0, ino = 0;  // identity the removal re-checks (with size_bytes)
  size_t header_bytes = 0;    // header_record_bytes of its kind
};

struct ClassTotals {
  uint64_t files = 0;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;
};

struct CleanupPlan {
  std::vector<CleanupItem> items;          // database files first, then the meta dir in walk order,
                                           // the reset entry last
  ClassTotals safe, review, do_not_touch;  // files only (the reset entry is not a file)
  ClassTotals safe_if_stopped;             // what would be safe once Litestream is stopped
  bool litestream_running = false;
  // Free space on the meta dir's filesystem now and after removing each class (cumulative);
  // nullopt when the filesystem was not measured.
  std::optional<uint64_t> avail_now_bytes, avail_after_safe_bytes, avail_after_review_bytes;
  std::vector<std::string> notes;
};

// Classes every file. Rules, first match wins (docs/cleanup.md gives the why of each):
// do-not-touch: the database, -wal, -shm (also when found inside the meta dir); anything not
//   a regular file; on another filesystem; a name Litestream does not write; more than one
//   hard link; owned by neither the meta dir's owner nor root; open in a process; the 0.3
//   `generation` pointer; replica-layout files; and every file while Litestream runs.
// safe: incomplete staging (.ltx.tmp, .wal.tmp, a final-named LTX whose tail is missing)
//   whose header is recorded; a 0.3 shadow WAL segment of the current generation whose index
//   is below every replica's proven WAL index in that generation.
// review: everything else of Litestream's: complete or corrupt LTX files, shadow WAL not
//   proven on every replica, other generations, incomplete staging whose header could not be
//   read (the only local evidence of the failed sync), and for a 0.5 layout the
//   `litestream reset` entry with its budget.
[[nodiscard]] CleanupPlan plan_cleanup(const CleanupInput& in);

// The budget input as it will be once staging is removed from db_path's meta dir:
// `freed_bytes` (allocated) come back on the meta dir's filesystem and `staged_bytes` leave
// what is staged now. `reset` models `litestream reset`: every local LTX file goes, nothing
// is owed to the replicas any more, and a 0.5 full snapshot follows. A database not in the
// input leaves it unchanged.
struct StagingRemoval {
  uint64_t freed_bytes = 0;
  uint64_t staged_bytes = 0;
  bool in_flight_snapshot_removed = false;
  bool reset = false;
};
[[nodiscard]] BudgetInput budget_input_after_removal(const BudgetInput& in,
                                                     const std::string& db_path,
                                                     const StagingRemoval& removal);

}  // namespace ltxguard::model
