#include "ltxguard/cmd/watch_sampler.hpp"

#include <fmt/format.h>
#include <malloc.h>

#include <algorithm>
#include <filesystem>

#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/replica_state.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/litestream_log.hpp"
#include "ltxguard/formats/prom_text.hpp"
#include "ltxguard/sys/http_client.hpp"
#include "ltxguard/sys/journal.hpp"

namespace ltxguard::cmd {
namespace {

// A scrape must never hold up the 1 s tick for long.
constexpr int kScrapeTimeoutMs = 300;
constexpr size_t kScrapeMaxBytes = 4 << 20;
constexpr size_t kMaxLogLinesPerTick = 10000;
// A file replica with less room than this cannot take another WAL segment or LTX file.
constexpr uint64_t kReplicaFullBytes = 1 << 20;
// Scanning /proc reads a few files of every process on the host: the dearest part of a tick
// once staging is tracked by changes. A Litestream found by a scan is followed by its pid
// alone; without one, the table is scanned again at most this often, so a Litestream that
// starts is seen within this long (one that exits is seen at the next tick).
constexpr int64_t kProcessRescanMs = 5000;

std::optional<uint64_t> add_fs(const sys::FileSystem& fs, model::WatchSample& s, const std::string& path) {
  auto st = sys::fs_stats_nearest(fs, path);
  if (!st) return std::nullopt;
  if (s.fs(st->dev) == nullptr) {
    s.filesystems.push_back(
        model::FsSample{st->dev, st->mount_point, st->total_bytes, st->free_bytes, st->avail_bytes, st->inodes_free});
  }
  return st->dev;
}

bool line_is_for(const formats::LogLine& line, const std::string& db_path) {
  if (line.db.empty()) return true;
  return line.db == db_path || line.db == std::filesystem::path(db_path).filename().string();
}

std::string position_of(const std::vector<collect::ReplicaState>& replicas) {
  std::string pos;
  for (const auto& r : replicas) {
    if (!r.known) continue;
    pos += fmt::format("{}:{}/{}:{}/{};", r.name, r.generation, r.wal_index ? std::to_string(*r.wal_index) : "-",
                       r.wal_offset, r.max_txid ? std::to_string(*r.max_txid) : "-");
  }
  return pos;
}

}  // namespace

WatchSampler::WatchSampler(const sys::FileSystem& fs, const sys::ProcessTable& procs,
                           std::vector<WatchTarget> targets, collect::LogSource log, std::string metrics_addr,
                           model::LitestreamModel model)
    : fs_(fs),
      procs_(procs),
      targets_(std::move(targets)),
      log_(std::move(log)),
      metrics_addr_(std::move(metrics_addr)),
      model_(model) {
  for (const auto& t : targets_) {
    staging_.push_back(std::make_unique<collect::StagingTracker>(fs_, t.db_config.meta_path));
  }
  if (log_.kind == collect::LogSourceKind::file) follower_ = std::make_unique<sys::LogFollower>(log_.path, true);
}

std::vector<std::string> WatchSampler::read_new_log_lines() {
  std::vector<std::string> lines;
  // `lines` arrive through add_log_lines (the supervisor's pipe), not from here.
  if (log_.kind == collect::LogSourceKind::none || log_.kind == collect::LogSourceKind::lines) return lines;
  if (follower_) {
    auto r = follower_->poll(kMaxLogLinesPerTick);
    if (!r) {
      log_note_ = r.error().to_string();
      return lines;
    }
    log_note_.clear();
    return std::move(*r);
  }
  sys::JournalSource js;
  js.unit = log_.unit;
  js.path = log_.path;
  js.kind = log_.kind == collect::LogSourceKind::journal_dir    ? sys::JournalSource::Kind::directory
            : log_.kind == collect::LogSourceKind::journal_file ? sys::JournalSource::Kind::file
                                                                : sys::JournalSource::Kind::system;
  // The first call only finds the end: history belongs to `evidence`, not to new events.
  auto r = sys::read_journal_since(js, journal_cursor_, kMaxLogLinesPerTick);
  if (!r) {
    log_note_ = r.error().to_string();
    return lines;
  }
  if (!r->available) {
    log_note_ = r->why_unavailable;
    return lines;
  }
  log_note_.clear();
  if (!r->last_cursor.empty()) journal_cursor_ = r->last_cursor;
  if (!journal_started_) {
    journal_started_ = true;
    return lines;
  }
  for (auto& e : r->entries) lines.push_back(std::move(e.message));
  return lines;
}

std::optional<bool> WatchSampler::litestream_alive(int64_t now_ms) {
  if (supervised_pid_ > 0 && procs_.alive(supervised_pid_)) return true;
  const bool due = !process_scanned_ || now_ms - process_scan_ms_ >= kProcessRescanMs ||
                   now_ms < process_scan_ms_;
  if (!litestream_pids_.empty()) {
    const bool any_alive = std::any_of(litestream_pids_.begin(), litestream_pids_.end(),
                                       [this](int pid) { return procs_.alive(pid); });
    if (any_alive && !due) return true;
    // Gone: look for its successor (a restart) right away.
  } else if (!due) {
    return false;
  }
  auto ps = procs_.processes();
  if (!ps) {
    process_scanned_ = false;
    litestream_pids_.clear();
    return std::nullopt;
  }
  litestream_pids_.clear();
  for (const auto& p : sys::find_litestream(*ps)) {
    if (!config_paths_.empty()) {
      // Only a config named by its absolute path is known to be another one; a relative
      // path depends on that process's directory and may well be ours.
      const auto arg = sys::config_argument(p);
      const std::string named = arg ? *arg : std::string(sys::kDefaultLitestreamConfig);
      const bool other = named.starts_with('/') &&
                         std::find(config_paths_.begin(), config_paths_.end(), named) == config_paths_.end();
      if (other) continue;
    }
    litestream_pids_.push_back(p.pid);
  }
  process_scanned_ = true;
  process_scan_ms_ = now_ms;
  return !litestream_pids_.empty();
}

void WatchSampler::add_log_lines(std::vector<std::string> lines) {
  for (auto& l : lines) {
    if (pushed_lines_.size() >= kMaxLogLinesPerTick) break;  // a flood is counted, not hoarded
    pushed_lines_.push_back(std::move(l));
  }
}

model::WatchSample WatchSampler::sample(int64_t now_ms) {
  model::WatchSample s;
  s.time_ms = now_ms;
  last_log_lines_ = read_new_log_lines();
  for (auto& l : pushed_lines_) last_log_lines_.push_back(std::move(l));
  pushed_lines_.clear();
  std::vector<formats::LogLine> classified;
  classified.reserve(last_log_lines_.size());
  for (const auto& l : last_log_lines_) classified.push_back(formats::classify_log_line(l));

  std::optional<std::vector<formats::PromSample>> metrics;
  std::string metrics_note;
  if (!metrics_addr_.empty()) {
    if (auto hp = sys::parse_host_port(metrics_addr_)) {
      if (auto body = sys::http_get(hp->first, hp->second, "/metrics", kScrapeTimeoutMs, kScrapeMaxBytes)) {
        metrics = formats::parse_prom_text(*body);
      } else {
        metrics_note = body.error().to_string();
      }
    }
  }

  const std::optional<bool> alive = litestream_alive(now_ms);

  for (size_t i = 0; i < targets_.size(); ++i) {
    const WatchTarget& t = targets_[i];
    model::DbSample d;
    d.db_path = t.db_path;
    d.litestream_alive = alive;
    const collect::DatabaseFiles db = collect::collect_database(fs_, t.db_path);
    if (db.header) {
      d.page_size_bytes = db.header->page_size_bytes;
      d.page_count = db.header->page_count_valid ? db.header->page_count
                                                 : db.db.bytes / std::max<uint32_t>(1, db.header->page_size_bytes);
    }
    d.wal_bytes = db.wal.bytes;
    d.db_fs_dev = add_fs(fs_, s, std::filesystem::path(t.db_path).parent_path().string()).value_or(0);
    d.staging_fs_dev = add_fs(fs_, s, t.db_config.meta_path).value_or(0);

    const collect::StagingScan& scan = staging_[i]->update();
    // Started before Litestream had written anything, with no version to go by: the first
    // files it stages tell which one it is.
    if (model_ == model::LitestreamModel::unknown && !scan.mixed_layouts) {
      if (scan.layout == formats::Layout::v0_5) model_ = model::LitestreamModel::v0_5;
      if (scan.layout == formats::Layout::v0_3) model_ = model::LitestreamModel::v0_3;
    }
    d.litestream_model = model_;
    d.staging_bytes = scan.total_bytes;
    const bool has_snapshot = scan.ltx_count > 0;
    for (const auto& f : scan.files) {
      if (!f.name.in_flight()) continue;
      model::InFlightFile in;
      in.rel_path = f.rel_path;
      in.bytes = f.stat.size_bytes;
      if (f.ltx && f.ltx->expected_final_bytes > 0) in.expected_final_bytes = f.ltx->expected_final_bytes;
      d.in_flight.push_back(in);
    }
    // A 0.5 first sync still to come stages the whole database: charge it until a snapshot exists.
    if (model_ == model::LitestreamModel::v0_5 && !has_snapshot && db.header && d.page_count > 0) {
      d.projected_snapshot_bytes = std::max(
          formats::ltx_snapshot_max_bytes(d.page_size_bytes, d.page_count, formats::LtxEncoding::v3_frame),
          formats::ltx_snapshot_max_bytes(d.page_size_bytes, d.page_count, formats::LtxEncoding::v3_block));
    }
    // Resolving every process's fds is the dearest part of a tick: only needed while a staging
    // write is in flight (it tells a live writer from a leftover .tmp).
    if (scan.exists && !d.in_flight.empty()) {
      if (auto held = procs_.open_files_under({t.db_config.meta_path})) d.litestream_holds_staging = !held->empty();
    }

    for (const auto& line : classified) {
      if (!line_is_for(line, t.db_path)) continue;
      ++d.new_log_lines;
      if (formats::is_disk_full(line)) ++d.new_disk_full_lines;
      if (line.level == "ERROR") ++d.new_error_lines;
    }

    // A file replica's backlog is counted file by file: only then is every file listed.
    const bool file_replica = std::any_of(
        t.db_config.replicas.begin(), t.db_config.replicas.end(),
        [](const formats::ReplicaConfig& r) { return r.type == "file" && !r.path.empty(); });
    const auto replicas =
        file_replica
            ? collect::replica_states(fs_, t.db_config, staging_[i]->full_scan(), d.db_fs_dev,
                                      metrics, metrics_note)
            : collect::replica_states(fs_, t.db_config, scan, d.db_fs_dev, metrics, metrics_note);
    const std::string pos = position_of(replicas);
    if (!pos.empty()) d.replica_position = pos;
    std::optional<uint64_t> backlog;
    for (const auto& r : replicas) {
      if (r.backlog_bytes) backlog = std::max(backlog.value_or(0), *r.backlog_bytes);
    }
    d.replica_backlog_bytes = backlog;
    for (const auto& r : replicas) {
      if (!r.fs_dev) continue;
      if (auto st = sys::fs_stats_nearest(fs_, r.path); st && st->free_bytes < kReplicaFullBytes) {
        d.replica_blocked = true;
      }
    }
    if (metrics) {
      if (auto v = formats::find_sample(*metrics, "litestream_disk_full", {{"db", t.db_path}})) {
        d.litestream_disk_full_gauge = *v != 0;
      }
    }
    s.databases.push_back(std::move(d));
  }
  // A walk of a big meta dir (the first sample, a resync) leaves freed memory in the heap that
  // glibc keeps mapped; hand it back so the steady state is what the watcher really holds.
  uint64_t walks = 0;
  for (const auto& t : staging_) walks += t->walks();
  if (walks != walks_seen_) {
    walks_seen_ = walks;
    (void)::malloc_trim(0);
  }
  return s;
}

}  // namespace ltxguard::cmd
