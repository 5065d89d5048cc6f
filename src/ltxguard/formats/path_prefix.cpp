#include "ltxguard/formats/path_prefix.hpp"

namespace ltxguard::formats {

bool path_within(std::string_view path, std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir.empty()) return false;
  if (dir == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, dir.size()) != dir) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

}  // namespace ltxguard::formats
