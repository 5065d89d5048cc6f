#include "ltxguard/cmd/budget_inputs.hpp"

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/replica_state.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/ltx.hpp"

namespace ltxguard::cmd {
namespace {


// Adds the filesystem holding `path` (or its nearest existing parent) once; returns its dev.
std::optional<uint64_t> add_fs(const sys::FileSystem& fs, model::BudgetInput& in, const std::string& path) {
  auto st = sys::fs_stats_nearest(fs, path);
  if (!st) return std::nullopt;
  for (const auto& f : in.filesystems) {
    if (f.dev == st->dev) return st->dev;
  }
  model::FilesystemInput f;
  f.dev = st->dev;
  f.mount = st->mount_point;
  f.total_bytes = st->total_bytes;
  f.free_bytes = st->free_bytes;
  f.avail_bytes = st->avail_bytes;
  f.inodes_total = st->inodes_total;
  f.inodes_free = st->inodes_free;
  f.inodes_avail = st->inodes_avail;
  in.filesystems.push_back(f);
  return st->dev;
}

}  // namespace

model::LitestreamModel model_for(const std::string& version, formats::Layout layout, std::string& reason) {
  if (!version.empty()) {
    std::string v = version;
    if (!v.empty() && v[0] == 'v') v.erase(0, 1);
    if (v.rfind("0.3", 0) == 0) {
      // The files on disk are what the running Litestream writes; the binary asked (on PATH)
      // may be another one.
      if (layout == formats::Layout::v0_5) {
        reason += "; the meta dir has 0.5's ltx/ layout: going by that, not by the 0.3 binary";
        return model::LitestreamModel::v0_5;
      }
      return model::LitestreamModel::v0_3;
    }
    if (v.rfind("0.5", 0) == 0 || v.rfind(">=0.5", 0) == 0) return model::LitestreamModel::v0_5;
    if (v == "development") {
      reason += "; a development build: assuming 0.5 (current source)";
      return model::LitestreamModel::v0_5;
    }
  }
  if (layout == formats::Layout::v0_3) return model::LitestreamModel::v0_3;
  if (layout == formats::Layout::v0_5) return model::LitestreamModel::v0_5;
  return model::LitestreamModel::unknown;
}

BudgetInputs measure_budget_inputs(const sys::FileSystem& fs, const BudgetOptions& opts) {
  BudgetInputs out;
  model::BudgetInput& in = out.input;
  in.policy = opts.policy;
  in.app_runs_as_root = opts.app_runs_as_root;
  in.litestream_runs_as_root = opts.litestream_runs_as_root;

  std::string metrics_note;
  std::optional<std::vector<formats::PromSample>> metrics;  // preflight does not scrape: runs before Litestream
  std::string version = opts.litestream_version;
  std::string version_source = version.empty() ? "" : "--litestream-version";
  if (version.empty()) {
    const collect::LitestreamEvidence ls =
        collect::detect_version(opts.litestream_bin, collect::LogEvidence{}, metrics, formats::Layout::none);
    version = ls.version;
    version_source = ls.version.empty() ? ls.version_note : "`litestream version`";
  }
  out.detected_version = version;

  std::vector<collect::DatabaseFiles> first;
  for (const auto& path : opts.db_paths) first.push_back(collect::collect_database(fs, path));
  if (opts.rate_window_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts.rate_window_ms));

  for (size_t i = 0; i < opts.db_paths.size(); ++i) {
    const std::string& path = opts.db_paths[i];
    const collect::DatabaseFiles db = collect::collect_database(fs, path);
    formats::DbConfig dbc;
    const formats::DbConfig* found = opts.config ? collect::find_db_config(*opts.config, path) : nullptr;
    if (found != nullptr) {
      dbc = *found;
    } else {
      dbc.path = path;
      dbc.meta_path = formats::default_meta_path(path);
    }
    model::DatabaseInput d;
    d.db_path = path;
    if (db.header && db.header->page_count_valid) {
      d.header_valid = true;
      d.page_size_bytes = db.header->page_size_bytes;
      d.page_count = db.header->page_count;
    } else if (db.header && db.header->page_size_bytes > 0) {
      // A stale page count (pre-3.7.0 writer): the file size is the truth.
      d.header_valid = true;
      d.page_size_bytes = db.header->page_size_bytes;
      d.page_count = db.db.bytes / db.header->page_size_bytes;
    }
    d.wal_bytes = db.wal.bytes;
    if (opts.rate_window_ms > 0 && db.wal.bytes > first[i].wal.bytes) {
      d.app_write_bytes_per_second = (db.wal.bytes - first[i].wal.bytes) * 1000 / static_cast<uint64_t>(opts.rate_window_ms);
    }
    const std::string db_dir = std::filesystem::path(path).parent_path().string();
    d.db_fs_dev = add_fs(fs, in, db_dir).value_or(0);
    d.meta_fs_dev = add_fs(fs, in, dbc.meta_path).value_or(0);

    const collect::StagingScan scan = collect::scan_staging(fs, dbc.meta_path);
    d.staged_bytes_now = scan.total_bytes;
    for (const auto& f : scan.files) {
      if (f.name.kind == formats::StagingKind::ltx_tmp && f.ltx && f.ltx->header && f.ltx->header->is_snapshot()) {
        d.snapshot_in_flight_bytes += f.stat.size_bytes;
      }
    }
    std::string reason = version.empty() ? "" : fmt::format("Litestream {} ({})", version, version_source);
    d.model = model_for(version, scan.layout, reason);
    if (version.empty()) {
      // The budget wraps this in "Litestream version unknown (…): pass --litestream-version".
      reason = scan.layout == formats::Layout::none
                   ? version_source + "; no staging on disk"
                   : fmt::format("layout on disk is {} (version unknown: {})", formats::to_string(scan.layout),
                                 version_source);
    }
    d.model_reason = reason;
    out.version_notes.push_back(reason);
    if (d.header_valid) {
      // Which 0.5 encoding will run is not known before it runs: charge the larger.
      d.snapshot_max_bytes =
          std::max(formats::ltx_snapshot_max_bytes(d.page_size_bytes, d.page_count, formats::LtxEncoding::v3_frame),
                   formats::ltx_snapshot_max_bytes(d.page_size_bytes, d.page_count, formats::LtxEncoding::v3_block));
    }
    const auto replicas = collect::replica_states(fs, dbc, scan, d.db_fs_dev, metrics,
                                                  "preflight does not scrape metrics");
    std::optional<uint64_t> backlog = uint64_t{0};
    for (const auto& r : replicas) {
      if (!r.backlog_bytes) {
        backlog.reset();
        break;
      }
      backlog = std::max(*backlog, *r.backlog_bytes);
    }
    if (replicas.empty()) backlog.reset();
    // Nothing Litestream staged is on disk (the usual preflight: before its first start), so
    // nothing waits for upload, whatever each replica holds or whether its state is visible.
    if (!backlog && !replicas.empty() && scan.layout == formats::Layout::none && scan.errors.empty() &&
        !scan.truncated) {
      backlog = 0;
    }
    d.replica_backlog_bytes = backlog;
    for (const auto& r : dbc.replicas) {
      if (r.type == "file" && !r.path.empty()) {
        if (auto dev = add_fs(fs, in, r.path)) d.file_replica_fs_devs.push_back(*dev);
      }
    }
    in.databases.push_back(std::move(d));
  }
  return out;
}

}  // namespace ltxguard::cmd
