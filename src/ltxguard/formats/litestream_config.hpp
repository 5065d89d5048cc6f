// Litestream's YAML config (/etc/litestream.yml): databases, where each keeps its meta dir,
// its replicas, and everything in it that is a secret or backup metadata. Read the way
// Litestream 0.3.13 and 0.5.x read it (cmd/litestream/main.go): environment expansion over
// the whole text first, then YAML.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

// Looks up one environment variable; nullopt when unset (Litestream itself cannot tell
// unset from empty: both expand to "").
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct ReplicaConfig {
  std::string name;
  std::string type;  // "file","s3","gs"/"gcs","abs","sftp","webdav","nats","oss",…; from the url
                     // scheme (webdavs -> webdav), else `type`, else "file"
  std::string path;  // file: local directory (expanded); other types: the path inside the bucket
                     // ("" for the bucket root; Litestream itself uses "." there)
  std::string url;   // as written after expansion; may hold a userinfo password
  std::string bucket;
  std::string endpoint;
  std::string region;
  int line = 0;      // 1-based line of the replica in the file
  std::string host;  // server host[:port]: sftp/webdav/nats server, or the S3 endpoint's host
};

struct DbConfig {
  std::string path;       // as written, env-expanded ("" for a `dir:` entry)
  std::string meta_path;  // resolved: explicit meta-path, or default "<dir>/.<base>-litestream";
                          // "" for a `dir:` entry (see meta_path_for_dir_entry)
  bool meta_path_explicit = false;  // meta-path (or, for a dir entry, meta-dir) was given
  std::vector<ReplicaConfig>
      replicas;  // `replica:` (0.5) first, then `replicas:` (0.3, deprecated in 0.5)
  int line = 0;

  // Directory replication (0.5.x): every database matching `pattern` under `dir`.
  std::string dir;
  std::string pattern;
  bool recursive = false;
  bool watch = false;
  std::string meta_dir;           // 0.5.13+, only with dir
  std::string meta_path_setting;  // meta-path as written (expanded), "" when absent
};

struct ConfigKey {
  std::string key_path;  // "dbs[0].replicas[0].retention", "snapshot.interval", "addr"
  int line;              // 1-based line of the key (of the item, for list items)
  std::string value;     // scalar value; secrets are "[REDACTED]" and secret-looking parts of
                         // other values (url passwords, known secret values) are masked
};

// Something Litestream itself would refuse or silently get wrong, with its 1-based line.
struct ConfigIssue {
  int line = 0;
  std::string message;
};

struct LitestreamConfig {
  std::vector<DbConfig> dbs;
  std::string addr;                              // metrics address, "" when unset
  std::vector<std::string> referenced_env_vars;  // names used as ${VAR} / $VAR, first use order
  std::vector<std::string> secret_values;        // every resolved secret value found
  std::vector<std::string> backup_metadata;      // bucket names, replica paths/urls (and the values
                                                 // of ${VAR}s used only there)
  std::vector<ConfigKey> keys;                   // every scalar key seen, in file order
  bool has_cleartext_credentials = false;        // a credential key (or url password) given
                                                 // literally, not via ${VAR}
  std::vector<std::string> missing_env_vars;     // referenced but unset (expanded to "")
  // Referenced variables whose values are secrets: every one, except those used only in keys
  // known to hold no secret (db path, dir, meta-path, durations, …) or backup metadata.
  std::vector<std::string> secret_env_vars;
  std::vector<ConfigIssue> issues;  // what Litestream would refuse or mis-read
  std::string logging_type;         // `logging.type`: "", "text", "json", "pretty"
};

struct ConfigParseOptions {
  bool expand_env = true;  // false = Litestream's -no-expand-env
};

// Largest config text accepted, before and after expansion.
inline constexpr size_t kMaxConfigBytes = 4u << 20;

// Parses a config. Expansion follows Go's os.Expand as Litestream applies it to the whole
// text: $NAME and ${NAME} become the variable's value or "" when unset, `$$`, `$1` etc.
// are shell specials (also ""), `${}` and an unclosed `${` are dropped, a `$` followed by
// anything else stays. `~` and relative paths are kept as written (resolving them needs the
// process's home and working directory). Errors are invalid_input with path
// "<source_name>:<line>" (1-based line in the original text), so to_string() reads
// "litestream.yml:7: …": malformed YAML, a top level that is not a mapping, `dbs` not a list,
// a database or replica that is not a mapping, an oversized file.
[[nodiscard]] util::Result<LitestreamConfig> parse_litestream_config(std::string_view yaml_text,
                                                                     const EnvLookup& env,
                                                                     std::string_view source_name);
[[nodiscard]] util::Result<LitestreamConfig> parse_litestream_config(
    std::string_view yaml_text, const EnvLookup& env, std::string_view source_name,
    const ConfigParseOptions& opts);

// Litestream's default meta dir: filepath.Join(dir, "." + base + "-litestream"), lexically
// cleaned ("/d/app.db" -> "/d/.app.db-litestream").
[[nodiscard]] std::string default_meta_path(std::string_view db_path);

// Meta dir of the database at rel_path (relative to db.dir) found by a `dir:` entry, as
// 0.5.13+ derives it: meta-dir R -> "R/<rel_path>-litestream" (no dot); meta-path M ->
// "M/<rel dir>/.<base>-litestream"; neither -> default_meta_path(dir/rel_path).
[[nodiscard]] std::string meta_path_for_dir_entry(const DbConfig& db, std::string_view rel_path);

// A replica URL split the way Go's net/url does for Litestream's purposes.
struct ReplicaUrl {
  std::string scheme;  // lower-case
  std::string user;
  std::string password;  // percent-decoded
  bool has_password = false;
  std::string host;   // host[:port]
  std::string path;   // percent-decoded, as in the URL (leading '/' kept)
  std::string query;  // raw, without '?'
};
// nullopt unless s starts with `scheme://` (Litestream's IsURL: ^\w+://).
[[nodiscard]] std::optional<ReplicaUrl> parse_replica_url(std::string_view s);

// Lexical path cleaning as Go's path.Clean ("" -> ".").
[[nodiscard]] std::string clean_path(std::string_view p);

}  // namespace ltxguard::formats
