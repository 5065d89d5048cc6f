#include "ltxguard/formats/litestream_layout.hpp"

#include <charconv>
#include <vector>

namespace ltxguard::formats {
namespace {

bool is_lower_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <typename T>
T hex_value(std::string_view s) {
  T v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return v;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> parts;
  while (!s.empty()) {
    const size_t slash = s.find('/');
    parts.push_back(s.substr(0, slash));
    if (slash == std::string_view::npos) break;
    s.remove_prefix(slash + 1);
  }
  return parts;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

// 0.3: generations/<gen>/{wal,snapshots}/<file>
StagingName classify_v03(const std::vector<std::string_view>& p) {
  StagingName n;
  if (p.size() != 4 || p[0] != "generations" || !is_lower_hex(p[1], 16)) return n;
  std::string_view file = p[3];
  StagingName out;
  out.layout = Layout::v0_3;
  out.generation = std::string(p[1]);
  if (p[2] == "wal") {
    if (strip_suffix(file, ".wal.lz4")) {  // replica: <index>_<offset>.wal.lz4
      if (file.size() == 17 && file[8] == '_' && is_lower_hex(file.substr(0, 8), 8) &&
          is_lower_hex(file.substr(9), 8)) {
        out.kind = StagingKind::replica_wal;
        out.wal_index = hex_value<uint32_t>(file.substr(0, 8));
        out.wal_offset = hex_value<uint32_t>(file.substr(9));
        return out;
      }
      return n;
    }
    StagingKind kind = StagingKind::shadow_wal;
    if (strip_suffix(file, ".wal.tmp")) {
      kind = StagingKind::shadow_wal_tmp;
    } else if (!strip_suffix(file, ".wal")) {
      return n;
    }
    if (!is_lower_hex(file, 8)) return n;
    out.kind = kind;
    out.wal_index = hex_value<uint32_t>(file);
    return out;
  }
  if (p[2] == "snapshots" && strip_suffix(file, ".snapshot.lz4") && is_lower_hex(file, 8)) {
    out.kind = StagingKind::replica_snapshot;
    out.wal_index = hex_value<uint32_t>(file);
    return out;
  }
  return n;
}

// 0.5: ltx/<level>/<min>-<max>.ltx[.tmp]
StagingName classify_v05(const std::vector<std::string_view>& p) {
  StagingName n;
  if (p.size() != 3 || p[0] != "ltx" || p[1].size() != 1 || p[1][0] < '0' || p[1][0] > '9') {
    return n;
  }
  std::string_view file = p[2];
  StagingKind kind = StagingKind::ltx;
  if (strip_suffix(file, ".ltx.tmp")) {
    kind = StagingKind::ltx_tmp;
  } else if (!strip_suffix(file, ".ltx")) {
    return n;
  }
  if (file.size() != 33 || file[16] != '-' || !is_lower_hex(file.substr(0, 16), 16) ||
      !is_lower_hex(file.substr(17), 16)) {
    return n;
  }
  n.kind = kind;
  n.layout = Layout::v0_5;
  n.level = p[1][0] - '0';
  n.min_txid = hex_value<uint64_t>(file.substr(0, 16));
  n.max_txid = hex_value<uint64_t>(file.substr(17));
  return n;
}

}  // namespace

const char* to_string(Layout l) {
  switch (l) {
    case Layout::v0_3:
      return "0.3";
    case Layout::v0_5:
      return "0.5";
    case Layout::none:
      break;
  }
  return "none";
}

const char* to_string(StagingKind k) {
  switch (k) {
    case StagingKind::shadow_wal:
      return "shadow_wal";
    case StagingKind::shadow_wal_tmp:
      return "shadow_wal_tmp";
    case StagingKind::generation_name:
      return "generation_name";
    case StagingKind::replica_wal:
      return "replica_wal";
    case StagingKind::replica_snapshot:
      return "replica_snapshot";
    case StagingKind::ltx:
      return "ltx";
    case StagingKind::ltx_tmp:
      return "ltx_tmp";
    case StagingKind::unknown:
      break;
  }
  return "unknown";
}

StagingName classify_staging_path(std::string_view rel_path) {
  if (rel_path == "generation") {
    StagingName n;
    n.kind = StagingKind::generation_name;
    n.layout = Layout::v0_3;
    return n;
  }
  const auto parts = split(rel_path);
  if (!parts.empty() && parts[0] == "generations") return classify_v03(parts);
  if (!parts.empty() && parts[0] == "ltx") return classify_v05(parts);
  return {};
}

}  // namespace ltxguard::formats
