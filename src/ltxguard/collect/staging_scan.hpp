// A scan of one Litestream meta dir: every file, classed by layout (0.3 shadow WAL, 0.5
// LTX), sized by stat, LTX files checked header-and-tail. Read-only; never follows a
// symlink and never leaves the meta dir.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/formats/byte_source.hpp"
#include "ltxguard/formats/litestream_layout.hpp"
#include "ltxguard/formats/ltx.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::collect {

struct StagingFile {
  std::string path;      // absolute
  std::string rel_path;  // relative to the meta dir
  formats::StagingName name;
  sys::FileStat stat;
  std::optional<formats::LtxInspection> ltx;  // for ltx / ltx_tmp files when inspected
};

struct StagingScan {
  std::string meta_path;
  bool exists = false;
  uint64_t dev = 0;  // st_dev of the meta dir
  formats::Layout layout = formats::Layout::none;
  bool mixed_layouts = false;   // 0.3 generations left next to a 0.5 ltx/ tree (an upgrade)
  uint64_t total_bytes = 0;     // sum of st_size of regular files
  uint64_t allocated_bytes = 0; // sum of st_blocks*512: what the disk really lost
  uint64_t in_flight_bytes = 0; // *.ltx.tmp and *.wal.tmp
  uint64_t file_count = 0;
  uint64_t unknown_count = 0;   // files that match neither layout
  uint64_t ltx_count = 0;       // final *.ltx files, any level: a 0.5 snapshot exists
  std::vector<StagingFile> files;  // regular files and oddities (symlinks, fifos) alike
  bool truncated = false;
  std::vector<util::Error> errors;
};

using ByteSourceOpener =
    std::function<util::Result<std::unique_ptr<formats::ByteSource>>(const std::string& path)>;

struct ScanOptions {
  size_t max_entries = 2'000'000;
  int max_depth = 6;  // deepest legit path is generations/<gen>/wal/<file>
  bool inspect_ltx = true;
  bool inspect_in_flight_only = false;  // the watcher: only *.ltx.tmp needs its header each tick
  formats::LtxDepth ltx_depth = formats::LtxDepth::header_and_tail;
  ByteSourceOpener open_bytes;  // defaults to sys::FileByteSource
};

// A missing meta dir is exists=false, not an error. Errors inside the walk are collected.
[[nodiscard]] StagingScan scan_staging(const sys::FileSystem& fs, const std::string& meta_path,
                                       const ScanOptions& opts = {});

// scan_staging's layout alone, without a record per file or LTX reads: what a caller that
// only picks a Litestream model needs (one walk, memory bounded by one directory's names).
[[nodiscard]] formats::Layout staging_layout(const sys::FileSystem& fs,
                                             const std::string& meta_path,
                                             const ScanOptions& opts = {});

// Bytes only (no classification, no LTX reads): the cheap per-sample measurement.
[[nodiscard]] uint64_t staging_bytes(const sys::FileSystem& fs, const std::string& meta_path);

// A full walk every this many StagingTracker updates even when the change feed reports
// nothing: a bound on how long anything a feed cannot see (a filesystem mounted inside the
// meta dir later, say) stays unseen. Ten minutes at the watcher's 1 s.
inline constexpr uint64_t kStagingRewalkUpdates = 600;

// scan_staging kept current from sample to sample, for the watcher: one walk, then only the
// entries the filesystem's change feed (inotify) names are lstat'ed again, so an update of a
// quiet tree of 10,000 files costs a few syscalls and no per-file allocation. Every update
// walks again when there is no feed (fakes, inotify unavailable), when the feed lost track,
// when the meta dir appeared, vanished or was replaced, and every kStagingRewalkUpdates.
// Counters and in-flight files are exactly what scan_staging would give at that moment.
// Keeps a compact record per file (name, type, size, allocated, mtime, class), ~64 bytes.
class StagingTracker {
 public:
  // opts as scan_staging's, except that only in-flight files are ever inspected
  // (inspect_in_flight_only is implied).
  StagingTracker(const sys::FileSystem& fs, std::string meta_path, ScanOptions opts = {});
  StagingTracker(const StagingTracker&) = delete;
  StagingTracker& operator=(const StagingTracker&) = delete;
  ~StagingTracker();

  // Brings the view up to date. The scan's counters, layout, exists, dev, truncated and errors
  // are scan_staging's; its files hold only the in-flight ones (*.ltx.tmp, *.wal.tmp), LTX ones
  // inspected. Valid until the next update.
  [[nodiscard]] const StagingScan& update();
  // Every file of the last update as scan_staging lists them (same order), for callers that
  // need each file's size (replica backlog). One record per file: call only when needed. The
  // records' stat carries type, size_bytes, allocated_bytes, mtime_ns and the meta dir's dev;
  // only in-flight files carry an LTX inspection.
  [[nodiscard]] StagingScan full_scan() const;
  // Full walks so far.
  [[nodiscard]] uint64_t walks() const { return walks_; }

 private:
  struct Entry {
    std::string name;
    uint64_t size_bytes = 0;
    uint64_t allocated_bytes = 0;
    int64_t mtime_ns = 0;
    sys::FileType type = sys::FileType::unknown;
    formats::StagingKind kind = formats::StagingKind::unknown;
    formats::Layout layout = formats::Layout::none;
  };
  using Dir = std::vector<Entry>;  // sorted by name

  void forget();
  void rewalk();
  void apply(const std::vector<std::string>& rel_paths);
  void put(std::string_view rel_path, const sys::FileStat& st);
  void recount();
  [[nodiscard]] StagingFile record(const std::string& dir, const Entry& e) const;

  const sys::FileSystem& fs_;
  std::string meta_path_;
  ScanOptions opts_;
  std::unique_ptr<sys::TreeWatch> watch_;
  // Directory relative to the meta dir ("" for itself) -> its entries that are not directories.
  std::map<std::string, Dir, std::less<>> dirs_;
  bool known_ = false;  // dirs_ reflects a walk of the current meta dir
  uint64_t root_ino_ = 0, root_dev_ = 0;
  uint64_t entries_ = 0;  // as the walk counts them, directories included
  uint64_t updates_since_walk_ = 0;
  uint64_t walks_ = 0;
  bool walk_truncated_ = false;
  std::vector<util::Error> walk_errors_;
  StagingScan scan_;
};

// For an in-flight snapshot (.ltx.tmp with a readable header): the bytes the write still
// needs to reach its worst-case final size. nullopt when unknown.
[[nodiscard]] std::optional<uint64_t> remaining_staging_bytes(const StagingScan& scan);

}  // namespace ltxguard::collect
