// The operator runbook for an aborted initial sync: built as a document from this host's
// measurements (or placeholders, for the generic docs/runbook.md), rendered as Markdown or
// HTML. Section anchors are stable: alerts and docs link to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/model/budget.hpp"
#include "ltxguard/model/cleanup_plan.hpp"

namespace ltxguard::output {

// Anchors other documents link to (docs/alerts.md, log lines, refusals): never rename them.
inline constexpr const char* kAnchorCaptureEvidence = "capture-evidence";
inline constexpr const char* kAnchorStopLitestream = "stop-litestream-safely";
inline constexpr const char* kAnchorCleanup = "cleanup";
inline constexpr const char* kAnchorBudget = "budget-before-restart";
inline constexpr const char* kAnchorPolicy = "policy";
inline constexpr const char* kAnchorWhatNotToDo = "what-not-to-do";

struct RunbookFilesystem {
  std::string roles;  // "database, meta dir"
  std::string mount;
  uint64_t total_bytes = 0;
  uint64_t avail_bytes = 0;
};

struct RunbookInput {
  bool generic = false;      // placeholders instead of this host's paths and numbers
  std::string generated_at;  // UTC, host runbooks only
  std::string db_path;
  std::string config_path;  // "" when no config was read
  std::string meta_path;
  std::string layout;              // "0.3", "0.5", "none"
  std::string litestream_version;  // "" when unknown
  uint64_t db_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t staged_bytes = 0;
  std::vector<RunbookFilesystem> filesystems;
  std::vector<std::string> litestream_running;  // described processes for this database
  std::optional<model::CleanupPlan> plan;
  std::optional<model::BudgetResult> budget_now;
  std::optional<model::BudgetResult> budget_after_cleanup;  // projected: the safe files removed
  std::string budget_error;
  std::optional<uint64_t> reserve_bytes;       // the budget's reserve on the database's filesystem
  std::optional<uint64_t> staging_peak_bytes;  // the budget's staging peak where staging lands
};

// A paragraph or list item may hold `code` spans (backticks); nothing else is markup.
struct RunbookBlock {
  enum class Kind { paragraph, code, list, table };
  Kind kind = Kind::paragraph;
  std::string text;                            // paragraph, code
  std::vector<std::string> items;              // list
  std::vector<std::vector<std::string>> rows;  // table: the first row is the header
};

struct RunbookSection {
  std::string anchor;
  std::string title;  // its Markdown slug is the anchor too
  std::vector<RunbookBlock> blocks;
};

struct Runbook {
  std::string title;
  std::vector<RunbookBlock> intro;
  std::vector<RunbookSection> sections;
};

// At most this many files of the plan are listed in the cleanup section; the rest are counted.
inline constexpr size_t kRunbookMaxListedFiles = 50;

[[nodiscard]] Runbook build_runbook(const RunbookInput& in);

// Every text passes through `redactor` before it is escaped for the format.
[[nodiscard]] std::string render_markdown(const Runbook& book, const formats::Redactor& redactor);
[[nodiscard]] std::string render_html(const Runbook& book, const formats::Redactor& redactor);

}  // namespace ltxguard::output
