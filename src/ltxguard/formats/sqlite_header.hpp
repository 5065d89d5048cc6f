// The 100-byte SQLite database file header: page size, page count and journal mode,
// everything ltxguard needs to size a database without reading past byte 100.
// Layout: https://www.sqlite.org/fileformat2.html#the_database_header
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

inline constexpr size_t kSqliteHeaderBytes = 100;

struct SqliteHeader {
  uint32_t page_size_bytes = 0;  // 512..65536, a power of two (the stored 1 already mapped)
  // Pages in the database per the header; 0 unless page_count_valid. Callers then fall back
  // to file size / page size.
  uint32_t page_count = 0;
  // The header count is trusted only when "version-valid-for" (offset 92) equals the change
  // counter (offset 24) and it is non-zero; writers older than 3.7.0 leave it stale.
  bool page_count_valid = false;
  bool wal_mode = false;  // write and read format versions both 2
  uint8_t write_version = 0;
  uint8_t read_version = 0;
  uint32_t change_counter = 0;

  // Database bytes per the header; 0 when the page count is not valid.
  [[nodiscard]] uint64_t db_bytes() const { return uint64_t{page_size_bytes} * page_count; }
};

// Parses the first kSqliteHeaderBytes of `bytes` (extra bytes are ignored). Fails with
// invalid_input and an empty path (the caller knows the file) when:
//   fewer than 100 bytes:   "SQLite header truncated: N of 100 bytes"
//   wrong magic:            "not a SQLite database (bad magic)"
//   bad page size field:    "invalid SQLite page size N"
[[nodiscard]] util::Result<SqliteHeader> parse_sqlite_header(std::span<const uint8_t> bytes);

}  // namespace ltxguard::formats
