#include "support/ltx_writer.hpp"

#include <fcntl.h>
#include <lz4.h>
#include <lz4frame.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "ltxguard/formats/ltx.hpp"
#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/crc64.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::testing {
namespace {

constexpr uint32_t kHeaderFlagNoChecksum = 0x2;

util::Error misuse(std::string message) {
  return util::make_error(util::ErrorCode::invalid_input, "", std::move(message));
}

void append_uvarint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// pierrec/lz4 v4 Writer with Block64Kb as ltx v0.5.1 configures it: independent blocks,
// content checksum, no content size, no block checksums (FLG 0x64, BD 0x40).
LZ4F_preferences_t frame_preferences() {
  LZ4F_preferences_t p{};
  p.frameInfo.blockSizeID = LZ4F_max64KB;
  p.frameInfo.blockMode = LZ4F_blockIndependent;
  p.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  p.frameInfo.frameType = LZ4F_frame;
  p.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  p.compressionLevel = 0;
  return p;
}

}  // namespace

LtxWriter::LtxWriter(LtxWriteOptions options, ByteSink sink)
    : opt_(options), sink_(std::move(sink)) {}

util::Result<void> LtxWriter::emit(std::span<const uint8_t> bytes, bool hashed, const char* step) {
  if (auto r = sink_(bytes); !r) {
    util::Error e = r.error();
    e.message = step;
    return util::fail(std::move(e));
  }
  if (hashed) crc_ = util::crc64_iso(bytes, crc_);
  offset_ += bytes.size();
  return {};
}

util::Result<void> LtxWriter::begin() {
  if (stage_ != Stage::created) return util::fail(misuse("begin called twice"));
  const uint32_t ps = opt_.page_size_bytes;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0)
    return util::fail(misuse("invalid page size"));
  if (opt_.commit_pages == 0) return util::fail(misuse("commit_pages required"));
  if (opt_.min_txid == 0 || opt_.max_txid < opt_.min_txid)
    return util::fail(misuse("invalid TXID range"));
  std::array<uint8_t, formats::kLtxHeaderBytes> h{};
  std::copy_n("LTX1", 4, h.begin());
  util::put_be32(&h[4], kHeaderFlagNoChecksum);
  util::put_be32(&h[8], ps);
  util::put_be32(&h[12], opt_.commit_pages);
  util::put_be64(&h[16], opt_.min_txid);
  util::put_be64(&h[24], opt_.max_txid);
  util::put_be64(&h[32], static_cast<uint64_t>(opt_.timestamp_ms));
  util::put_be64(&h[48], opt_.wal_offset);
  util::put_be64(&h[56], opt_.wal_size);
  util::put_be32(&h[64], opt_.wal_salt1);
  util::put_be32(&h[68], opt_.wal_salt2);
  if (auto r = emit(h, true, "write header"); !r) return r;
  stage_ = Stage::pages;
  return {};
}

util::Result<void> LtxWriter::add_page(uint32_t pgno, std::span<const uint8_t> page) {
  if (stage_ != Stage::pages) return util::fail(misuse("add_page outside begin/finish"));
  const uint32_t ps = opt_.page_size_bytes;
  const uint32_t lock = formats::ltx_lock_pgno(ps);
  if (page.size() != ps) return util::fail(misuse("page buffer is not page size"));
  if (pgno == 0 || pgno > opt_.commit_pages || pgno == lock)
    return util::fail(misuse("invalid page number"));
  if (opt_.min_txid == 1) {
    const uint32_t want = prev_pgno_ + 1 == lock ? prev_pgno_ + 2 : prev_pgno_ + 1;
    if (pgno != want) return util::fail(misuse("nonsequential page numbers in snapshot"));
  } else if (pgno <= prev_pgno_) {
    return util::fail(misuse("out-of-order page numbers"));
  }
  const uint64_t start = offset_;
  std::array<uint8_t, 6> ph{};
  util::put_be32(ph.data(), pgno);
  size_t n = 0;
  if (opt_.encoding == LtxWriteEncoding::v3_frame) {
    const LZ4F_preferences_t prefs = frame_preferences();
    scratch_.resize(LZ4F_compressFrameBound(ps, &prefs));
    n = LZ4F_compressFrame(scratch_.data(), scratch_.size(), page.data(), page.size(), &prefs);
    if (LZ4F_isError(n)) return util::fail(misuse(LZ4F_getErrorName(n)));
    if (auto r = emit(ph, true, "write"); !r) return r;
  } else {
    scratch_.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(ps))));
    const int c = LZ4_compress_default(reinterpret_cast<const char*>(page.data()),
                                       reinterpret_cast<char*>(scratch_.data()),
                                       static_cast<int>(ps), static_cast<int>(scratch_.size()));
    if (c <= 0) return util::fail(misuse("lz4 block compression failed"));
    n = static_cast<size_t>(c);
    util::put_be16(&ph[4], 0x0001);
    if (auto r = emit(ph, true, "write page header"); !r) return r;
    std::array<uint8_t, 4> size{};
    util::put_be32(size.data(), static_cast<uint32_t>(n));
    if (auto r = emit(size, true, "write data size"); !r) return r;
  }
  if (auto r = emit(std::span(scratch_).first(n), false, "write page data"); !r) return r;
  crc_ = util::crc64_iso(page, crc_);
  index_.push_back({pgno, start, offset_ - start});
  prev_pgno_ = pgno;
  return {};
}

util::Result<void> LtxWriter::finish() {
  if (stage_ != Stage::pages) return util::fail(misuse("finish without begin"));
  std::array<uint8_t, 6> end{};
  if (auto r = emit(end, true, "write empty page header"); !r) return r;
  const uint64_t idx_start = offset_;
  std::vector<uint8_t> buf;
  for (const auto& e : index_) {
    buf.clear();
    append_uvarint(buf, e.pgno);
    append_uvarint(buf, e.offset);
    append_uvarint(buf, e.size);
    if (auto r = emit(buf, true, "write page index: write page index element"); !r) return r;
  }
  buf.assign(1, 0);
  if (auto r = emit(buf, true, "write page index: write page index pgno"); !r) return r;
  std::array<uint8_t, 8> size{};
  util::put_be64(size.data(), offset_ - idx_start);
  if (auto r = emit(size, true, "write page index: write page index size"); !r) return r;
  std::array<uint8_t, 16> trailer{};  // post-apply checksum 0: NoChecksum
  util::put_be64(&trailer[8],
                 (uint64_t{1} << 63) | util::crc64_iso(std::span(trailer).first(8), crc_));
  if (auto r = emit(trailer, false, "write trailer"); !r) return r;
  stage_ = Stage::finished;
  return {};
}

std::string encode_ltx(const LtxWriteOptions& options,
                       const std::vector<std::pair<uint32_t, std::string>>& pages) {
  LtxWriteOptions opt = options;
  if (opt.commit_pages == 0) {
    for (const auto& p : pages) opt.commit_pages = std::max(opt.commit_pages, p.first);
  }
  std::string out;
  LtxWriter w(opt, [&](std::span<const uint8_t> b) -> util::Result<void> {
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
    return {};
  });
  auto check = [](const util::Result<void>& r) {
    if (!r) {
      std::fprintf(stderr, "encode_ltx: %s\n", r.error().to_string().c_str());
      std::abort();
    }
  };
  check(w.begin());
  for (const auto& [pgno, data] : pages)
    check(w.add_page(pgno, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}));
  check(w.finish());
  return out;
}

util::Result<DbImage> read_db_image(sqlite3* db, const std::string& db_path) {
  DbImage img;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &stmt, nullptr) != SQLITE_OK ||
      sqlite3_step(stmt) != SQLITE_ROW) {
    sqlite3_finalize(stmt);
    return util::fail(util::make_error(util::ErrorCode::io, db_path, sqlite3_errmsg(db)));
  }
  img.page_size_bytes = static_cast<uint32_t>(sqlite3_column_int(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_int64 size = 0;
  std::unique_ptr<unsigned char, decltype(&sqlite3_free)> data(
      sqlite3_serialize(db, "main", &size, 0), &sqlite3_free);
  if (!data)
    return util::fail(util::make_error(util::ErrorCode::io, db_path, "sqlite3_serialize failed"));
  img.bytes.assign(reinterpret_cast<const char*>(data.get()), static_cast<size_t>(size));
  img.page_count = static_cast<uint32_t>(static_cast<uint64_t>(size) / img.page_size_bytes);
  util::UniqueFd wal(::open((db_path + "-wal").c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  std::array<uint8_t, 32> wh{};
  if (wal.valid() && ::fstat(wal.get(), &st) == 0 && st.st_size >= 32 &&
      ::pread(wal.get(), wh.data(), wh.size(), 0) == 32) {
    const uint64_t frame = 24 + uint64_t{img.page_size_bytes};
    img.wal_offset = 32;
    img.wal_size = (static_cast<uint64_t>(st.st_size) - 32) / frame * frame;
    img.wal_salt1 = util::be32(wh, 16);
    img.wal_salt2 = util::be32(wh, 20);
  }
  return img;
}

util::Result<uint64_t> write_snapshot_ltx(const std::string& db_path, const std::string& out_path,
                                          LtxWriteEncoding encoding) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  if (rc != SQLITE_OK)
    return util::fail(util::make_error(util::ErrorCode::io, db_path, sqlite3_errstr(rc)));
  // Hold a read transaction across the copy, as Litestream does, so the image is one snapshot.
  if (sqlite3_exec(db.get(), "BEGIN; SELECT count(*) FROM sqlite_master;", nullptr, nullptr,
                   nullptr) != SQLITE_OK)
    return util::fail(util::make_error(util::ErrorCode::io, db_path, sqlite3_errmsg(db.get())));
  auto img = read_db_image(db.get(), db_path);
  sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  if (!img) return util::fail(img.error());
  util::UniqueFd fd(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return util::fail(util::sys_error(errno, out_path, "cannot create"));
  LtxWriteOptions opt;
  opt.encoding = encoding;
  opt.page_size_bytes = img->page_size_bytes;
  opt.commit_pages = img->page_count;
  opt.timestamp_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  opt.wal_offset = img->wal_offset;
  opt.wal_size = img->wal_size;
  opt.wal_salt1 = img->wal_salt1;
  opt.wal_salt2 = img->wal_salt2;
  LtxWriter w(opt, [&](std::span<const uint8_t> b) -> util::Result<void> {
    size_t done = 0;
    while (done < b.size()) {
      const ssize_t n = ::write(fd.get(), b.data() + done, b.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return util::fail(util::sys_error(errno, out_path, "write"));
      done += static_cast<size_t>(n);
    }
    return {};
  });
  if (auto r = w.begin(); !r) return util::fail(r.error());
  const uint32_t lock = formats::ltx_lock_pgno(img->page_size_bytes);
  const auto* bytes = reinterpret_cast<const uint8_t*>(img->bytes.data());
  for (uint32_t pgno = 1; pgno <= img->page_count; ++pgno) {
    if (pgno == lock) continue;
    const std::span<const uint8_t> page(bytes + uint64_t{pgno - 1} * img->page_size_bytes,
                                        img->page_size_bytes);
    if (auto r = w.add_page(pgno, page); !r) return util::fail(r.error());
  }
  if (auto r = w.finish(); !r) return util::fail(r.error());
  if (::fsync(fd.get()) != 0) return util::fail(util::sys_error(errno, out_path, "fsync"));
  return w.bytes_written();
}

}  // namespace ltxguard::testing
