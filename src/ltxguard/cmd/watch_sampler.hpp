// Builds a model::WatchSample from the host: filesystems by st_dev, DB and WAL sizes,
// staging bytes and in-flight files, Litestream process state, new log lines, replica
// progress. Keeps the state a sample needs from the previous one (log cursor/tail, and each
// meta dir's listing, which a tick re-stats only where the filesystem reports a change).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/model/watch_sample.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/sys/log_file.hpp"
#include "ltxguard/sys/proc.hpp"

namespace ltxguard::cmd {

struct WatchTarget {
  std::string db_path;
  formats::DbConfig db_config;  // meta path and replicas
};

class WatchSampler {
 public:
  WatchSampler(const sys::FileSystem& fs, const sys::ProcessTable& procs, std::vector<WatchTarget> targets,
               collect::LogSource log, std::string metrics_addr, model::LitestreamModel model);
  [[nodiscard]] model::WatchSample sample(int64_t now_ms);
  // Lines read from the log since the last sample, for the record (raw; redact before writing).
  [[nodiscard]] const std::vector<std::string>& last_log_lines() const { return last_log_lines_; }
  [[nodiscard]] const std::string& log_note() const { return log_note_; }
  // Lines that arrived from elsewhere (the supervised child's stdout/stderr under `run`): they
  // join the next sample's log lines, after the configured log source's.
  void add_log_lines(std::vector<std::string> lines);
  // The supervised child under `run`: Litestream for as long as it lives, whatever its name,
  // from the first tick on (the name scan only runs every few seconds).
  void set_supervised_pid(int pid) { supervised_pid_ = pid; }
  // The Litestream config being watched: a Litestream whose command line names another
  // config replicates other databases and is not this one's (its liveness says nothing
  // about a wedge here). Either spelling, as given and canonical, is matched.
  void set_config_paths(std::vector<std::string> paths) { config_paths_ = std::move(paths); }

 private:
  std::vector<std::string> read_new_log_lines();
  std::optional<bool> litestream_alive(int64_t now_ms);

  const sys::FileSystem& fs_;
  const sys::ProcessTable& procs_;
  std::vector<WatchTarget> targets_;
  std::vector<std::unique_ptr<collect::StagingTracker>> staging_;  // one per target
  uint64_t walks_seen_ = 0;           // full staging walks, summed over the trackers
  std::vector<int> litestream_pids_;  // found by the last process scan
  int supervised_pid_ = 0;
  std::vector<std::string> config_paths_;
  int64_t process_scan_ms_ = 0;
  bool process_scanned_ = false;
  collect::LogSource log_;
  std::string metrics_addr_;
  model::LitestreamModel model_;  // unknown until a version or the staging layout tells
  std::unique_ptr<sys::LogFollower> follower_;
  std::string journal_cursor_;
  bool journal_started_ = false;
  std::vector<std::string> last_log_lines_;
  std::vector<std::string> pushed_lines_;
  std::string log_note_;
};

}  // namespace ltxguard::cmd
