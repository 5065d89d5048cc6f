// How far each replica has got, from what this host can see without touching a bucket:
// a `file` replica's directory listing (names only), or Litestream's own /metrics.
// Otherwise "unknown" with the reason. From it, the upload backlog in local bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/prom_text.hpp"
#include "ltxguard/sys/filesystem.hpp"

namespace ltxguard::collect {

struct ReplicaState {
  std::string name;    // config name, or the type when unnamed
  std::string type;    // "file", "s3", ...
  std::string source;  // where the position came from: "file", "metrics" or "none"
  bool known = false;
  std::string reason;  // why unknown, or how it was measured
  // 0.3 position: generation/index of the highest segment the replica holds.
  std::string generation;
  std::optional<uint32_t> wal_index;
  uint32_t wal_offset = 0;  // start offset of the replica's last chunk of that segment
  // 0.5 position: highest TXID over the replica's levels 0-3 and 9.
  std::optional<uint64_t> max_txid;
  // Local staged bytes not yet on this replica; nullopt when unknown.
  std::optional<uint64_t> backlog_bytes;
  uint64_t backlog_files = 0;
  // file replicas: the filesystem the replica writes to, and whether it shares one with the
  // database or the meta dir (then it needs a second full copy on that disk).
  std::optional<uint64_t> fs_dev;
  bool same_fs_as_db = false;
  bool same_fs_as_meta = false;
  std::string path;  // file replica directory (backup metadata: redact when written out)
};

// The local 0.3 generation in use: the `generation` file, else the newest generation seen.
[[nodiscard]] std::string current_generation(const sys::FileSystem& fs, const StagingScan& local);

// Position of a `file` replica from its directory names, and the local backlog against it.
[[nodiscard]] ReplicaState file_replica_state(const sys::FileSystem& fs, const formats::ReplicaConfig& replica,
                                              const StagingScan& local, uint64_t db_dev);

// Position from Litestream's metrics (0.3: litestream_replica_wal_index vs
// litestream_shadow_wal_index; 0.5: litestream_txid). `samples` is a scrape of `addr`.
[[nodiscard]] ReplicaState metrics_replica_state(const formats::ReplicaConfig& replica,
                                                 const std::string& db_path,
                                                 const std::vector<formats::PromSample>& samples);

// Every replica of a database: file replicas by listing, others by metrics when scraped,
// otherwise unknown. `metrics` is nullopt when no addr is set or the scrape failed
// (`metrics_error` then says why).
[[nodiscard]] std::vector<ReplicaState> replica_states(
    const sys::FileSystem& fs, const formats::DbConfig& db, const StagingScan& local, uint64_t db_dev,
    const std::optional<std::vector<formats::PromSample>>& metrics, const std::string& metrics_error);

}  // namespace ltxguard::collect
