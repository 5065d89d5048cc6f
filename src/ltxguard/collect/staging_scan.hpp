// A scan of one Litestream meta dir: every file, classed by layout (0.3 shadow WAL, 0.5
// LTX), sized by stat, LTX files checked header-and-tail. Read-only; never follows a
// symlink and never leaves the meta dir.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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

// Bytes only (no classification, no LTX reads): the cheap per-sample measurement.
[[nodiscard]] uint64_t staging_bytes(const sys::FileSystem& fs, const std::string& meta_path);

// For an in-flight snapshot (.ltx.tmp with a readable header): the bytes the write still
// needs to reach its worst-case final size. nullopt when unknown.
[[nodiscard]] std::optional<uint64_t> remaining_staging_bytes(const StagingScan& scan);

}  // namespace ltxguard::collect
