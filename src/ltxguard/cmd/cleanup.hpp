// `ltxguard cleanup`: the plan (default) of what under a database's Litestream meta dir is
// safe / review / do-not-touch, and `--apply`, which records evidence, then removes (or
// quarantines) only what the plan allows, journals each action and re-runs the budget.
#pragma once

#include <string>

namespace ltxguard::cmd {

// docs/exit-codes.md: refusals of `cleanup --apply`, from <sysexits.h>.
inline constexpr int kExitTempFail = 75;  // EX_TEMPFAIL: Litestream runs or holds files, or files
                                          // changed under the plan: retry once that is over
inline constexpr int kExitNoPerm = 77;  // EX_NOPERM: the meta dir is unsafe to modify (mount point,
                                        // bind mount, world-writable, a symlink)

struct CleanupArgs {
  std::string db_path;
  std::string config_path;
  std::string policy_path;
  bool apply = false;
  bool include_review = false;
  std::string reason;          // required with include_review; journaled
  std::string quarantine_dir;  // move instead of remove (another filesystem)
  std::string state_dir = "/var/lib/ltxguard";
  bool force = false;  // allow the state dir on the filesystem under pressure
  bool json = false;
  bool show_replica_paths = false;
  std::string litestream_bin;
  std::string litestream_version;
};

// Plan: 0. Apply: the post-apply budget's verdict (0 ok, 1 warning, 2 critical = restarting
// Litestream now would fill the disk again, 3 unknown); 75 when it refused because Litestream
// runs or holds a file, or skipped files that changed since the plan; 77 when the meta dir is
// unsafe to modify; 64-73 when it cannot run (state dir missing 66, not writable 73).
[[nodiscard]] int run_cleanup(const CleanupArgs& args);

}  // namespace ltxguard::cmd
