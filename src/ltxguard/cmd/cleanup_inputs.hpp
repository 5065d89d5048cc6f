// Measures what the cleanup plan needs for one database: the meta dir walk (through a vetted,
// opened MetaDir), the headers to record, replica positions, the Litestream processes running
// for this database and every process holding a file under the meta dir. Shared by `cleanup`
// and `runbook`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/collect/replica_state.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/model/cleanup_plan.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/sys/proc.hpp"
#include "ltxguard/sys/safe_remove.hpp"

namespace ltxguard::cmd {

struct CleanupMeasureOptions {
  std::string db_path;  // vetted by check_database_path
  std::optional<formats::LitestreamConfig> config;
  std::string config_path;  // the file the config was read from ("" when none)
  std::string mountinfo_path = "/proc/self/mountinfo";
};

struct CleanupMeasurement {
  formats::DbConfig db_config;  // from the config, or the default meta dir next to the DB
  bool db_in_config = false;
  collect::StagingScan scan;
  std::vector<collect::ReplicaState> replicas;
  model::CleanupInput input;             // `reset` is filled by assess_reset, when wanted
  std::optional<sys::MetaDir> meta_dir;  // opened when the meta dir exists
  std::string meta_dir_error;            // why it could not be opened, if so
  std::map<std::string, std::vector<uint8_t>> headers;  // rel_path -> the header bytes recorded
  std::vector<sys::ProcessInfo> litestream_for_db;      // Litestream processes for this database
  std::vector<sys::ProcessInfo> litestream_other;       // Litestream processes that are not
  std::vector<sys::OpenFile> meta_holders;  // any process with a file open under the meta dir
  std::string proc_note;                    // why /proc could not be read, if so
  uint64_t db_dev = 0;
  uint64_t meta_dev = 0;
};

// Never fails: what cannot be measured is recorded (scan errors, proc_note, meta_dir_error)
// and makes the plan more careful, never less.
[[nodiscard]] CleanupMeasurement measure_cleanup(const sys::FileSystem& fs,
                                                 const sys::ProcessTable& procs,
                                                 const CleanupMeasureOptions& opts);

// What `cleanup` and `runbook` read before anything else: the vetted database, the Litestream
// config and policy, the measurement, and the budget options naming this database only.
struct CleanupSetup {
  std::string db_path;  // vetted by check_database_path
  LoadedConfig loaded;
  formats::Policy policy;
  CleanupMeasureOptions measure_opts;  // to measure again (cleanup re-checks while applying)
  CleanupMeasurement m;
  BudgetOptions budget_opts;
};

struct CleanupSetupArgs {
  std::string db_path, config_path, policy_path;
  std::string litestream_bin, litestream_version;
};

// Errors: check_database_path's, load_litestream_config's and load_policy's.
[[nodiscard]] util::Result<CleanupSetup> load_cleanup_setup(const sys::FileSystem& fs,
                                                            const sys::ProcessTable& procs,
                                                            const CleanupSetupArgs& args);

// "pid 42 (litestream replicate -config /etc/litestream.yml)" (argv cut to 200 characters).
[[nodiscard]] std::string describe_process(const sys::ProcessInfo& p);

// The budget of the next start of Litestream (`budget_opts` names this database only), and,
// for a 0.5 layout, the same budget after `litestream reset` stored into m.input.reset.
[[nodiscard]] std::optional<model::BudgetResult> budget_now_and_reset(
    const sys::FileSystem& fs, const BudgetOptions& budget_opts, CleanupMeasurement& m,
    BudgetInputs* inputs_out = nullptr);

}  // namespace ltxguard::cmd
