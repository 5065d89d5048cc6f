// LTX files, Litestream 0.5's staging and replication unit: header, file names, a cheapest-first
// complete/incomplete/corrupt classification, and the worst-case size of a full snapshot.
// Layout: superfly/ltx v0.5.1 (frame) and v0.5.2 (block) encoder.go and ltx.go.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ltxguard/formats/byte_source.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

inline constexpr size_t kLtxHeaderBytes = 100;
inline constexpr size_t kLtxTrailerBytes = 16;
// SQLite never stores data on the page holding byte 0x40000000; LTX snapshots skip it.
inline constexpr uint64_t kSqlitePendingByte = 0x40000000;

// How pages are framed after the header (all share magic "LTX1"):
//   v1       ltx <= v0.3: 4-byte page header, raw page, no page index
//   v2       ltx v0.4:    4-byte page header, one LZ4 frame per page, page index
//   v3_frame ltx v0.5.0/1 (Litestream 0.5.0-0.5.15): 6-byte page header (flags 0), LZ4 frame
//   v3_block ltx v0.5.2   (Litestream 0.5.16+): 6-byte header (flags 0x0001), u32 size, LZ4 block
enum class LtxEncoding { v1, v2, v3_frame, v3_block, unknown };
[[nodiscard]] const char* to_string(LtxEncoding);  // "v1","v2","v3-frame","v3-block","unknown"

struct LtxHeader {
  uint32_t flags;
  uint32_t page_size_bytes;
  uint32_t commit_pages;  // database size in pages after applying the file
  uint64_t min_txid;
  uint64_t max_txid;
  int64_t timestamp_ms;
  uint64_t pre_apply_checksum;
  uint64_t wal_offset;
  uint64_t wal_size;
  uint32_t wal_salt1;
  uint32_t wal_salt2;
  uint64_t node_id;
  [[nodiscard]] bool is_snapshot() const { return min_txid == 1; }
};

// Parses the first kLtxHeaderBytes of `bytes`. Fails with invalid_input, empty path:
//   "header truncated: N of 100 bytes", "invalid LTX file: bad magic",
//   "invalid flags: 0x00000004" (only bit 0x2 may be set), "invalid page size: 1000",
//   "minimum transaction id required", "transaction ids out of order: (5,3)".
[[nodiscard]] util::Result<LtxHeader> parse_ltx_header(std::span<const uint8_t> bytes);

// Page number of the SQLite lock page for a page size (0x40000000 / page_size + 1).
[[nodiscard]] uint32_t ltx_lock_pgno(uint32_t page_size_bytes);

struct LtxName {
  uint64_t min_txid;
  uint64_t max_txid;
  bool tmp;  // "….ltx.tmp": staging in flight, or left behind by a crash
};
// Accepts exactly "<16 lowercase hex>-<16 lowercase hex>.ltx" and the same with ".tmp"
// appended (Litestream formats TXIDs with %016x and parses with ^[0-9a-f]{16}…$). A leading
// directory is ignored. Anything else, including uppercase hex, gives nullopt.
[[nodiscard]] std::optional<LtxName> parse_ltx_name(std::string_view filename);
[[nodiscard]] std::string format_ltx_name(uint64_t min_txid, uint64_t max_txid);

enum class LtxState { complete, incomplete, corrupt };
[[nodiscard]] const char* to_string(LtxState);  // "complete","incomplete","corrupt"

// header_and_tail: name, header, tail and page index (reads the header, the last 25 bytes and
// the index). full: additionally decodes every page and verifies the file checksum.
enum class LtxDepth { header_and_tail, full };

struct LtxInspection {
  LtxState state = LtxState::corrupt;
  LtxEncoding encoding = LtxEncoding::unknown;
  std::optional<LtxHeader> header;        // set whenever the 100-byte header parsed
  uint64_t file_bytes = 0;                // size of the source when inspection started
  uint64_t pages_written = 0;             // complete page frames found (full), or index entries
  bool pages_counted = false;             // pages_written was counted (index read or full depth)
  uint64_t expected_final_bytes = 0;      // snapshot: ltx_snapshot_max_bytes(…); else 0 (unknown)
  bool checksum_verified = false;         // full depth only: the CRC-64 file checksum matched
  std::string reason;                     // one line: why incomplete/corrupt; empty when complete
  std::optional<util::Error> read_error;  // the source failed to read; state is incomplete
};

// Classifies an LTX file, cheapest check first: name (a parsable name must carry the header's
// TXIDs), header, tail (checksum flag bit, index length, zero end marker), page index (first
// frame at 100, contiguous frames, snapshot holds pages 1..commit minus the lock page), then at
// full depth every page is LZ4-decoded to exactly page size and the CRC-64/ISO checksum checked.
// Missing bytes (a growing or cut .ltx.tmp, a file without trailer) give incomplete; bytes that
// are present but wrong (magic, flags, index, page decode, checksum) give corrupt. Reads at
// most the source's size at entry; memory is bounded by the page size, never by file lengths.
[[nodiscard]] LtxInspection inspect_ltx(const ByteSource& src, std::string_view filename,
                                        LtxDepth depth);

// Upper bound of the bytes of a full-snapshot LTX file of page_count pages (the lock page
// skipped): header, incompressible pages at the encoding's largest LZ4 output (frame: a raw
// block plus 19 bytes of frame; block: a literal-only block, the largest any LZ4 encoder
// writes), page index with the largest varints, trailer. Exact integer arithmetic; never below
// what the Go or the test encoder writes. unknown gives the larger of v3_frame and v3_block.
// Returns 0 for a page size that is not a power of two in 512..65536.
[[nodiscard]] uint64_t ltx_snapshot_max_bytes(uint32_t page_size_bytes, uint64_t page_count,
                                              LtxEncoding encoding);

}  // namespace ltxguard::formats
