#include "ltxguard/formats/ltx.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "support/ltx_writer.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::formats {
namespace {

using testing::LtxWriteEncoding;
using testing::LtxWriteOptions;

const std::string kDir = std::string(LTXGUARD_TESTDATA) + "/ltx/";
const std::string kV1 = "litestream-fixture-ltxv1-000000000000000d-000000000000000d.ltx";
const std::string kV1Cut =
    "litestream-fixture-ltxv1-000000000000000d-000000000000000d.truncated-before-trailer.ltx";
const std::string kFrame = "synthetic-v3frame-l0-snapshot-0000000000000001-0000000000000001.ltx";
const std::string kBlock = "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.ltx";
const std::string kBlockSum =
    "synthetic-v3block-checksummed-snapshot-0000000000000001-0000000000000001.ltx";
const std::string kBlockInc =
    "synthetic-v3block-l0-incremental-0000000000000002-0000000000000002.ltx";
const std::string kBlockCut =
    "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.truncated-before-trailer.ltx";
const std::string kBlockTmp =
    "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.ltx.tmp-truncated";

std::string vector_bytes(const std::string& name) { return testing::read_file(kDir + name); }

LtxInspection inspect(const std::string& bytes, std::string_view name, LtxDepth depth) {
  const MemoryByteSource src({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  return inspect_ltx(src, name, depth);
}

uint64_t stored_file_checksum(const std::string& b) {
  uint64_t v = 0;
  for (size_t i = b.size() - 8; i < b.size(); ++i) v = v << 8 | static_cast<uint8_t>(b[i]);
  return v;
}

TEST(LtxTest, RealV1FileParsesAndVerifies) {
  const std::string b = vector_bytes(kV1);
  ASSERT_EQ(b.size(), 12420u);
  const auto r = inspect(b, kV1, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::complete) << r.reason;
  EXPECT_EQ(r.encoding, LtxEncoding::v1);
  ASSERT_TRUE(r.header);
  EXPECT_EQ(r.header->flags, 0u);
  EXPECT_EQ(r.header->page_size_bytes, 4096u);
  EXPECT_EQ(r.header->commit_pages, 10u);
  EXPECT_EQ(r.header->min_txid, 13u);
  EXPECT_EQ(r.header->max_txid, 13u);
  EXPECT_EQ(r.header->timestamp_ms, 0);
  EXPECT_EQ(r.header->pre_apply_checksum, 0x9c74a15b4e4f246cULL);
  EXPECT_FALSE(r.header->is_snapshot());
  EXPECT_EQ(r.pages_written, 3u);
  EXPECT_TRUE(r.checksum_verified);
  EXPECT_EQ(stored_file_checksum(b), 0x9496a29358326fb5ULL);
  EXPECT_EQ(r.expected_final_bytes, 0u);
  EXPECT_EQ(r.reason, "");
  const auto t = inspect(b, kV1, LtxDepth::header_and_tail);
  EXPECT_EQ(t.state, LtxState::complete) << t.reason;
  EXPECT_EQ(t.pages_written, 3u);
  EXPECT_FALSE(t.checksum_verified);
}

TEST(LtxTest, RealV1TruncatedBeforeTrailerIsIncomplete) {
  const std::string b = vector_bytes(kV1Cut);
  const auto r = inspect(b, kV1Cut, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete);
  EXPECT_EQ(r.reason, "truncated: trailer missing (0 bytes left, need 16)");
  EXPECT_EQ(r.pages_written, 3u);
  const auto t = inspect(b, kV1Cut, LtxDepth::header_and_tail);
  EXPECT_EQ(t.state, LtxState::incomplete);
  EXPECT_EQ(t.reason, "tail check: no trailer (file checksum flag bit 63 not set)");
}

struct Vector {
  std::string name;
  LtxEncoding encoding;
  uint32_t flags;
  uint64_t txid;
  int64_t timestamp_ms;
  uint64_t wal_offset, wal_size;
  uint64_t pages;
  uint64_t file_checksum;
};

TEST(LtxTest, SyntheticV3VectorsDecodeToTheirReadmeFields) {
  const std::vector<Vector> vectors = {
      {kFrame, LtxEncoding::v3_frame, 2, 1, 1767225600000, 32, 57680, 12, 0xf342d29df95b379cULL},
      {kBlock, LtxEncoding::v3_block, 2, 1, 1767225600000, 32, 57680, 12, 0xa1293bd967194a1dULL},
      {kBlockSum, LtxEncoding::v3_block, 0, 1, 1767225600000, 32, 57680, 12, 0xcc5ffc6e4a206aedULL},
      {kBlockInc, LtxEncoding::v3_block, 2, 2, 1767225601000, 57712, 8240, 2,
       0x8a484002ba4ba73eULL},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    const std::string b = vector_bytes(v.name);
    for (const auto depth : {LtxDepth::header_and_tail, LtxDepth::full}) {
      const auto r = inspect(b, v.name, depth);
      EXPECT_EQ(r.state, LtxState::complete) << r.reason;
      EXPECT_EQ(r.encoding, v.encoding);
      EXPECT_EQ(r.pages_written, v.pages);
      EXPECT_EQ(r.checksum_verified, depth == LtxDepth::full);
      EXPECT_EQ(r.file_bytes, b.size());
      ASSERT_TRUE(r.header);
      EXPECT_EQ(r.header->flags, v.flags);
      EXPECT_EQ(r.header->page_size_bytes, 4096u);
      EXPECT_EQ(r.header->commit_pages, 12u);
      EXPECT_EQ(r.header->min_txid, v.txid);
      EXPECT_EQ(r.header->max_txid, v.txid);
      EXPECT_EQ(r.header->timestamp_ms, v.timestamp_ms);
      EXPECT_EQ(r.header->pre_apply_checksum, 0u);
      EXPECT_EQ(r.header->wal_offset, v.wal_offset);
      EXPECT_EQ(r.header->wal_size, v.wal_size);
      EXPECT_EQ(r.header->wal_salt1, 0x0BADC0DEu);
      EXPECT_EQ(r.header->wal_salt2, 0x5EED5EEDu);
      EXPECT_EQ(r.header->node_id, 0u);
      EXPECT_EQ(r.expected_final_bytes,
                v.txid == 1 ? ltx_snapshot_max_bytes(4096, 12, v.encoding) : 0u);
    }
    EXPECT_EQ(stored_file_checksum(b), v.file_checksum);
  }
}

TEST(LtxTest, V3BlockTruncatedBeforeTrailerIsIncomplete) {
  const std::string b = vector_bytes(kBlockCut);
  const auto r = inspect(b, kBlockCut, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete);
  EXPECT_EQ(r.reason, "truncated: trailer missing (0 bytes left, need 16)");
  EXPECT_EQ(r.pages_written, 12u);
  const auto t = inspect(b, kBlockCut, LtxDepth::header_and_tail);
  EXPECT_EQ(t.state, LtxState::incomplete);
  EXPECT_EQ(t.reason, "tail check: no trailer (file checksum flag bit 63 not set)");
  // Only its ends were read: the pages were not counted, and 0 must not be reported as a count.
  EXPECT_FALSE(t.pages_counted);
}

TEST(LtxTest, InterruptedStagingFileIsIncompleteWithProgress) {
  const std::string b = vector_bytes(kBlockTmp);
  const std::string tmp_name = "0000000000000001-0000000000000001.ltx.tmp";
  const auto r = inspect(b, tmp_name, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete);
  EXPECT_EQ(r.reason, "truncated: compressed data of page 9");
  EXPECT_EQ(r.encoding, LtxEncoding::v3_block);
  EXPECT_EQ(r.pages_written, 8u);
  EXPECT_TRUE(r.pages_counted);
  EXPECT_EQ(r.file_bytes, 9738u);
  EXPECT_EQ(r.expected_final_bytes, ltx_snapshot_max_bytes(4096, 12, LtxEncoding::v3_block));
  EXPECT_GE(r.expected_final_bytes, 19476u);
  const auto t = inspect(b, tmp_name, LtxDepth::header_and_tail);
  EXPECT_EQ(t.state, LtxState::incomplete);
  EXPECT_EQ(t.reason.rfind("tail check: ", 0), 0u) << t.reason;
}

TEST(LtxTest, EveryTruncationOfACompleteFileIsIncomplete) {
  for (const auto& name : {kV1, kFrame, kBlock, kBlockInc}) {
    const std::string b = vector_bytes(name);
    const size_t step = b.size() < 1000 ? 1 : 31;
    for (size_t len = 0; len < b.size(); len += step) {
      const auto r = inspect(b.substr(0, len), name, LtxDepth::full);
      ASSERT_EQ(r.state, LtxState::incomplete) << name << " cut at " << len << ": " << r.reason;
    }
  }
}

TEST(LtxTest, ShortFilesReportHowMuchIsMissing) {
  const std::string b = vector_bytes(kBlock);
  EXPECT_EQ(inspect("", "x.ltx.tmp", LtxDepth::full).reason, "header truncated: 0 of 100 bytes");
  auto r = inspect(b.substr(0, 50), "x", LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete);
  EXPECT_EQ(r.reason, "header truncated: 50 of 100 bytes");
  EXPECT_FALSE(r.header);
  r = inspect(b.substr(0, 105), "x", LtxDepth::header_and_tail);
  EXPECT_EQ(r.state, LtxState::incomplete);
  EXPECT_EQ(r.reason, "truncated: first page frame (105 bytes)");
  ASSERT_TRUE(r.header);
  EXPECT_EQ(r.encoding, LtxEncoding::unknown);
  EXPECT_EQ(r.expected_final_bytes, ltx_snapshot_max_bytes(4096, 12, LtxEncoding::unknown));
}

TEST(LtxTest, FlippedLiteralByteIsAChecksumMismatch) {
  std::string b = vector_bytes(kBlock);
  ASSERT_EQ(b.substr(112, 6), "SQLite");  // literals of page 1's LZ4 block
  b[112] = 'T';
  const auto r = inspect(b, kBlock, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::corrupt);
  EXPECT_EQ(r.reason.rfind("file checksum mismatch: stored a1293bd967194a1d, computed ", 0), 0u)
      << r.reason;
  EXPECT_FALSE(r.checksum_verified);
  // The cheap depth never reads page bodies, so it cannot see this.
  EXPECT_EQ(inspect(b, kBlock, LtxDepth::header_and_tail).state, LtxState::complete);
}

TEST(LtxTest, DamagedCompressedPageIsCorrupt) {
  const std::string good = vector_bytes(kFrame);
  int corrupt_count = 0;
  for (size_t off = 120; off < good.size() - 200; off += 211) {
    std::string b = good;
    b[off] = static_cast<char>(b[off] ^ 0x5A);
    const auto r = inspect(b, kFrame, LtxDepth::full);
    EXPECT_NE(r.state, LtxState::complete) << "flip at " << off;
    corrupt_count += r.state == LtxState::corrupt;
  }
  EXPECT_GT(corrupt_count, 50);
}

TEST(LtxTest, NoMutatedFileVerifies) {
  std::mt19937_64 rng(7);
  for (const auto& name : {kV1, kFrame, kBlock, kBlockSum, kBlockInc}) {
    const std::string orig = vector_bytes(name);
    for (int i = 0; i < 150; ++i) {
      std::string b = orig;
      const size_t off = rng() % b.size();
      switch (rng() % 3) {
        case 0:
          b[off] = static_cast<char>(rng());
          break;
        case 1:
          b.insert(off, std::string(1 + rng() % 8, static_cast<char>(rng())));
          break;
        default:
          b.erase(off, 1 + rng() % 8);
          break;
      }
      const auto r = inspect(b, name, LtxDepth::full);
      if (b != orig) {
        ASSERT_NE(r.state, LtxState::complete) << name << " mutated at " << off;
        ASSERT_FALSE(r.checksum_verified);
        ASSERT_FALSE(r.reason.empty());
      }
    }
  }
}

TEST(LtxTest, InconsistentPageIndexIsCorruptAtTheCheapDepth) {
  std::string b = vector_bytes(kBlock);
  ASSERT_EQ(static_cast<uint8_t>(b[0x4bc2]), 0x01);  // index entry 1: pgno 1, offset 100
  ASSERT_EQ(static_cast<uint8_t>(b[0x4bc3]), 0x64);
  b[0x4bc3] = 0x65;
  const auto r = inspect(b, kBlock, LtxDepth::header_and_tail);
  EXPECT_EQ(r.state, LtxState::corrupt);
  EXPECT_EQ(r.reason, "page index: page 1 at offset 101, frames put it at 100");
}

TEST(LtxTest, BadMagicIsCorrupt) {
  std::string b = vector_bytes(kBlock);
  b[3] = '2';
  const auto r = inspect(b, kBlock, LtxDepth::header_and_tail);
  EXPECT_EQ(r.state, LtxState::corrupt);
  EXPECT_EQ(r.reason, "invalid LTX file: bad magic");
  EXPECT_EQ(inspect("LTX2", "x", LtxDepth::full).state, LtxState::corrupt);
  EXPECT_EQ(inspect("LTX", "x", LtxDepth::full).state, LtxState::incomplete);
}

TEST(LtxTest, HeaderTxidsMustMatchAParsableName) {
  const std::string b = vector_bytes(kBlock);
  const auto r =
      inspect(b, "/meta/ltx/0/0000000000000002-0000000000000002.ltx", LtxDepth::header_and_tail);
  EXPECT_EQ(r.state, LtxState::corrupt);
  EXPECT_EQ(r.reason, "header TXIDs 0000000000000001-0000000000000001 do not match the file name");
  EXPECT_EQ(inspect(b, "0000000000000001-0000000000000001.ltx", LtxDepth::full).state,
            LtxState::complete);
}

TEST(LtxTest, ParsesOnlyLitestreamNames) {
  auto n = parse_ltx_name("00000000000000ff-0000000000000100.ltx");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->min_txid, 0xffu);
  EXPECT_EQ(n->max_txid, 0x100u);
  EXPECT_FALSE(n->tmp);
  n = parse_ltx_name("/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->tmp);
  EXPECT_EQ(n->min_txid, 1u);
  for (const char* bad :
       {"00000000000000FF-0000000000000100.ltx", "0000000000000001-000000000000001.ltx",
        "0000000000000001_0000000000000001.ltx", "0000000000000001-0000000000000001.ltx.tmp2",
        "0000000000000001-0000000000000001.ltxtmp", "0000000000000001-0000000000000001",
        "x0000000000000001-0000000000000001.ltx", "", ".ltx",
        "0000000000000001-000000000000000g.ltx"}) {
    EXPECT_FALSE(parse_ltx_name(bad)) << bad;
  }
  EXPECT_EQ(format_ltx_name(1, 0xabc), "0000000000000001-0000000000000abc.ltx");
  EXPECT_EQ(parse_ltx_name(format_ltx_name(7, 9))->max_txid, 9u);
}

std::string header_with(uint32_t flags, uint32_t page_size, uint64_t min_txid, uint64_t max_txid) {
  LtxWriteOptions o;
  o.page_size_bytes = 4096;
  std::string b = testing::encode_ltx(o, {{1, std::string(4096, 'a')}}).substr(0, 100);
  auto put = [&](size_t off, uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      b[off + static_cast<size_t>(i)] = static_cast<char>(v >> (8 * (n - 1 - i)));
  };
  put(4, flags, 4);
  put(8, page_size, 4);
  put(16, min_txid, 8);
  put(24, max_txid, 8);
  return b;
}

std::string header_error(const std::string& b) {
  auto r = parse_ltx_header({reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  return r ? "" : r.error().message;
}

TEST(LtxTest, HeaderValidationErrors) {
  EXPECT_EQ(header_error(header_with(2, 4096, 1, 1)), "");
  EXPECT_EQ(header_error(header_with(0, 512, 3, 9)), "");
  EXPECT_EQ(header_error(header_with(2, 65536, 1, 1)), "");
  EXPECT_EQ(header_error(header_with(4, 4096, 1, 1)), "invalid flags: 0x00000004");
  EXPECT_EQ(header_error(header_with(3, 4096, 1, 1)), "invalid flags: 0x00000003");
  EXPECT_EQ(header_error(header_with(2, 1000, 1, 1)), "invalid page size: 1000");
  EXPECT_EQ(header_error(header_with(2, 256, 1, 1)), "invalid page size: 256");
  EXPECT_EQ(header_error(header_with(2, 131072, 1, 1)), "invalid page size: 131072");
  EXPECT_EQ(header_error(header_with(2, 0, 1, 1)), "invalid page size: 0");
  EXPECT_EQ(header_error(header_with(2, 4096, 0, 1)), "minimum transaction id required");
  EXPECT_EQ(header_error(header_with(2, 4096, 5, 3)), "transaction ids out of order: (5,3)");
  EXPECT_EQ(header_error(header_with(2, 4096, 1, 1).substr(0, 99)),
            "header truncated: 99 of 100 bytes");
  auto h = parse_ltx_header({reinterpret_cast<const uint8_t*>("XTX1"), 4});
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, util::ErrorCode::invalid_input);
}

TEST(LtxTest, EnumNames) {
  EXPECT_STREQ(to_string(LtxEncoding::v3_frame), "v3-frame");
  EXPECT_STREQ(to_string(LtxEncoding::v3_block), "v3-block");
  EXPECT_STREQ(to_string(LtxEncoding::v1), "v1");
  EXPECT_STREQ(to_string(LtxEncoding::v2), "v2");
  EXPECT_STREQ(to_string(LtxEncoding::unknown), "unknown");
  EXPECT_STREQ(to_string(LtxState::complete), "complete");
  EXPECT_STREQ(to_string(LtxState::incomplete), "incomplete");
  EXPECT_STREQ(to_string(LtxState::corrupt), "corrupt");
}

std::string random_page(std::mt19937_64& rng, uint32_t size) {
  std::string p(size, '\0');
  for (auto& c : p) c = static_cast<char>(rng());
  return p;
}

std::vector<std::pair<uint32_t, std::string>> random_pages(uint32_t page_size, uint32_t count,
                                                           uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::pair<uint32_t, std::string>> pages;
  for (uint32_t i = 1; i <= count; ++i) pages.emplace_back(i, random_page(rng, page_size));
  return pages;
}

TEST(LtxTest, WriterRoundTripsAtEveryPageSize) {
  for (uint32_t ps = 512; ps <= 65536; ps *= 2) {
    for (const auto enc : {LtxWriteEncoding::v3_frame, LtxWriteEncoding::v3_block}) {
      SCOPED_TRACE("ps=" + std::to_string(ps));
      std::mt19937_64 rng(ps);
      std::vector<std::pair<uint32_t, std::string>> pages;
      for (uint32_t i = 1; i <= 9; ++i) {  // compressible, zero and random pages
        if (i % 3 == 0)
          pages.emplace_back(i, random_page(rng, ps));
        else if (i % 3 == 1)
          pages.emplace_back(i, std::string(ps, '\0'));
        else
          pages.emplace_back(i, std::string(ps / 2, 'x') + std::string(ps / 2, 'y'));
      }
      LtxWriteOptions o;
      o.encoding = enc;
      o.page_size_bytes = ps;
      o.timestamp_ms = 1767225600000;
      const std::string b = testing::encode_ltx(o, pages);
      const auto r = inspect(b, "0000000000000001-0000000000000001.ltx", LtxDepth::full);
      EXPECT_EQ(r.state, LtxState::complete) << r.reason;
      EXPECT_TRUE(r.checksum_verified);
      EXPECT_EQ(r.encoding,
                enc == LtxWriteEncoding::v3_frame ? LtxEncoding::v3_frame : LtxEncoding::v3_block);
      EXPECT_EQ(r.pages_written, 9u);
      EXPECT_EQ(r.header->commit_pages, 9u);
      EXPECT_EQ(r.header->flags, 2u);
      EXPECT_LE(b.size(), r.expected_final_bytes);
    }
  }
}

TEST(LtxTest, WriterFramesMatchTheGoEncoderLayout) {
  LtxWriteOptions o;
  const std::string f = testing::encode_ltx(o, {{1, std::string(4096, 'a')}});
  // pgno 1, flags 0, LZ4 frame magic, FLG 0x64 (independent blocks, content checksum), BD 0x40.
  EXPECT_EQ(f.substr(100, 12), std::string("\0\0\0\1\0\0\x04\x22\x4d\x18\x64\x40", 12));
  o.encoding = LtxWriteEncoding::v3_block;
  const std::string b = testing::encode_ltx(o, {{1, std::string(4096, 'a')}});
  EXPECT_EQ(b.substr(100, 6), std::string("\0\0\0\1\0\1", 6));
}

TEST(LtxTest, SnapshotMaxBytesBoundsIncompressiblePagesWithinTwoPercent) {
  for (uint32_t ps = 512; ps <= 65536; ps *= 2) {
    const uint32_t count = ps >= 16384 ? 40 : 300;
    const auto pages = random_pages(ps, count, ps + 1);
    for (const auto enc : {LtxWriteEncoding::v3_frame, LtxWriteEncoding::v3_block}) {
      LtxWriteOptions o;
      o.encoding = enc;
      o.page_size_bytes = ps;
      const uint64_t actual = testing::encode_ltx(o, pages).size();
      const uint64_t bound = ltx_snapshot_max_bytes(
          ps, count,
          enc == LtxWriteEncoding::v3_frame ? LtxEncoding::v3_frame : LtxEncoding::v3_block);
      EXPECT_GE(bound, actual) << "ps=" << ps;
      EXPECT_LE(bound * 100, actual * 102) << "ps=" << ps;
      EXPECT_GE(ltx_snapshot_max_bytes(ps, count, LtxEncoding::unknown), bound);
    }
  }
}

TEST(LtxTest, SnapshotMaxBytesArithmetic) {
  // Header 100 + end marker 6 + index terminator 1 + size 8 + trailer 16.
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, 0, LtxEncoding::v3_frame), 131u);
  // One page: frame 6 + 4096 + 19; index varints 1 (pgno) + 1 (offset 100) + 2 (size 4121).
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, 1, LtxEncoding::v3_frame), 131u + 4121u + 4u);
  // Block: 6 + 4 + literal-only block of 4096 bytes (1 token + 16 + 1 length bytes + 4096).
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, 1, LtxEncoding::v3_block), 131u + 4124u + 4u);
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, 1, LtxEncoding::v1), 100u + 4100u + 4u + 16u);
  EXPECT_EQ(ltx_snapshot_max_bytes(1000, 1, LtxEncoding::v3_frame), 0u);
  // The lock page is never written: a database that ends on it needs no more room.
  const uint32_t lock = ltx_lock_pgno(4096);
  EXPECT_EQ(lock, 262145u);
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, lock, LtxEncoding::v3_frame),
            ltx_snapshot_max_bytes(4096, lock - 1, LtxEncoding::v3_frame));
  EXPECT_GT(ltx_snapshot_max_bytes(4096, lock + 1, LtxEncoding::v3_frame),
            ltx_snapshot_max_bytes(4096, lock, LtxEncoding::v3_frame) + 4096);
  // 20 GiB of 4 KiB pages: within 1 % of the raw size.
  const uint64_t pages = (uint64_t{20} << 30) / 4096;
  const uint64_t big = ltx_snapshot_max_bytes(4096, pages, LtxEncoding::v3_frame);
  EXPECT_GT(big, pages * 4096);
  EXPECT_LT(big, pages * 4096 / 100 * 101);
  EXPECT_EQ(ltx_snapshot_max_bytes(4096, uint64_t{1} << 40, LtxEncoding::v3_frame), UINT64_MAX);
}

TEST(LtxTest, WriterReportsTheFailingStepWithTheSinkErrno) {
  LtxWriteOptions o;
  o.commit_pages = 2;
  int calls = 0;
  testing::LtxWriter w(o, [&](std::span<const uint8_t>) -> util::Result<void> {
    if (++calls == 3) return util::fail(util::sys_error(ENOSPC, "/m/x.ltx.tmp", "write"));
    return {};
  });
  ASSERT_TRUE(w.begin());
  const std::string page(4096, 'p');
  auto r = w.add_page(1, {reinterpret_cast<const uint8_t*>(page.data()), page.size()});
  ASSERT_FALSE(r);  // call 2 = page header, call 3 = page data
  EXPECT_EQ(r.error().message, "write page data");
  EXPECT_EQ(r.error().errno_value, ENOSPC);
  EXPECT_EQ(r.error().code, util::ErrorCode::no_space);
  EXPECT_EQ(r.error().path, "/m/x.ltx.tmp");
  EXPECT_EQ(w.bytes_written(), 106u);
}

TEST(LtxTest, WriterRefusesPagesGoWouldRefuse) {
  LtxWriteOptions o;
  o.commit_pages = 3;
  testing::LtxWriter w(o, [](std::span<const uint8_t>) -> util::Result<void> { return {}; });
  const std::string page(4096, 'p');
  const std::span<const uint8_t> p(reinterpret_cast<const uint8_t*>(page.data()), page.size());
  EXPECT_EQ(w.add_page(1, p).error().message, "add_page outside begin/finish");
  ASSERT_TRUE(w.begin());
  EXPECT_EQ(w.add_page(2, p).error().message, "nonsequential page numbers in snapshot");
  EXPECT_EQ(w.add_page(4, p).error().message, "invalid page number");
  EXPECT_EQ(w.add_page(1, p.first(100)).error().message, "page buffer is not page size");
  EXPECT_TRUE(w.add_page(1, p));
  o.commit_pages = 0;
  testing::LtxWriter no_commit(o,
                               [](std::span<const uint8_t>) -> util::Result<void> { return {}; });
  EXPECT_EQ(no_commit.begin().error().message, "commit_pages required");
}

}  // namespace
}  // namespace ltxguard::formats
