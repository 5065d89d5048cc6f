#include "support/fake_filesystem.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace ltxguard::testing {
namespace {

using sys::FileType;

TEST(FakeFileSystemTest, SizedFilesReportSizeButReadOnlyTheirContent) {
  FakeFileSystem fs;
  fs.add_sized_file("/d/app.db", uint64_t{20} << 30, std::string(100, 'h'));
  auto s = fs.stat("/d/app.db");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->size_bytes, uint64_t{20} << 30);
  EXPECT_EQ(s->type, FileType::regular);
  EXPECT_EQ(fs.read_prefix("/d/app.db", 4096)->size(), 100U);
  EXPECT_EQ(fs.read_prefix("/d/app.db", 10)->size(), 10U);
  ASSERT_EQ(fs.reads().size(), 2U);
  EXPECT_EQ(fs.reads()[0].path, "/d/app.db");
  EXPECT_EQ(fs.reads()[0].max_bytes, 4096U);
  EXPECT_EQ(fs.lstat("/d")->type, FileType::directory);  // parents made implicitly
}

TEST(FakeFileSystemTest, RefusesLikeTheRealOne) {
  FakeFileSystem fs;
  fs.add_file("/secret", "s");
  fs.add_symlink("/d/app.db", "/secret");
  fs.add_special("/d/pipe", FileType::fifo);
  auto link = fs.read_prefix("/d/app.db", 100);
  ASSERT_FALSE(link.has_value());
  EXPECT_EQ(link.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(link.error().message, "refusing to follow a symlink");
  EXPECT_EQ(fs.read_text("/d/pipe", 1).error().message,
            "refusing to read a non-regular file (fifo)");
  EXPECT_EQ(fs.read_text("/d", 1).error().message,
            "refusing to read a non-regular file (directory)");
  auto missing = fs.read_prefix("/d/none", 1);
  EXPECT_EQ(missing.error().to_string(), "/d/none: cannot open (No such file or directory)");
  EXPECT_EQ(fs.list_dir("/d/app.db", 10).error().message, "refusing to follow a symlink");
  EXPECT_EQ(fs.list_dir("/secret", 10).error().to_string(),
            "/secret: cannot open directory (Not a directory)");
  EXPECT_EQ(fs.list_dir("/d", 1).error().to_string(), "/d: too many entries (more than 1)");
  EXPECT_TRUE(fs.reads().empty());
}

TEST(FakeFileSystemTest, ResolvesSymlinksLikeTheKernel) {
  FakeFileSystem fs;
  fs.add_dir("/var/lib/app");
  fs.add_file("/var/lib/app/app.db", "x");
  fs.add_symlink("/srv", "var/lib");  // relative to /
  fs.add_symlink("/var/lib/up", "../lib/app");
  fs.add_symlink("/loop1", "/loop2");
  fs.add_symlink("/loop2", "/loop1");
  EXPECT_EQ(*fs.real_path("/srv/app/app.db"), "/var/lib/app/app.db");
  EXPECT_EQ(*fs.real_path("/srv/up/./app.db"), "/var/lib/app/app.db");
  EXPECT_EQ(fs.stat("/srv/up")->type, FileType::directory);
  EXPECT_EQ(fs.lstat("/srv/up")->type, FileType::symlink);
  EXPECT_EQ(*fs.read_link("/srv/up"), "../lib/app");
  EXPECT_EQ(fs.stat("/loop1").error().errno_value, ELOOP);
  EXPECT_EQ(fs.stat("/var/lib/app/app.db/x").error().errno_value, ENOTDIR);
  EXPECT_EQ(*fs.read_text("/srv/app/app.db", 10), "x");  // parents may be symlinks
}

TEST(FakeFileSystemTest, FsStatsComeFromTheInnermostMount) {
  FakeFileSystem fs;
  sys::FsStats data;
  data.dev = 7;
  data.mount_point = "/data";
  data.fstype = "ext4";
  data.total_bytes = 1000;
  data.free_bytes = 300;
  data.avail_bytes = 250;
  fs.add_mount(data);
  fs.add_file("/data/app.db", "x");
  fs.add_file("/data2/other", "x");
  fs.add_symlink("/db", "/data/app.db");
  EXPECT_EQ(fs.fs_stats("/db")->mount_point, "/data");
  EXPECT_EQ(fs.fs_stats("/db")->avail_bytes, 250U);
  EXPECT_EQ(fs.stat("/db")->dev, 7U);
  EXPECT_EQ(fs.lstat("/db")->dev, 1U);
  EXPECT_EQ(fs.fs_stats("/data2/other")->mount_point, "/");
  fs.add_mount(data).avail_bytes = 0;  // the disk fills mid-test
  EXPECT_EQ(fs.fs_stats("/data/app.db")->avail_bytes, 0U);
}

TEST(FakeFileSystemTest, InjectedErrorsAreReturnedUntilCleared) {
  FakeFileSystem fs;
  fs.add_file("/d/app.db-wal", "w");
  fs.fail_on("/d/app.db-wal", util::sys_error(ENOSPC, "/d/app.db-wal", "cannot write"));
  auto s = fs.stat("/d/./app.db-wal");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, util::ErrorCode::no_space);
  EXPECT_FALSE(fs.read_prefix("/d/app.db-wal", 1).has_value());
  fs.clear_failure("/d/app.db-wal");
  EXPECT_TRUE(fs.stat("/d/app.db-wal").has_value());
}

TEST(FakeFileSystemTest, RemoveTakesTheSubtree) {
  FakeFileSystem fs;
  fs.add_file("/m/ltx/0/a.ltx", "a");
  fs.add_file("/m/ltx-other", "b");
  fs.remove("/m/ltx");
  EXPECT_FALSE(fs.lstat("/m/ltx/0/a.ltx").has_value());
  auto l = fs.list_dir("/m", 10);
  ASSERT_TRUE(l.has_value());
  ASSERT_EQ(l->size(), 1U);
  EXPECT_EQ((*l)[0].name, "ltx-other");
}

TEST(FakeFileSystemTest, DefaultWalkOverTheFake) {
  FakeFileSystem fs;
  fs.add_file("/m/ltx/0/0000000000000001-0000000000000001.ltx", std::string(10, 'x'));
  fs.add_file("/m/ltx/0/0000000000000002-0000000000000002.ltx.tmp", "");
  fs.add_symlink("/m/escape", "/");
  auto r = sys::walk_tree(fs, "/m", 100, 10);
  ASSERT_EQ(r.entries.size(), 5U);
  EXPECT_EQ(r.entries[0].rel_path, "escape");
  EXPECT_EQ(r.entries[0].stat.type, FileType::symlink);
  EXPECT_EQ(r.entries[3].rel_path, "ltx/0/0000000000000001-0000000000000001.ltx");
  EXPECT_EQ(r.entries[3].stat.size_bytes, 10U);
  fs.fail_on("/m/ltx/0", util::sys_error(EACCES, "/m/ltx/0", "cannot open directory"));
  auto denied = sys::walk_tree(fs, "/m", 100, 10);
  EXPECT_EQ(denied.entries.size(), 3U);
  ASSERT_EQ(denied.errors.size(), 1U);
  EXPECT_EQ(denied.errors[0].path, "/m/ltx/0");
}

}  // namespace
}  // namespace ltxguard::testing

namespace ltxguard::testing {
namespace {

TEST(FsStatsNearestTest, MissingDirectoryIsMeasuredOnItsNearestExistingParent) {
  FakeFileSystem fs;
  sys::FsStats data;
  data.mount_point = "/data";
  data.dev = 7;
  data.total_bytes = 1000;
  fs.add_mount(data);
  fs.add_dir("/data/app");
  auto st = sys::fs_stats_nearest(fs, "/data/app/.app.db-litestream/ltx/0");
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->dev, 7u);
  auto root = sys::fs_stats_nearest(fs, "/nowhere/at/all");
  ASSERT_TRUE(root);
  EXPECT_NE(root->dev, 7u);
}

}  // namespace
}  // namespace ltxguard::testing
