#include "ltxguard/formats/sqlite_header.hpp"

#include <cstring>
#include <string>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::formats {
namespace {

// Offsets in the database header (sqlite.org/fileformat2.html, section 1.3).
constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
constexpr size_t kPageSizeOffset = 16;
constexpr size_t kWriteVersionOffset = 18;
constexpr size_t kReadVersionOffset = 19;
constexpr size_t kChangeCounterOffset = 24;
constexpr size_t kPageCountOffset = 28;
constexpr size_t kVersionValidForOffset = 92;
constexpr uint8_t kWalFormatVersion = 2;

}  // namespace

util::Result<SqliteHeader> parse_sqlite_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kSqliteHeaderBytes) {
    return util::fail(util::make_error(
        util::ErrorCode::invalid_input, "",
        "SQLite header truncated: " + std::to_string(bytes.size()) + " of 100 bytes"));
  }
  static_assert(sizeof(kMagic) == 16);
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, "", "not a SQLite database (bad magic)"));
  }
  const uint16_t raw_page_size = util::be16(bytes, kPageSizeOffset);
  // 65536 does not fit in 16 bits; SQLite stores it as 1.
  const uint32_t page_size = raw_page_size == 1 ? 65536U : raw_page_size;
  if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, "",
                         "invalid SQLite page size " + std::to_string(raw_page_size)));
  }

  SqliteHeader h;
  h.page_size_bytes = page_size;
  h.write_version = bytes[kWriteVersionOffset];
  h.read_version = bytes[kReadVersionOffset];
  h.wal_mode = h.write_version == kWalFormatVersion && h.read_version == kWalFormatVersion;
  h.change_counter = util::be32(bytes, kChangeCounterOffset);
  const uint32_t page_count = util::be32(bytes, kPageCountOffset);
  h.page_count_valid =
      page_count != 0 && util::be32(bytes, kVersionValidForOffset) == h.change_counter;
  h.page_count = h.page_count_valid ? page_count : 0;
  return h;
}

}  // namespace ltxguard::formats
