#include "ltxguard/util/bytes.hpp"

#include <cstdlib>

#include <fmt/format.h>

namespace ltxguard::util {

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  const bool negative = bytes < 0;
  // unsigned magnitude so INT64_MIN does not overflow
  const uint64_t mag = negative ? uint64_t{0} - static_cast<uint64_t>(bytes) : static_cast<uint64_t>(bytes);
  if (mag < 1024) return fmt::format("{}{} B", negative ? "-" : "", mag);
  double v = static_cast<double>(mag);
  size_t unit = 0;
  while (v >= 1024.0 && unit + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{}{:.1f} {}", negative ? "-" : "", v, kUnits[unit]);
}

}  // namespace ltxguard::util
