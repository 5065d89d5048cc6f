#include "ltxguard/sys/state_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "support/mounts.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

uint64_t dev_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_dev;
}

TEST(StateDirTest, MissingStateDirIsNotFoundWithTheFix) {
  TempDir t;
  auto r = check_state_dir(t.file("state"), {}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(r.error().to_string(),
            t.file("state") +
                ": state directory does not exist: create it (mkdir -m 0700) or choose "
                "another with --state-dir");
}

TEST(StateDirTest, AFileIsNotAStateDir) {
  TempDir t;
  write_file(t.file("f"), "");
  auto r = check_state_dir(t.file("f"), {}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "not a directory");
}

TEST(StateDirTest, StateDirOnTheFilesystemUnderPressureNeedsForce) {
  TempDir t;
  auto r = check_state_dir(t.path(), {dev_of(t.path())}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "state directory is on the filesystem under pressure (the database's or the "
            "staging's); choose another "
            "with --state-dir or pass --force");
  auto forced = check_state_dir(t.path(), {dev_of(t.path())}, true);
  ASSERT_TRUE(forced) << forced.error().to_string();
  EXPECT_EQ(*forced, std::filesystem::canonical(t.path()).string());
}

TEST(StateDirTest, ReadOnlyStateDirIsNotWritable) {
  testing::TmpfsMount ro(1 << 20, "ro");
  LTXGUARD_SKIP_UNLESS_MOUNTED(ro);
  auto r = check_state_dir(ro.path(), {}, false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "state directory is not writable");
  EXPECT_EQ(r.error().errno_value, EROFS);
}

TEST(StateDirTest, UniqueDirAppendsASuffixWhenTheNameIsTaken) {
  TempDir t;
  auto a = make_unique_dir(t.file("evidence"), "20260101T000000Z");
  auto b = make_unique_dir(t.file("evidence"), "20260101T000000Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, t.file("evidence/20260101T000000Z"));
  EXPECT_EQ(*b, t.file("evidence/20260101T000000Z-2"));
  struct stat st {};
  ASSERT_EQ(::stat(a->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(StateDirTest, JournalAppendsWholeLines) {
  TempDir t;
  auto j = AppendOnlyFile::open(t.file("cleanup-journal.jsonl"));
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append_line(R"({"a":1})"));
  auto again = AppendOnlyFile::open(t.file("cleanup-journal.jsonl"));
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->append_line(R"({"b":2})"));
  EXPECT_EQ(read_file(t.file("cleanup-journal.jsonl")), "{\"a\":1}\n{\"b\":2}\n");
}

TEST(StateDirTest, JournalNeverFollowsASymlink) {
  TempDir t;
  write_file(t.file("target"), "precious\n");
  std::filesystem::create_symlink(t.file("target"), t.file("cleanup-journal.jsonl"));
  auto j = AppendOnlyFile::open(t.file("cleanup-journal.jsonl"));
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message, "refusing to follow a symlink");
  EXPECT_EQ(read_file(t.file("target")), "precious\n");
}

TEST(StateDirTest, FullJournalFilesystemIsNoSpace) {
  testing::TmpfsMount small(4096);
  LTXGUARD_SKIP_UNLESS_MOUNTED(small);
  write_file(small.file("fill"), std::string(4096, 'f'));
  auto j = AppendOnlyFile::open(small.file("journal"));
  ASSERT_TRUE(j) << j.error().to_string();
  auto r = j->append_line(std::string(100, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::no_space);
}

}  // namespace
}  // namespace ltxguard::sys
