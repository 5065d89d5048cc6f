#include "ltxguard/formats/systemd_unit.hpp"

#include <fmt/format.h>

#include <array>
#include <limits>

namespace ltxguard::formats {
namespace {

__extension__ typedef unsigned __int128 U128;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_comment_char(char c) { return c == '#' || c == ';'; }

// Quoted in an error: at most 60 bytes, so a hostile file cannot flood the terminal.
std::string shown(std::string_view s) {
  if (s.size() <= 60) return std::string(s);
  return std::string(s.substr(0, 60)) + "...";
}

util::Error unit_error(std::string_view source, int line, std::string message) {
  return util::make_error(util::ErrorCode::invalid_input, "",
                          fmt::format("{}:{}: {}", source, line, message));
}

// True when the line ends in a backslash that is not itself escaped ("a\\" does not continue).
bool ends_in_continuation(std::string_view line) {
  bool escaped = false;
  for (char c : line) escaped = !escaped && c == '\\';
  return escaped;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

struct TimeUnit {
  std::string_view name;
  uint64_t usec;
};
constexpr uint64_t kUsecPerSec = 1'000'000;
// systemd.time(7); "M" (month) is case-sensitive there, the rest are as written.
constexpr std::array<TimeUnit, 31> kTimeUnits{{
    {"usec", 1},
    {"us", 1},
    {"µs", 1},
    {"msec", 1000},
    {"ms", 1000},
    {"seconds", kUsecPerSec},
    {"second", kUsecPerSec},
    {"sec", kUsecPerSec},
    {"s", kUsecPerSec},
    {"minutes", 60 * kUsecPerSec},
    {"minute", 60 * kUsecPerSec},
    {"min", 60 * kUsecPerSec},
    {"m", 60 * kUsecPerSec},
    {"hours", 3600 * kUsecPerSec},
    {"hour", 3600 * kUsecPerSec},
    {"hr", 3600 * kUsecPerSec},
    {"h", 3600 * kUsecPerSec},
    {"days", 86400 * kUsecPerSec},
    {"day", 86400 * kUsecPerSec},
    {"d", 86400 * kUsecPerSec},
    {"weeks", 604800 * kUsecPerSec},
    {"week", 604800 * kUsecPerSec},
    {"w", 604800 * kUsecPerSec},
    {"months", 2629800 * kUsecPerSec},
    {"month", 2629800 * kUsecPerSec},
    {"M", 2629800 * kUsecPerSec},
    {"years", 31557600 * kUsecPerSec},
    {"year", 31557600 * kUsecPerSec},
    {"y", 31557600 * kUsecPerSec},
    {"nsec", 0},
    {"ns", 0},  // below a microsecond: systemd rounds these away
}};

}  // namespace

std::optional<std::string> SystemdUnit::get(std::string_view section, std::string_view key) const {
  const UnitAssignment* a = where(section, key);
  if (a == nullptr) return std::nullopt;
  return a->value;
}

std::vector<std::string> SystemdUnit::get_all(std::string_view section,
                                              std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& a : assignments) {
    if (a.section != section || a.key != key) continue;
    if (a.value.empty()) {
      out.clear();
    } else {
      out.push_back(a.value);
    }
  }
  return out;
}

const UnitAssignment* SystemdUnit::where(std::string_view section, std::string_view key) const {
  for (auto it = assignments.rbegin(); it != assignments.rend(); ++it) {
    if (it->section == section && it->key == key) return it->value.empty() ? nullptr : &*it;
  }
  return nullptr;
}

util::Result<SystemdUnit> parse_systemd_unit(std::string_view text, std::string_view source_name) {
  const std::string source(source_name);
  if (text.size() > kMaxUnitBytes) {
    return util::fail(
        unit_error(source, 1, fmt::format("unit file is larger than {} bytes", kMaxUnitBytes)));
  }
  SystemdUnit unit;
  unit.source_name = source;
  std::string section;
  std::string pending;  // a continued line being assembled
  int pending_line = 0;
  bool continuing = false;

  auto parse_line = [&](std::string_view raw, int line_no) -> util::Result<void> {
    std::string_view l = trim(raw);
    if (l.empty() || is_comment_char(l.front())) return {};
    if (l.front() == '[') {
      if (l.size() < 3 || l.back() != ']') {
        return util::fail(
            unit_error(source, line_no, fmt::format("invalid section header '{}'", shown(l))));
      }
      section = std::string(l.substr(1, l.size() - 2));
      return {};
    }
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos) {
      return util::fail(
          unit_error(source, line_no, fmt::format("expected Key=Value, got '{}'", shown(l))));
    }
    if (section.empty())
      return util::fail(unit_error(source, line_no, "assignment outside of a section"));
    const std::string_view key = trim(l.substr(0, eq));
    if (key.empty()) return util::fail(unit_error(source, line_no, "empty key"));
    unit.assignments.push_back(UnitAssignment{
        section, std::string(key), std::string(trim(l.substr(eq + 1))), source, line_no});
    return {};
  };

  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find('\0') != std::string_view::npos) {
      return util::fail(unit_error(source, line_no, "NUL byte in unit file"));
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (continuing) {
      // systemd skips comment and blank lines inside a continuation.
      const std::string_view t = trim(line);
      if (t.empty() || is_comment_char(t.front())) continue;
    }
    const bool continues = ends_in_continuation(line);
    if (continues) line.remove_suffix(1);
    if (!continuing) {
      pending.clear();
      pending_line = line_no;
    }
    pending.append(line);
    if (continues) {
      pending.push_back(' ');
      continuing = true;
      continue;
    }
    continuing = false;
    if (auto r = parse_line(pending, pending_line); !r) return util::fail(r.error());
  }
  if (continuing) {
    if (auto r = parse_line(pending, pending_line); !r) return util::fail(r.error());
  }
  return unit;
}

void merge_drop_in(SystemdUnit& unit, const SystemdUnit& drop_in) {
  unit.drop_ins.push_back(drop_in.source_name);
  unit.assignments.insert(unit.assignments.end(), drop_in.assignments.begin(),
                          drop_in.assignments.end());
}

std::optional<bool> parse_systemd_bool(std::string_view text) {
  const std::string_view t = trim(text);
  for (std::string_view yes : {"1", "yes", "y", "true", "t", "on"}) {
    if (iequals(t, yes)) return true;
  }
  for (std::string_view no : {"0", "no", "n", "false", "f", "off"}) {
    if (iequals(t, no)) return false;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_systemd_timespan_usec(std::string_view text) {
  std::string_view s = trim(text);
  if (s == "infinity") return std::numeric_limits<uint64_t>::max();
  if (s.empty()) return std::nullopt;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t total = 0;
  while (!s.empty()) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    if (s.empty()) break;
    // number: digits with an optional fraction ("1.5min")
    size_t i = 0;
    uint64_t whole = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      const auto d = static_cast<uint64_t>(s[i] - '0');
      if (whole > (kMax - d) / 10) return std::nullopt;
      whole = whole * 10 + d;
      ++i;
    }
    if (i == 0) return std::nullopt;
    uint64_t frac = 0, frac_div = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      const size_t frac_start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (frac_div < 1'000'000'000'000ULL) {  // beyond a picosecond is noise
          frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
          frac_div *= 10;
        }
        ++i;
      }
      if (i == frac_start) return std::nullopt;
    }
    s.remove_prefix(i);
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    size_t u = 0;
    while (u < s.size() && !is_space(s[u]) && !(s[u] >= '0' && s[u] <= '9')) ++u;
    const std::string_view unit_name = s.substr(0, u);
    uint64_t mult = kUsecPerSec;  // a bare number is seconds
    if (!unit_name.empty()) {
      bool found = false;
      for (const auto& tu : kTimeUnits) {
        if (tu.name == unit_name) {
          mult = tu.usec;
          found = true;
          break;
        }
      }
      if (!found) return std::nullopt;
    }
    s.remove_prefix(u);
    if (mult != 0 && whole > kMax / mult) return std::nullopt;
    const auto frac_usec = static_cast<uint64_t>(static_cast<U128>(frac) * mult / frac_div);
    const uint64_t part = whole * mult + frac_usec;
    if (part < frac_usec) return std::nullopt;
    if (part > kMax - total) return std::nullopt;
    total += part;
  }
  return total;
}

}  // namespace ltxguard::formats
