// `ltxguard preflight`: will the next initial sync's staging fit? The budget as an equation
// per filesystem, a verdict and an exit code usable as ExecStartPre=.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace ltxguard::cmd {

struct PreflightArgs {
  std::vector<std::string> db_paths;  // empty = every database in the config
  std::string config_path;
  std::string policy_path;
  std::string litestream_version;
  std::string litestream_bin;
  std::string app_user;  // "root" = the app may use root-reserved blocks
  bool litestream_not_root = false;
  bool json = false;
  std::FILE* out = nullptr;  // where the equation goes; nullptr = stdout (the supervisor: stderr)
};

// 0 ok, 1 warning, 2 critical, 3 unknown; 64-73 when it cannot run.
[[nodiscard]] int run_preflight(const PreflightArgs& args);

}  // namespace ltxguard::cmd
