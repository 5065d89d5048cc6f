// Measures what the staging budget needs for each database (sizes, header, staging now,
// replica backlog, filesystems by st_dev) and fills model::BudgetInput. Shared by
// `preflight`, and by every later verb that re-runs the budget.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/policy.hpp"
#include "ltxguard/model/budget.hpp"
#include "ltxguard/sys/filesystem.hpp"

namespace ltxguard::cmd {

struct BudgetOptions {
  std::vector<std::string> db_paths;  // vetted absolute paths
  std::optional<formats::LitestreamConfig> config;
  formats::Policy policy;
  std::string litestream_version;  // --litestream-version override, "" = detect
  std::string litestream_bin;      // "" = PATH
  bool app_runs_as_root = false;
  bool litestream_runs_as_root = true;
  int rate_window_ms = 1000;  // WAL growth sampled over this window for the app write rate; 0 = off
};

struct BudgetInputs {
  model::BudgetInput input;
  std::vector<std::string> version_notes;  // how the model was chosen, one per database
  std::string detected_version;            // "" when unknown
};

[[nodiscard]] BudgetInputs measure_budget_inputs(const sys::FileSystem& fs, const BudgetOptions& opts);

// 0.3 / 0.5 / unknown from a version string ("0.5.12", "v0.3.13", "0.3.x") or a layout. A
// 0.3 version over a 0.5 layout is 0.5: the layout is what the running Litestream writes.
[[nodiscard]] model::LitestreamModel model_for(const std::string& version, formats::Layout layout,
                                               std::string& reason);

}  // namespace ltxguard::cmd
