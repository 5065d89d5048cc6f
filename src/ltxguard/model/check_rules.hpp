// The `ltxguard check` lint: one rule per way a Litestream setup can let staging fill the
// application's disk unnoticed (old version, root unit, unlimited restarts, no watchdog, no or
// exposed metrics, meta dir placement, auto-recover, a reserve that cannot protect, secrets in
// clear, ignored or harmful config keys). Pure: every input is gathered by cmd/check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/litestream_version.hpp"
#include "ltxguard/formats/policy.hpp"
#include "ltxguard/formats/systemd_unit.hpp"

namespace ltxguard::model {

// Ordered for combining like preflight's verdict: ok < warning < unknown < failed. Unknown
// beats warning (a rule we could not evaluate may hide a failure) but not failed.
enum class CheckStatus { ok, warning, unknown, failed };

// "OK", "WARNING", "UNKNOWN", "FAILED"
[[nodiscard]] std::string_view check_status_name(CheckStatus status);

struct CheckFinding {
  std::string id;  // stable, e.g. "litestream-version"; one finding per rule
  CheckStatus status = CheckStatus::unknown;
  std::string message;  // what was found, with file:line where it came from
  std::string hint;     // what to do and why it matters; "" for OK
};

struct CheckInput {
  std::optional<formats::LitestreamConfig> config;
  std::string config_path;
  std::string config_note;  // why there is no config, when config is nullopt
  std::optional<formats::LitestreamVersion> version;
  std::string version_note;  // why version is nullopt, or what was run
  std::optional<formats::SystemdUnit> unit;
  std::string unit_path;
  std::string unit_note;  // why there is no unit, when unit is nullopt
  formats::Policy policy;
  std::string policy_path;  // "" = built-in defaults

  // Where each configured database and its meta dir live.
  struct DbPlacement {
    std::string db_path;  // the database, or the directory of a `dir:` entry
    std::string meta_path;
    std::optional<uint64_t> db_dev, meta_dev;  // st_dev of each (or its nearest existing parent)
    std::optional<uint64_t> fs_total_bytes;    // the database's filesystem
    uint32_t page_size_bytes = 0;              // 0 = unknown (the reserve assumes 4 KiB)
    // Where SQLite keeps the database when db_path is a symlink to another name or directory
    // (its -wal sits next to that file); "" when it is db_path itself or a `dir:` entry.
    std::string sqlite_path;
    std::string note;                          // why a field above is missing
    // The `file` replicas of this entry: a second full copy of the database lands there.
    struct FileReplica {
      std::string path;             // as configured
      std::optional<uint64_t> dev;  // st_dev of the path or its nearest existing parent
      std::string note;             // why dev is missing
    };
    std::vector<FileReplica> file_replicas;
  };
  std::vector<DbPlacement> placements;
};

// Every rule, in a fixed order, each exactly once (OK findings included so the operator sees
// what was checked). A rule whose input is missing is `unknown` and says why.
// Rule ids: litestream-version, unit-user, unit-restart, unit-watchdog, metrics-addr,
// metrics-loopback, meta-dir-placement, replica-same-filesystem, db-path-symlink, auto-recover,
// policy-reserve, replica-credentials, legacy-config-keys, l0-retention, config-issues.
[[nodiscard]] std::vector<CheckFinding> run_checks(const CheckInput& input);

// The worst status of all findings (ok for none).
[[nodiscard]] CheckStatus overall(const std::vector<CheckFinding>& findings);

// Go's time.ParseDuration value is zero ("0", "0s", "0h0m0.0s"); nullopt when it does not parse.
[[nodiscard]] std::optional<bool> go_duration_is_zero(std::string_view text);

// True when a Go listen address ("127.0.0.1:9090", "[::1]:9090", "localhost:9090") binds only
// to loopback; ":9090", "0.0.0.0:9090" and any other host are not.
[[nodiscard]] bool is_loopback_listen_addr(std::string_view addr);

}  // namespace ltxguard::model
