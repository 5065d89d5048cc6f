// The evidence bundle as files: collect, decide, redact and write <dir>/ltxguard-evidence-<t>
// .json/.txt (and .md when public). Shared by `evidence --out`, the supervisor's protective
// stop and `cleanup --apply`, so every bundle on disk is the same document.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/formats/policy.hpp"
#include "ltxguard/model/evidence_verdict.hpp"
#include "ltxguard/output/evidence_report.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/sys/proc.hpp"

namespace ltxguard::cmd {

struct BundleOptions {
  bool public_summary = false;      // also render the --public Markdown
  bool show_replica_paths = false;  // do not redact bucket names and replica paths
  bool app_runs_as_root = false;
};

// An evidence bundle rendered in memory, every text already redacted.
struct Bundle {
  collect::Evidence evidence;
  model::EvidenceVerdict verdict;
  std::string json;
  std::string text;
  std::string public_md;  // "" unless BundleOptions::public_summary
};

// The redaction every bundle document gets: the config's secrets, the environment's, replica
// paths and buckets (unless shown), and in public mode host names and local paths too.
[[nodiscard]] formats::Redactor bundle_redactor(const std::optional<formats::LitestreamConfig>& config,
                                                const collect::Evidence& ev, formats::RedactionOptions opts);

[[nodiscard]] Bundle build_bundle(const sys::FileSystem& fs, const sys::ProcessTable& procs,
                                  const collect::EvidenceOptions& evidence_opts,
                                  const formats::Policy& policy, const BundleOptions& opts);

// Refuses a directory that is missing, not a directory, or (unless `force`) on the database's
// or the staging's filesystem: writing there would add to the fill being investigated.
[[nodiscard]] util::Result<void> check_bundle_dir(const sys::FileSystem& fs, const std::string& dir,
                                                  const collect::Evidence& ev, bool force);

// Writes the bundle's non-empty documents atomically (mode 0600); returns the paths written.
[[nodiscard]] util::Result<std::vector<std::string>> write_bundle(const Bundle& bundle, const std::string& dir);

}  // namespace ltxguard::cmd
