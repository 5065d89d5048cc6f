#include "ltxguard/collect/replica_state.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ltxguard/formats/litestream_layout.hpp"

namespace ltxguard::collect {
namespace {

using formats::Layout;
using formats::StagingKind;

// 0.5 replicas keep LTX files in these levels (0-3 and the snapshot level 9).
constexpr int kReplicaLevels[] = {0, 1, 2, 3, 9};
constexpr size_t kMaxReplicaEntries = 1'000'000;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void backlog_v03(ReplicaState& r, const StagingScan& local, const std::string& local_gen) {
  uint64_t bytes = 0;
  uint64_t files = 0;
  for (const auto& f : local.files) {
    if (f.name.layout != Layout::v0_3) continue;
    const bool tmp = f.name.kind == StagingKind::shadow_wal_tmp;
    if (f.name.kind != StagingKind::shadow_wal && !tmp) continue;
    if (f.name.generation != local_gen) continue;
    // A segment is uploaded once the replica holds a later index of the same generation;
    // of the segment the replica is in, everything from its last chunk's offset on counts
    // (that chunk's length is only known compressed).
    const bool same_gen = r.generation == local_gen && r.wal_index;
    if (tmp || !same_gen || f.name.wal_index > *r.wal_index) {
      bytes += f.stat.size_bytes;
      ++files;
    } else if (f.name.wal_index == *r.wal_index) {
      bytes += f.stat.size_bytes - std::min<uint64_t>(f.stat.size_bytes, r.wal_offset);
      ++files;
    }
  }
  r.backlog_bytes = bytes;
  r.backlog_files = files;
}

void backlog_v05(ReplicaState& r, const StagingScan& local) {
  uint64_t bytes = 0;
  uint64_t files = 0;
  const uint64_t mark = r.max_txid.value_or(0);
  for (const auto& f : local.files) {
    if (f.name.layout != Layout::v0_5) continue;
    const bool tmp = f.name.kind == StagingKind::ltx_tmp;
    if (tmp || (f.name.kind == StagingKind::ltx && f.name.level == 0 && f.name.max_txid > mark)) {
      bytes += f.stat.size_bytes;
      ++files;
    }
  }
  r.backlog_bytes = bytes;
  r.backlog_files = files;
}

std::string label(const formats::PromSample& s, std::string_view key) {
  for (const auto& [k, v] : s.labels) {
    if (k == key) return v;
  }
  return {};
}

}  // namespace

std::string current_generation(const sys::FileSystem& fs, const StagingScan& local) {
  if (local.exists) {
    auto text = fs.read_text(local.meta_path + "/generation", 64);
    if (text) {
      std::string gen = trim(*text);
      if (formats::classify_staging_path("generations/" + gen + "/wal/00000000.wal").kind ==
          StagingKind::shadow_wal) {
        return gen;
      }
    }
  }
  // No usable `generation` file: the generation with the newest segment.
  std::string best;
  int64_t best_mtime = INT64_MIN;
  for (const auto& f : local.files) {
    if (f.name.layout == Layout::v0_3 && !f.name.generation.empty() && f.stat.mtime_ns > best_mtime) {
      best = f.name.generation;
      best_mtime = f.stat.mtime_ns;
    }
  }
  return best;
}

ReplicaState file_replica_state(const sys::FileSystem& fs, const formats::ReplicaConfig& replica,
                                const StagingScan& local, uint64_t db_dev) {
  ReplicaState r;
  r.name = replica.name.empty() ? replica.type : replica.name;
  r.type = replica.type;
  r.path = replica.path;
  r.source = "file";
  auto root = fs.lstat(replica.path);
  if (!root) {
    r.source = "none";
    r.reason = root.error().code == util::ErrorCode::not_found
                   ? "file replica directory does not exist yet: nothing uploaded"
                   : "file replica directory unreadable: " + root.error().to_string();
    if (root.error().code == util::ErrorCode::not_found) {
      r.known = true;  // nothing uploaded is a position too: everything local is backlog
      if (local.layout == Layout::v0_5) backlog_v05(r, local);
      if (local.layout == Layout::v0_3) backlog_v03(r, local, current_generation(fs, local));
      if (local.layout == Layout::none) r.backlog_bytes = 0;  // nothing staged, nothing owed
    }
    return r;
  }
  if (root->type != sys::FileType::directory) {
    r.source = "none";
    r.reason = "file replica path is not a directory; not followed";
    return r;
  }
  r.fs_dev = root->dev;
  r.same_fs_as_db = root->dev == db_dev;
  r.same_fs_as_meta = local.exists && root->dev == local.dev;
  r.known = true;

  if (local.layout == Layout::v0_5) {
    for (int level : kReplicaLevels) {
      auto entries = fs.list_dir(fmt::format("{}/ltx/{}", replica.path, level), kMaxReplicaEntries);
      if (!entries) continue;
      for (const auto& e : *entries) {
        const auto n = formats::classify_staging_path(fmt::format("ltx/{}/{}", level, e.name));
        if (n.kind == StagingKind::ltx && e.stat.type == sys::FileType::regular) {
          r.max_txid = std::max(r.max_txid.value_or(0), n.max_txid);
        }
      }
    }
    r.reason = r.max_txid ? fmt::format("highest TXID on the replica: {}", *r.max_txid)
                          : "the replica holds no LTX file yet";
    backlog_v05(r, local);
    return r;
  }
  if (local.layout == Layout::none) {
    r.backlog_bytes = 0;  // nothing staged locally: nothing to upload
    r.reason = "nothing staged locally";
    return r;
  }
  const std::string gen = current_generation(fs, local);
  r.generation = gen;
  if (!gen.empty()) {
    auto entries = fs.list_dir(replica.path + "/generations/" + gen + "/wal", kMaxReplicaEntries);
    if (entries) {
      for (const auto& e : *entries) {
        const auto n = formats::classify_staging_path("generations/" + gen + "/wal/" + e.name);
        if (n.kind != StagingKind::replica_wal || e.stat.type != sys::FileType::regular) continue;
        if (!r.wal_index || n.wal_index > *r.wal_index) {
          r.wal_index = n.wal_index;
          r.wal_offset = n.wal_offset;
        } else if (n.wal_index == *r.wal_index) {
          r.wal_offset = std::max(r.wal_offset, n.wal_offset);
        }
      }
    }
  }
  r.reason = gen.empty()        ? "no local generation to compare with"
             : r.wal_index      ? fmt::format("replica holds generation {} through WAL index {} (its last chunk starts at offset {})",
                                            gen, *r.wal_index, r.wal_offset)
                                : fmt::format("replica holds no WAL segment of generation {}", gen);
  if (local.layout == Layout::v0_3) backlog_v03(r, local, gen);
  return r;
}

ReplicaState metrics_replica_state(const formats::ReplicaConfig& replica, const std::string& db_path,
                                   const std::vector<formats::PromSample>& samples) {
  ReplicaState r;
  r.name = replica.name.empty() ? replica.type : replica.name;
  r.type = replica.type;
  r.source = "metrics";
  std::optional<double> shadow;
  std::optional<double> replica_index;
  std::optional<double> replica_offset;
  std::optional<double> txid;
  for (const auto& s : samples) {
    const std::string db = label(s, "db");
    if (!db.empty() && db != db_path) continue;
    if (s.name == "litestream_shadow_wal_index") shadow = s.value;
    if (s.name == "litestream_txid") txid = s.value;
    if (s.name == "litestream_replica_wal_index" && label(s, "name") == r.name) replica_index = s.value;
    if (s.name == "litestream_replica_wal_offset" && label(s, "name") == r.name) replica_offset = s.value;
  }
  if (shadow && replica_index) {
    r.known = true;
    r.wal_index = static_cast<uint32_t>(*replica_index);
    // The index moves only when the WAL rolls over; the offset moves with every sync, so a
    // healthy replica is seen advancing each second, not every few.
    if (replica_offset && *replica_offset >= 0 && *replica_offset <= 4294967295.0) {
      r.wal_offset = static_cast<uint32_t>(*replica_offset);
    }
    const double gap = *shadow - *replica_index;
    r.reason = fmt::format("metrics: shadow WAL index {:.0f}, replica WAL index {:.0f} (gap {:.0f})", *shadow,
                           *replica_index, gap);
    return r;
  }
  if (txid) {
    r.reason = fmt::format("metrics: local TXID {:.0f}; Litestream 0.5 exports no per-replica position", *txid);
    return r;
  }
  r.reason = "metrics scraped but no replica position found for this database";
  return r;
}

std::vector<ReplicaState> replica_states(const sys::FileSystem& fs, const formats::DbConfig& db,
                                         const StagingScan& local, uint64_t db_dev,
                                         const std::optional<std::vector<formats::PromSample>>& metrics,
                                         const std::string& metrics_error) {
  std::vector<ReplicaState> out;
  for (const auto& replica : db.replicas) {
    if (replica.type == "file" && !replica.path.empty()) {
      out.push_back(file_replica_state(fs, replica, local, db_dev));
      continue;
    }
    if (metrics) {
      out.push_back(metrics_replica_state(replica, db.path, *metrics));
      continue;
    }
    ReplicaState r;
    r.name = replica.name.empty() ? replica.type : replica.name;
    r.type = replica.type;
    r.source = "none";
    r.reason = metrics_error.empty()
                   ? fmt::format("{} replica: its upload state is not visible from this host; set `addr:` in "
                                 "the Litestream config to expose metrics",
                                 replica.type)
                   : fmt::format("{} replica: metrics scrape failed: {}", replica.type, metrics_error);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace ltxguard::collect
