// Renders an evidence bundle: the verdict's inputs, one JSON document (stable key order),
// a human summary, and a Markdown summary safe to paste into a public issue. Every string
// that came from the host passes through the one Redactor first.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/model/evidence_verdict.hpp"

namespace ltxguard::output {

// Files at least this large are listed as "large" (the brief's `find -size +100M`).
inline constexpr uint64_t kLargeFileBytes = 100ull << 20;
// At most this many staging files are listed one by one; the rest are summarised.
inline constexpr size_t kMaxListedFiles = 1000;
inline constexpr size_t kMaxListedOrdinaryFiles = 50;

struct VerdictContext {
  uint64_t reserve_bytes = 0;
  std::string reserve_detail;  // how the reserve was derived
  bool app_runs_as_root = false;
};

[[nodiscard]] model::EvidenceInput evidence_input(const collect::Evidence& ev, const VerdictContext& ctx);

// Replicas that did not move between the first and the last sample while their backlog grew,
// or that sit behind with no room left to grow into.
[[nodiscard]] std::optional<bool> replica_stuck(const collect::Evidence& ev);

[[nodiscard]] nlohmann::ordered_json evidence_json(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                                   const VerdictContext& ctx, const formats::Redactor& redactor);
[[nodiscard]] std::string evidence_text(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                        const VerdictContext& ctx, const formats::Redactor& redactor);
// Markdown with no secrets, bucket names, replica paths, hostnames; paths reduced to base
// names. `redactor` must be built with public_mode.
[[nodiscard]] std::string evidence_public_markdown(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                                   const VerdictContext& ctx, const formats::Redactor& redactor);

}  // namespace ltxguard::output
