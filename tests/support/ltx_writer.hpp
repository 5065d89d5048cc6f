// Test-side LTX encoder: writes v3 LTX files the way Litestream 0.5 does (superfly/ltx v0.5.1
// frame encoder, v0.5.2 block encoder), with header flag NoChecksum (0x2) and post-apply 0, so
// tests and the Litestream 0.5 test double stage real LTX bytes. Not part of ltxguard itself.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::testing {

enum class LtxWriteEncoding {
  v3_frame,  // page flags 0 + one LZ4 frame per page (64 KiB blocks, content checksum)
  v3_block,  // page flags 0x0001 + u32 size + one LZ4 block
};

struct LtxWriteOptions {
  LtxWriteEncoding encoding = LtxWriteEncoding::v3_frame;
  uint32_t page_size_bytes = 4096;
  uint32_t commit_pages = 0;  // LtxWriter: required (>= every pgno); encode_ltx: 0 = max pgno
  uint64_t min_txid = 1;
  uint64_t max_txid = 1;
  int64_t timestamp_ms = 0;
  uint64_t wal_offset = 0, wal_size = 0;
  uint32_t wal_salt1 = 0, wal_salt2 = 0;
};

// Receives the file's bytes in the same write calls Go's encoder makes, so a sink writing to a
// file descriptor fails where Litestream's write would (ENOSPC included).
using ByteSink = std::function<util::Result<void>(std::span<const uint8_t>)>;

// Streaming encoder. Call begin(), add_page() for each page, then finish(). Pages follow Go's
// rules: a snapshot (min_txid 1) holds 1..commit in order without the lock page; other files
// ascend. Errors are invalid_input for misuse, or the sink's error (code, errno, path kept)
// with message set to the failing step in Go's wording: "write header", "write" (frame page
// header), "write page header" / "write data size" (block), "write page data",
// "write empty page header", "write page index: write page index element",
// "write page index: write page index pgno", "write page index: write page index size",
// "write trailer".
class LtxWriter {
 public:
  LtxWriter(LtxWriteOptions options, ByteSink sink);
  [[nodiscard]] util::Result<void> begin();
  [[nodiscard]] util::Result<void> add_page(uint32_t pgno, std::span<const uint8_t> page);
  [[nodiscard]] util::Result<void> finish();
  [[nodiscard]] uint64_t bytes_written() const { return offset_; }

 private:
  util::Result<void> emit(std::span<const uint8_t> bytes, bool hashed, const char* step);

  LtxWriteOptions opt_;
  ByteSink sink_;
  uint64_t offset_ = 0;
  uint64_t crc_ = 0;
  uint32_t prev_pgno_ = 0;
  enum class Stage { created, pages, finished } stage_ = Stage::created;
  std::vector<uint8_t> scratch_;
  struct IndexEntry {
    uint32_t pgno;
    uint64_t offset;
    uint64_t size;
  };
  std::vector<IndexEntry> index_;
};

// The whole file in memory; aborts the test binary if the pages break the rules above.
[[nodiscard]] std::string encode_ltx(const LtxWriteOptions& options,
                                     const std::vector<std::pair<uint32_t, std::string>>& pages);

// A consistent image of a SQLite database read through SQLite itself (WAL frames included), in
// the caller's open read transaction if it has one; plus the WAL header values Litestream
// copies into the LTX header (offset 32, committed WAL bytes, salts) when a WAL exists.
struct DbImage {
  uint32_t page_size_bytes = 0;
  uint32_t page_count = 0;
  std::string bytes;  // page_count * page_size_bytes
  uint64_t wal_offset = 0, wal_size = 0;
  uint32_t wal_salt1 = 0, wal_salt2 = 0;
};
[[nodiscard]] util::Result<DbImage> read_db_image(sqlite3* db, const std::string& db_path);

// Stages a full snapshot (TXID 1-1, flags NoChecksum) of the SQLite database at db_path into
// out_path (created or truncated, fsynced); returns the bytes written.
[[nodiscard]] util::Result<uint64_t> write_snapshot_ltx(const std::string& db_path,
                                                        const std::string& out_path,
                                                        LtxWriteEncoding encoding);

}  // namespace ltxguard::testing
