#include "ltxguard/formats/ltx.hpp"

#include <fmt/format.h>
#include <lz4.h>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/crc64.hpp"

namespace ltxguard::formats {
namespace {

constexpr uint32_t kHeaderFlagNoChecksum = 0x2;  // ltx.go HeaderFlagMask
constexpr uint16_t kPageFlagSize = 0x0001;       // ltx v0.5.2 PageHeaderFlagSize
constexpr uint64_t kChecksumFlag = uint64_t{1} << 63;
constexpr std::array<uint8_t, 4> kLz4FrameMagic = {0x04, 0x22, 0x4D, 0x18};
constexpr size_t kChunkBytes = 64 * 1024;

bool valid_page_size(uint32_t n) { return n >= 512 && n <= 65536 && (n & (n - 1)) == 0; }

size_t page_header_bytes(LtxEncoding e) {
  return e == LtxEncoding::v3_frame || e == LtxEncoding::v3_block ? 6 : 4;
}

// Largest frame (page header included) the page index may describe: generous; only there to
// reject absurd index entries before anything is decoded.
uint64_t max_frame_bytes(uint32_t page_size) { return 64 + 2 * uint64_t{page_size}; }

enum class Status { ok, truncated, bad };

// Sequential reads over a ByteSource window with a fixed buffer; can fold what it reads into
// the running CRC-64 of the file checksum.
class Cursor {
 public:
  Cursor(const ByteSource& src, uint64_t pos, uint64_t end)
      : src_(src), pos_(pos), end_(end), buf_(kChunkBytes) {}

  [[nodiscard]] uint64_t pos() const { return pos_; }
  [[nodiscard]] uint64_t remaining() const { return end_ - pos_; }
  [[nodiscard]] uint64_t crc() const { return crc_; }
  void hash(std::span<const uint8_t> b) { crc_ = util::crc64_iso(b, crc_); }

  // Exactly out.size() bytes, or truncated (position then undefined).
  [[nodiscard]] util::Result<Status> read(std::span<uint8_t> out, bool hashed = true) {
    if (out.size() > remaining()) return Status::truncated;
    size_t done = 0;
    while (done < out.size()) {
      if (pos_ < buf_pos_ || pos_ >= buf_pos_ + buf_len_) {
        auto r = fill();
        if (!r) return util::fail(r.error());
        if (buf_len_ == 0) return Status::truncated;
      }
      const auto at = static_cast<size_t>(pos_ - buf_pos_);
      const size_t n = std::min(out.size() - done, buf_len_ - at);
      std::copy_n(buf_.data() + at, n, out.data() + done);
      done += n;
      pos_ += n;
    }
    if (hashed) hash(out);
    return Status::ok;
  }

  // Go's binary.Uvarint; bad on more than 64 bits.
  [[nodiscard]] util::Result<Status> read_uvarint(uint64_t& value) {
    value = 0;
    for (unsigned i = 0; i < 10; ++i) {
      uint8_t b = 0;
      auto r = read({&b, 1});
      if (!r || *r != Status::ok) return r;
      if (i == 9 && b > 1) return Status::bad;
      value |= uint64_t{b & 0x7Fu} << (7 * i);
      if (b < 0x80) return Status::ok;
    }
    return Status::bad;
  }

 private:
  util::Result<void> fill() {
    buf_pos_ = pos_;
    buf_len_ = 0;
    const auto want = static_cast<size_t>(std::min<uint64_t>(buf_.size(), remaining()));
    while (buf_len_ < want) {
      auto r = src_.read_at(pos_ + buf_len_,
                            std::span<uint8_t>(buf_).subspan(buf_len_, want - buf_len_));
      if (!r) return util::fail(r.error());
      if (*r == 0) break;
      buf_len_ += *r;
    }
    return {};
  }

  const ByteSource& src_;
  uint64_t pos_;
  uint64_t end_;
  std::vector<uint8_t> buf_;
  uint64_t buf_pos_ = 0;
  size_t buf_len_ = 0;
  uint64_t crc_ = 0;
};

// The outcome of one check: nullopt = passed.
struct Finding {
  LtxState state;
  std::string reason;
};
using Check = std::optional<Finding>;
Check incomplete(std::string r) { return Finding{LtxState::incomplete, std::move(r)}; }
Check corrupt(std::string r) { return Finding{LtxState::corrupt, std::move(r)}; }

struct IndexRegion {
  uint64_t start = 0;
  uint64_t size = 0;
};

// Tail check: without reading the body, does the file end like a finished LTX file?
util::Result<Check> check_tail(const ByteSource& src, uint64_t n, const LtxHeader& hdr,
                               LtxEncoding enc, IndexRegion& region) {
  const uint64_t ehs = page_header_bytes(enc);
  const uint64_t min = kLtxHeaderBytes + ehs + (enc == LtxEncoding::v1 ? 0 : 9) + kLtxTrailerBytes;
  if (n < min)
    return incomplete(fmt::format("tail check: {} bytes cannot hold end marker and trailer", n));
  std::array<uint8_t, 25> tail{};
  Cursor c(src, n - tail.size(), n);
  auto r = c.read(tail);
  if (!r) return util::fail(r.error());
  if (*r != Status::ok) return incomplete("tail check: file shrank while reading");
  if ((util::be64(tail, 17) & kChecksumFlag) == 0)
    return incomplete("tail check: no trailer (file checksum flag bit 63 not set)");
  if (enc == LtxEncoding::v1) {
    const uint64_t frame = 4 + uint64_t{hdr.page_size_bytes};
    if ((n - min) % frame != 0)
      return incomplete(
          fmt::format("tail check: {} bytes is not header, whole pages and trailer", n));
    if (util::be32(tail, 5) != 0) return incomplete("tail check: no end marker before the trailer");
    region.start = n - kLtxTrailerBytes;
    return std::nullopt;
  }
  const uint64_t idx_size = util::be64(tail, 1);
  if (idx_size == 0 || idx_size > n - min + 1)
    return incomplete(fmt::format("tail check: page index size {} out of range", idx_size));
  if (tail[0] != 0) return incomplete("tail check: page index does not end with 0");
  region = {n - 24 - idx_size, idx_size};
  std::array<uint8_t, 6> marker{};
  Cursor m(src, region.start - ehs, region.start);
  auto rm = m.read(std::span<uint8_t>(marker).first(ehs));
  if (!rm) return util::fail(rm.error());
  if (*rm != Status::ok ||
      std::any_of(marker.begin(), marker.end(), [](uint8_t b) { return b != 0; }))
    return incomplete("tail check: no end-of-pages marker before the page index");
  return std::nullopt;
}

// Walks the page index entries; `pages` counts them. Entries must describe frames that start
// at 100, follow one another and end where the end marker starts.
util::Result<Check> check_index(const ByteSource& src, const LtxHeader& hdr, LtxEncoding enc,
                                const IndexRegion& region, uint64_t& pages) {
  Cursor c(src, region.start, region.start + region.size);
  const uint32_t lock = ltx_lock_pgno(hdr.page_size_bytes);
  uint64_t next_off = kLtxHeaderBytes;
  uint64_t prev = 0;
  pages = 0;
  for (;;) {
    uint64_t pgno = 0, off = 0, size = 0;
    auto r = c.read_uvarint(pgno);
    if (r && *r == Status::ok && pgno != 0) {
      r = c.read_uvarint(off);
      if (r && *r == Status::ok) r = c.read_uvarint(size);
    }
    if (!r) return util::fail(r.error());
    if (*r != Status::ok)
      return corrupt(fmt::format("page index: entry {} does not decode", pages + 1));
    if (pgno == 0) break;
    if (pgno > hdr.commit_pages)
      return corrupt(fmt::format("page index: page {} beyond commit {}", pgno, hdr.commit_pages));
    if (hdr.is_snapshot()) {
      const uint64_t want = prev + 1 == lock ? prev + 2 : prev + 1;
      if (pgno != want)
        return corrupt(
            fmt::format("page index: snapshot has page {} where {} belongs", pgno, want));
    } else if (pgno <= prev) {
      return corrupt(fmt::format("page index: page {} after page {}", pgno, prev));
    }
    if (off != next_off)
      return corrupt(fmt::format("page index: page {} at offset {}, frames put it at {}", pgno, off,
                                 next_off));
    if (size <= page_header_bytes(enc) || size > max_frame_bytes(hdr.page_size_bytes))
      return corrupt(fmt::format("page index: page {} frame size {} out of range", pgno, size));
    next_off += size;
    prev = pgno;
    ++pages;
  }
  if (c.remaining() != 0)
    return corrupt(fmt::format("page index: {} bytes follow its terminator", c.remaining()));
  if (next_off + page_header_bytes(enc) != region.start)
    return corrupt(fmt::format("page index: frames end at {}, end marker found at {}", next_off,
                               region.start - page_header_bytes(enc)));
  if (hdr.is_snapshot()) {
    const uint64_t last = hdr.commit_pages == lock ? uint64_t{lock} - 1 : hdr.commit_pages;
    if (prev != last)
      return corrupt(fmt::format("page index: snapshot ends at page {}, commit is {}", prev,
                                 hdr.commit_pages));
  }
  return std::nullopt;
}

// Decodes one LZ4 frame (as written by pierrec/lz4 v4 and liblz4) into exactly `page`.
util::Result<Check> decode_lz4_frame(Cursor& c, uint64_t pgno, std::span<uint8_t> page,
                                     std::vector<uint8_t>& comp) {
  const auto truncated = [&] {
    return incomplete(fmt::format("truncated: lz4 frame of page {}", pgno));
  };
  std::array<uint8_t, 8> b{};
  auto r = c.read(std::span(b).first(6), false);
  if (!r) return util::fail(r.error());
  if (*r != Status::ok) return truncated();
  if (!std::equal(kLz4FrameMagic.begin(), kLz4FrameMagic.end(), b.begin()))
    return corrupt(fmt::format("page {}: bad lz4 frame magic", pgno));
  const uint8_t flg = b[4], bd = b[5];
  if ((flg >> 6) != 1 || (flg & 0x03) != 0 || (bd & 0x8F) != 0 || ((bd >> 4) & 7) < 4)
    return corrupt(
        fmt::format("page {}: unsupported lz4 frame descriptor {:02x} {:02x}", pgno, flg, bd));
  const uint64_t block_max = uint64_t{1} << (8 + 2 * ((bd >> 4) & 7));
  const bool block_checksum = flg & 0x10, content_size = flg & 0x08, content_checksum = flg & 0x04;
  if (content_size) {
    r = c.read(b, false);
    if (!r) return util::fail(r.error());
    if (*r != Status::ok) return truncated();
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | b[static_cast<size_t>(i)];
    if (v != page.size())
      return corrupt(fmt::format("page {}: lz4 frame content size {}", pgno, v));
  }
  r = c.read(std::span(b).first(1), false);  // header checksum
  if (!r) return util::fail(r.error());
  if (*r != Status::ok) return truncated();
  size_t produced = 0;
  for (;;) {
    r = c.read(std::span(b).first(4), false);
    if (!r) return util::fail(r.error());
    if (*r != Status::ok) return truncated();
    const uint32_t word =
        uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
    if (word == 0) break;  // EndMark
    const uint32_t len = word & 0x7FFFFFFF;
    if (len > block_max || len > comp.size())
      return corrupt(fmt::format("page {}: lz4 block of {} bytes", pgno, len));
    if (word & 0x80000000) {
      if (len > page.size() - produced)
        return corrupt(
            fmt::format("page {} decompressed to more than {} bytes", pgno, page.size()));
      r = c.read(page.subspan(produced, len), false);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated();
      produced += len;
    } else {
      r = c.read(std::span(comp).first(len), false);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated();
      const int out =
          LZ4_decompress_safe(reinterpret_cast<const char*>(comp.data()),
                              reinterpret_cast<char*>(page.data() + produced),
                              static_cast<int>(len), static_cast<int>(page.size() - produced));
      if (out < 0)
        return corrupt(
            fmt::format("page {}: lz4 block does not decode into {} bytes", pgno, page.size()));
      produced += static_cast<size_t>(out);
    }
    if (block_checksum) {
      r = c.read(std::span(b).first(4), false);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated();
    }
  }
  if (content_checksum) {
    r = c.read(std::span(b).first(4), false);
    if (!r) return util::fail(r.error());
    if (*r != Status::ok) return truncated();
  }
  if (produced != page.size())
    return corrupt(
        fmt::format("page {} decompressed to {} bytes, want {}", pgno, produced, page.size()));
  return std::nullopt;
}

// Full decode: every frame, the index, the trailer and the CRC-64 file checksum. With a
// validated `index`, frames must match its entries and running out of bytes is corruption.
util::Result<Check> check_full(const ByteSource& src, uint64_t n, const LtxHeader& hdr,
                               LtxEncoding enc, const std::optional<IndexRegion>& index,
                               uint64_t& pages) {
  const bool tail_ok = index.has_value();
  const auto truncated = [&](std::string what) {
    return tail_ok ? corrupt("frames run past the page index: " + what)
                   : incomplete("truncated: " + what);
  };
  Cursor c(src, 0, n);
  std::optional<Cursor> ic;
  if (index && enc != LtxEncoding::v1) ic.emplace(src, index->start, index->start + index->size);
  const size_t phs = page_header_bytes(enc);
  const uint32_t ps = hdr.page_size_bytes;
  const uint32_t lock = ltx_lock_pgno(ps);
  std::vector<uint8_t> page(ps);
  std::vector<uint8_t> comp(static_cast<size_t>(LZ4_COMPRESSBOUND(ps)));
  std::array<uint8_t, kLtxHeaderBytes> head{};
  auto r = c.read(head);
  if (!r) return util::fail(r.error());
  if (*r != Status::ok) return truncated("header");
  pages = 0;
  uint64_t prev = 0;
  for (;;) {
    const uint64_t frame_start = c.pos();
    std::array<uint8_t, 6> ph{};
    r = c.read(std::span(ph).first(phs));
    if (!r) return util::fail(r.error());
    if (*r != Status::ok) return truncated(fmt::format("page header at offset {}", frame_start));
    const uint32_t pgno = util::be32(ph, 0);
    const uint16_t flags = phs == 6 ? util::be16(ph, 4) : 0;
    if (pgno == 0) {
      if (flags != 0)
        return corrupt(fmt::format("invalid page flags 0x{:04x} in end marker", flags));
      break;
    }
    if (pgno > hdr.commit_pages)
      return corrupt(fmt::format("page {} beyond commit {}", pgno, hdr.commit_pages));
    if (hdr.is_snapshot()) {
      const uint64_t want = prev + 1 == lock ? prev + 2 : prev + 1;
      if (pgno != want)
        return corrupt(fmt::format("snapshot has page {} where {} belongs", pgno, want));
    } else if (pgno <= prev) {
      return corrupt(fmt::format("page {} after page {}", pgno, prev));
    }
    if (enc == LtxEncoding::v1) {
      r = c.read(page);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated(fmt::format("page {} data", pgno));
    } else if (phs == 6 && flags == kPageFlagSize) {
      std::array<uint8_t, 4> sz{};
      r = c.read(sz);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated(fmt::format("size prefix of page {}", pgno));
      const uint32_t len = util::be32(sz, 0);
      if (len > comp.size())
        return corrupt(fmt::format("page {}: lz4 block of {} bytes", pgno, len));
      r = c.read(std::span(comp).first(len), false);
      if (!r) return util::fail(r.error());
      if (*r != Status::ok) return truncated(fmt::format("compressed data of page {}", pgno));
      const int out = LZ4_decompress_safe(reinterpret_cast<const char*>(comp.data()),
                                          reinterpret_cast<char*>(page.data()),
                                          static_cast<int>(len), static_cast<int>(ps));
      if (out < 0)
        return corrupt(fmt::format("page {}: lz4 block does not decode into {} bytes", pgno, ps));
      if (static_cast<uint32_t>(out) != ps)
        return corrupt(fmt::format("page {} decompressed to {} bytes, want {}", pgno, out, ps));
      c.hash(page);
    } else if (flags == 0) {
      auto f = decode_lz4_frame(c, pgno, page, comp);
      if (!f) return util::fail(f.error());
      if (*f)
        return (*f)->state == LtxState::incomplete
                   ? truncated(fmt::format("lz4 frame of page {}", pgno))
                   : *f;
      c.hash(page);
    } else {
      return corrupt(fmt::format("invalid page flags 0x{:04x} (page {})", flags, pgno));
    }
    if (ic) {
      uint64_t ipg = 0, ioff = 0, isize = 0;
      auto ri = ic->read_uvarint(ipg);
      if (ri && *ri == Status::ok) ri = ic->read_uvarint(ioff);
      if (ri && *ri == Status::ok) ri = ic->read_uvarint(isize);
      if (!ri) return util::fail(ri.error());
      if (*ri != Status::ok || ipg != pgno || ioff != frame_start || isize != c.pos() - frame_start)
        return corrupt(fmt::format("page {} frame at {} ({} bytes) does not match the page index",
                                   pgno, frame_start, c.pos() - frame_start));
    }
    prev = pgno;
    ++pages;
  }
  if (enc != LtxEncoding::v1) {
    const uint64_t idx_start = c.pos();
    if (index && idx_start != index->start)
      return corrupt(
          fmt::format("end marker at {}, page index says {}", idx_start - phs, index->start - phs));
    uint64_t entries = 0;
    for (;;) {
      uint64_t pgno = 0, off = 0, size = 0;
      r = c.read_uvarint(pgno);
      if (r && *r == Status::ok && pgno != 0) {
        r = c.read_uvarint(off);
        if (r && *r == Status::ok) r = c.read_uvarint(size);
      }
      if (!r) return util::fail(r.error());
      if (*r == Status::truncated) return truncated("page index");
      if (*r == Status::bad) return corrupt("page index entry does not decode");
      if (pgno == 0) break;
      ++entries;
    }
    const uint64_t idx_bytes = c.pos() - idx_start;
    std::array<uint8_t, 8> sz{};
    r = c.read(sz);
    if (!r) return util::fail(r.error());
    if (*r != Status::ok) return truncated("page index size field");
    if (util::be64(sz, 0) != idx_bytes)
      return corrupt(fmt::format("page index size field {} but index is {} bytes",
                                 util::be64(sz, 0), idx_bytes));
    if (entries != pages)
      return corrupt(fmt::format("page index has {} entries for {} pages", entries, pages));
  }
  if (c.remaining() < kLtxTrailerBytes)
    return truncated(fmt::format("trailer missing ({} bytes left, need 16)", c.remaining()));
  std::array<uint8_t, 16> trailer{};
  r = c.read(std::span(trailer).first(8));
  if (!r) return util::fail(r.error());
  r = c.read(std::span(trailer).last(8), false);
  if (!r) return util::fail(r.error());
  const uint64_t stored = util::be64(trailer, 8);
  const uint64_t computed = kChecksumFlag | c.crc();
  if (stored != computed)
    return corrupt(
        fmt::format("file checksum mismatch: stored {:016x}, computed {:016x}", stored, computed));
  if (c.remaining() != 0) return corrupt(fmt::format("{} bytes after the trailer", c.remaining()));
  return std::nullopt;
}

LtxEncoding detect_encoding(std::span<const uint8_t> first110) {
  const auto at = [&](size_t off) {
    return std::equal(kLz4FrameMagic.begin(), kLz4FrameMagic.end(),
                      first110.begin() + static_cast<std::ptrdiff_t>(off));
  };
  if (first110[104] == 0x00 && first110[105] == 0x01) return LtxEncoding::v3_block;
  if (at(106)) return LtxEncoding::v3_frame;
  if (at(104)) return LtxEncoding::v2;
  return LtxEncoding::v1;
}

uint64_t uvarint_len(uint64_t v) {
  uint64_t n = 1;
  while (v >= 0x80) v >>= 7, ++n;
  return n;
}

// Sum of uvarint_len(a + i*d) for i in [0, m): counts, per 7-bit threshold, the terms at or
// above it (the terms ascend).
uint64_t sum_uvarint_len(uint64_t a, uint64_t d, uint64_t m) {
  uint64_t s = m;
  for (unsigned k = 1; k <= 9; ++k) {
    const uint64_t t = uint64_t{1} << (7 * k);
    if (a >= t) {
      s += m;
      continue;
    }
    const uint64_t first = d == 0 ? m : (t - a + d - 1) / d;
    if (first >= m) break;
    s += m - first;
  }
  return s;
}

}  // namespace

const char* to_string(LtxEncoding e) {
  switch (e) {
    case LtxEncoding::v1:
      return "v1";
    case LtxEncoding::v2:
      return "v2";
    case LtxEncoding::v3_frame:
      return "v3-frame";
    case LtxEncoding::v3_block:
      return "v3-block";
    case LtxEncoding::unknown:
      break;
  }
  return "unknown";
}

const char* to_string(LtxState s) {
  switch (s) {
    case LtxState::complete:
      return "complete";
    case LtxState::incomplete:
      return "incomplete";
    case LtxState::corrupt:
      break;
  }
  return "corrupt";
}

uint32_t ltx_lock_pgno(uint32_t page_size_bytes) {
  return page_size_bytes == 0 ? 0 : static_cast<uint32_t>(kSqlitePendingByte / page_size_bytes) + 1;
}

util::Result<LtxHeader> parse_ltx_header(std::span<const uint8_t> b) {
  const auto bad = [](std::string m) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "", std::move(m)));
  };
  if (b.size() < kLtxHeaderBytes)
    return bad(fmt::format("header truncated: {} of 100 bytes", b.size()));
  if (b[0] != 'L' || b[1] != 'T' || b[2] != 'X' || b[3] != '1')
    return bad("invalid LTX file: bad magic");
  LtxHeader h{};
  h.flags = util::be32(b, 4);
  h.page_size_bytes = util::be32(b, 8);
  h.commit_pages = util::be32(b, 12);
  h.min_txid = util::be64(b, 16);
  h.max_txid = util::be64(b, 24);
  h.timestamp_ms = static_cast<int64_t>(util::be64(b, 32));
  h.pre_apply_checksum = util::be64(b, 40);
  h.wal_offset = util::be64(b, 48);
  h.wal_size = util::be64(b, 56);
  h.wal_salt1 = util::be32(b, 64);
  h.wal_salt2 = util::be32(b, 68);
  h.node_id = util::be64(b, 72);
  if ((h.flags & ~kHeaderFlagNoChecksum) != 0)
    return bad(fmt::format("invalid flags: 0x{:08x}", h.flags));
  if (!valid_page_size(h.page_size_bytes))
    return bad(fmt::format("invalid page size: {}", h.page_size_bytes));
  if (h.min_txid == 0) return bad("minimum transaction id required");
  if (h.min_txid > h.max_txid)
    return bad(fmt::format("transaction ids out of order: ({},{})", h.min_txid, h.max_txid));
  return h;
}

std::optional<LtxName> parse_ltx_name(std::string_view name) {
  if (const auto slash = name.rfind('/'); slash != std::string_view::npos)
    name.remove_prefix(slash + 1);
  LtxName out{0, 0, false};
  if (name.size() == 41 && name.substr(37) == ".tmp") {
    out.tmp = true;
    name.remove_suffix(4);
  }
  if (name.size() != 37 || name[16] != '-' || name.substr(33) != ".ltx") return std::nullopt;
  const auto hex = [](std::string_view s, uint64_t& v) {
    v = 0;
    for (const char ch : s) {
      if (ch >= '0' && ch <= '9')
        v = v << 4 | static_cast<uint64_t>(ch - '0');
      else if (ch >= 'a' && ch <= 'f')
        v = v << 4 | static_cast<uint64_t>(ch - 'a' + 10);
      else
        return false;
    }
    return true;
  };
  if (!hex(name.substr(0, 16), out.min_txid) || !hex(name.substr(17, 16), out.max_txid))
    return std::nullopt;
  return out;
}

std::string format_ltx_name(uint64_t min_txid, uint64_t max_txid) {
  return fmt::format("{:016x}-{:016x}.ltx", min_txid, max_txid);
}

LtxInspection inspect_ltx(const ByteSource& src, std::string_view filename, LtxDepth depth) {
  LtxInspection out;
  const uint64_t n = src.size();
  out.file_bytes = n;
  const auto finish = [&](util::Result<Check> c) {
    if (!c) {
      out.state = LtxState::incomplete;
      out.reason = "read error: " + c.error().to_string();
      out.read_error = c.error();
    } else if (*c) {
      out.state = (*c)->state;
      out.reason = std::move((*c)->reason);
    } else {
      out.state = LtxState::complete;
    }
    return out;
  };

  // The first bytes as they are now: a file truncated in place after it was sized (Go's
  // os.Create opens an existing .ltx.tmp with O_TRUNC) has fewer than size() says, and zeros
  // standing in for them would read as a corrupt header.
  std::array<uint8_t, 110> first{};
  const auto want = static_cast<size_t>(std::min<uint64_t>(n, first.size()));
  size_t got = 0;
  while (got < want) {
    auto r = src.read_at(got, std::span(first).subspan(got, want - got));
    if (!r) return finish(util::fail(r.error()));
    if (*r == 0) break;
    got += *r;
  }
  const char* shrank = got < want ? " (file shrank while reading)" : "";
  auto hdr = parse_ltx_header(std::span(first).first(got));
  if (!hdr) {
    const bool prefix_ok =
        std::string_view("LTX1").substr(0, std::min<size_t>(got, 4)) ==
        std::string_view(reinterpret_cast<const char*>(first.data()), std::min<size_t>(got, 4));
    if (got < kLtxHeaderBytes && prefix_ok) return finish(incomplete(hdr.error().message + shrank));
    return finish(corrupt(hdr.error().message));
  }
  out.header = *hdr;
  if (const auto name = parse_ltx_name(filename);
      name && (name->min_txid != hdr->min_txid || name->max_txid != hdr->max_txid)) {
    return finish(corrupt(fmt::format("header TXIDs {:016x}-{:016x} do not match the file name",
                                      hdr->min_txid, hdr->max_txid)));
  }
  if (got < first.size()) {
    if (hdr->is_snapshot())
      out.expected_final_bytes =
          ltx_snapshot_max_bytes(hdr->page_size_bytes, hdr->commit_pages, LtxEncoding::unknown);
    return finish(incomplete(fmt::format("truncated: first page frame ({} bytes){}", got, shrank)));
  }
  out.encoding = detect_encoding(first);
  if (hdr->is_snapshot())
    out.expected_final_bytes =
        ltx_snapshot_max_bytes(hdr->page_size_bytes, hdr->commit_pages, out.encoding);

  IndexRegion region;
  auto tail = check_tail(src, n, *hdr, out.encoding, region);
  if (!tail) return finish(tail);
  std::optional<IndexRegion> index;
  if (!*tail) {
    uint64_t entries = 0;
    if (out.encoding == LtxEncoding::v1) {
      entries = (n - kLtxHeaderBytes - 4 - kLtxTrailerBytes) / (4 + uint64_t{hdr->page_size_bytes});
    } else {
      auto ic = check_index(src, *hdr, out.encoding, region, entries);
      if (!ic || *ic) return finish(ic);
    }
    index = region;
    out.pages_written = entries;
    out.pages_counted = true;
  }
  if (depth == LtxDepth::header_and_tail) return finish(tail);
  uint64_t pages = 0;
  auto full = check_full(src, n, *hdr, out.encoding, index, pages);
  out.pages_written = pages;
  out.pages_counted = true;
  if (full && !*full) out.checksum_verified = true;
  return finish(full);
}

uint64_t ltx_snapshot_max_bytes(uint32_t page_size_bytes, uint64_t page_count,
                                LtxEncoding encoding) {
  const uint64_t ps = page_size_bytes;
  if (!valid_page_size(page_size_bytes)) return 0;
  if (page_count > std::numeric_limits<uint32_t>::max())
    return std::numeric_limits<uint64_t>::max();
  if (encoding == LtxEncoding::unknown) {
    return std::max(ltx_snapshot_max_bytes(page_size_bytes, page_count, LtxEncoding::v3_frame),
                    ltx_snapshot_max_bytes(page_size_bytes, page_count, LtxEncoding::v3_block));
  }
  const uint64_t lock = ltx_lock_pgno(page_size_bytes);
  const uint64_t pages = page_count - (page_count >= lock ? 1 : 0);
  const uint64_t phs = page_header_bytes(encoding);
  uint64_t payload = ps;  // v1: raw page
  if (encoding == LtxEncoding::v2 || encoding == LtxEncoding::v3_frame) {
    // One LZ4 frame: magic 4, FLG/BD/HC 3, block size 4, a raw (incompressible) block, EndMark
    // 4, content checksum 4. pierrec/lz4 and liblz4 store a block raw unless it shrinks.
    payload = ps + 19;
  } else if (encoding == LtxEncoding::v3_block) {
    // u32 size + literal-only LZ4 block: token, (n-15)/255+1 length bytes, n literals. Any LZ4
    // sequence with a match covers >= 4 bytes for <= 4 bytes of output, so none is larger.
    payload = 4 + 1 + (ps - 15) / 255 + 1 + ps;
  }
  const uint64_t frame = phs + payload;
  uint64_t total = kLtxHeaderBytes + pages * frame + phs + kLtxTrailerBytes;
  if (encoding != LtxEncoding::v1) {
    uint64_t idx = sum_uvarint_len(1, 1, page_count) - (page_count >= lock ? uvarint_len(lock) : 0);
    idx += sum_uvarint_len(kLtxHeaderBytes, frame, pages);  // offsets are at most 100 + i*frame
    idx += pages * uvarint_len(frame) + 1 + 8;
    total += idx;
  }
  return total;
}

}  // namespace ltxguard::formats
