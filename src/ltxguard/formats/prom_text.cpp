#include "ltxguard/formats/prom_text.hpp"

#include <charconv>
#include <cstdint>
#include <exception>

namespace ltxguard::formats {
namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

// A cursor over one line; every method leaves it unchanged on failure only where noted.
class LineParser {
 public:
  explicit LineParser(std::string_view line) : s_(line) {}

  void skip_blanks() {
    while (i_ < s_.size() && is_blank(s_[i_])) ++i_;
  }
  [[nodiscard]] bool at_end() const { return i_ == s_.size(); }
  [[nodiscard]] bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool consume(char c) {
    if (!peek(c)) return false;
    ++i_;
    return true;
  }

  // Metric names may contain ':', label names may not.
  bool name(std::string* out, bool allow_colon) {
    const size_t start = i_;
    if (i_ >= s_.size() || !is_name_start(s_[i_]) || (!allow_colon && s_[i_] == ':')) return false;
    ++i_;
    while (i_ < s_.size() && is_name_char(s_[i_]) && (allow_colon || s_[i_] != ':')) ++i_;
    out->assign(s_.substr(start, i_ - start));
    return true;
  }

  // A double-quoted label value with \\, \" and \n escapes.
  bool quoted(std::string* out) {
    if (!consume('"')) return false;
    out->clear();
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i_ >= s_.size()) return false;
      const char e = s_[i_++];
      if (e == '\\' || e == '"') {
        out->push_back(e);
      } else if (e == 'n') {
        out->push_back('\n');
      } else {
        return false;
      }
    }
    return false;
  }

  // The next blank-separated token.
  std::string_view token() {
    const size_t start = i_;
    while (i_ < s_.size() && !is_blank(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Go's strconv.ParseFloat spellings that Prometheus clients emit: decimal and exponent forms,
// "NaN", "+Inf", "-Inf" (any case), with an optional sign.
std::optional<double> parse_value(std::string_view t) {
  if (t.empty()) return std::nullopt;
  bool negative = false;
  if (t[0] == '+' || t[0] == '-') {
    negative = t[0] == '-';
    t.remove_prefix(1);
    if (t.empty() || t[0] == '+' || t[0] == '-') return std::nullopt;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) {
    // ERANGE (overflow) included: Go would give +/-Inf, useless to a caller either way.
    return std::nullopt;
  }
  return negative ? -v : v;
}

bool parse_timestamp(std::string_view t) {
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  int64_t ms = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
  return !t.empty() && ec == std::errc() && end == t.data() + t.size();
}

std::optional<PromSample> parse_line(std::string_view line) {
  LineParser p(line);
  p.skip_blanks();
  if (p.at_end() || p.peek('#')) return std::nullopt;
  PromSample s;
  if (!p.name(&s.name, true)) return std::nullopt;
  p.skip_blanks();
  if (p.consume('{')) {
    for (;;) {
      p.skip_blanks();
      if (p.consume('}')) break;
      std::string key;
      std::string value;
      if (!p.name(&key, false)) return std::nullopt;
      p.skip_blanks();
      if (!p.consume('=')) return std::nullopt;
      p.skip_blanks();
      if (!p.quoted(&value)) return std::nullopt;
      s.labels.emplace_back(std::move(key), std::move(value));
      p.skip_blanks();
      if (p.consume(',')) continue;  // a trailing comma before '}' is allowed
      if (p.consume('}')) break;
      return std::nullopt;
    }
    p.skip_blanks();
  }
  const auto value = parse_value(p.token());
  if (!value) return std::nullopt;
  s.value = *value;
  p.skip_blanks();
  if (!p.at_end()) {
    if (!parse_timestamp(p.token())) return std::nullopt;
    p.skip_blanks();
    if (!p.at_end()) return std::nullopt;
  }
  return s;
}

}  // namespace

std::vector<PromSample> parse_prom_text(std::string_view text) {
  std::vector<PromSample> samples;
  try {
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto s = parse_line(line)) samples.push_back(std::move(*s));
    }
  } catch (const std::exception&) {
    // Only allocation can throw here; keep what we have rather than lose the whole scrape.
  }
  return samples;
}

std::optional<double> find_sample(
    const std::vector<PromSample>& samples, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool all = true;
    for (const auto& [key, value] : labels) {
      bool found = false;
      for (const auto& [k, v] : s.labels) {
        if (k == key && v == value) {
          found = true;
          break;
        }
      }
      if (!found) {
        all = false;
        break;
      }
    }
    if (all) return s.value;
  }
  return std::nullopt;
}

}  // namespace ltxguard::formats
