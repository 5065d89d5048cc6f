#include "ltxguard/formats/litestream_version.hpp"

namespace ltxguard::formats {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Reads 1-9 decimal digits from the front of s; nullopt when there are none or too many.
std::optional<int> take_number(std::string_view& s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n > 9) return std::nullopt;
  int value = 0;
  for (size_t i = 0; i < n; ++i) value = value * 10 + (s[i] - '0');
  s.remove_prefix(n);
  return value;
}

}  // namespace

std::optional<LitestreamVersion> parse_litestream_version(std::string_view text) {
  const std::string_view s = trim(text);
  LitestreamVersion v;
  v.raw = std::string(s);
  constexpr std::string_view kDevelopment = "(development build";
  if (s.substr(0, kDevelopment.size()) == kDevelopment && s.back() == ')') {
    v.development = true;
    return v;
  }
  std::string_view rest = s;
  if (!rest.empty() && rest.front() == 'v') rest.remove_prefix(1);
  int* parts[] = {&v.major, &v.minor, &v.patch};
  for (size_t i = 0; i < 3; ++i) {
    if (i > 0) {
      if (rest.empty() || rest.front() != '.') return std::nullopt;
      rest.remove_prefix(1);
    }
    const auto n = take_number(rest);
    if (!n) return std::nullopt;
    *parts[i] = *n;
  }
  if (rest.empty()) return v;
  if (rest.front() != '-' && rest.front() != '+') return std::nullopt;
  const bool is_build_metadata = rest.front() == '+';
  rest.remove_prefix(1);
  if (rest.empty()) return std::nullopt;
  for (const char c : rest) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '-' || c == '+';
    if (!ok) return std::nullopt;
  }
  // Build metadata ("+dirty") does not change the order; a prerelease does.
  if (!is_build_metadata) v.prerelease = std::string(rest);
  return v;
}

int compare(const LitestreamVersion& v, int major, int minor, int patch) {
  if (v.major != major) return v.major < major ? -1 : 1;
  if (v.minor != minor) return v.minor < minor ? -1 : 1;
  if (v.patch != patch) return v.patch < patch ? -1 : 1;
  return v.prerelease.empty() ? 0 : -1;
}

}  // namespace ltxguard::formats
