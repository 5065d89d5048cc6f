// What every verb shares: exit codes, loading the Litestream config and the policy, and
// the one-line error form. No CLI parsing here (main.cpp owns CLI11).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/policy.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::cmd {

// docs/exit-codes.md. Verdict codes first, then sysexits.h for failures to run at all.
inline constexpr int kExitOk = 0;
inline constexpr int kExitWarning = 1;
inline constexpr int kExitCritical = 2;
inline constexpr int kExitUnknown = 3;
inline constexpr int kExitUsage = 64;     // EX_USAGE: bad flags
inline constexpr int kExitDataErr = 65;   // EX_DATAERR: malformed config or policy
inline constexpr int kExitNoInput = 66;   // EX_NOINPUT: database or config missing/unreadable
inline constexpr int kExitSoftware = 70;  // EX_SOFTWARE: internal error
inline constexpr int kExitCantCreate = 73;  // EX_CANTCREAT: output cannot be written

// Prints "ltxguard: <error>" on stderr and returns the exit code for the error's kind. For
// errors on what ltxguard reads (database, config, policy): an io error there is 66.
int report_error(const util::Error& e);

// The same line for a failure writing ltxguard's own output (evidence bundle, state file,
// report): 73 whatever the errno (EIO, ENOSPC, EROFS, EACCES), since the input was read fine
// and a script must not take it for a missing input (docs/exit-codes.md).
int report_output_error(const util::Error& e);

// For a step that both reads inputs and opens ltxguard's own output files (watch's --record):
// an error on one of `output_paths` is report_output_error's 73, unless the path itself was
// refused (invalid_input, unsafe_path: 65); any other error is report_error's.
int report_error_with_outputs(const util::Error& e, const std::vector<std::string>& output_paths);

[[nodiscard]] std::optional<std::string> getenv_string(std::string_view name);
[[nodiscard]] formats::EnvLookup process_env();

// An explicit --config must load; without one, $LITESTREAM_CONFIG or /etc/litestream.yml is
// tried and a missing default is not an error (nullopt). Returns the path actually read.
struct LoadedConfig {
  std::optional<formats::LitestreamConfig> config;
  std::string path;
};
[[nodiscard]] util::Result<LoadedConfig> load_litestream_config(const sys::FileSystem& fs,
                                                                const std::string& explicit_path);

// An explicit --policy must load; without one, /etc/ltxguard/policy.yml is read when present,
// else the defaults apply. `path` says which.
struct LoadedPolicy {
  formats::Policy policy;
  std::string path;  // "" = built-in defaults
};
[[nodiscard]] util::Result<LoadedPolicy> load_policy(const sys::FileSystem& fs, const std::string& explicit_path);

}  // namespace ltxguard::cmd
