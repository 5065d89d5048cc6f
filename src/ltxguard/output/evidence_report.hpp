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

struct ReplicaProgress {
  // A replica behind and not advancing: it did not move while its backlog grew, or with no
  // room left (the app's view: the disk is full for the app), or its file replica's filesystem
  // is full, or its metrics gap did not close over the window, or the log shows replica errors
  // after its last upload while it did not move. false when every replica with a known
  // position advances; nullopt when no position is known.
  std::optional<bool> stuck;
  // A replica behind though not proven stuck: nothing uploaded yet, or a metrics gap seen
  // without a window to watch it close.
  bool behind = false;
  std::string detail;  // the evidence for stuck or behind, per replica, "; "-separated
};
[[nodiscard]] ReplicaProgress replica_progress(const collect::Evidence& ev, const VerdictContext& ctx);

[[nodiscard]] nlohmann::ordered_json evidence_json(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                                   const VerdictContext& ctx, const formats::Redactor& redactor);
[[nodiscard]] std::string evidence_text(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                        const VerdictContext& ctx, const formats::Redactor& redactor);
// Markdown with no secrets, bucket names, replica paths, hostnames; paths reduced to base
// names. `redactor` must be built with public_mode.
[[nodiscard]] std::string evidence_public_markdown(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                                   const VerdictContext& ctx, const formats::Redactor& redactor);

}  // namespace ltxguard::output
