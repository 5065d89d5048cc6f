// Renders a cleanup plan and what `cleanup --apply` did: one JSON document (stable key order)
// and a human summary grouped by class. Every string that came from the host passes through
// the one Redactor.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/model/budget.hpp"
#include "ltxguard/model/cleanup_plan.hpp"

namespace ltxguard::output {

// What the plan was made from, for people reading it.
struct CleanupContext {
  std::string db_path;
  std::string meta_path;
  std::string layout;                           // "0.3", "0.5", "none"
  std::string meta_fs_mount;                    // where the freed space appears
  std::vector<std::string> litestream_running;  // described processes for this database
  std::vector<std::string> litestream_other;    // Litestream processes for other databases
  std::vector<std::string> replicas;  // "file: replica holds generation … through WAL index 1 …"
  std::vector<std::string> refusals;  // why --apply would refuse now
  std::map<std::string, std::vector<uint8_t>> headers;  // rel_path -> header bytes recorded
  std::string next_step;                                // one line
};

// One file `cleanup --apply` acted on (or tried to).
struct CleanupAction {
  std::string rel_path;
  model::CleanupClass cls = model::CleanupClass::safe;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;
  std::string action;       // "removed", "quarantined", "skipped"
  std::string destination;  // the quarantine copy, when quarantined
  std::string error;        // why skipped
};

struct CleanupApplyReport {
  std::string evidence_dir;
  std::vector<std::string> evidence_files;
  std::string journal_path;
  std::string quarantine_dir;  // "" when files were removed
  std::vector<CleanupAction> actions;
  uint64_t done_files = 0;
  uint64_t done_allocated_bytes = 0;
  uint64_t skipped_files = 0;
  std::optional<uint64_t> avail_after_bytes;  // measured after apply
  std::optional<model::BudgetResult> budget;  // re-run after apply
  std::string budget_error;
  bool restart_would_fill = false;  // the budget after apply is critical
  std::string verdict_line;  // "restarting Litestream now would not fill the disk again: …"
  std::string next_step;
};

// "crc64 of the header bytes" as 16 lowercase hex digits (Go crc64.ISO, as LTX uses).
[[nodiscard]] std::string header_crc64_hex(const std::vector<uint8_t>& bytes);
[[nodiscard]] std::string hex(const std::vector<uint8_t>& bytes);

[[nodiscard]] nlohmann::ordered_json cleanup_json(const CleanupContext& ctx,
                                                  const model::CleanupPlan& plan,
                                                  const CleanupApplyReport* applied,
                                                  const formats::Redactor& redactor);
[[nodiscard]] std::string cleanup_text(const CleanupContext& ctx, const model::CleanupPlan& plan,
                                       const CleanupApplyReport* applied,
                                       const formats::Redactor& redactor);

}  // namespace ltxguard::output
