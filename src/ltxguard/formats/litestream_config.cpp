#include "ltxguard/formats/litestream_config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <unordered_map>

#include "ltxguard/formats/redaction.hpp"

namespace ltxguard::formats {
namespace {

constexpr std::string_view kMetaDirSuffix = "-litestream";  // litestream.go MetaDirSuffix
// Hostile YAML (alias bombs, cycles) must not make the walk exponential or unbounded.
constexpr int kMaxVisitedNodes = 200000;
constexpr int kMaxDepth = 64;

// Config keys whose values are secrets (litestream-facts.md). A whole subtree under one is
// secret; `age.identities` is handled where the walk knows the parent.
constexpr std::string_view kSecretKeys[] = {"access-key-id",
                                            "secret-access-key",
                                            "sse-customer-key",
                                            "account-key",
                                            "sas-token",
                                            "password",
                                            "webdav-password",
                                            "jwt",
                                            "seed",
                                            "nkey",
                                            "token",
                                            "heartbeat-url",
                                            "exec"};
// The subset that are storage credentials (has_cleartext_credentials); exec and heartbeat-url
// are secrets without being credentials.
bool is_credential_key(std::string_view k) { return k != "exec" && k != "heartbeat-url"; }

// Keys whose values are backup metadata: masked unless the user opts in.
constexpr std::string_view kMetadataKeys[] = {"bucket", "url", "endpoint", "host", "webdav-url"};
// Keys whose values are neither secret nor backup metadata; a ${VAR} used only in these is
// not treated as a secret.
constexpr std::string_view kPlainKeys[] = {"dir",
                                           "pattern",
                                           "meta-path",
                                           "meta-dir",
                                           "addr",
                                           "mcp-addr",
                                           "type",
                                           "name",
                                           "region",
                                           "level",
                                           "stderr",
                                           "source",
                                           "recursive",
                                           "watch",
                                           "storage-class",
                                           "force-path-style",
                                           "skip-verify",
                                           "sign-payload",
                                           "require-content-md5",
                                           "auto-recover",
                                           "key-path",
                                           "client-cert",
                                           "client-key",
                                           "creds",
                                           "root-cas",
                                           "sse-customer-key-path",
                                           "sse-customer-algorithm",
                                           "sse-kms-key-id",
                                           "account-name",
                                           "user",
                                           "username",
                                           "webdav-username",
                                           "tls",
                                           "part-size",
                                           "concurrency",
                                           "max-reconnects",
                                           "truncate-page-n",
                                           "min-checkpoint-page-count",
                                           "max-sync-wal-bytes",
                                           "max-sync-ltx-files"};
// URL query parameters that carry secrets (compared lower-case without '-' and '_').
constexpr std::string_view kSecretQueryParams[] = {"ssecustomerkey",
                                                   "secretaccesskey",
                                                   "accesskeyid",
                                                   "accountkey",
                                                   "sastoken",
                                                   "password",
                                                   "token",
                                                   "jwt",
                                                   "seed",
                                                   "nkey",
                                                   "sig",
                                                   "xamzsignature",
                                                   "xamzcredential",
                                                   "xamzsecuritytoken"};

template <size_t N>
bool in(const std::string_view (&set)[N], std::string_view v) {
  return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

void push_unique(std::vector<std::string>& list, std::string_view v) {
  if (v.empty()) return;
  if (std::find(list.begin(), list.end(), v) == list.end()) list.emplace_back(v);
}

// ---- Go os.Expand, as Litestream runs it over the whole file ---------------------------

bool is_shell_special(char c) {
  return std::string_view("*#$@!?-0123456789").find(c) != std::string_view::npos;
}
bool is_name_char(char c) {
  return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Go's getShellName: the name after a '$' and how many bytes it spans.
std::pair<std::string_view, size_t> shell_name(std::string_view s) {
  if (s[0] == '{') {
    if (s.size() > 2 && is_shell_special(s[1]) && s[2] == '}') return {s.substr(1, 1), 3};
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i] == '}') {
        if (i == 1) return {{}, 2};  // "${}": bad syntax, eaten
        return {s.substr(1, i - 1), i + 1};
      }
    }
    return {{}, 1};  // "${" unclosed: eaten
  }
  if (is_shell_special(s[0])) return {s.substr(0, 1), 1};
  size_t i = 0;
  while (i < s.size() && is_name_char(s[i])) ++i;
  return {s.substr(0, i), i};
}

struct VarUse {
  std::string name;
  int line;  // original, 1-based
};

struct Expansion {
  std::string text;
  std::vector<int> orig_line;  // expanded line index (0-based) -> original line (1-based)
  std::vector<VarUse> uses;
  std::set<int> substituted_lines;
  std::vector<ConfigIssue> issues;
};

util::Error config_error(std::string_view source, int line, std::string message) {
  std::string where = line > 0 ? fmt::format("{}:{}", source, line) : std::string(source);
  return util::make_error(util::ErrorCode::invalid_input, std::move(where), std::move(message));
}

util::Result<Expansion> expand_env(std::string_view s, const EnvLookup& env, bool enabled,
                                   std::string_view source) {
  Expansion e;
  e.orig_line.push_back(1);
  int line = 1;
  if (!enabled) {
    e.text.assign(s);
    for (const char c : s) {
      if (c == '\n') e.orig_line.push_back(++line);
    }
    return e;
  }
  e.text.reserve(s.size());
  for (size_t j = 0; j < s.size(); ++j) {
    const char c = s[j];
    if (c != '$' || j + 1 >= s.size()) {
      e.text += c;
      if (c == '\n') e.orig_line.push_back(++line);
      continue;
    }
    const auto [name, width] = shell_name(s.substr(j + 1));
    if (!name.empty()) {
      std::optional<std::string> value;
      if (env) value = env(name);
      e.uses.push_back({std::string(name), line});
      e.substituted_lines.insert(line);
      if (name.size() == 1 && is_shell_special(name[0])) {
        e.issues.push_back(
            {line, fmt::format("\"${}\" is expanded by Litestream like an environment "
                               "variable (to \"\" when unset); write a literal '$' "
                               "through a variable or use -no-expand-env",
                               name)});
      }
      for (const char v : value.value_or("")) {
        e.text += v;
        if (v == '\n') e.orig_line.push_back(line);
      }
    } else if (width == 0) {
      e.text += '$';
    }
    const std::string_view consumed = s.substr(j + 1, width);
    line += static_cast<int>(std::count(consumed.begin(), consumed.end(), '\n'));
    j += width;
    if (e.text.size() > kMaxConfigBytes) {
      return util::fail(config_error(source, line,
                                     "config is larger than 4 MiB after expanding "
                                     "environment variables"));
    }
  }
  return e;
}

// ---- URLs and paths --------------------------------------------------------------------

std::string percent_decode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string normalize_param(std::string_view name) {
  std::string n;
  for (const char c : name) {
    if (c == '-' || c == '_') continue;
    n += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return n;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= q.size()) {
    size_t amp = q.find('&', pos);
    if (amp == std::string_view::npos) amp = q.size();
    const std::string_view pair = q.substr(pos, amp - pos);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      out.emplace_back(
          percent_decode(pair.substr(0, eq)),
          eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
    }
    pos = amp + 1;
  }
  return out;
}

std::string query_value(const ReplicaUrl& u, std::string_view name) {
  for (auto& [k, v] : parse_query(u.query)) {
    if (k == name) return v;
  }
  return {};
}

// "/a/b/" -> "a/b" the way Litestream turns a URL path into a key prefix (Go:
// strings.TrimPrefix(path.Clean(p), "/")), except that the bucket root is "" not ".".
std::string bucket_path(std::string_view url_path) {
  std::string p = clean_path(url_path);
  if (!p.empty() && p.front() == '/') p.erase(0, 1);
  return p == "." ? std::string() : p;
}

// Host part of an endpoint given as "https://host:port/…" or "host:port".
std::string endpoint_host(std::string_view endpoint) {
  if (auto u = parse_replica_url(endpoint)) return u->host;
  const size_t slash = endpoint.find('/');
  return std::string(endpoint.substr(0, slash));
}

struct S3Host {
  std::string bucket, region, endpoint;
};

// s3.ParseHost of Litestream 0.5: the bucket (and provider endpoint) from an s3:// host.
S3Host parse_s3_host(std::string_view host) {
  if (host.find(':') != std::string_view::npos && host.find(".com") == std::string_view::npos) {
    const size_t dot = host.find('.');
    if (dot != std::string_view::npos) {
      return {std::string(host.substr(0, dot)), "us-east-1",
              "http://" + std::string(host.substr(dot + 1))};
    }
    return {"", "", "http://" + std::string(host)};
  }
  // ^(?:(.+)\.)?<label>\.<suffix>$ style matches: returns {prefix before ".<label>", label}.
  const auto split_last_label =
      [](std::string_view rest) -> std::pair<std::string_view, std::string_view> {
    const size_t dot = rest.rfind('.');
    if (dot == std::string_view::npos) return {{}, rest};
    return {rest.substr(0, dot), rest.substr(dot + 1)};
  };
  if (ends_with(host, ".amazonaws.com")) {
    std::string_view rest = host.substr(0, host.size() - 14);
    if (ends_with(rest, ".s3") && rest.size() > 3)
      return {std::string(rest.substr(0, rest.size() - 3)), "", ""};
    const auto [head, region] = split_last_label(rest);
    if (ends_with(head, ".s3") && head.size() > 3) {
      return {std::string(head.substr(0, head.size() - 3)), std::string(region), ""};
    }
  } else if (ends_with(host, ".digitaloceanspaces.com")) {
    const auto [bucket, region] = split_last_label(host.substr(0, host.size() - 23));
    return {std::string(bucket), std::string(region),
            fmt::format("https://{}.digitaloceanspaces.com", region)};
  } else if (ends_with(host, ".backblazeb2.com")) {
    const auto [head, region] = split_last_label(host.substr(0, host.size() - 16));
    if (head == "s3" || ends_with(head, ".s3")) {
      const std::string_view bucket =
          head.size() > 3 ? head.substr(0, head.size() - 3) : std::string_view();
      return {std::string(bucket), std::string(region),
              fmt::format("https://s3.{}.backblazeb2.com", region)};
    }
  } else if (host == "s3.filebase.com" || ends_with(host, ".s3.filebase.com")) {
    const std::string_view bucket =
        host.size() > 16 ? host.substr(0, host.size() - 16) : std::string_view();
    return {std::string(bucket), "", "s3.filebase.com"};
  } else if (ends_with(host, ".scw.cloud")) {
    const auto [head, region] = split_last_label(host.substr(0, host.size() - 10));
    if (head == "s3" || ends_with(head, ".s3")) {
      const std::string_view bucket =
          head.size() > 3 ? head.substr(0, head.size() - 3) : std::string_view();
      return {std::string(bucket), std::string(region), fmt::format("s3.{}.scw.cloud", region)};
    }
  }
  return {std::string(host), "", ""};
}

std::string join_path(std::string_view a, std::string_view b) {
  if (a.empty()) return clean_path(b);
  if (b.empty()) return clean_path(a);
  return clean_path(std::string(a) + "/" + std::string(b));
}

// ---- The YAML walk ---------------------------------------------------------------------

struct TooComplex {};

// Never assign one Entry (or YAML::Node) to another: yaml-cpp's Node::operator= does not
// rebind, it makes the node inside the document share the other's data, which frees nodes
// the walk still holds (a use-after-free the fuzzer found with `&m {a: *m, a: 1}`). Entries
// are only ever constructed.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

struct ScalarSite {
  std::string key_path;
  std::string leaf;  // the map key the value hangs under
  int first_line;
  int last_line;
  bool secret;
  bool replica;  // under dbs[i].replica / replicas[j]
};

const char* kind(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a scalar";
}

class Walker {
 public:
  Walker(const Expansion& exp, const EnvLookup& env, std::string_view source, bool expand)
      : exp_(exp), env_(env), source_(source), expand_(expand) {}

  util::Result<LitestreamConfig> run(const YAML::Node& root);

 private:
  int line_of(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0) return 0;
    const auto idx = static_cast<size_t>(m.line);
    return idx < exp_.orig_line.size() ? exp_.orig_line[idx] : exp_.orig_line.back();
  }
  void charge() {
    if (--budget_ < 0) throw TooComplex{};
  }
  std::vector<Entry> entries(const YAML::Node& map, int depth = 0);
  void record(const YAML::Node& n, const std::string& path, std::string_view leaf, int key_line,
              bool secret, bool under_age, bool replica, int depth);
  void scalar(const YAML::Node& n, const std::string& path, std::string_view leaf, int key_line,
              bool secret, bool replica);
  bool literal(int first_line, int last_line, std::string_view value) const;
  void note_url_secrets(std::string_view value, int first_line, int last_line);
  util::Result<std::string> string_at(const Entry& e, const std::string& where);
  util::Result<DbConfig> parse_db(const YAML::Node& n, size_t index);
  util::Result<ReplicaConfig> parse_replica(const YAML::Node& n, const std::string& where);
  void classify_env_vars();
  util::Error error(int line, std::string msg) const {
    return config_error(source_, line, std::move(msg));
  }

  const Expansion& exp_;
  const EnvLookup& env_;
  std::string_view source_;
  bool expand_;
  int budget_ = kMaxVisitedNodes;
  LitestreamConfig cfg_;
  std::vector<ScalarSite> sites_;
  std::string global_bucket_, global_endpoint_, global_region_, global_host_;
};

std::vector<Entry> Walker::entries(const YAML::Node& map, int depth) {
  if (depth > kMaxDepth) throw TooComplex{};
  std::vector<Entry> all;
  std::unordered_map<std::string, size_t> index;  // key -> its last entry in `all`
  std::vector<YAML::Node> merges;
  for (auto it = map.begin(); it != map.end(); ++it) {
    charge();
    if (!it->first.IsScalar()) continue;
    std::string key = it->first.Scalar();
    if (key == "<<") {  // YAML merge key, which Go's yaml.v2 honours and yaml-cpp does not
      merges.push_back(it->second);
      continue;
    }
    index[key] = all.size();  // yaml.v2: the last one wins
    all.push_back({std::move(key), it->first, it->second});
  }
  std::vector<Entry> out;
  out.reserve(index.size());
  for (size_t i = 0; i < all.size(); ++i) {
    if (index[all[i].key] == i) out.push_back(std::move(all[i]));
  }
  for (size_t i = 0; i < out.size(); ++i) index[out[i].key] = i;
  const auto merge_from = [&](const YAML::Node& m) {
    if (!m.IsMap()) return;
    for (auto& e : entries(m, depth + 1)) {
      if (index.count(e.key)) continue;
      index.emplace(e.key, out.size());
      out.push_back(std::move(e));
    }
  };
  for (const auto& m : merges) {
    if (m.IsSequence()) {
      for (const auto& item : m) merge_from(item);
    } else {
      merge_from(m);
    }
  }
  return out;
}

bool Walker::literal(int first_line, int last_line, std::string_view value) const {
  if (!expand_) return value.find('$') == std::string_view::npos;
  const auto it = exp_.substituted_lines.lower_bound(first_line);
  return it == exp_.substituted_lines.end() || *it > last_line;
}

void Walker::note_url_secrets(std::string_view value, int first_line, int last_line) {
  const auto u = parse_replica_url(value);
  if (!u) return;
  if (u->has_password && !u->password.empty()) {
    push_unique(cfg_.secret_values, u->password);
    if (literal(first_line, last_line, value)) cfg_.has_cleartext_credentials = true;
  }
  for (auto& [k, v] : parse_query(u->query)) {
    if (v.empty() || !in(kSecretQueryParams, normalize_param(k))) continue;
    push_unique(cfg_.secret_values, v);
    if (literal(first_line, last_line, value)) cfg_.has_cleartext_credentials = true;
  }
}

void Walker::scalar(const YAML::Node& n, const std::string& path, std::string_view leaf,
                    int key_line, bool secret, bool replica) {
  const std::string value = n.IsScalar() ? n.Scalar() : std::string();
  const int value_line = n.IsNull() ? key_line : line_of(n);
  const auto newlines = static_cast<int>(std::count(value.begin(), value.end(), '\n'));
  const int first = std::min(key_line, value_line > 0 ? value_line : key_line);
  const int last = std::max(key_line, value_line) + newlines + (newlines > 0 ? 1 : 0);
  if (secret && !value.empty()) {
    push_unique(cfg_.secret_values, value);
    if (is_credential_key(leaf) && literal(first, last, value))
      cfg_.has_cleartext_credentials = true;
  }
  if (value.find("://") != std::string::npos) note_url_secrets(value, first, last);
  cfg_.keys.push_back({path, key_line, secret && !value.empty() ? std::string(kRedacted) : value});
  sites_.push_back({path, std::string(leaf), first, last, secret, replica});
}

void Walker::record(const YAML::Node& n, const std::string& path, std::string_view leaf,
                    int key_line, bool secret, bool under_age, bool replica, int depth) {
  charge();
  if (depth > kMaxDepth) throw TooComplex{};
  if (n.IsMap()) {
    for (const auto& e : entries(n)) {
      const std::string child = path.empty() ? e.key : path + "." + e.key;
      const bool child_secret =
          secret || in(kSecretKeys, e.key) || (under_age && e.key == "identities");
      const bool child_replica =
          replica ||
          (depth == 2 && (e.key == "replica" || e.key == "replicas") && starts_with(path, "dbs["));
      record(e.value, child, e.key, line_of(e.key_node), child_secret, e.key == "age",
             child_replica, depth + 1);
    }
  } else if (n.IsSequence()) {
    size_t i = 0;
    for (const auto& item : n) {
      record(item, fmt::format("{}[{}]", path, i++), leaf, line_of(item), secret, false, replica,
             depth + 1);
    }
  } else {
    scalar(n, path, leaf, key_line, secret, replica);
  }
}

util::Result<std::string> Walker::string_at(const Entry& e, const std::string& where) {
  if (e.value.IsNull()) return std::string();
  if (!e.value.IsScalar()) {
    return util::fail(error(line_of(e.key_node),
                            fmt::format("{}: expected a string, found {}", where, kind(e.value))));
  }
  return e.value.Scalar();
}

bool parse_bool(std::string_view v) {
  // yaml.v2 resolves these to true (and their opposites to false).
  return v == "true" || v == "True" || v == "TRUE" || v == "yes" || v == "Yes" || v == "YES" ||
         v == "on" || v == "On" || v == "ON" || v == "y" || v == "Y";
}

util::Result<ReplicaConfig> Walker::parse_replica(const YAML::Node& n, const std::string& where) {
  ReplicaConfig r;
  r.line = line_of(n);
  std::string type, path, url, bucket, endpoint, region, host, webdav_url;
  for (const auto& e : entries(n)) {
    std::string* field = e.key == "type"         ? &type
                         : e.key == "name"       ? &r.name
                         : e.key == "path"       ? &path
                         : e.key == "url"        ? &url
                         : e.key == "bucket"     ? &bucket
                         : e.key == "endpoint"   ? &endpoint
                         : e.key == "region"     ? &region
                         : e.key == "host"       ? &host
                         : e.key == "webdav-url" ? &webdav_url
                                                 : nullptr;
    if (field == nullptr) continue;
    auto v = string_at(e, where + "." + e.key);
    if (!v) return util::fail(v.error());
    *field = std::move(*v);
  }
  r.url = url;
  const auto u = parse_replica_url(url);
  if (u) {
    r.type = u->scheme == "webdavs" ? "webdav" : u->scheme;
  } else {
    r.type = type.empty() ? "file" : type;
    if (!url.empty()) {
      cfg_.issues.push_back(
          {r.line, where + ": 'url' has no scheme (like s3://); Litestream refuses it"});
    }
  }
  if (!url.empty() && !path.empty()) {
    cfg_.issues.push_back(
        {r.line, where + ": both 'url' and 'path' are set; Litestream refuses this"});
  }
  if (parse_replica_url(path)) {
    cfg_.issues.push_back(
        {r.line, where + ": 'path' holds a URL; Litestream refuses it (use 'url')"});
  }
  if (!u) {  // settings shared at the top level (0.5 ReplicaSettings) fill what is unset
    if (bucket.empty()) bucket = global_bucket_;
    if (endpoint.empty()) endpoint = global_endpoint_;
    if (region.empty()) region = global_region_;
    if (host.empty()) host = global_host_;
  }

  if (r.type == "file") {
    if (u) {
      r.path = clean_path(u->host.empty() ? u->path : "//" + u->host + u->path);
    } else {
      r.path = path;
    }
  } else if (r.type == "s3") {
    r.bucket = bucket;
    r.path = path;
    r.region = region;
    r.endpoint = endpoint;
    if (u) {
      S3Host h = starts_with(u->host, "arn:") ? S3Host{u->host, "", ""} : parse_s3_host(u->host);
      if (auto q = query_value(*u, "endpoint"); !q.empty()) h.endpoint = q;
      if (auto q = query_value(*u, "region"); !q.empty()) h.region = q;
      if (r.path.empty()) r.path = bucket_path(u->path);
      if (r.bucket.empty()) r.bucket = h.bucket;
      if (r.region.empty()) r.region = h.region;
      if (r.endpoint.empty()) r.endpoint = h.endpoint;
    }
    if (!r.endpoint.empty()) r.host = endpoint_host(r.endpoint);
  } else if (r.type == "sftp") {
    r.host = !host.empty() ? host : u ? u->host : std::string();
    r.path = !path.empty() ? path : u ? u->path : std::string();
  } else if (r.type == "webdav") {
    if (!webdav_url.empty()) r.host = endpoint_host(webdav_url);
    if (r.host.empty() && u) r.host = u->host;
    r.path = !path.empty() ? path : u ? u->path : std::string();
  } else if (r.type == "nats") {
    if (u) {
      r.host = u->host;
      std::string_view p = u->path;
      while (!p.empty() && p.front() == '/') p.remove_prefix(1);
      while (!p.empty() && p.back() == '/') p.remove_suffix(1);
      r.bucket = std::string(p);
    }
    if (r.bucket.empty()) r.bucket = bucket;
  } else {  // gs/gcs, abs, oss and anything newer: host = bucket
    r.bucket = !bucket.empty() ? bucket : u ? u->host : std::string();
    r.path = !path.empty() ? path : u ? bucket_path(u->path) : std::string();
    r.endpoint = endpoint;
    r.region = region;
    if (!r.endpoint.empty()) r.host = endpoint_host(r.endpoint);
  }
  if (r.path == ".") r.path.clear();

  push_unique(cfg_.backup_metadata, r.url);
  push_unique(cfg_.backup_metadata, r.bucket);
  push_unique(cfg_.backup_metadata, r.path);
  return r;
}

util::Result<DbConfig> Walker::parse_db(const YAML::Node& n, size_t index) {
  DbConfig db;
  db.line = line_of(n);
  const std::string where = fmt::format("dbs[{}]", index);
  bool has_meta_path = false, has_meta_dir = false;
  const Entry* replica = nullptr;
  const Entry* replicas = nullptr;
  const std::vector<Entry> fields = entries(n);
  for (const auto& e : fields) {
    std::string* target = e.key == "path"        ? &db.path
                          : e.key == "dir"       ? &db.dir
                          : e.key == "pattern"   ? &db.pattern
                          : e.key == "meta-path" ? &db.meta_path_setting
                          : e.key == "meta-dir"  ? &db.meta_dir
                                                 : nullptr;
    if (target != nullptr) {
      auto v = string_at(e, where + "." + e.key);
      if (!v) return util::fail(v.error());
      *target = std::move(*v);
      has_meta_path = has_meta_path || e.key == "meta-path";
      has_meta_dir = has_meta_dir || e.key == "meta-dir";
    } else if (e.key == "recursive" || e.key == "watch") {
      auto v = string_at(e, where + "." + e.key);
      if (!v) return util::fail(v.error());
      (e.key == "recursive" ? db.recursive : db.watch) = parse_bool(*v);
    } else if (e.key == "replica") {
      replica = &e;
    } else if (e.key == "replicas") {
      replicas = &e;
    }
  }

  if (replica != nullptr && !replica->value.IsNull()) {
    if (!replica->value.IsMap()) {
      return util::fail(error(
          line_of(replica->key_node),
          fmt::format("{}.replica: expected a mapping, found {}", where, kind(replica->value))));
    }
    auto r = parse_replica(replica->value, where + ".replica");
    if (!r) return util::fail(r.error());
    db.replicas.push_back(std::move(*r));
  }
  if (replicas != nullptr && !replicas->value.IsNull()) {
    if (!replicas->value.IsSequence()) {
      return util::fail(error(
          line_of(replicas->key_node),
          fmt::format("{}.replicas: expected a list, found {}", where, kind(replicas->value))));
    }
    size_t i = 0;
    for (const auto& item : replicas->value) {
      const std::string rwhere = fmt::format("{}.replicas[{}]", where, i++);
      if (!item.IsMap()) {
        return util::fail(error(
            line_of(item), fmt::format("{}: expected a mapping, found {}", rwhere, kind(item))));
      }
      auto r = parse_replica(item, rwhere);
      if (!r) return util::fail(r.error());
      db.replicas.push_back(std::move(*r));
    }
  }

  // What Litestream itself refuses or ignores (cmd/litestream/main.go Validate, NewDBFromConfig).
  auto issue = [&](std::string msg) { cfg_.issues.push_back({db.line, where + ": " + msg}); };
  if (!db.path.empty() && !db.dir.empty())
    issue("both 'path' and 'dir' are set; Litestream 0.5 refuses this");
  if (db.path.empty() && db.dir.empty())
    issue("neither 'path' nor 'dir' is set (an unset environment variable?)");
  if (has_meta_path && has_meta_dir)
    issue("both 'meta-path' and 'meta-dir' are set; Litestream 0.5 refuses this");
  if (has_meta_dir && db.dir.empty())
    issue("'meta-dir' needs 'dir'; Litestream 0.5.13+ refuses it, older versions ignore it");
  const bool both = replica != nullptr && replicas != nullptr && !replica->value.IsNull() &&
                    !replicas->value.IsNull();
  if (both)
    issue(
        "both 'replica' and 'replicas' are set; Litestream 0.5 refuses this, 0.3 reads only "
        "'replicas'");
  if (db.replicas.empty()) issue("no replica; Litestream 0.5 refuses to start");
  if (!both && db.replicas.size() > 1)
    issue(fmt::format("{} replicas; Litestream 0.5 supports one per database", db.replicas.size()));

  db.meta_path_explicit = has_meta_path || (has_meta_dir && !db.dir.empty());
  if (!db.path.empty()) {
    db.meta_path = has_meta_path && !db.meta_path_setting.empty() ? clean_path(db.meta_path_setting)
                                                                  : default_meta_path(db.path);
    db.meta_path_explicit = has_meta_path && !db.meta_path_setting.empty();
  }
  return db;
}

// A ${VAR} is secret unless every use sits in a key known to hold no secret; one used for
// a bucket, url or replica path is backup metadata instead.
void Walker::classify_env_vars() {
  std::unordered_map<int, std::vector<const ScalarSite*>> by_line;
  for (const auto& s : sites_) {
    for (int l = s.first_line; l <= s.last_line && l - s.first_line < 10000; ++l)
      by_line[l].push_back(&s);
  }
  std::vector<std::string> seen;
  for (const auto& use : exp_.uses) {
    if (std::find(seen.begin(), seen.end(), use.name) != seen.end()) continue;
    seen.push_back(use.name);
    bool secret = false, metadata = false;
    for (const auto& other : exp_.uses) {
      if (other.name != use.name) continue;
      const auto found = by_line.find(other.line);
      if (found == by_line.end()) {
        secret = true;  // in a comment, a key, or somewhere the walk cannot place
        continue;
      }
      for (const ScalarSite* s : found->second) {
        if (s->secret) {
          secret = true;
        } else if (in(kMetadataKeys, s->leaf) || (s->leaf == "path" && s->replica)) {
          metadata = true;
        } else if (!(in(kPlainKeys, s->leaf) || s->leaf == "path" ||
                     ends_with(s->leaf, "interval") || ends_with(s->leaf, "retention") ||
                     ends_with(s->leaf, "timeout"))) {
          secret = true;
        }
      }
    }
    if (secret) {
      cfg_.secret_env_vars.push_back(use.name);
    } else if (metadata && env_) {
      if (auto v = env_(use.name)) push_unique(cfg_.backup_metadata, *v);
    }
  }
}

util::Result<LitestreamConfig> Walker::run(const YAML::Node& root) {
  cfg_.issues = exp_.issues;
  for (const auto& use : exp_.uses) {
    if (use.name.size() == 1 && is_shell_special(use.name[0])) continue;
    if (std::find(cfg_.referenced_env_vars.begin(), cfg_.referenced_env_vars.end(), use.name) !=
        cfg_.referenced_env_vars.end()) {
      continue;
    }
    cfg_.referenced_env_vars.push_back(use.name);
    // Litestream 0.5.10+ substitutes its own pid for ${PID}.
    if (use.name != "PID" && (!env_ || !env_(use.name))) cfg_.missing_env_vars.push_back(use.name);
  }
  if (root.IsNull()) return cfg_;
  if (!root.IsMap()) {
    return util::fail(error(
        line_of(root), fmt::format("expected a mapping at the top level, found {}", kind(root))));
  }
  record(root, "", "", 0, false, false, false, 0);

  const std::vector<Entry> top = entries(root);
  const Entry* dbs = nullptr;
  for (const auto& e : top) {
    if (e.key == "dbs") {
      dbs = &e;
      continue;
    }
    std::string* target = e.key == "addr"       ? &cfg_.addr
                          : e.key == "bucket"   ? &global_bucket_
                          : e.key == "endpoint" ? &global_endpoint_
                          : e.key == "region"   ? &global_region_
                          : e.key == "host"     ? &global_host_
                                                : nullptr;
    if (target != nullptr) {
      auto v = string_at(e, e.key);
      if (!v) return util::fail(v.error());
      *target = std::move(*v);
    } else if (e.key == "logging" && e.value.IsMap()) {
      for (const auto& l : entries(e.value)) {
        if (l.key == "type" && l.value.IsScalar()) cfg_.logging_type = l.value.Scalar();
      }
    }
  }
  if (dbs != nullptr && !dbs->value.IsNull()) {
    if (!dbs->value.IsSequence()) {
      return util::fail(
          error(line_of(dbs->key_node),
                fmt::format("dbs: expected a list of databases, found {}", kind(dbs->value))));
    }
    size_t i = 0;
    for (const auto& item : dbs->value) {
      if (!item.IsMap()) {
        return util::fail(error(
            line_of(item), fmt::format("dbs[{}]: expected a mapping, found {}", i, kind(item))));
      }
      auto db = parse_db(item, i++);
      if (!db) return util::fail(db.error());
      cfg_.dbs.push_back(std::move(*db));
    }
  }
  classify_env_vars();

  // Non-secret values may still embed a secret (a url password, a key value repeated
  // in an exec line): mask what is known and what looks secret.
  Redactor masker;
  for (const auto& s : cfg_.secret_values) masker.add_secret(s);
  for (auto& k : cfg_.keys) {
    if (k.value != kRedacted) k.value = masker.redact(k.value);
  }
  return std::move(cfg_);
}

}  // namespace

std::optional<ReplicaUrl> parse_replica_url(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_name_char(s[i])) ++i;
  if (i == 0 || s.substr(i, 3) != "://") return std::nullopt;
  ReplicaUrl u;
  for (const char c : s.substr(0, i))
    u.scheme += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  std::string_view rest = s.substr(i + 3);
  const size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  const size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  rest = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    u.user = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) {
      u.has_password = true;
      u.password = percent_decode(userinfo.substr(colon + 1));
    }
  }
  u.host = std::string(authority);
  const size_t q = rest.find('?');
  u.path = percent_decode(rest.substr(0, q));
  if (q != std::string_view::npos) u.query = std::string(rest.substr(q + 1));
  return u;
}

std::string clean_path(std::string_view p) {
  if (p.empty()) return ".";
  const bool rooted = p.front() == '/';
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t slash = p.find('/', pos);
    if (slash == std::string_view::npos) slash = p.size();
    const std::string_view seg = p.substr(pos, slash - pos);
    pos = slash + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(seg);
      }
      continue;
    }
    parts.push_back(seg);
  }
  std::string out = rooted ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out.append(parts[i]);
  }
  if (out.empty()) return ".";
  return out;
}

std::string default_meta_path(std::string_view db_path) {
  // filepath.Split + filepath.Join(dir, "." + file + MetaDirSuffix) of db.go NewDB.
  const size_t slash = db_path.rfind('/');
  const std::string_view dir =
      slash == std::string_view::npos ? std::string_view() : db_path.substr(0, slash + 1);
  const std::string_view file =
      slash == std::string_view::npos ? db_path : db_path.substr(slash + 1);
  return join_path(dir, "." + std::string(file) + std::string(kMetaDirSuffix));
}

std::string meta_path_for_dir_entry(const DbConfig& db, std::string_view rel_path) {
  if (!db.meta_dir.empty())
    return join_path(db.meta_dir, std::string(rel_path) + std::string(kMetaDirSuffix));
  if (!db.meta_path_setting.empty()) {  // deriveMetaPathForDirectoryEntry
    const std::string rel = clean_path(rel_path);
    if (rel == ".") return clean_path(db.meta_path_setting);
    const size_t slash = rel.rfind('/');
    const std::string rel_dir = slash == std::string::npos ? std::string() : rel.substr(0, slash);
    const std::string rel_file = slash == std::string::npos ? rel : rel.substr(slash + 1);
    return join_path(join_path(db.meta_path_setting, rel_dir),
                     "." + rel_file + std::string(kMetaDirSuffix));
  }
  return default_meta_path(join_path(db.dir, rel_path));
}

util::Result<LitestreamConfig> parse_litestream_config(std::string_view yaml_text,
                                                       const EnvLookup& env,
                                                       std::string_view source_name) {
  return parse_litestream_config(yaml_text, env, source_name, ConfigParseOptions{});
}

util::Result<LitestreamConfig> parse_litestream_config(std::string_view yaml_text,
                                                       const EnvLookup& env,
                                                       std::string_view source_name,
                                                       const ConfigParseOptions& opts) {
  if (yaml_text.size() > kMaxConfigBytes) {
    return util::fail(config_error(source_name, 0, "config is larger than 4 MiB"));
  }
  auto exp = expand_env(yaml_text, env, opts.expand_env, source_name);
  if (!exp) return util::fail(exp.error());
  const auto map_line = [&](const YAML::Mark& m) {
    if (m.is_null() || m.line < 0) return 0;
    const auto idx = static_cast<size_t>(m.line);
    return idx < exp->orig_line.size() ? exp->orig_line[idx] : exp->orig_line.back();
  };
  try {
    const YAML::Node root = YAML::Load(exp->text);
    Walker walker(*exp, env, source_name, opts.expand_env);
    return walker.run(root);
  } catch (const YAML::Exception& e) {
    return util::fail(config_error(source_name, map_line(e.mark), e.msg));
  } catch (const TooComplex&) {
    return util::fail(config_error(source_name, 0,
                                   fmt::format("config is too complex (more than {} "
                                               "nodes or {} levels; YAML aliases?)",
                                               kMaxVisitedNodes, kMaxDepth)));
  } catch (const std::exception& e) {
    return util::fail(config_error(source_name, 0, e.what()));
  }
}

}  // namespace ltxguard::formats
