#include "ltxguard/output/textfile.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <string>

#include "support/mounts.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::output {
namespace {

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.insert(e.path().filename().string());
  }
  return out;
}

TEST(TextfileTest, WritesLtxguardPromWithMode0644AndNoLeftovers) {
  testing::TempDir dir;
  ASSERT_TRUE(write_textfile(dir.path(), "ltxguard_up 1\n"));
  ASSERT_TRUE(write_textfile(dir.path() + "/", "ltxguard_up 0\n"));  // replaces it
  EXPECT_EQ(testing::read_file(dir.file("ltxguard.prom")), "ltxguard_up 0\n");
  struct stat st {};
  ASSERT_EQ(::stat(dir.file("ltxguard.prom").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(names_in(dir.path()), std::set<std::string>{"ltxguard.prom"});
}

TEST(TextfileTest, MissingDirectoryIsNotFound) {
  testing::TempDir dir;
  auto r = write_textfile(dir.file("nope"), "x 1\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(r.error().errno_value, ENOENT);
}

TEST(TextfileTest, EmptyDirectoryIsInvalidInput) {
  auto r = write_textfile("", "x 1\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(), "textfile directory is empty");
}

// The watcher shares the full disk: the write must fail cleanly and leave the last good file.
TEST(TextfileTest, FullFilesystemFailsWithNoSpaceAndKeepsTheOldFile) {
  testing::TmpfsMount mnt(64 * 1024);
  LTXGUARD_SKIP_UNLESS_MOUNTED(mnt);
  ASSERT_TRUE(write_textfile(mnt.path(), "ltxguard_up 1\n"));

  {  // fill every remaining page
    const int fd = ::open(mnt.file("filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string chunk(4096, 'f');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    EXPECT_EQ(errno, ENOSPC);
    ::close(fd);
  }

  auto r = write_textfile(mnt.path(), std::string(32 * 1024, '#') + "\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::no_space);
  EXPECT_EQ(r.error().errno_value, ENOSPC);
  EXPECT_EQ(r.error().path, mnt.file("ltxguard.prom"));
  EXPECT_EQ(testing::read_file(mnt.file("ltxguard.prom")), "ltxguard_up 1\n");
  EXPECT_EQ(names_in(mnt.path()), (std::set<std::string>{"filler", "ltxguard.prom"}));
}

}  // namespace
}  // namespace ltxguard::output
