// `ltxguard evidence`: the read-only incident bundle and its verdict.
#pragma once

#include <string>

#include "ltxguard/collect/evidence.hpp"

namespace ltxguard::cmd {

struct EvidenceArgs {
  std::string db_path;
  std::string config_path;
  std::string policy_path;
  collect::LogSource log;
  int samples = 3;
  double interval_seconds = 1.0;
  std::string out_dir;
  bool force = false;
  bool json = false;
  bool public_summary = false;
  bool show_replica_paths = false;
  bool app_runs_as_root = false;
  std::string litestream_bin;
};

// Exit 0 when the bundle was produced (findings are not failures); 64-73 when it could not be.
[[nodiscard]] int run_evidence(const EvidenceArgs& args);

}  // namespace ltxguard::cmd
