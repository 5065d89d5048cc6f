// Big-endian integer reads and writes over byte spans, and human byte formatting.
// Every on-disk format ltxguard reads (SQLite header, LTX) is big-endian.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace ltxguard::util {

// Precondition: the span holds at least N bytes from `off`; callers check lengths first.
[[nodiscard]] inline uint16_t be16(std::span<const uint8_t> b, size_t off) {
  return static_cast<uint16_t>((b[off] << 8) | b[off + 1]);
}
[[nodiscard]] inline uint32_t be32(std::span<const uint8_t> b, size_t off) {
  return (uint32_t{b[off]} << 24) | (uint32_t{b[off + 1]} << 16) | (uint32_t{b[off + 2]} << 8) |
         uint32_t{b[off + 3]};
}
[[nodiscard]] inline uint64_t be64(std::span<const uint8_t> b, size_t off) {
  return (uint64_t{be32(b, off)} << 32) | be32(b, off + 4);
}
inline void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

// "20.0 GiB", "512 B", "-3.0 GiB": for people only; decisions always use integer bytes.
[[nodiscard]] std::string human_bytes(int64_t bytes);

}  // namespace ltxguard::util
