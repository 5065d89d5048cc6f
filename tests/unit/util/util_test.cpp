#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "ltxguard/util/atomic_file.hpp"
#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/crc64.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::util {
namespace {

TEST(Crc64Test, MatchesGoIsoCheckValue) {
  const std::string s = "123456789";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  EXPECT_EQ(crc64_iso({p, s.size()}), 0xB90956C775A41001ULL);
}

TEST(Crc64Test, IsIncremental) {
  const std::string s = "123456789";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  uint64_t c = crc64_iso({p, 4});
  c = crc64_iso({p + 4, 5}, c);
  EXPECT_EQ(c, 0xB90956C775A41001ULL);
}

TEST(BytesTest, BigEndianRoundTrip) {
  uint8_t b[8];
  put_be64(b, 0x0102030405060708ULL);
  EXPECT_EQ(be64(b, 0), 0x0102030405060708ULL);
  EXPECT_EQ(be32(b, 4), 0x05060708U);
  EXPECT_EQ(be16(b, 0), 0x0102U);
}

TEST(BytesTest, HumanBytes) {
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(int64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(human_bytes(-(int64_t{3} << 30)), "-3.0 GiB");
  EXPECT_EQ(human_bytes(INT64_MIN), "-8192.0 PiB");
}

TEST(ErrorTest, NoSpaceKeepsItsOwnCode) {
  EXPECT_EQ(sys_error(ENOSPC, "/x", "write").code, ErrorCode::no_space);
  EXPECT_EQ(sys_error(EDQUOT, "/x", "write").code, ErrorCode::no_space);
  EXPECT_EQ(sys_error(ENOENT, "/x", "open").code, ErrorCode::not_found);
  const Error e = sys_error(ENOSPC, "/d/f", "cannot write");
  EXPECT_EQ(e.to_string(), "/d/f: cannot write (No space left on device)");
}

TEST(AtomicFileTest, ReplacesContentAndLeavesNoTemporary) {
  const auto dir = std::filesystem::temp_directory_path() / ("ltxguard-atomic-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "state.json").string();
  ASSERT_TRUE(write_file_atomic(path, "one", 0600));
  ASSERT_TRUE(write_file_atomic(path, "two", 0600));
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "two");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  size_t entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  std::filesystem::remove_all(dir);
}

TEST(AtomicFileTest, MissingDirectoryIsAnErrorWithPath) {
  auto r = write_file_atomic("/nonexistent-ltxguard-dir/x", "a");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::not_found);
}

}  // namespace
}  // namespace ltxguard::util
