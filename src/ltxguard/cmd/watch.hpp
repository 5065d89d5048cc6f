// `ltxguard watch`: the sidecar. Samples every interval, feeds the watch model, and makes
// its state impossible to miss: logs (journald or structured stderr), /metrics + /healthz on
// loopback, a node_exporter textfile, sd_notify, and a JSON-lines record for replay.
#pragma once

#include <string>
#include <vector>

#include "ltxguard/collect/evidence.hpp"

namespace ltxguard::cmd {

struct WatchArgs {
  std::vector<std::string> db_paths;  // empty = every database in the config
  std::string config_path;
  std::string policy_path;
  collect::LogSource log;
  std::string listen;        // "" = no HTTP
  bool listen_any = false;
  double interval_seconds = 1.0;
  std::string record_path;
  std::string textfile_dir;
  std::string log_format = "auto";  // auto, journald, text, json
  std::string litestream_bin;
  std::string litestream_version;
  bool app_runs_as_root = false;
  bool force = false;          // allow --record on the filesystem under watch
  double duration_seconds = 0;  // 0 = until SIGTERM/SIGINT
};

// Unix time in ms: the sample clock of watch and run.
[[nodiscard]] int64_t wall_ms();

// Runs until SIGTERM/SIGINT (exit 0) or --duration; 64-73 when it cannot start.
[[nodiscard]] int run_watch(const WatchArgs& args);

}  // namespace ltxguard::cmd
