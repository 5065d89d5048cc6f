// Random-access bytes for the pure parsers: a file (sys::FileByteSource) or memory
// (MemoryByteSource). Parsers see only this, so they stay free of I/O and fuzzable.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Size when opened; a growing file may have more bytes by the time they are read.
  [[nodiscard]] virtual uint64_t size() const = 0;
  // Reads up to out.size() bytes at offset; returns how many were read (short at EOF).
  [[nodiscard]] virtual util::Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) const = 0;
};

class MemoryByteSource final : public ByteSource {
 public:
  explicit MemoryByteSource(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  [[nodiscard]] uint64_t size() const override { return bytes_.size(); }
  [[nodiscard]] util::Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) const override {
    if (offset >= bytes_.size()) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), bytes_.size() - static_cast<size_t>(offset));
    std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }

 private:
  std::span<const uint8_t> bytes_;
};

}  // namespace ltxguard::formats
