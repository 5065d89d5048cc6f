// The operator's storage policy (/etc/ltxguard/policy.yml): reserve, staging cap, thresholds
// and rates. Every key is optional; an unset key means "use the documented default", which
// the model applies (docs/policy.md lists each default and why). Parsing only, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

// A level given either in bytes ("2GiB", 1073741824) or as a share of the filesystem's
// total size ("10%"); the percent form resolves per filesystem.
struct Threshold {
  enum class Unit { bytes, percent };
  Unit unit = Unit::bytes;
  uint64_t bytes = 0;  // when unit == bytes
  uint32_t percent_ppm =
      0;  // when unit == percent: parts per million of the filesystem (5% = 50000)

  // Bytes on a filesystem of `filesystem_total_bytes`; a percent rounds up (a larger level
  // is the cautious side for every threshold ltxguard has).
  [[nodiscard]] uint64_t resolve_bytes(uint64_t filesystem_total_bytes) const;
  // "2.0 GiB" or "10%" as the operator wrote it.
  [[nodiscard]] std::string to_string() const;
};

struct Policy {
  std::optional<uint64_t> reserve_bytes;           // replaces the computed reserve
  std::optional<uint32_t> reserve_percent_ppm;     // key reserve_percent; replaces the 5 % default
  std::optional<uint64_t> app_wal_headroom_bytes;  // per database
  std::optional<uint64_t> max_staging_bytes;       // per filesystem the staging lands on
  std::optional<uint64_t> min_free_bytes;
  std::optional<uint32_t> staging_overhead_ratio_ppm;  // key staging_overhead_ratio; 1.03 = 1030000
  std::optional<uint64_t> wal_growth_bytes;            // app WAL growth during the sync window
  std::optional<uint64_t> app_write_bytes_per_second;
  std::optional<uint64_t> staging_write_bytes_per_second;
  std::optional<Threshold> warn_at;           // headroom (after the reserve) below which: warning
  std::optional<Threshold> critical_at;       // headroom (after the reserve) below which: critical
  std::optional<uint64_t> lead_time_seconds;  // for watch/run forecasts
  // The supervisor (`ltxguard run`); docs/policy.md.
  std::optional<uint64_t> stop_grace_seconds;  // SIGTERM to SIGKILL; default 10
  std::optional<uint64_t> ballast_bytes;       // off unless set: a file released at a protective stop
  std::optional<std::string> ballast_path;     // default <first database's dir>/.ltxguard-ballast
  bool remove_staging_tmp_on_stop = false;     // delete the stopped Litestream's *.tmp after the bundle

  // Where each key was set, for errors found later (e.g. reserve larger than the filesystem).
  std::string source_name;
  std::map<std::string, int, std::less<>> key_lines;  // key -> 1-based line
};

// Parses a policy document. An empty document (or only comments) is a valid policy with every
// default. Errors are invalid_input with message "<source>:<line>: <key>: <what>" (or
// "<source>:<line>: <what>" for a problem that is not about one key's value), e.g.
// "policy.yml:3: unknown key 'reserve_byte'". Accepts at most kMaxPolicyBytes of text.
[[nodiscard]] util::Result<Policy> parse_policy(std::string_view yaml_text,
                                                std::string_view source_name);

// "policy.yml:3: reserve_bytes" when the key was set in a file, "policy: reserve_bytes" for a
// default: the prefix of errors the model reports against a parsed policy.
[[nodiscard]] std::string policy_key_location(const Policy& policy, std::string_view key);

// A byte size: an integer number of bytes ("1073741824") or a decimal number with a unit
// ("512MiB", "2 GiB", "500MB", "1.5GiB"); fractions round down to whole bytes. Units: B, KiB,
// MiB, GiB, TiB, PiB (powers of 1024) and kB/KB, MB, GB, TB, PB (powers of 1000). Fails with
// invalid_input "expected a size like 2GiB, got '<text>'" or "size '<text>' is too large".
[[nodiscard]] util::Result<uint64_t> parse_size(std::string_view text);

inline constexpr size_t kMaxPolicyBytes = 1 << 20;  // a policy is a dozen lines; refuse a blob

}  // namespace ltxguard::formats
