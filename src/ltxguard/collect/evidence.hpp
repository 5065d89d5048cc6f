// Gathers the read-only evidence bundle: every measurement the incident brief asks for,
// sampled over a short window, with nothing redacted yet (output/ redacts on write).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/replica_state.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/litestream_log.hpp"
#include "ltxguard/formats/litestream_version.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/sys/journal.hpp"
#include "ltxguard/sys/proc.hpp"

namespace ltxguard::collect {

// `lines`: Litestream's output as `ltxguard run` captured it, handed over in memory.
enum class LogSourceKind { none, journal, journal_dir, journal_file, file, lines };

struct LogSource {
  LogSourceKind kind = LogSourceKind::journal;
  std::string unit = "litestream";  // journal kinds
  std::string path;                 // journal_dir, journal_file, file
  std::vector<std::string> lines;   // lines, oldest first
};

struct EvidenceOptions {
  std::string db_path;  // already vetted by check_database_path
  std::optional<formats::LitestreamConfig> config;
  std::string config_path;  // the file `config` was read from ("" when none): a Litestream
                            // running with it replicates this database
  LogSource log;
  int samples = 3;
  int interval_ms = 1000;
  size_t log_lines = 300;
  std::string litestream_bin;  // "" = look for `litestream` on PATH
  std::function<void(int ms)> sleep_ms;  // injected in tests; defaults to a real sleep
  std::function<int64_t()> now_ms;       // injected in tests; defaults to the wall clock
};

// One filesystem, with the roles it plays for this database ("db", "meta", "replica <name>").
struct FilesystemEvidence {
  sys::FsStats stats;
  std::vector<std::string> roles;
};

struct Sample {
  int64_t time_ms = 0;
  uint64_t staging_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t db_fs_free_bytes = 0, db_fs_avail_bytes = 0;
  uint64_t staging_fs_free_bytes = 0, staging_fs_avail_bytes = 0;
};

struct LitestreamEvidence {
  std::string version;         // "0.3.13", or "" when unknown
  std::string version_source;  // "binary", "log", "metrics", "layout", or ""
  std::string version_note;    // why unknown, or what was run
  std::optional<formats::LitestreamVersion> parsed;
  std::vector<sys::ProcessInfo> processes;        // running Litestream processes for this database
  std::vector<sys::ProcessInfo> other_processes;  // running Litestream processes for others
  std::vector<sys::OpenFile> staging_holders;  // processes with files open under the meta dir
  std::string proc_note;       // why /proc could not be read, if so
};

struct LogEvidence {
  std::string source;        // "journal unit litestream.service", "file /var/log/…"
  bool available = false;
  std::string why_unavailable;
  std::vector<std::string> lines;  // raw, oldest first; redact before writing out
  formats::LogCounts counts;
};

struct Evidence {
  int64_t taken_at_ms = 0;
  DatabaseFiles db;
  formats::DbConfig db_config;      // from the config, or a default one (meta dir next to the DB)
  bool db_in_config = false;
  std::string config_note;          // e.g. "database not in config; default meta dir assumed"
  std::vector<FilesystemEvidence> filesystems;
  uint64_t db_dev = 0;
  uint64_t staging_dev = 0;         // the meta dir's filesystem (or its nearest existing parent's)
  std::vector<Sample> samples;
  StagingScan staging;
  std::vector<ReplicaState> replicas_first;  // at the first sample
  std::vector<ReplicaState> replicas;        // at the last sample
  std::string metrics_note;
  std::optional<std::vector<formats::PromSample>> metrics;
  // 0.3 metrics: litestream_shadow_wal_index of this database at the first and the last
  // scrape, to tell a replica's gap that closes from one that does not.
  std::optional<double> shadow_wal_index_first;
  std::optional<double> shadow_wal_index;
  LitestreamEvidence litestream;
  LogEvidence log;
  [[nodiscard]] const FilesystemEvidence* filesystem(uint64_t dev) const;
};

// Never fails: whatever cannot be measured is recorded with the reason.
[[nodiscard]] Evidence collect_evidence(const sys::FileSystem& fs, const sys::ProcessTable& procs,
                                        const EvidenceOptions& opts);

// Litestream processes split into this database's and the others'. A process is this
// database's when it runs with `config_path` (as written or canonical; "" matches none), names
// the database, its -wal or -shm on its command line, or appears in `holders` (files it holds
// open under the meta dir or on the database files). Shared by `evidence` and `cleanup`.
struct LitestreamSplit {
  std::vector<sys::ProcessInfo> for_db;
  std::vector<sys::ProcessInfo> other;
};
[[nodiscard]] LitestreamSplit split_litestream(const sys::FileSystem& fs,
                                               const std::vector<sys::ProcessInfo>& processes,
                                               const std::string& config_path, const std::string& db_path,
                                               const std::vector<sys::OpenFile>& holders);

// The DbConfig for db_path in a config (matching by absolute path), or nullptr.
[[nodiscard]] const formats::DbConfig* find_db_config(const formats::LitestreamConfig& config,
                                                      const std::string& db_path);

// Reads the log source: journald (system, directory, file) or a text file.
[[nodiscard]] LogEvidence read_log(const LogSource& source, size_t max_lines);

// Litestream's version: `litestream version` when a binary is found, else the start-up log
// line, else metric names, else the layout on disk.
[[nodiscard]] LitestreamEvidence detect_version(const std::string& litestream_bin, const LogEvidence& log,
                                                const std::optional<std::vector<formats::PromSample>>& metrics,
                                                formats::Layout layout);

}  // namespace ltxguard::collect
