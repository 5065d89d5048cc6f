// The staging budget: per filesystem, will Litestream's local staging (plus the app WAL growth
// it causes) fit while leaving the app its reserve? A pure function of measurements and
// policy; every decision in integer bytes, shown as an equation a person can check by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/formats/policy.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::model {

// Litestream's emergency truncate threshold, DefaultTruncatePageN (0.5 db.go): the WAL size in
// pages past which Litestream forces a TRUNCATE checkpoint, so the most WAL an app legitimately
// needs room for (~474 MiB at 4 KiB pages). Used for the default app WAL headroom.
inline constexpr uint64_t kTruncatePageN = 121359;
// Default reserve: 5 % of the filesystem, the share ext4 keeps for root by default; operators
// already read "5 % free" as the line a disk must not cross.
inline constexpr uint32_t kDefaultReservePpm = 50'000;
// The default app WAL headroom is capped at 10 % of the filesystem, so a small disk is not
// declared unusable by a headroom sized for a large one.
inline constexpr uint32_t kHeadroomCapPpm = 100'000;
// Default warn_at: 5 % of the filesystem above the reserve. Our estimates (overhead ratio, WAL
// growth from a rate) are a few percent of the database; one reserve-width of margin absorbs
// them. Default critical_at: 0, i.e. the reserve itself is the critical line.
inline constexpr uint32_t kDefaultWarnAtPpm = 50'000;
// Worst-case LTX bytes per page beyond the page itself, for incompressible pages, when neither
// the policy ratio nor the LTX module's bound is given: page header 6 + u32 block size 4 +
// LZ4 worst-case block growth (LZ4_compressBound: n/255 + 16) + page index entry (varints:
// pgno ≤ 5, offset ≤ 10, size ≤ 3 = 18). The v3-frame encoding (6 + 19 frame bytes + 18) is
// below this. 4 KiB pages: 60 bytes, ×1.0147. Plus a fixed header, end marker and trailer.
inline constexpr uint64_t kLtxPageOverheadBytes = 6 + 4 + 16 + 18;  // + page_size / 255
inline constexpr uint64_t kLtxFixedBytes =
    100 + 6 + 1 + 8 + 16;  // header, end, index end, len, trailer
// Files and directories a database's staging creates (meta dir, level dirs, the snapshot or
// segment and its .tmp): staging fails with ENOSPC on a filesystem without this many inodes.
inline constexpr uint64_t kStagingInodesPerDatabase = 8;
// Below 1 % of its inodes a filesystem is warned about even when staging itself fits.
inline constexpr uint32_t kInodeWarnPpm = 10'000;

// Which staging layout the budget models. 0.3 streams snapshots and stages the shadow WAL;
// 0.5 stages a whole-database LTX snapshot before uploading it.
enum class LitestreamModel { v0_3, v0_5, unknown };

struct FilesystemInput {
  uint64_t dev = 0;           // st_dev; the key databases refer to
  std::string mount;          // for people
  uint64_t total_bytes = 0;   // f_blocks × f_frsize
  uint64_t free_bytes = 0;    // f_bfree × f_frsize: what root can use
  uint64_t avail_bytes = 0;   // f_bavail × f_frsize: what other users can use
  uint64_t inodes_total = 0;  // f_files; 0 = the filesystem does not count inodes (btrfs)
  uint64_t inodes_free = 0;   // f_ffree (root)
  uint64_t inodes_avail = 0;  // f_favail (other users)
  std::optional<uint64_t> write_bytes_per_second;  // measured sustained write throughput
};

struct DatabaseInput {
  std::string db_path;
  bool header_valid = false;  // page size and count below come from a valid SQLite header
  uint32_t page_size_bytes = 0;
  uint64_t page_count = 0;
  uint64_t wal_bytes = 0;    // size of <db>-wal now (it lives next to the DB: db_fs_dev)
  uint64_t db_fs_dev = 0;    // filesystem of the DB and its WAL: the app reserve is charged here
  uint64_t meta_fs_dev = 0;  // filesystem of the meta dir (meta-path): staging lands here
  LitestreamModel model = LitestreamModel::unknown;
  std::string model_reason;       // e.g. "detected v0.5.12", "--litestream-version 0.3.13"
  uint64_t staged_bytes_now = 0;  // bytes under the meta dir now (already counted as used)
  // Bytes of an in-flight 0.5 snapshot (.ltx.tmp) already on disk: the projection charges
  // only the rest. 0 when none.
  uint64_t snapshot_in_flight_bytes = 0;
  // Staged bytes not yet uploaded to every replica; nullopt = replica state not measured.
  // Already on disk (inside staged_bytes_now): shown, never charged twice.
  std::optional<uint64_t> replica_backlog_bytes;
  std::vector<uint64_t> file_replica_fs_devs;  // each `file` replica gets a full copy there
  std::optional<uint64_t> snapshot_max_bytes;  // LTX module's worst-case snapshot size, if known
  std::optional<uint64_t> app_write_bytes_per_second;  // measured from the WAL, if known
};

struct BudgetInput {
  std::vector<FilesystemInput> filesystems;
  std::vector<DatabaseInput> databases;
  formats::Policy policy;
  bool app_runs_as_root = false;        // then the app sees f_bfree, not f_bavail
  bool litestream_runs_as_root = true;  // the shipped unit has no User=
};

// Ordered by severity for combining: ok < warning < unknown < critical. Unknown beats warning
// (we cannot say it fits) but not critical (missing terms only add cost, so a known deficit
// stays a deficit).
enum class Verdict { ok, warning, unknown, critical };

// One subtracted amount (a credit when bytes < 0, shown as "+").
struct BudgetTerm {
  std::string label;   // "projected staging"
  int64_t bytes = 0;   // saturated at INT64_MAX
  std::string detail;  // in the equation's parentheses: "db 20.4 GiB × 1.03"; may be empty
  std::string reason;  // why this amount, for the long output: sources and fallbacks
};

struct FilesystemBudget {
  std::string mount;
  uint64_t dev = 0;
  int64_t available_bytes = 0;     // from the app's perspective (f_bavail, or f_bfree as root)
  std::vector<BudgetTerm> terms;   // staging, replica copies, WAL growth, reserve, in order
  int64_t reserve_bytes = 0;       // the reserve term (0 on a filesystem without a database)
  int64_t staging_bytes = 0;       // new staging bytes charged here (cap and advice use it)
  int64_t staging_peak_bytes = 0;  // staged now + new staging: what max_staging_bytes caps
  int64_t headroom_bytes = 0;      // available − Σ terms
  Verdict verdict = Verdict::ok;
  // "available 20.0 GiB − projected staging 21.0 GiB (db 20.4 GiB × 1.03) − reserve 2.0 GiB =
  // −3.0 GiB → CRITICAL: initial sync cannot fit". Zero terms are left out of it.
  std::string equation;
  std::vector<std::string> notes;  // cap and inode checks, root reserve, model used, fallbacks
};

struct BudgetResult {
  Verdict verdict = Verdict::ok;
  std::vector<FilesystemBudget> filesystems;  // those a database, meta dir or replica uses
  std::vector<std::string> advice;    // what to do, most useful first; never "lower the reserve"
  std::vector<std::string> unknowns;  // what could not be measured, one line each
};

// Fails (invalid_input, "<source>:<line>: <key>: ...") only when the policy cannot hold on the
// measured filesystems: a reserve, headroom, min_free or threshold larger than the filesystem,
// or critical_at above warn_at once percentages are resolved. Missing measurements are not
// errors: they make the verdict unknown, with the reason in `unknowns`, and everything that
// can be computed is still computed. Never adds bytes of different filesystems together.
[[nodiscard]] util::Result<BudgetResult> compute_budget(const BudgetInput& input);

// The room one database's WAL needs while Litestream blocks checkpoints: policy
// app_wal_headroom_bytes, else min(kTruncatePageN pages, 10 % of the filesystem); the 10 %
// alone when the page size is unknown (0).
[[nodiscard]] uint64_t app_wal_headroom_bytes(uint64_t filesystem_total_bytes, uint32_t page_size_bytes,
                                              const formats::Policy& policy);

[[nodiscard]] int exit_code(Verdict v);                  // ok 0, warning 1, critical 2, unknown 3
[[nodiscard]] const char* to_string(Verdict v);          // "ok", "warning", "critical", "unknown"
[[nodiscard]] const char* to_string(LitestreamModel m);  // "0.3", "0.5", "unknown"

// Worst-case bytes of a 0.5 full-database LTX snapshot of page_count pages, from
// kLtxPageOverheadBytes; saturates at UINT64_MAX.
[[nodiscard]] uint64_t ltx_snapshot_worst_case_bytes(uint64_t page_count, uint32_t page_size_bytes);

}  // namespace ltxguard::model
