// One observation of the host by the watcher, as plain data: what the sampler measured at
// time_ms. The watch model (attribution, forecast, wedge, state machine) is a pure function
// of a sequence of these, so recorded sequences drive its tests and `--record` replays.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/model/budget.hpp"  // LitestreamModel

namespace ltxguard::model {

struct FsSample {
  uint64_t dev = 0;
  std::string mount;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;   // f_bfree (root's view)
  uint64_t avail_bytes = 0;  // f_bavail (non-root view)
  uint64_t inodes_free = 0;
};

struct InFlightFile {
  std::string rel_path;                       // relative to the meta dir
  uint64_t bytes = 0;                         // st_size now
  std::optional<uint64_t> expected_final_bytes;  // snapshot LTX: worst-case final size from its header
};

struct DbSample {
  std::string db_path;
  uint64_t db_fs_dev = 0;
  uint64_t staging_fs_dev = 0;
  uint32_t page_size_bytes = 0;
  uint64_t page_count = 0;
  uint64_t wal_bytes = 0;
  uint64_t staging_bytes = 0;            // everything under the meta dir
  std::vector<InFlightFile> in_flight;   // *.ltx.tmp / *.wal.tmp
  // A full snapshot's worst case (0.5 model). Set it only while a full snapshot is pending (no
  // complete snapshot staged yet): the watch model then charges it as a staging write still to
  // come, less the largest in-flight file when no in-flight file has its own expected size.
  std::optional<uint64_t> projected_snapshot_bytes;
  // Which layout the meta dir shows (0.3 generations/, 0.5 ltx/0/). The watch model's stuck-
  // replica wedge is a 0.3 rule: 0.5 stages a whole snapshot before uploading it, so a long
  // upload with a growing backlog is normal there.
  LitestreamModel litestream_model = LitestreamModel::unknown;
  std::optional<bool> litestream_alive;  // nullopt = no process information
  bool litestream_holds_staging = false; // a Litestream process has a staging file open
  // Log lines that arrived since the previous sample.
  uint64_t new_log_lines = 0;
  uint64_t new_disk_full_lines = 0;      // sync error ... no space left / disk full while staging
  uint64_t new_error_lines = 0;
  // Replica progress: an opaque position that changes when any replica advances
  // ("gen/index:offset", max TXID, or a metrics value); nullopt when not observable.
  std::optional<std::string> replica_position;
  std::optional<uint64_t> replica_backlog_bytes;
  // A `file` replica whose filesystem has no room left: it cannot advance, so a stall is a
  // deadlock after seconds (0.3.13's silent one), not a slow upload after a minute.
  bool replica_blocked = false;
  std::optional<bool> litestream_disk_full_gauge;  // 0.5.15+ litestream_disk_full
};

struct WatchSample {
  int64_t time_ms = 0;
  std::vector<FsSample> filesystems;
  std::vector<DbSample> databases;
  [[nodiscard]] const FsSample* fs(uint64_t dev) const {
    for (const auto& f : filesystems) {
      if (f.dev == dev) return &f;
    }
    return nullptr;
  }
};

}  // namespace ltxguard::model
