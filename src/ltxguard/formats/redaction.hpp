// The one redaction step every writer (evidence bundle, logs, reports, runbooks) applies to
// text it emits: known secret values and secret-looking patterns become "[REDACTED]",
// backup metadata (bucket names, replica paths) too unless shown on purpose, and in public
// mode host-identifying details as well.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/formats/litestream_config.hpp"

namespace ltxguard::formats {

inline constexpr std::string_view kRedacted = "[REDACTED]";

struct RedactionOptions {
  bool show_replica_paths = false;  // keep bucket names and replica paths/urls readable
  // For text meant to leave the organisation: also masks added host names, IPv4 addresses
  // other than loopback/unspecified, user names in /home/<user> and /Users/<user>, replaces
  // added paths by their base name and their directory by "[dir]". Backup metadata is
  // masked even when show_replica_paths is set.
  bool public_mode = false;
};

class Redactor {
 public:
  explicit Redactor(RedactionOptions opts = {});

  // Values shorter than kMinValueBytes are ignored by every add_*: masking "db" or "s3"
  // everywhere would destroy the text without protecting anything.
  static constexpr size_t kMinValueBytes = 4;

  void add_secret(std::string value);           // always masked
  void add_backup_metadata(std::string value);  // masked unless show_replica_paths (and not public)
  void add_path(std::string path);              // public_mode: base name only
  void add_hostname(std::string host);          // public_mode: masked

  // Masks, in this order of precedence, every occurrence of an added secret, of added
  // metadata, and of these patterns even for values never added:
  //   <secret key><sep><value> for Litestream's secret config keys, the secret environment
  //   variables and common credential names (YAML `k: v`, logfmt/env/query `k=v`, JSON
  //   `"k":"v"`, also inside escaped quotes), `Authorization: …` up to the end of the line,
  //   the password in `scheme://user:password@host`, age secret keys, PEM private-key bodies,
  //   AWS access key ids (AKIA…/ASIA…).
  // Works byte-wise: invalid UTF-8 passes through, time is linear in the text per added
  // value, no regex backtracking.
  [[nodiscard]] std::string redact(std::string_view text) const;

  [[nodiscard]] const RedactionOptions& options() const;

 private:
  RedactionOptions opts_;
  std::vector<std::string> secrets_;
  std::vector<std::string> metadata_;
  std::vector<std::string> paths_;
  std::vector<std::string> hosts_;
};

// Environment variables whose values are secrets whether or not the config names them
// (Litestream and the AWS SDK read them directly).
inline constexpr std::string_view kSecretEnvVars[] = {
    "AWS_ACCESS_KEY_ID",        "AWS_SECRET_ACCESS_KEY",        "AWS_SESSION_TOKEN",
    "LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY", "LITESTREAM_AZURE_ACCOUNT_KEY",
};

// A Redactor loaded with everything the config and environment hold that must not leak:
// the config's secret values, the values of kSecretEnvVars and of the ${VAR}s the config
// uses in secret positions (config.secret_env_vars), its backup metadata, its database and
// meta paths (public mode) and replica host names (public mode).
[[nodiscard]] Redactor make_redactor(const LitestreamConfig& config, const EnvLookup& env,
                                     RedactionOptions opts);

}  // namespace ltxguard::formats
