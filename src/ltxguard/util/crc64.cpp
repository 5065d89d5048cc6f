#include "ltxguard/util/crc64.hpp"

#include <isa-l/crc64.h>

namespace ltxguard::util {

uint64_t crc64_iso(std::span<const uint8_t> data, uint64_t crc) {
  // isa-l's _refl variants take and return the finalised value, like Go's Update().
  return crc64_iso_refl(crc, data.data(), data.size());
}

}  // namespace ltxguard::util
