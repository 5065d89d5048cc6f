#include "ltxguard/sys/reserved_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

TEST(ReservedFileTest, HoldsRealBlocksAndReleasesThem) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ballast";
  auto r = ReservedFile::create(path, 1 << 20);
  ASSERT_TRUE(r) << r.error().to_string();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, 1u << 20);  // allocated, not sparse
  EXPECT_EQ((st.st_mode & 0777), 0600u);
  auto freed = r->release();
  ASSERT_TRUE(freed);
  EXPECT_GE(*freed, 1u << 20);
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  EXPECT_EQ(r->release().value_or(99), 0u);  // once
}

TEST(ReservedFileTest, RefusesASymlink) {
  testing::TempDir dir;
  testing::write_file(dir.path() + "/victim", "keep");
  ASSERT_EQ(::symlink((dir.path() + "/victim").c_str(), (dir.path() + "/ballast").c_str()), 0);
  auto r = ReservedFile::create(dir.path() + "/ballast", 4096);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(testing::read_file(dir.path() + "/victim"), "keep");
}

TEST(ReservedFileTest, ReplacedFileIsNotRemoved) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ballast";
  auto r = ReservedFile::create(path, 4096);
  ASSERT_TRUE(r);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  testing::write_file(path, "someone else's");
  auto freed = r->release();
  ASSERT_FALSE(freed);
  EXPECT_EQ(freed.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(testing::read_file(path), "someone else's");
}

TEST(ReservedFileTest, ReusedLargerFileIsCutToSize) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/ballast";
  testing::write_file(path, std::string(10000, 'x'));
  auto r = ReservedFile::create(path, 4096);
  ASSERT_TRUE(r);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
}

}  // namespace
}  // namespace ltxguard::sys
