// inspect_ltx over a file that changes under the scan: a .ltx.tmp truncated in place (Go's
// os.Create opens an existing file with O_TRUNC) loses bytes that size() already counted, and
// a read can fail half way. Missing bytes are `incomplete`, never `corrupt` and never
// `complete`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "ltxguard/formats/ltx.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::formats {
namespace {

const std::string kBlock = std::string(LTXGUARD_TESTDATA) +
                           "/ltx/synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.ltx";
const std::string kName = "0000000000000001-0000000000000001.ltx.tmp";

// Claims `claimed` bytes but holds only `bytes` (the file was truncated after it was sized);
// with fail_from set, reads reaching past that offset fail with EIO.
class ChangingSource final : public ByteSource {
 public:
  ChangingSource(std::string bytes, uint64_t claimed, uint64_t fail_from = UINT64_MAX)
      : bytes_(std::move(bytes)), claimed_(claimed), fail_from_(fail_from) {}
  [[nodiscard]] uint64_t size() const override { return claimed_; }
  [[nodiscard]] util::Result<size_t> read_at(uint64_t off, std::span<uint8_t> out) const override {
    if (off + out.size() > fail_from_) return util::fail(util::sys_error(EIO, "x.ltx.tmp", "cannot read"));
    if (off >= bytes_.size()) return size_t{0};
    const size_t n = std::min<size_t>(out.size(), bytes_.size() - static_cast<size_t>(off));
    std::memcpy(out.data(), bytes_.data() + off, n);
    return n;
  }

 private:
  std::string bytes_;
  uint64_t claimed_;
  uint64_t fail_from_;
};

TEST(LtxHostileSourceTest, FileEmptiedAfterSizingIsIncompleteNotCorrupt) {
  const std::string b = testing::read_file(kBlock);
  for (const auto depth : {LtxDepth::header_and_tail, LtxDepth::full}) {
    const auto r = inspect_ltx(ChangingSource("", b.size()), kName, depth);
    EXPECT_EQ(r.state, LtxState::incomplete) << r.reason;
    EXPECT_EQ(r.reason, "header truncated: 0 of 100 bytes (file shrank while reading)");
  }
}

TEST(LtxHostileSourceTest, FileCutInsideTheHeaderAfterSizingIsIncomplete) {
  const std::string b = testing::read_file(kBlock);
  const auto r = inspect_ltx(ChangingSource(b.substr(0, 60), b.size()), kName, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete) << r.reason;
  EXPECT_EQ(r.reason, "header truncated: 60 of 100 bytes (file shrank while reading)");
}

TEST(LtxHostileSourceTest, FileCutAfterTheHeaderIsIncompleteAtBothDepths) {
  const std::string b = testing::read_file(kBlock);
  for (const size_t keep : {size_t{100}, size_t{105}, size_t{4000}, b.size() - 20}) {
    for (const auto depth : {LtxDepth::header_and_tail, LtxDepth::full}) {
      const auto r = inspect_ltx(ChangingSource(b.substr(0, keep), b.size()), kName, depth);
      EXPECT_EQ(r.state, LtxState::incomplete) << keep << ": " << r.reason;
    }
  }
}

TEST(LtxHostileSourceTest, ReadErrorIsIncompleteWithTheError) {
  const std::string b = testing::read_file(kBlock);
  const auto r = inspect_ltx(ChangingSource(b, b.size(), 8000), kName, LtxDepth::full);
  EXPECT_EQ(r.state, LtxState::incomplete);
  ASSERT_TRUE(r.read_error);
  EXPECT_EQ(r.read_error->errno_value, EIO);
  EXPECT_EQ(r.reason.rfind("read error: ", 0), 0u) << r.reason;
  const auto h = inspect_ltx(ChangingSource(b, b.size(), 50), kName, LtxDepth::header_and_tail);
  EXPECT_EQ(h.state, LtxState::incomplete);
  EXPECT_TRUE(h.read_error);
}

}  // namespace
}  // namespace ltxguard::formats
