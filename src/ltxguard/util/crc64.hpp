// CRC-64 as Go's hash/crc64 with the ISO table (reflected 0xD800000000000000, init and
// xorout all ones): the checksum LTX files carry. Backed by isa-l's crc64_iso_refl.
#pragma once

#include <cstdint>
#include <span>

namespace ltxguard::util {

// Incremental: crc64_iso(b, crc64_iso(a)) == crc64_iso(a ++ b). Start with 0.
[[nodiscard]] uint64_t crc64_iso(std::span<const uint8_t> data, uint64_t crc = 0);

}  // namespace ltxguard::util
