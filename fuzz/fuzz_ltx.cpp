// LTX decoding on hostile bytes: the 100-byte header, file names, and inspect_ltx at both
// depths (tail, page index, LZ4 pages, CRC-64) as the staging scan runs it on .ltx/.ltx.tmp.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <span>

#include "ltxguard/formats/ltx.hpp"

using namespace ltxguard::formats;

namespace {

// A file as the scan meets it on a live host: short reads, bytes that vanish after size()
// was taken (a truncated or replaced .ltx.tmp), or an I/O error half way.
class HostileSource final : public ByteSource {
 public:
  enum class Mode { short_reads, shrunk, eio };
  HostileSource(std::span<const uint8_t> b, Mode m) : b_(b), mode_(m) {}
  [[nodiscard]] uint64_t size() const override {
    return mode_ == Mode::shrunk ? b_.size() + 4096 : b_.size();
  }
  [[nodiscard]] ltxguard::util::Result<size_t> read_at(uint64_t off,
                                                       std::span<uint8_t> out) const override {
    if (mode_ == Mode::eio && off + out.size() > b_.size() / 2)
      return ltxguard::util::fail(ltxguard::util::sys_error(5, "x.ltx", "read"));
    if (off >= b_.size()) return size_t{0};
    size_t n = std::min<size_t>(out.size(), b_.size() - static_cast<size_t>(off));
    if (mode_ == Mode::short_reads) n = std::min<size_t>(n, 1 + off % 13);
    std::memcpy(out.data(), b_.data() + off, n);
    return n;
  }

 private:
  std::span<const uint8_t> b_;
  Mode mode_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto hdr = parse_ltx_header(bytes);
  if (hdr) {
    // The name must carry the header's TXIDs; give it both a matching and a foreign name.
    const std::string name = format_ltx_name(hdr->min_txid, hdr->max_txid);
    if (parse_ltx_name(name).has_value() != true) std::abort();
    (void)ltx_lock_pgno(hdr->page_size_bytes);
    for (auto enc : {LtxEncoding::v1, LtxEncoding::v2, LtxEncoding::v3_frame, LtxEncoding::v3_block,
                     LtxEncoding::unknown}) {
      (void)ltx_snapshot_max_bytes(hdr->page_size_bytes, hdr->commit_pages, enc);
      (void)ltx_snapshot_max_bytes(hdr->page_size_bytes, hdr->max_txid, enc);
    }
    const MemoryByteSource src(bytes);
    const auto a = inspect_ltx(src, name + ".tmp", LtxDepth::full);
    if (a.file_bytes != size) std::abort();
    if (a.state == LtxState::complete && !a.reason.empty()) std::abort();
  }
  const MemoryByteSource src(bytes);
  for (auto depth : {LtxDepth::header_and_tail, LtxDepth::full}) {
    const auto r = inspect_ltx(src, "", depth);
    if (r.state == LtxState::complete && !r.reason.empty()) std::abort();
    if (r.state == LtxState::complete && !r.header) std::abort();
  }
  (void)inspect_ltx(src, "0000000000000001-0000000000000001.ltx", LtxDepth::header_and_tail);
  const auto plain = inspect_ltx(src, "", LtxDepth::full);
  const HostileSource short_reads(bytes, HostileSource::Mode::short_reads);
  const auto s = inspect_ltx(short_reads, "", LtxDepth::full);
  if (s.state != plain.state || s.reason != plain.reason) std::abort();  // reads are not framing
  for (auto mode : {HostileSource::Mode::shrunk, HostileSource::Mode::eio}) {
    const HostileSource h(bytes, mode);
    const auto r = inspect_ltx(h, "", LtxDepth::full);
    if (r.state == LtxState::complete) std::abort();  // missing bytes never pass as complete
  }
  return 0;
}
