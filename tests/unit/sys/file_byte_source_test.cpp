#include "ltxguard/sys/file_byte_source.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string>

#include "ltxguard/formats/ltx.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

TEST(FileByteSourceTest, ReadsAtOffsetsAndShortAtEof) {
  testing::TempDir dir;
  testing::write_file(dir.file("f"), "0123456789");
  auto src = FileByteSource::open(dir.file("f"));
  ASSERT_TRUE(src) << src.error().to_string();
  EXPECT_EQ((*src)->size(), 10u);
  std::array<uint8_t, 4> buf{};
  auto n = (*src)->read_at(8, buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(buf[0], '8');
  EXPECT_EQ(*(*src)->read_at(100, buf), 0u);
}

TEST(FileByteSourceTest, RefusesSymlinksFifosAndDirectories) {
  testing::TempDir dir;
  testing::write_file(dir.file("f"), "x");
  ASSERT_EQ(::symlink(dir.file("f").c_str(), dir.file("link").c_str()), 0);
  auto r = FileByteSource::open(dir.file("link"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(r.error().message, "refusing to follow a symlink");
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  r = FileByteSource::open(
      dir.file("fifo"));  // O_NONBLOCK: returns instead of waiting for a writer
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), dir.file("fifo") + ": not a regular file");
  r = FileByteSource::open(dir.path());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::unsafe_path);
  r = FileByteSource::open(dir.file("missing"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::not_found);
}

TEST(FileByteSourceTest, InspectsAnLtxFileOnDisk) {
  const std::string path =
      std::string(LTXGUARD_TESTDATA) +
      "/ltx/synthetic-v3frame-l0-snapshot-0000000000000001-0000000000000001.ltx";
  auto src = FileByteSource::open(path);
  ASSERT_TRUE(src);
  const auto r = formats::inspect_ltx(**src, path, formats::LtxDepth::full);
  EXPECT_EQ(r.state, formats::LtxState::complete) << r.reason;
  EXPECT_TRUE(r.checksum_verified);
}

}  // namespace
}  // namespace ltxguard::sys
