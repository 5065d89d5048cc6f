// `ltxguard runbook`: the operator runbook for an aborted initial sync, filled with this host's
// paths, cleanup plan and budget (or, with --generic, the placeholder text of docs/runbook.md).
#pragma once

#include <string>

namespace ltxguard::cmd {

struct RunbookArgs {
  std::string db_path;
  std::string config_path;
  std::string policy_path;
  std::string format = "md";  // "md" or "html"
  bool generic = false;
  bool show_replica_paths = false;
  std::string litestream_bin;
  std::string litestream_version;
};

// 0 when the runbook was printed; 64-70 when it could not be built. Reads only.
[[nodiscard]] int run_runbook(const RunbookArgs& args);

}  // namespace ltxguard::cmd
