#include "ltxguard/formats/policy.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::formats {
namespace {

__extension__ typedef unsigned __int128 U128;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A non-negative decimal "123" or "1.5" split into its digit runs; no sign, no exponent.
struct Decimal {
  std::string_view int_digits;
  std::string_view frac_digits;
};

// Consumes the longest decimal prefix of `s`; nullopt when there is none.
std::optional<Decimal> take_decimal(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) ++i;
  Decimal d{s.substr(0, i), {}};
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && is_digit(s[j])) ++j;
    d.frac_digits = s.substr(i + 1, j - i - 1);
    if (d.frac_digits.empty()) return std::nullopt;  // "1." is not a number here
    i = j;
  }
  if (d.int_digits.empty()) return std::nullopt;  // ".5" neither: be strict, it is a policy
  s.remove_prefix(i);
  return d;
}

// int_digits.frac_digits × multiplier, fraction rounded down; nullopt when above 2^64-1.
std::optional<uint64_t> scale_decimal(const Decimal& d, uint64_t multiplier) {
  if (d.int_digits.size() > 20 || d.frac_digits.size() > 18) return std::nullopt;
  U128 whole = 0;
  for (char c : d.int_digits) whole = whole * 10 + static_cast<unsigned>(c - '0');
  U128 frac = 0;
  U128 denom = 1;
  for (char c : d.frac_digits) {
    frac = frac * 10 + static_cast<unsigned>(c - '0');
    denom *= 10;
  }
  // whole < 10^20 and multiplier < 2^64 keep this below 2^128
  const U128 v = whole * multiplier + frac * multiplier / denom;
  if (v > kU64Max) return std::nullopt;
  return static_cast<uint64_t>(v);
}

struct Unit {
  std::string_view name;
  uint64_t multiplier;
};
constexpr uint64_t kKi = 1024;
constexpr std::array<Unit, 13> kUnits{{
    {"B", 1},
    {"KiB", kKi},
    {"MiB", kKi* kKi},
    {"GiB", kKi* kKi* kKi},
    {"TiB", kKi* kKi* kKi* kKi},
    {"PiB", kKi* kKi* kKi* kKi* kKi},
    {"kB", 1000},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", 1000ULL * 1000 * 1000 * 1000},
    {"PB", 1000ULL * 1000 * 1000 * 1000 * 1000},
    {"", 1},
}};

// A fixed-point number with at most `decimals` fraction digits, times 10^decimals.
std::optional<uint64_t> parse_fixed(std::string_view text, int decimals) {
  std::string_view s = trim(text);
  auto d = take_decimal(s);
  if (!d || !s.empty() || d->frac_digits.size() > static_cast<size_t>(decimals)) {
    return std::nullopt;
  }
  uint64_t mult = 1;
  for (int i = 0; i < decimals; ++i) mult *= 10;
  return scale_decimal(*d, mult);
}

std::string format_fixed(uint64_t value, int decimals, int min_decimals) {
  uint64_t mult = 1;
  for (int i = 0; i < decimals; ++i) mult *= 10;
  std::string frac = fmt::format("{:0{}}", value % mult, decimals);
  while (frac.size() > static_cast<size_t>(min_decimals) && frac.back() == '0') frac.pop_back();
  return frac.empty() ? fmt::format("{}", value / mult) : fmt::format("{}.{}", value / mult, frac);
}

util::Error policy_error(std::string_view source, int line, std::string message) {
  return util::make_error(util::ErrorCode::invalid_input, "",
                          fmt::format("{}:{}: {}", source, line, message));
}

// What a node holds, for "got ..." in errors.
std::string describe(const YAML::Node& n) {
  if (n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 40) + "...";
  return fmt::format("'{}'", s);
}

// Each value parser returns the message after "<key>: " on failure.
using ValueResult = tl::expected<void, std::string>;
using Setter = std::function<ValueResult(const YAML::Node&, Policy&)>;

ValueResult set_size(const YAML::Node& n, std::optional<uint64_t>& out) {
  if (!n.IsScalar())
    return tl::unexpected(fmt::format("expected a size like 2GiB, got {}", describe(n)));
  auto v = parse_size(n.Scalar());
  if (!v) return tl::unexpected(v.error().message);
  out = *v;
  return {};
}

ValueResult set_rate(const YAML::Node& n, std::optional<uint64_t>& out) {
  const std::string bad = fmt::format("expected a rate like 20MiB/s, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  std::string_view s = trim(n.Scalar());
  if (s.ends_with("/s")) s.remove_suffix(2);
  auto v = parse_size(s);
  if (!v) {
    if (v.error().message.starts_with("expected")) return tl::unexpected(bad);
    return tl::unexpected(v.error().message);
  }
  out = *v;
  return {};
}

ValueResult set_percent(const YAML::Node& n, std::optional<uint32_t>& out) {
  const std::string bad = fmt::format("expected a percentage like 5 or 7.5, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  std::string_view s = trim(n.Scalar());
  if (s.ends_with('%')) s.remove_suffix(1);
  if (s.starts_with('-')) return tl::unexpected(std::string("must be between 0 and 100"));
  auto ppm = parse_fixed(s, 4);  // percent × 10^4 = parts per million
  if (!ppm) return tl::unexpected(bad);
  if (*ppm > 1'000'000) return tl::unexpected(std::string("must be between 0 and 100"));
  out = static_cast<uint32_t>(*ppm);
  return {};
}

// The ratio is ≥ 1.0: the budget plans for incompressible pages, where LTX only adds bytes.
// 16 is far above any real overhead and keeps every product below 2^64 in the model.
constexpr uint64_t kMinRatioPpm = 1'000'000;
constexpr uint64_t kMaxRatioPpm = 16'000'000;

ValueResult set_ratio(const YAML::Node& n, std::optional<uint32_t>& out) {
  const std::string bad = fmt::format("expected a ratio like 1.03, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  std::string_view s = trim(n.Scalar());
  auto ppm = s.starts_with('-') ? std::optional<uint64_t>{0} : parse_fixed(s, 6);
  if (!ppm) return tl::unexpected(bad);
  if (*ppm < kMinRatioPpm || *ppm > kMaxRatioPpm) {
    return tl::unexpected(fmt::format("must be between 1.0 and 16, got {}", trim(n.Scalar())));
  }
  out = static_cast<uint32_t>(*ppm);
  return {};
}

ValueResult set_threshold(const YAML::Node& n, std::optional<Threshold>& out) {
  const std::string bad =
      fmt::format("expected a size like 2GiB or a percentage like 10%, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  std::string_view s = trim(n.Scalar());
  Threshold t;
  if (s.ends_with('%')) {
    s.remove_suffix(1);
    auto ppm = parse_fixed(s, 4);
    if (!ppm) return tl::unexpected(bad);
    if (*ppm > 1'000'000) return tl::unexpected(std::string("must be between 0% and 100%"));
    t.unit = Threshold::Unit::percent;
    t.percent_ppm = static_cast<uint32_t>(*ppm);
  } else {
    auto v = parse_size(s);
    if (!v) {
      if (v.error().message.starts_with("expected")) return tl::unexpected(bad);
      return tl::unexpected(v.error().message);
    }
    t.bytes = *v;
  }
  out = t;
  return {};
}

ValueResult set_seconds(const YAML::Node& n, std::optional<uint64_t>& out) {
  const std::string bad =
      fmt::format("expected seconds like 600 or a duration like 10m, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  std::string_view s = trim(n.Scalar());
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 's':
        mult = 1;
        s.remove_suffix(1);
        break;
      case 'm':
        mult = 60;
        s.remove_suffix(1);
        break;
      case 'h':
        mult = 3600;
        s.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  auto d = take_decimal(s);
  if (!d || !s.empty() || !d->frac_digits.empty()) return tl::unexpected(bad);
  auto v = scale_decimal(*d, mult);
  if (!v) return tl::unexpected(std::string("too large"));
  out = *v;
  return {};
}

ValueResult set_bool(const YAML::Node& n, bool& out) {
  const std::string bad = fmt::format("expected true or false, got {}", describe(n));
  if (!n.IsScalar()) return tl::unexpected(bad);
  const std::string_view v = trim(n.Scalar());
  if (v == "true") {
    out = true;
  } else if (v == "false") {
    out = false;
  } else {
    return tl::unexpected(bad);
  }
  return {};
}

ValueResult set_absolute_path(const YAML::Node& n, std::optional<std::string>& out) {
  if (!n.IsScalar()) return tl::unexpected(fmt::format("expected an absolute path, got {}", describe(n)));
  const std::string& v = n.Scalar();
  if (v.empty() || v[0] != '/' || v.find('\0') != std::string::npos || v.size() > 4096) {
    return tl::unexpected(fmt::format("expected an absolute path, got {}", describe(n)));
  }
  out = v;
  return {};
}

struct KeySpec {
  std::string_view name;
  Setter set;
};

// The key table: one row per policy key. New keys (ballast, cleanup switches) add a row.
const std::vector<KeySpec>& key_table() {
  static const std::vector<KeySpec> table{
      {"reserve_bytes", [](auto& n, Policy& p) { return set_size(n, p.reserve_bytes); }},
      {"reserve_percent", [](auto& n, Policy& p) { return set_percent(n, p.reserve_percent_ppm); }},
      {"app_wal_headroom_bytes",
       [](auto& n, Policy& p) { return set_size(n, p.app_wal_headroom_bytes); }},
      {"max_staging_bytes", [](auto& n, Policy& p) { return set_size(n, p.max_staging_bytes); }},
      {"min_free_bytes", [](auto& n, Policy& p) { return set_size(n, p.min_free_bytes); }},
      {"staging_overhead_ratio",
       [](auto& n, Policy& p) { return set_ratio(n, p.staging_overhead_ratio_ppm); }},
      {"wal_growth_bytes", [](auto& n, Policy& p) { return set_size(n, p.wal_growth_bytes); }},
      {"app_write_bytes_per_second",
       [](auto& n, Policy& p) { return set_rate(n, p.app_write_bytes_per_second); }},
      {"staging_write_bytes_per_second",
       [](auto& n, Policy& p) { return set_rate(n, p.staging_write_bytes_per_second); }},
      {"warn_at", [](auto& n, Policy& p) { return set_threshold(n, p.warn_at); }},
      {"critical_at", [](auto& n, Policy& p) { return set_threshold(n, p.critical_at); }},
      {"lead_time_seconds", [](auto& n, Policy& p) { return set_seconds(n, p.lead_time_seconds); }},
      {"stop_grace_seconds", [](auto& n, Policy& p) { return set_seconds(n, p.stop_grace_seconds); }},
      {"ballast_bytes", [](auto& n, Policy& p) { return set_size(n, p.ballast_bytes); }},
      {"ballast_path", [](auto& n, Policy& p) { return set_absolute_path(n, p.ballast_path); }},
      {"remove_staging_tmp_on_stop",
       [](auto& n, Policy& p) { return set_bool(n, p.remove_staging_tmp_on_stop); }},
  };
  return table;
}

int line_of(const YAML::Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

util::Result<Policy> parse_policy_node(const YAML::Node& root, std::string_view source) {
  Policy policy;
  policy.source_name = std::string(source);
  if (!root.IsDefined() || root.IsNull()) return policy;  // empty file: every default
  if (!root.IsMap()) {
    return util::fail(
        policy_error(source, line_of(root, 1),
                     fmt::format("expected a mapping of policy keys, got {}", describe(root))));
  }
  for (const auto& kv : root) {
    const YAML::Node& key = kv.first;
    const YAML::Node& value = kv.second;
    const int key_line = line_of(key, 1);
    if (!key.IsScalar()) {
      return util::fail(policy_error(source, key_line,
                                     fmt::format("expected a key name, got {}", describe(key))));
    }
    const std::string& name = key.Scalar();
    const auto& table = key_table();
    const auto spec =
        std::find_if(table.begin(), table.end(), [&](const KeySpec& k) { return k.name == name; });
    if (spec == table.end()) {
      std::string shown = name.size() > 40 ? name.substr(0, 40) + "..." : name;
      return util::fail(policy_error(source, key_line, fmt::format("unknown key '{}'", shown)));
    }
    if (auto seen = policy.key_lines.find(name); seen != policy.key_lines.end()) {
      return util::fail(
          policy_error(source, key_line,
                       fmt::format("duplicate key '{}' (first on line {})", name, seen->second)));
    }
    policy.key_lines.emplace(name, key_line);
    if (auto r = spec->set(value, policy); !r) {
      // A missing value has its mark where the parser noticed, often the next line: use the key's.
      const int line = value.IsNull() ? key_line : line_of(value, key_line);
      return util::fail(policy_error(source, line, fmt::format("{}: {}", name, r.error())));
    }
  }

  // Combinations that can never be right, whatever the filesystem.
  if (policy.reserve_bytes && policy.reserve_percent_ppm) {
    return util::fail(policy_error(
        source, policy.key_lines.at("reserve_percent"),
        fmt::format("reserve_percent: cannot be combined with reserve_bytes (line {}): "
                    "reserve_bytes replaces the computed reserve",
                    policy.key_lines.at("reserve_bytes"))));
  }
  if (policy.warn_at && policy.critical_at && policy.warn_at->unit == policy.critical_at->unit) {
    const bool inverted = policy.warn_at->unit == Threshold::Unit::bytes
                              ? policy.critical_at->bytes > policy.warn_at->bytes
                              : policy.critical_at->percent_ppm > policy.warn_at->percent_ppm;
    if (inverted) {
      return util::fail(policy_error(
          source, policy.key_lines.at("critical_at"),
          fmt::format("critical_at: {} is above warn_at {} (line {}): critical must be the lower "
                      "headroom",
                      policy.critical_at->to_string(), policy.warn_at->to_string(),
                      policy.key_lines.at("warn_at"))));
    }
  }
  return policy;
}

}  // namespace

uint64_t Threshold::resolve_bytes(uint64_t filesystem_total_bytes) const {
  if (unit == Unit::bytes) return bytes;
  const U128 v = (U128{filesystem_total_bytes} * percent_ppm + 999'999) / 1'000'000;
  return static_cast<uint64_t>(v);  // ≤ total because percent_ppm ≤ 10^6
}

std::string Threshold::to_string() const {
  if (unit == Unit::percent) return format_fixed(percent_ppm, 4, 0) + "%";
  return util::human_bytes(bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                               ? std::numeric_limits<int64_t>::max()
                               : static_cast<int64_t>(bytes));
}

util::Result<uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    std::string shown(text.substr(0, 40));
    if (text.size() > 40) shown += "...";
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "",
                                       fmt::format("expected a size like 2GiB, got '{}'", shown)));
  };
  std::string_view s = trim(text);
  auto d = take_decimal(s);
  if (!d) return bad();
  s = trim(s);
  const auto unit =
      std::find_if(kUnits.begin(), kUnits.end(), [&](const Unit& u) { return u.name == s; });
  if (unit == kUnits.end()) return bad();
  auto v = scale_decimal(*d, unit->multiplier);
  if (!v) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, "",
                         fmt::format("size '{}' is too large", trim(text).substr(0, 40))));
  }
  return *v;
}

std::string policy_key_location(const Policy& policy, std::string_view key) {
  if (auto it = policy.key_lines.find(key); it != policy.key_lines.end()) {
    return fmt::format("{}:{}: {}", policy.source_name, it->second, key);
  }
  return fmt::format("policy: {}", key);
}

util::Result<Policy> parse_policy(std::string_view yaml_text, std::string_view source_name) {
  if (yaml_text.size() > kMaxPolicyBytes) {
    return util::fail(
        policy_error(source_name, 1,
                     fmt::format("policy is {} bytes, more than the {} a policy may have",
                                 yaml_text.size(), kMaxPolicyBytes)));
  }
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    return parse_policy_node(root, source_name);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    return util::fail(policy_error(source_name, line, fmt::format("invalid YAML: {}", e.msg)));
  } catch (const std::exception& e) {  // yaml-cpp can also throw std::bad_alloc and friends
    return util::fail(policy_error(source_name, 1, fmt::format("invalid YAML: {}", e.what())));
  }
}

}  // namespace ltxguard::formats
