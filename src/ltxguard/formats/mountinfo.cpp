#include "ltxguard/formats/mountinfo.hpp"

#include <charconv>
#include <utility>

#include "ltxguard/formats/path_prefix.hpp"

namespace ltxguard::formats {
namespace {

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// The kernel's mangle() writes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
        is_octal(s[i + 3])) {
      const int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      if (v <= 0xff) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Fields are separated by exactly one space; an empty field (a mount with source "") stays.
std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    const size_t sp = line.find(' ');
    fields.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return fields;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_line(std::string_view line, MountEntry& e) {
  const auto f = split_fields(line);
  // 6 fixed fields, zero or more optional ones, "-", then 3 more.
  if (f.size() < 10) return false;
  size_t sep = 6;
  while (sep < f.size() && f[sep] != "-") ++sep;
  if (sep + 3 >= f.size()) return false;  // no separator, or fewer than 3 fields after it
  const std::string_view dev = f[2];
  const size_t colon = dev.find(':');
  if (colon == std::string_view::npos) return false;
  if (!parse_number(f[0], e.mount_id) || !parse_number(f[1], e.parent_id) ||
      !parse_number(dev.substr(0, colon), e.major) ||
      !parse_number(dev.substr(colon + 1), e.minor)) {
    return false;
  }
  e.root = unescape(f[3]);
  e.mount_point = unescape(f[4]);
  e.options = unescape(f[5]);
  e.fstype = unescape(f[sep + 1]);
  e.source = unescape(f[sep + 2]);
  e.super_options = unescape(f[sep + 3]);
  return true;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> entries;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    MountEntry e;
    if (parse_line(line, e)) entries.push_back(std::move(e));
  }
  return entries;
}

const MountEntry* find_mount(const std::vector<MountEntry>& entries, uint32_t major, uint32_t minor,
                             std::string_view path) {
  const MountEntry* best = nullptr;
  for (const MountEntry& e : entries) {
    if (e.major != major || e.minor != minor || !path_within(path, e.mount_point)) continue;
    if (best == nullptr || e.mount_point.size() >= best->mount_point.size()) best = &e;
  }
  return best;
}

bool is_bind_mount(const MountEntry& entry) { return entry.root != "/"; }

}  // namespace ltxguard::formats
