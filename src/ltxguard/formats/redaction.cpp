#include "ltxguard/formats/redaction.hpp"

#include <algorithm>
#include <array>

namespace ltxguard::formats {
namespace {

struct Span {
  size_t begin = 0;
  size_t end = 0;
  std::string replacement;  // pass 2 only; pass 1 always writes kRedacted
};

constexpr size_t npos = std::string_view::npos;

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ident(char c) { return is_alnum(c) || c == '_' || c == '-'; }
bool is_eol(char c) { return c == '\n' || c == '\r'; }

// Key names compared lower-case without '-' and '_', so `secret-access-key`,
// `SECRET_ACCESS_KEY`, `secretAccessKey` and `X-Amz-Signature` all match.
constexpr std::array<std::string_view, 12> kExactSecretNames = {
    "jwt",          "seed",          "nkey",           "exec",          "sig",       "identities",
    "heartbeaturl", "authorization", "xamzcredential", "xamzsignature", "accesskey", "secretkey"};
// Any name ending in one of these (awssecretaccesskey, litestreamazureaccountkey, mypassword).
constexpr std::array<std::string_view, 12> kSecretSuffixes = {
    "password",    "secret",    "token",      "accesskeyid", "secretaccesskey", "accountkey",
    "customerkey", "signature", "credential", "apikey",      "privatekey",      "sastoken"};

std::string normalize_name(std::string_view token) {
  std::string n;
  n.reserve(token.size());
  for (const char c : token) {
    if (c == '-' || c == '_') continue;
    n += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return n;
}

bool is_secret_name(std::string_view norm) {
  for (const auto name : kExactSecretNames) {
    if (norm == name) return true;
  }
  for (const auto suffix : kSecretSuffixes) {
    if (norm.size() >= suffix.size() && norm.substr(norm.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

size_t line_start(std::string_view t, size_t pos) {
  const size_t nl = pos == 0 ? npos : t.rfind('\n', pos - 1);
  return nl == npos ? 0 : nl + 1;
}

size_t indent_at(std::string_view t, size_t start) {
  size_t i = start;
  while (i < t.size() && t[i] == ' ') ++i;
  return i - start;
}

size_t find_eol(std::string_view t, size_t pos) {
  while (pos < t.size() && !is_eol(t[pos])) ++pos;
  return pos;
}

// YAML `key:` with the value on the following, more indented lines (a block scalar or a
// list): masks those lines' content. Returns where scanning may resume.
size_t mask_following_block(std::string_view t, size_t key_pos, size_t from,
                            std::vector<Span>& out) {
  const size_t key_indent = indent_at(t, line_start(t, key_pos));
  size_t pos = find_eol(t, from);
  while (pos < t.size()) {
    size_t next = pos;
    if (t[next] == '\r') ++next;
    if (next < t.size() && t[next] == '\n') ++next;
    if (next >= t.size()) break;
    const size_t indent = indent_at(t, next);
    const size_t content = next + indent;
    const size_t eol = find_eol(t, content);
    if (content == eol) {  // blank line inside a block
      pos = eol;
      continue;
    }
    const bool list_item = indent == key_indent && t.substr(content, 2) == "- ";
    if (indent <= key_indent && !list_item) break;
    out.push_back({content, eol, {}});
    pos = eol;
  }
  return pos;
}

// `name<sep>value` for secret names. Returns the position to resume scanning from.
size_t mask_key_value(std::string_view t, size_t key_begin, size_t key_end, std::string_view norm,
                      std::vector<Span>& out) {
  const size_t n = t.size();
  size_t k = key_end;
  bool key_quoted = false;
  if (k + 1 < n && t[k] == '\\' && t[k + 1] == '"') {
    k += 2;
    key_quoted = true;
  } else if (k < n && (t[k] == '"' || t[k] == '\'')) {
    ++k;
    key_quoted = true;
  }
  while (k < n && (t[k] == ' ' || t[k] == '\t')) ++k;
  if (k >= n || (t[k] != ':' && t[k] != '=')) return key_end;
  const char sep = t[k++];
  if (sep == ':' && t.substr(k, 2) == "//") return key_end;  // "token://…" is a URL scheme
  while (k < n && (t[k] == ' ' || t[k] == '\t')) ++k;
  if (k >= n) return k;

  if (t[k] == '\\' && k + 1 < n && t[k + 1] == '"') {  // \"value\" inside a quoted string
    const size_t close = t.find("\\\"", k + 2);
    const size_t end = close == npos ? find_eol(t, k) : close;
    out.push_back({k + 2, end, {}});
    return end;
  }
  if (t[k] == '"' || t[k] == '\'') {
    const char q = t[k];
    size_t i = k + 1;
    while (i < n && t[i] != q && !is_eol(t[i])) i += (q == '"' && t[i] == '\\') ? 2 : 1;
    i = std::min(i, n);
    out.push_back({k + 1, i, {}});
    return i;
  }
  size_t end = k;
  if (norm == "authorization") {
    while (end < n && !is_eol(t[end]) && t[end] != '"') ++end;
  } else if (sep == '=') {
    constexpr std::string_view kStop = " \t\r\n\"'&,;)]}<>";
    while (end < n && kStop.find(t[end]) == npos) ++end;
  } else if (key_quoted) {  // JSON: a bare number/bool/null
    constexpr std::string_view kStop = " \t\r\n,}]";
    while (end < n && kStop.find(t[end]) == npos) ++end;
  } else {  // YAML plain scalar: the rest of the line
    while (end < n && !is_eol(t[end]) && t[end] != '"') ++end;
  }
  while (end > k && (t[end - 1] == ' ' || t[end - 1] == '\t')) --end;
  const std::string_view value = t.substr(k, end - k);
  const bool block_indicator =
      !value.empty() && (value[0] == '|' || value[0] == '>') && value.size() <= 3;
  if (sep == ':' && !key_quoted && (value.empty() || block_indicator)) {
    return mask_following_block(t, key_begin, k, out);
  }
  if (end > k) out.push_back({k, end, {}});
  return end;
}

void scan_key_values(std::string_view t, std::vector<Span>& out) {
  size_t i = 0;
  while (i < t.size()) {
    if (!is_ident(t[i])) {
      ++i;
      continue;
    }
    const size_t begin = i;
    while (i < t.size() && is_ident(t[i])) ++i;
    // Long tokens are never key names; skipping them keeps this linear on hostile input.
    if (i - begin > 64) continue;
    const std::string norm = normalize_name(t.substr(begin, i - begin));
    if (!is_secret_name(norm)) continue;
    i = std::max(i, mask_key_value(t, begin, i, norm, out));
  }
}

void scan_userinfo(std::string_view t, std::vector<Span>& out) {
  constexpr std::string_view kAuthorityEnd = "/?#\"' \t\r\n<>\\";
  size_t pos = 0;
  while ((pos = t.find("://", pos)) != npos) {
    const size_t a = pos + 3;
    size_t e = a;
    while (e < t.size() && kAuthorityEnd.find(t[e]) == npos) ++e;
    const std::string_view authority = t.substr(a, e - a);
    const size_t at = authority.rfind('@');
    if (at != npos) {
      const size_t colon = authority.substr(0, at).find(':');
      if (colon != npos && colon + 1 < at) out.push_back({a + colon + 1, a + at, {}});
    }
    pos = e > a ? e : a;
  }
}

void scan_age_keys(std::string_view t, std::vector<Span>& out) {
  constexpr std::string_view kPrefix = "AGE-SECRET-KEY-";
  size_t pos = 0;
  while ((pos = t.find(kPrefix, pos)) != npos) {
    size_t e = pos + kPrefix.size();
    while (e < t.size() && is_alnum(t[e])) ++e;
    out.push_back({pos, e, {}});
    pos = e;
  }
}

void scan_pem_private_keys(std::string_view t, std::vector<Span>& out) {
  size_t pos = 0;
  while ((pos = t.find("-----BEGIN ", pos)) != npos) {
    const size_t header_end = t.find("-----", pos + 11);
    if (header_end == npos) return;
    const std::string_view header = t.substr(pos, header_end - pos);
    pos = header_end + 5;
    if (header.find("PRIVATE KEY") == npos) continue;
    const size_t end = t.find("-----END", pos);
    out.push_back({pos, end == npos ? t.size() : end, {}});
    if (end == npos) return;
    pos = end;
  }
}

void scan_aws_key_ids(std::string_view t, std::vector<Span>& out) {
  for (const std::string_view prefix : {std::string_view("AKIA"), std::string_view("ASIA")}) {
    size_t pos = 0;
    while ((pos = t.find(prefix, pos)) != npos) {
      const size_t begin = pos;
      pos += prefix.size();
      if (begin > 0 && is_alnum(t[begin - 1])) continue;
      size_t e = pos;
      while (e < t.size() && ((t[e] >= 'A' && t[e] <= 'Z') || (t[e] >= '0' && t[e] <= '9'))) ++e;
      if (e - begin != 20 || (e < t.size() && is_alnum(t[e]))) continue;
      out.push_back({begin, e, {}});
      pos = e;
    }
  }
}

void scan_needle(std::string_view t, std::string_view needle, std::vector<Span>& out,
                 std::string_view replacement = {}) {
  if (needle.empty()) return;
  size_t pos = 0;
  while ((pos = t.find(needle, pos)) != npos) {
    out.push_back({pos, pos + needle.size(), std::string(replacement)});
    pos += needle.size();
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// t with %XX (either case) decoded, and '+' as a space when plus_is_space; at[i] is where
// decoded byte i starts in t, at[size] = t.size().
struct UrlDecoded {
  std::string text;
  std::vector<size_t> at;
};
UrlDecoded url_decoded(std::string_view t, bool plus_is_space) {
  UrlDecoded d;
  d.text.reserve(t.size());
  d.at.reserve(t.size() + 1);
  for (size_t i = 0; i < t.size();) {
    d.at.push_back(i);
    if (t[i] == '%' && i + 2 < t.size() && hex_value(t[i + 1]) >= 0 && hex_value(t[i + 2]) >= 0) {
      d.text.push_back(static_cast<char>(hex_value(t[i + 1]) * 16 + hex_value(t[i + 2])));
      i += 3;
    } else {
      d.text.push_back(plus_is_space && t[i] == '+' ? ' ' : t[i]);
      ++i;
    }
  }
  d.at.push_back(t.size());
  return d;
}

// A secret or a bucket path inside a URL travels percent-encoded, in whatever case and with
// '+' or %20 for a space, as the client library chose (field test: 0.3.13's S3 error line
// carried `prefix=canary%20path9%2fapp%2Bx%2fgenerations`). Matched on the decoded text,
// masked in the original.
// Line by line, so the decoded copy stays the size of one line.
void scan_needles_url_decoded(std::string_view t, const std::vector<std::string>& needles, std::vector<Span>& out) {
  if (needles.empty() || (t.find('%') == npos && t.find('+') == npos)) return;
  for (size_t begin = 0; begin < t.size();) {
    size_t end = t.find('\n', begin);
    if (end == npos) end = t.size();
    const std::string_view line = t.substr(begin, end - begin);
    if (line.find('%') != npos || line.find('+') != npos) {
      for (const bool plus_is_space : {false, true}) {
        const UrlDecoded d = url_decoded(line, plus_is_space);
        for (const auto& n : needles) {
          size_t pos = 0;
          while ((pos = d.text.find(n, pos)) != npos) {
            out.push_back({begin + d.at[pos], begin + d.at[pos + n.size()], {}});
            pos += n.size();
          }
        }
      }
    }
    begin = end + 1;
  }
}

// Pass 1: overlapping masks merge into one "[REDACTED]".
std::string apply_masks(std::string_view t, std::vector<Span> spans) {
  std::erase_if(spans, [](const Span& s) { return s.begin >= s.end; });
  if (spans.empty()) return std::string(t);
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  out.reserve(t.size());
  size_t copied = 0;
  size_t i = 0;
  while (i < spans.size()) {
    const size_t begin = spans[i].begin;
    size_t end = spans[i].end;
    for (++i; i < spans.size() && spans[i].begin <= end; ++i) end = std::max(end, spans[i].end);
    if (begin < copied) continue;
    out.append(t.substr(copied, begin - copied));
    out.append(kRedacted);
    copied = end;
  }
  out.append(t.substr(std::min(copied, t.size())));
  return out;
}

// Pass 2: replacements do not merge; the earliest, then longest, wins.
std::string apply_replacements(std::string_view t, std::vector<Span> spans) {
  if (spans.empty()) return std::string(t);
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::string out;
  out.reserve(t.size());
  size_t copied = 0;
  for (const Span& s : spans) {
    if (s.begin < copied) continue;
    out.append(t.substr(copied, s.begin - copied));
    out.append(s.replacement);
    copied = s.end;
  }
  out.append(t.substr(copied));
  return out;
}

std::string_view base_name(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const size_t slash = p.rfind('/');
  return slash == npos ? p : p.substr(slash + 1);
}

std::string_view dir_name(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  const size_t slash = p.rfind('/');
  if (slash == npos || slash == 0) return {};
  return p.substr(0, slash);
}

void scan_home_dirs(std::string_view t, std::vector<Span>& out) {
  for (const std::string_view prefix : {std::string_view("/home/"), std::string_view("/Users/")}) {
    size_t pos = 0;
    while ((pos = t.find(prefix, pos)) != npos) {
      const size_t name = pos + prefix.size();
      size_t e = name;
      while (e < t.size() && (is_ident(t[e]) || t[e] == '.')) ++e;
      if (e > name) out.push_back({name, e, "[user]"});
      pos = e > name ? e : name;
    }
  }
}

void scan_ipv4(std::string_view t, std::vector<Span>& out) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0;
  while (i < t.size()) {
    if (!is_digit(t[i]) ||
        (i > 0 && (is_digit(t[i - 1]) || t[i - 1] == '.' || is_alnum(t[i - 1])))) {
      ++i;
      continue;
    }
    const size_t begin = i;
    int octets = 0;
    int first = -1;
    bool ok = true;
    size_t j = i;
    for (; octets < 4; ++octets) {
      size_t d = j;
      int v = 0;
      while (d < t.size() && is_digit(t[d]) && d - j < 3) v = v * 10 + (t[d++] - '0');
      if (d == j || v > 255) {
        ok = false;
        break;
      }
      if (octets == 0) first = v;
      j = d;
      if (octets < 3) {
        if (j >= t.size() || t[j] != '.') {
          ok = false;
          break;
        }
        ++j;
      }
    }
    if (ok && (j >= t.size() ||
               (!is_digit(t[j]) && !(t[j] == '.' && j + 1 < t.size() && is_digit(t[j + 1]))))) {
      const std::string_view ip = t.substr(begin, j - begin);
      if (first != 127 && ip != "0.0.0.0") out.push_back({begin, j, std::string(kRedacted)});
      i = j;
    } else {
      while (i < t.size() && (is_digit(t[i]) || t[i] == '.')) ++i;
    }
  }
}

void add_one(std::vector<std::string>& list, std::string value) {
  if (value.size() < Redactor::kMinValueBytes) return;
  if (std::find(list.begin(), list.end(), value) != list.end()) return;
  list.push_back(std::move(value));
}

}  // namespace

Redactor::Redactor(RedactionOptions opts) : opts_(opts) {}

void Redactor::add_secret(std::string value) { add_one(secrets_, std::move(value)); }
void Redactor::add_backup_metadata(std::string value) { add_one(metadata_, std::move(value)); }
void Redactor::add_path(std::string path) { add_one(paths_, std::move(path)); }
void Redactor::add_hostname(std::string host) { add_one(hosts_, std::move(host)); }

const RedactionOptions& Redactor::options() const { return opts_; }

std::string Redactor::redact(std::string_view text) const {
  std::vector<Span> masks;
  for (const auto& s : secrets_) scan_needle(text, s, masks);
  scan_needles_url_decoded(text, secrets_, masks);
  if (!opts_.show_replica_paths || opts_.public_mode) {
    for (const auto& m : metadata_) scan_needle(text, m, masks);
    scan_needles_url_decoded(text, metadata_, masks);
  }
  scan_key_values(text, masks);
  scan_userinfo(text, masks);
  scan_age_keys(text, masks);
  scan_pem_private_keys(text, masks);
  scan_aws_key_ids(text, masks);
  std::string out = apply_masks(text, std::move(masks));
  if (!opts_.public_mode) return out;

  std::vector<Span> repl;
  for (const auto& p : paths_) {
    scan_needle(out, p, repl, base_name(p));
    const std::string_view dir = dir_name(p);
    // Only directories below the top level: masking "/srv" or "/tmp" would hide every path.
    if (dir.size() >= Redactor::kMinValueBytes && dir.find('/', 1) != npos) {
      scan_needle(out, dir, repl, "[dir]");
    }
  }
  for (const auto& h : hosts_) scan_needle(out, h, repl, kRedacted);
  scan_home_dirs(out, repl);
  scan_ipv4(out, repl);
  return apply_replacements(out, std::move(repl));
}

Redactor make_redactor(const LitestreamConfig& config, const EnvLookup& env,
                       RedactionOptions opts) {
  Redactor r(opts);
  for (const auto& s : config.secret_values) r.add_secret(s);
  const auto add_env = [&](std::string_view name) {
    if (!env) return;
    if (auto v = env(name)) r.add_secret(std::move(*v));
  };
  for (const auto name : kSecretEnvVars) add_env(name);
  for (const auto& name : config.secret_env_vars) add_env(name);
  for (const auto& m : config.backup_metadata) r.add_backup_metadata(m);
  for (const auto& db : config.dbs) {
    r.add_path(db.path);
    r.add_path(db.meta_path);
    r.add_path(db.dir);
    for (const auto& rep : db.replicas) {
      if (rep.type == "file") r.add_path(rep.path);
      r.add_hostname(rep.host);
    }
  }
  return r;
}

}  // namespace ltxguard::formats
