#include "ltxguard/cmd/preflight.hpp"

#include <pwd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/output/text_escape.hpp"

namespace ltxguard::cmd {
namespace {

using nlohmann::ordered_json;

ordered_json budget_json(const BudgetInputs& inputs, const model::BudgetResult& r) {
  ordered_json j;
  j["verdict"] = model::to_string(r.verdict);
  j["exit_code"] = model::exit_code(r.verdict);
  ordered_json dbs = ordered_json::array();
  for (const auto& d : inputs.input.databases) {
    dbs.push_back({{"path", d.db_path},
                   {"model", model::to_string(d.model)},
                   {"model_reason", d.model_reason},
                   {"page_size_bytes", d.page_size_bytes},
                   {"page_count", d.page_count},
                   {"db_bytes", uint64_t{d.page_size_bytes} * d.page_count},
                   {"wal_bytes", d.wal_bytes},
                   {"staged_bytes", d.staged_bytes_now},
                   {"snapshot_max_bytes", d.snapshot_max_bytes ? ordered_json(*d.snapshot_max_bytes) : ordered_json(nullptr)},
                   {"replica_backlog_bytes",
                    d.replica_backlog_bytes ? ordered_json(*d.replica_backlog_bytes) : ordered_json(nullptr)},
                   {"app_write_bytes_per_second",
                    d.app_write_bytes_per_second ? ordered_json(*d.app_write_bytes_per_second) : ordered_json(nullptr)}});
  }
  j["databases"] = dbs;
  ordered_json fss = ordered_json::array();
  for (const auto& f : r.filesystems) {
    ordered_json terms = ordered_json::array();
    for (const auto& t : f.terms) {
      terms.push_back({{"label", t.label}, {"bytes", t.bytes}, {"detail", t.detail}, {"reason", t.reason}});
    }
    fss.push_back({{"mount", f.mount},
                   {"available_bytes", f.available_bytes},
                   {"terms", terms},
                   {"reserve_bytes", f.reserve_bytes},
                   {"staging_bytes", f.staging_bytes},
                   {"staging_peak_bytes", f.staging_peak_bytes},
                   {"headroom_bytes", f.headroom_bytes},
                   {"verdict", model::to_string(f.verdict)},
                   {"equation", f.equation},
                   {"notes", f.notes}});
  }
  j["filesystems"] = fss;
  j["advice"] = r.advice;
  j["unknowns"] = r.unknowns;
  return j;
}

// Paths (database, mount point) run through every line: each string is escaped, so a path
// holding "\n" cannot forge a line such as "verdict: ok".
std::string budget_text(const BudgetInputs& inputs, const model::BudgetResult& r) {
  using output::escape_text;
  std::string out;
  for (const auto& d : inputs.input.databases) {
    out += fmt::format("database {}: Litestream {} model ({})\n", escape_text(d.db_path), model::to_string(d.model),
                       escape_text(d.model_reason));
  }
  for (const auto& f : r.filesystems) {
    out += fmt::format("\nfilesystem {}:\n  {}\n", escape_text(f.mount), escape_text(f.equation));
    for (const auto& t : f.terms) {
      if (!t.reason.empty()) out += fmt::format("    {}: {}\n", escape_text(t.label), escape_text(t.reason));
    }
    for (const auto& n : f.notes) out += fmt::format("  note: {}\n", escape_text(n));
  }
  if (!r.unknowns.empty()) {
    out += "\nnot measured:\n";
    for (const auto& u : r.unknowns) out += fmt::format("  - {}\n", escape_text(u));
  }
  if (!r.advice.empty()) {
    out += "\nwhat to do:\n";
    for (const auto& a : r.advice) out += fmt::format("  - {}\n", escape_text(a));
  }
  out += fmt::format("\nverdict: {} (exit {})\n", model::to_string(r.verdict), model::exit_code(r.verdict));
  return out;
}

// A bad command line (exit-codes.md: 64), not bad input data.
int usage_error(const std::string& message) {
  std::fprintf(stderr, "ltxguard: %s\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int run_preflight(const PreflightArgs& args) {
  sys::RealFileSystem fs;
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return report_error(loaded.error());
  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return report_error(policy.error());

  BudgetOptions opts;
  opts.config = loaded->config;
  opts.policy = policy->policy;
  opts.litestream_version = args.litestream_version;
  opts.litestream_bin = args.litestream_bin;
  if (!args.app_user.empty()) {
    const struct passwd* pw = ::getpwnam(args.app_user.c_str());
    if (pw == nullptr) {
      return usage_error("--app-user: no such user '" + args.app_user + "'");
    }
    opts.app_runs_as_root = pw->pw_uid == 0;
  }
  opts.litestream_runs_as_root = !args.litestream_not_root;
  std::vector<std::string> paths = args.db_paths;
  if (paths.empty() && loaded->config) {
    for (const auto& d : loaded->config->dbs) paths.push_back(d.path);
  }
  if (paths.empty()) {
    return usage_error("no database: pass --db or a Litestream config that lists one");
  }
  for (const auto& p : paths) {
    auto vetted = collect::check_database_path(fs, p);
    if (!vetted) return report_error(vetted.error());
    opts.db_paths.push_back(*vetted);
  }
  const BudgetInputs inputs = measure_budget_inputs(fs, opts);
  auto result = model::compute_budget(inputs.input);
  if (!result) return report_error(result.error());
  std::FILE* out = args.out != nullptr ? args.out : stdout;
  if (args.json) {
    std::fputs((budget_json(inputs, *result).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n").c_str(), out);
  } else {
    std::fputs(budget_text(inputs, *result).c_str(), out);
  }
  return model::exit_code(result->verdict);
}

}  // namespace ltxguard::cmd
