#include "ltxguard/collect/evidence.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "ltxguard/formats/path_prefix.hpp"
#include "ltxguard/formats/prom_text.hpp"
#include "ltxguard/sys/command.hpp"
#include "ltxguard/sys/http_client.hpp"
#include "ltxguard/sys/log_file.hpp"

namespace ltxguard::collect {
namespace {

constexpr int kVersionTimeoutMs = 5000;
constexpr int kMetricsTimeoutMs = 2000;
constexpr size_t kMetricsMaxBytes = 4 << 20;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}


void add_filesystem(const sys::FileSystem& fs, std::vector<FilesystemEvidence>& out, const std::string& path,
                    const std::string& role, uint64_t* dev_out) {
  auto st = sys::fs_stats_nearest(fs, path);
  if (!st) return;
  if (dev_out != nullptr) *dev_out = st->dev;
  for (auto& f : out) {
    if (f.stats.dev == st->dev) {
      f.roles.push_back(role);
      return;
    }
  }
  out.push_back(FilesystemEvidence{*st, {role}});
}

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (!dir.empty() && dir[0] == '/') {
      std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return {};
}

std::optional<std::vector<formats::PromSample>> scrape(const std::string& addr, std::string& note) {
  if (addr.empty()) {
    note = "no metrics addr in the Litestream config";
    return std::nullopt;
  }
  auto hp = sys::parse_host_port(addr);
  if (!hp) {
    note = "metrics addr unusable: " + hp.error().message;
    return std::nullopt;
  }
  auto body = sys::http_get(hp->first, hp->second, "/metrics", kMetricsTimeoutMs, kMetricsMaxBytes);
  if (!body) {
    note = "metrics scrape failed: " + body.error().to_string();
    return std::nullopt;
  }
  note = fmt::format("scraped {}:{}/metrics", hp->first, hp->second);
  return formats::parse_prom_text(*body);
}

std::string canonical_or(const sys::FileSystem& fs, const std::string& path) {
  auto real = fs.real_path(path);
  return real ? *real : path;
}

// litestream_shadow_wal_index of this database, read as metrics_replica_state reads it.
std::optional<double> shadow_wal_index(const std::optional<std::vector<formats::PromSample>>& metrics,
                                       const std::string& db_path) {
  if (!metrics) return std::nullopt;
  std::optional<double> found;
  for (const auto& s : *metrics) {
    if (s.name != "litestream_shadow_wal_index") continue;
    const auto db = std::find_if(s.labels.begin(), s.labels.end(), [](const auto& l) { return l.first == "db"; });
    if (db == s.labels.end() || db->second.empty() || db->second == db_path) found = s.value;
  }
  return found;
}

Sample take_sample(const sys::FileSystem& fs, const Evidence& ev, int64_t now, uint64_t staging_bytes) {
  Sample s;
  s.time_ms = now;
  s.staging_bytes = staging_bytes;
  if (auto st = fs.stat(ev.db.wal.path)) s.wal_bytes = st->size_bytes;  // where SQLite keeps it
  if (auto f = sys::fs_stats_nearest(fs, std::filesystem::path(ev.db.db_path).parent_path().string())) {
    s.db_fs_free_bytes = f->free_bytes;
    s.db_fs_avail_bytes = f->avail_bytes;
  }
  if (auto f = sys::fs_stats_nearest(fs, ev.db_config.meta_path)) {
    s.staging_fs_free_bytes = f->free_bytes;
    s.staging_fs_avail_bytes = f->avail_bytes;
  }
  return s;
}

}  // namespace

const FilesystemEvidence* Evidence::filesystem(uint64_t dev) const {
  for (const auto& f : filesystems) {
    if (f.stats.dev == dev) return &f;
  }
  return nullptr;
}

LitestreamSplit split_litestream(const sys::FileSystem& fs, const std::vector<sys::ProcessInfo>& processes,
                                 const std::string& config_path, const std::string& db_path,
                                 const std::vector<sys::OpenFile>& holders) {
  LitestreamSplit out;
  std::set<int> for_db;
  const std::vector<sys::ProcessInfo> ls = sys::find_litestream(processes);
  if (!config_path.empty()) {
    for (const std::string& c : {config_path, canonical_or(fs, config_path)}) {
      for (const auto& p : sys::find_litestream(ls, c)) for_db.insert(p.pid);
    }
  }
  // The kernel reports canonical paths; a command line may hold either.
  const std::string canon_db = canonical_or(fs, db_path);
  const std::vector<std::string> named = {canon_db, canon_db + "-wal", canon_db + "-shm", db_path};
  for (const auto& h : holders) for_db.insert(h.pid);
  for (const auto& p : ls) {
    for (size_t i = 1; i < p.cmdline.size(); ++i) {
      if (std::find(named.begin(), named.end(), p.cmdline[i]) != named.end()) for_db.insert(p.pid);
    }
    (for_db.count(p.pid) != 0 ? out.for_db : out.other).push_back(p);
  }
  return out;
}

const formats::DbConfig* find_db_config(const formats::LitestreamConfig& config, const std::string& db_path) {
  const auto want = std::filesystem::path(db_path).lexically_normal();
  for (const auto& db : config.dbs) {
    std::error_code ec;
    const auto have = std::filesystem::absolute(db.path, ec).lexically_normal();
    if (!ec && have == want) return &db;
  }
  return nullptr;
}

LogEvidence read_log(const LogSource& source, size_t max_lines) {
  LogEvidence log;
  if (source.kind == LogSourceKind::none) {
    log.source = "none";
    log.why_unavailable = "no log source given";
    return log;
  }
  std::vector<std::string> lines;
  if (source.kind == LogSourceKind::lines) {
    log.source = "output of the supervised Litestream";
    const size_t skip = source.lines.size() > max_lines ? source.lines.size() - max_lines : 0;
    lines.assign(source.lines.begin() + static_cast<std::ptrdiff_t>(skip), source.lines.end());
  } else if (source.kind == LogSourceKind::file) {
    log.source = "file " + source.path;
    auto r = sys::read_last_lines(source.path, max_lines);
    if (!r) {
      log.why_unavailable = r.error().to_string();
      return log;
    }
    lines = std::move(*r);
  } else {
    sys::JournalSource js;
    js.unit = source.unit;
    js.path = source.path;
    js.kind = source.kind == LogSourceKind::journal_dir    ? sys::JournalSource::Kind::directory
              : source.kind == LogSourceKind::journal_file ? sys::JournalSource::Kind::file
                                                           : sys::JournalSource::Kind::system;
    log.source = fmt::format("journal unit {}{}", source.unit, source.path.empty() ? "" : " in " + source.path);
    auto r = sys::read_journal_tail(js, max_lines);
    if (!r) {
      log.why_unavailable = r.error().to_string();
      return log;
    }
    if (!r->available) {
      log.why_unavailable = r->why_unavailable;
      return log;
    }
    for (auto& e : r->entries) lines.push_back(std::move(e.message));
  }
  log.available = true;
  for (const auto& line : lines) formats::count_log_line(log.counts, formats::classify_log_line(line));
  log.lines = std::move(lines);
  return log;
}

LitestreamEvidence detect_version(const std::string& litestream_bin, const LogEvidence& log,
                                  const std::optional<std::vector<formats::PromSample>>& metrics,
                                  formats::Layout layout) {
  LitestreamEvidence ls;
  const std::string bin = litestream_bin.empty() ? find_on_path("litestream") : litestream_bin;
  if (!bin.empty()) {
    auto r = sys::run_command({bin, "version"}, kVersionTimeoutMs, 4096);
    if (r && !r->timed_out && r->exit_code == 0) {
      if (auto v = formats::parse_litestream_version(r->stdout_text)) {
        ls.parsed = *v;
        ls.version = v->development ? "development" : fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
        ls.version_source = "binary";
        ls.version_note = "`" + bin + " version`";
        return ls;
      }
      ls.version_note = "`" + bin + " version` printed something that is not a Litestream version";
    } else {
      ls.version_note = "`" + bin + " version` failed" +
                        (r ? (r->timed_out ? " (timed out)" : fmt::format(" (exit {})", r->exit_code))
                           : ": " + r.error().to_string());
    }
  } else {
    ls.version_note = "no litestream binary on PATH";
  }
  if (!log.counts.version.empty()) {
    if (auto v = formats::parse_litestream_version(log.counts.version)) {
      ls.parsed = *v;
      ls.version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
      ls.version_source = "log";
      return ls;
    }
  }
  if (metrics) {
    bool has_shadow = false, has_txid = false, has_disk_full = false;
    for (const auto& s : *metrics) {
      has_shadow |= s.name == "litestream_shadow_wal_index";
      has_txid |= s.name == "litestream_txid";
      has_disk_full |= s.name == "litestream_disk_full";
    }
    if (has_shadow || has_txid) {
      ls.version = has_shadow ? "0.3.x" : has_disk_full ? ">=0.5.15" : "0.5.x";
      ls.version_source = "metrics";
      return ls;
    }
  }
  if (layout != formats::Layout::none) {
    ls.version = layout == formats::Layout::v0_3 ? "0.3.x" : "0.5.x";
    ls.version_source = "layout";
  }
  return ls;
}

Evidence collect_evidence(const sys::FileSystem& fs, const sys::ProcessTable& procs, const EvidenceOptions& opts) {
  const auto sleep = opts.sleep_ms ? opts.sleep_ms
                                   : [](int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); };
  const auto now = opts.now_ms ? opts.now_ms : wall_ms;

  Evidence ev;
  ev.taken_at_ms = now();
  ev.db = collect_database(fs, opts.db_path);
  const formats::DbConfig* found = opts.config ? find_db_config(*opts.config, opts.db_path) : nullptr;
  if (found != nullptr) {
    ev.db_config = *found;
    ev.db_in_config = true;
  } else {
    ev.db_config.path = opts.db_path;
    ev.db_config.meta_path = formats::default_meta_path(opts.db_path);
    ev.config_note = opts.config ? "database not in the Litestream config; default meta dir assumed"
                                 : "no Litestream config read; default meta dir assumed";
  }

  const std::string db_dir = std::filesystem::path(opts.db_path).parent_path().string();
  add_filesystem(fs, ev.filesystems, db_dir, "db", &ev.db_dev);
  add_filesystem(fs, ev.filesystems, ev.db_config.meta_path, "meta", &ev.staging_dev);
  for (const auto& r : ev.db_config.replicas) {
    if (r.type == "file" && !r.path.empty()) {
      add_filesystem(fs, ev.filesystems, r.path, "replica " + (r.name.empty() ? r.type : r.name), nullptr);
    }
  }

  if (opts.config) ev.metrics = scrape(opts.config->addr, ev.metrics_note);
  else ev.metrics_note = "no Litestream config read";

  // One walk of the meta dir per sample: the first sample's walk also gives the replica
  // positions to compare with, the last one is the full scan with LTX checks.
  const int samples = std::max(1, opts.samples);
  for (int i = 0; i < samples; ++i) {
    if (i > 0) sleep(opts.interval_ms);
    const int64_t t = now();
    const bool first = i == 0;
    const bool last = i == samples - 1;
    if (!first && !last) {
      ev.samples.push_back(take_sample(fs, ev, t, staging_bytes(fs, ev.db_config.meta_path)));
      continue;
    }
    ScanOptions opts_scan;
    opts_scan.inspect_ltx = last;
    StagingScan scan = scan_staging(fs, ev.db_config.meta_path, opts_scan);
    ev.samples.push_back(take_sample(fs, ev, t, scan.total_bytes));
    if (first) {
      ev.replicas_first = replica_states(fs, ev.db_config, scan, ev.db_dev, ev.metrics, ev.metrics_note);
    }
    if (last) ev.staging = std::move(scan);
  }
  if (ev.staging.exists) ev.staging_dev = ev.staging.dev;
  ev.shadow_wal_index_first = shadow_wal_index(ev.metrics, ev.db_config.path);
  if (opts.config && ev.samples.size() > 1) ev.metrics = scrape(opts.config->addr, ev.metrics_note);
  ev.shadow_wal_index = shadow_wal_index(ev.metrics, ev.db_config.path);
  ev.replicas = replica_states(fs, ev.db_config, ev.staging, ev.db_dev, ev.metrics, ev.metrics_note);

  // Filesystem figures as of the end of the window, so they agree with the last sample.
  for (auto& f : ev.filesystems) {
    for (const auto& role : f.roles) {
      const std::string path = role == "db" ? db_dir : role == "meta" ? ev.db_config.meta_path : "";
      if (path.empty()) continue;
      if (auto st = sys::fs_stats_nearest(fs, path)) f.stats = *st;
      break;
    }
  }

  ev.log = read_log(opts.log, opts.log_lines);
  ev.litestream = detect_version(opts.litestream_bin, ev.log, ev.metrics, ev.staging.layout);
  // Processes: the kernel reports canonical paths, so look for canonical ones.
  const std::string canon_meta = canonical_or(fs, ev.db_config.meta_path);
  const std::string canon_db = canonical_or(fs, opts.db_path);
  std::vector<std::string> prefixes = {canon_db, canon_db + "-wal", canon_db + "-shm"};
  if (ev.staging.exists) prefixes.push_back(canon_meta);
  std::vector<sys::OpenFile> holders;
  if (auto held = procs.open_files_under(prefixes)) {
    holders = std::move(*held);
    for (const auto& o : holders) {
      if (ev.staging.exists && formats::path_within(o.path, canon_meta)) ev.litestream.staging_holders.push_back(o);
    }
  } else {
    ev.litestream.proc_note = held.error().to_string();
  }
  if (auto ps = procs.processes()) {
    auto split = split_litestream(fs, *ps, opts.config_path, opts.db_path, holders);
    ev.litestream.processes = std::move(split.for_db);
    ev.litestream.other_processes = std::move(split.other);
  } else if (ev.litestream.proc_note.empty()) {
    ev.litestream.proc_note = ps.error().to_string();
  }
  return ev;
}

}  // namespace ltxguard::collect
