#include "ltxguard/sys/filesystem.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ltxguard/formats/sqlite_header.hpp"
#include "support/fake_filesystem.hpp"
#include "support/mounts.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

using testing::TempDir;
using testing::write_file;

void make_fifo(const std::string& path) { ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0); }

// A bound AF_UNIX socket leaves a socket inode behind; the fd is closed right away.
void make_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
}

void make_symlink(const std::string& target, const std::string& path) {
  ASSERT_EQ(::symlink(target.c_str(), path.c_str()), 0) << path;
}

void make_dir(const std::string& path) { std::filesystem::create_directories(path); }

std::vector<std::string> rel_paths(const WalkResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.entries) out.push_back(e.rel_path);
  return out;
}

const WalkEntry* find_entry(const WalkResult& r, const std::string& rel) {
  for (const auto& e : r.entries) {
    if (e.rel_path == rel) return &e;
  }
  return nullptr;
}

// ---- stat ----

TEST(FileSystemTest, LstatReportsTheLinkStatFollowsIt) {
  TempDir dir;
  write_file(dir.file("f"), "hello");
  make_symlink("f", dir.file("l"));
  RealFileSystem fs;
  auto l = fs.lstat(dir.file("l"));
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->type, FileType::symlink);
  auto s = fs.stat(dir.file("l"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->type, FileType::regular);
  EXPECT_EQ(s->size_bytes, 5U);
  EXPECT_EQ(s->nlink, 1U);
  EXPECT_EQ(s->uid, ::geteuid());
  EXPECT_GT(s->mtime_ns, int64_t{1'600'000'000} * 1'000'000'000);
  EXPECT_TRUE(same_filesystem(*l, *s));
}

TEST(FileSystemTest, StatReportsModeTypesAndAllocation) {
  TempDir dir;
  make_fifo(dir.file("fifo"));
  make_socket(dir.file("sock"));
  write_file(dir.file("big"), std::string(1 << 20, 'x'));
  ASSERT_EQ(::chmod(dir.file("big").c_str(), 0640), 0);
  const int fd = ::open(dir.file("sparse").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 1 << 30), 0);  // 1 GiB that takes no blocks
  ::close(fd);
  RealFileSystem fs;
  EXPECT_EQ(fs.lstat(dir.file("fifo"))->type, FileType::fifo);
  EXPECT_EQ(fs.lstat(dir.file("sock"))->type, FileType::socket);
  EXPECT_EQ(fs.lstat(dir.path())->type, FileType::directory);
  EXPECT_EQ(fs.lstat("/dev/null")->type, FileType::char_device);
  auto big = fs.stat(dir.file("big"));
  EXPECT_EQ(big->mode, 0640U);
  EXPECT_GE(big->allocated_bytes, uint64_t{1} << 20);
  auto sparse = fs.stat(dir.file("sparse"));
  EXPECT_EQ(sparse->size_bytes, uint64_t{1} << 30);
  EXPECT_LT(sparse->allocated_bytes, uint64_t{1} << 20);
}

TEST(FileSystemTest, StatOfMissingPathIsNotFound) {
  TempDir dir;
  RealFileSystem fs;
  auto s = fs.stat(dir.file("nope"));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(s.error().to_string(), dir.file("nope") + ": cannot stat (No such file or directory)");
  EXPECT_EQ(fs.lstat(dir.file("nope")).error().message, "cannot lstat");
}

// ---- read_prefix / read_text ----

TEST(FileSystemTest, ReadPrefixReadsAtMostMaxBytes) {
  TempDir dir;
  write_file(dir.file("f"), std::string(300000, 'a') + "tail");
  RealFileSystem fs;
  auto b = fs.read_prefix(dir.file("f"), 100);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->size(), 100U);
  auto all = fs.read_prefix(dir.file("f"), SIZE_MAX);  // a bound, not an allocation
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 300004U);
  auto none = fs.read_prefix(dir.file("f"), 0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST(FileSystemTest, ReadPrefixOfARealDatabaseGivesItsHeader) {
  TempDir dir;
  const std::string path = dir.file("app.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; CREATE TABLE t(x);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  RealFileSystem fs;
  auto b = fs.read_prefix(path, formats::kSqliteHeaderBytes);
  ASSERT_TRUE(b.has_value());
  ASSERT_EQ(b->size(), formats::kSqliteHeaderBytes);
  auto h = formats::parse_sqlite_header(*b);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->page_size_bytes, 8192U);
  EXPECT_TRUE(h->wal_mode);
  EXPECT_EQ(h->db_bytes(), fs.stat(path)->size_bytes);
}

TEST(FileSystemTest, ReadPrefixRefusesASymlink) {
  TempDir dir;
  write_file(dir.file("secret"), "s3cr3t");
  make_symlink(dir.file("secret"), dir.file("app.db"));
  RealFileSystem fs;
  auto b = fs.read_prefix(dir.file("app.db"), 100);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(b.error().message, "refusing to follow a symlink");
  EXPECT_EQ(b.error().path, dir.file("app.db"));
  EXPECT_FALSE(fs.read_text(dir.file("app.db"), 100).has_value());
}

TEST(FileSystemTest, ReadPrefixRefusesAFifoWithoutBlocking) {
  TempDir dir;
  make_fifo(dir.file("app.db"));
  RealFileSystem fs;
  const auto start = std::chrono::steady_clock::now();
  auto b = fs.read_prefix(dir.file("app.db"), 100);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(b.error().message, "refusing to read a non-regular file (fifo)");
}

TEST(FileSystemTest, ReadPrefixRefusesDirectoriesAndDevices) {
  TempDir dir;
  RealFileSystem fs;
  EXPECT_EQ(fs.read_prefix(dir.path(), 1).error().message,
            "refusing to read a non-regular file (directory)");
  EXPECT_EQ(fs.read_text("/dev/zero", 1).error().message,
            "refusing to read a non-regular file (char device)");
}

TEST(FileSystemTest, ReadPrefixOfMissingFileIsNotFound) {
  TempDir dir;
  RealFileSystem fs;
  auto b = fs.read_prefix(dir.file("gone"), 1);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(b.error().message, "cannot open");
}

TEST(FileSystemTest, ReadTextReadsProcFilesThatReportSizeZero) {
  RealFileSystem fs;
  auto t = fs.read_text("/proc/self/mountinfo", 1 << 20);
  ASSERT_TRUE(t.has_value());
  EXPECT_NE(t->find(" - "), std::string::npos);
}

TEST(FileSystemTest, ReadTextFollowsSymlinksInParentDirectories) {
  TempDir dir;
  write_file(dir.file("real/config.yml"), "dbs: []\n");
  make_symlink(dir.file("real"), dir.file("etc"));
  RealFileSystem fs;
  auto t = fs.read_text(dir.file("etc/config.yml"), 1024);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, "dbs: []\n");
}

// ---- list_dir / read_link / real_path ----

TEST(FileSystemTest, ListDirIsSortedAndDoesNotFollowSymlinks) {
  TempDir dir;
  write_file(dir.file("b"), "bb");
  write_file(dir.file("a"), "a");
  make_dir(dir.file("c"));
  make_symlink("/", dir.file("root-link"));
  make_fifo(dir.file("p"));
  RealFileSystem fs;
  auto l = fs.list_dir(dir.path(), 10);
  ASSERT_TRUE(l.has_value());
  ASSERT_EQ(l->size(), 5U);
  EXPECT_EQ((*l)[0].name, "a");
  EXPECT_EQ((*l)[1].name, "b");
  EXPECT_EQ((*l)[1].stat.size_bytes, 2U);
  EXPECT_EQ((*l)[2].stat.type, FileType::directory);
  EXPECT_EQ((*l)[3].stat.type, FileType::fifo);
  EXPECT_EQ((*l)[4].name, "root-link");
  EXPECT_EQ((*l)[4].stat.type, FileType::symlink);
}

TEST(FileSystemTest, ListDirFailsPastMaxEntries) {
  TempDir dir;
  for (int i = 0; i < 4; ++i) write_file(dir.file(std::to_string(i)), "");
  RealFileSystem fs;
  EXPECT_TRUE(fs.list_dir(dir.path(), 4).has_value());
  auto l = fs.list_dir(dir.path(), 3);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(l.error().to_string(), dir.path() + ": too many entries (more than 3)");
}

TEST(FileSystemTest, ListDirRefusesASymlinkedDirectory) {
  TempDir dir;
  make_dir(dir.file("real"));
  make_symlink(dir.file("real"), dir.file("link"));
  RealFileSystem fs;
  auto l = fs.list_dir(dir.file("link"), 10);
  ASSERT_FALSE(l.has_value());
  EXPECT_EQ(l.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(l.error().message, "refusing to follow a symlink");
  write_file(dir.file("file"), "");
  auto f = fs.list_dir(dir.file("file"), 10);
  ASSERT_FALSE(f.has_value());
  EXPECT_EQ(f.error().to_string(), dir.file("file") + ": cannot open directory (Not a directory)");
}

TEST(FileSystemTest, ReadLinkAndRealPath) {
  TempDir dir;
  make_dir(dir.file("a/b"));
  make_symlink("a/b", dir.file("l"));
  RealFileSystem fs;
  EXPECT_EQ(*fs.read_link(dir.file("l")), "a/b");
  const std::string canonical = std::filesystem::canonical(dir.path()).string();
  EXPECT_EQ(*fs.real_path(dir.file("l") + "/../b/."), canonical + "/a/b");
  EXPECT_EQ(fs.read_link(dir.file("a")).error().to_string(),
            dir.file("a") + ": cannot read symlink (Invalid argument)");
  EXPECT_EQ(fs.real_path(dir.file("x")).error().code, util::ErrorCode::not_found);
}

// ---- fs_stats on real filesystems ----

TEST(FileSystemTest, FsStatsOnTmpfsShowsSizeFreeAndInodes) {
  testing::TmpfsMount mnt(4 << 20);
  LTXGUARD_SKIP_UNLESS_MOUNTED(mnt);
  RealFileSystem fs;
  auto before = fs.fs_stats(mnt.path());
  ASSERT_TRUE(before.has_value()) << before.error().to_string();
  EXPECT_EQ(before->fstype, "tmpfs");
  EXPECT_EQ(before->mount_point, mnt.path());
  EXPECT_EQ(before->source, "tmpfs");
  EXPECT_FALSE(before->bind_mount);
  EXPECT_FALSE(before->read_only);
  EXPECT_EQ(before->total_bytes, uint64_t{4} << 20);
  EXPECT_EQ(before->free_bytes, before->total_bytes);
  EXPECT_EQ(before->avail_bytes, before->free_bytes);  // tmpfs keeps no root reserve
  EXPECT_GT(before->inodes_total, 0U);
  EXPECT_EQ(before->dev, fs.stat(mnt.path())->dev);

  write_file(mnt.file("d/one-mib"), std::string(1 << 20, 'x'));
  auto after = fs.fs_stats(mnt.file("d/one-mib"));  // a file on it gives the same filesystem
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->mount_point, mnt.path());
  EXPECT_EQ(before->free_bytes - after->free_bytes, uint64_t{1} << 20);
  EXPECT_EQ(before->inodes_free - after->inodes_free, 2U);  // d and d/one-mib
}

TEST(FileSystemTest, FsStatsOnExt4ShowsTheRootReserve) {
  testing::Ext4LoopMount mnt(64 << 20);
  LTXGUARD_SKIP_UNLESS_MOUNTED(mnt);
  RealFileSystem fs;
  auto s = fs.fs_stats(mnt.path());
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->fstype, "ext4");
  EXPECT_EQ(s->source.rfind("/dev/loop", 0), 0U) << s->source;
  EXPECT_EQ(s->mount_point, mnt.path());
  EXPECT_GT(s->free_bytes, s->avail_bytes);
  // f_bfree - f_bavail is mkfs.ext4's 5 % root reserve plus ext4's own reserved clusters
  // (min(2 %, 4096 clusters), kept for metadata: not even root can write them). Measured on
  // 64 MiB: 3276 + 1310 one-KiB blocks.
  const uint64_t reserve = s->free_bytes - s->avail_bytes;
  const uint64_t one_percent = (uint64_t{64} << 20) / 100;
  EXPECT_GE(reserve, 5 * one_percent * 95 / 100);
  EXPECT_LE(reserve, 7 * one_percent * 105 / 100);
  EXPECT_GT(s->inodes_free, 0U);
}

TEST(FileSystemTest, FsStatsRecognisesABindMount) {
  testing::TmpfsMount mnt(1 << 20);
  LTXGUARD_SKIP_UNLESS_MOUNTED(mnt);
  TempDir target;
  make_dir(mnt.file("data dir"));
  write_file(mnt.file("data dir/app.db"), "x");
  ASSERT_EQ(::mount(mnt.file("data dir").c_str(), target.path().c_str(), nullptr, MS_BIND, nullptr),
            0);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{target.path()};
  RealFileSystem fs;
  auto s = fs.fs_stats(target.path() + "/app.db");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->bind_mount);
  EXPECT_EQ(s->mount_point, target.path());
  EXPECT_EQ(s->fstype, "tmpfs");
  EXPECT_EQ(s->dev, fs.fs_stats(mnt.path())->dev);
}

TEST(FileSystemTest, FsStatsWithoutMountinfoStillHasTheNumbers) {
  TempDir dir;
  RealFileSystem fs(dir.file("no-such-mountinfo"));
  auto s = fs.fs_stats(dir.path());
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->mount_point.empty());
  EXPECT_GT(s->total_bytes, 0U);
}

TEST(FileSystemTest, FsStatsOfMissingPathFails) {
  TempDir dir;
  RealFileSystem fs;
  auto s = fs.fs_stats(dir.file("missing"));
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, util::ErrorCode::not_found);
}

// ---- walk_tree ----

TEST(WalkTreeTest, DepthFirstSortedWithRelativePaths) {
  TempDir dir;
  write_file(dir.file("b/y"), "yy");
  write_file(dir.file("b/x/deep"), "d");
  write_file(dir.file("a"), "a");
  write_file(dir.file("c"), "c");
  RealFileSystem fs;
  auto r = walk_tree(fs, dir.path(), 100, 10);
  EXPECT_EQ(rel_paths(r), (std::vector<std::string>{"a", "b", "b/x", "b/x/deep", "b/y", "c"}));
  EXPECT_FALSE(r.truncated);
  EXPECT_FALSE(r.depth_limited);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(find_entry(r, "b/y")->stat.size_bytes, 2U);
  EXPECT_EQ(find_entry(r, "b")->stat.type, FileType::directory);
}

TEST(WalkTreeTest, StopsAtMaxEntries) {
  TempDir dir;
  for (int i = 0; i < 5; ++i) write_file(dir.file("d/" + std::to_string(i)), "");
  RealFileSystem fs;
  auto r = walk_tree(fs, dir.path(), 3, 10);
  EXPECT_EQ(rel_paths(r), (std::vector<std::string>{"d", "d/0", "d/1"}));
  EXPECT_TRUE(r.truncated);
  auto exact = walk_tree(fs, dir.path(), 6, 10);
  EXPECT_EQ(exact.entries.size(), 6U);
  EXPECT_FALSE(exact.truncated);
}

TEST(WalkTreeTest, MaxDepthCountsComponents) {
  TempDir dir;
  write_file(dir.file("ltx/0/a.ltx"), "");
  write_file(dir.file("top"), "");
  RealFileSystem fs;
  auto one = walk_tree(fs, dir.path(), 100, 1);
  EXPECT_EQ(rel_paths(one), (std::vector<std::string>{"ltx", "top"}));
  EXPECT_TRUE(one.depth_limited);
  auto two = walk_tree(fs, dir.path(), 100, 2);
  EXPECT_EQ(rel_paths(two), (std::vector<std::string>{"ltx", "ltx/0", "top"}));
  EXPECT_TRUE(two.depth_limited);
  auto three = walk_tree(fs, dir.path(), 100, 3);
  EXPECT_EQ(three.entries.size(), 4U);
  EXPECT_FALSE(three.depth_limited);
  auto zero = walk_tree(fs, dir.path(), 100, 0);
  EXPECT_TRUE(zero.entries.empty());
  EXPECT_TRUE(zero.depth_limited);
}

TEST(WalkTreeTest, SymlinkLoopsAreReportedNotFollowed) {
  TempDir dir;
  make_dir(dir.file("d"));
  make_symlink("..", dir.file("d/up"));
  make_symlink("loop-b", dir.file("loop-a"));
  make_symlink("loop-a", dir.file("loop-b"));
  make_symlink(".", dir.file("self"));
  RealFileSystem fs;
  auto r = walk_tree(fs, dir.path(), 1000, 100);
  EXPECT_EQ(rel_paths(r), (std::vector<std::string>{"d", "d/up", "loop-a", "loop-b", "self"}));
  EXPECT_EQ(find_entry(r, "d/up")->stat.type, FileType::symlink);
  EXPECT_EQ(find_entry(r, "self")->stat.type, FileType::symlink);
  EXPECT_TRUE(r.errors.empty());
}

TEST(WalkTreeTest, SymlinksOutOfRootAreNotEntered) {
  TempDir outside;
  write_file(outside.file("SECRET"), "x");
  TempDir dir;
  make_symlink(outside.path(), dir.file("escape"));
  make_symlink(outside.file("SECRET"), dir.file("file-escape"));
  RealFileSystem fs;
  auto r = walk_tree(fs, dir.path(), 1000, 100);
  EXPECT_EQ(rel_paths(r), (std::vector<std::string>{"escape", "file-escape"}));
  EXPECT_EQ(find_entry(r, "file-escape")->stat.size_bytes, outside.file("SECRET").size());
}

TEST(WalkTreeTest, FifosAndSocketsAreListedWithTheirTypes) {
  TempDir dir;
  make_fifo(dir.file("fifo"));
  make_socket(dir.file("sock"));
  RealFileSystem fs;
  auto r = walk_tree(fs, dir.path(), 10, 10);
  ASSERT_EQ(r.entries.size(), 2U);
  EXPECT_EQ(r.entries[0].stat.type, FileType::fifo);
  EXPECT_EQ(r.entries[1].stat.type, FileType::socket);
}

TEST(WalkTreeTest, RootThatIsASymlinkMissingOrAFileIsAnError) {
  TempDir dir;
  make_dir(dir.file("real"));
  write_file(dir.file("real/x"), "");
  make_symlink(dir.file("real"), dir.file("link"));
  write_file(dir.file("file"), "");
  RealFileSystem fs;
  auto link = walk_tree(fs, dir.file("link"), 10, 10);
  EXPECT_TRUE(link.entries.empty());
  ASSERT_EQ(link.errors.size(), 1U);
  EXPECT_EQ(link.errors[0].message, "refusing to follow a symlink");
  auto missing = walk_tree(fs, dir.file("missing"), 10, 10);
  ASSERT_EQ(missing.errors.size(), 1U);
  EXPECT_EQ(missing.errors[0].code, util::ErrorCode::not_found);
  auto file = walk_tree(fs, dir.file("file"), 10, 10);
  ASSERT_EQ(file.errors.size(), 1U);
  EXPECT_EQ(file.errors[0].message, "cannot open directory");
}

// Root reads every directory, so as root the walk runs in a child that became nobody.
TEST(WalkTreeTest, UnreadableDirectoryIsAnErrorAndTheWalkGoesOn) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  make_dir(dir.file("closed"));
  write_file(dir.file("open/x"), "");
  ASSERT_EQ(::chmod(dir.file("closed").c_str(), 0), 0);
  auto walk_and_check = [&]() -> std::string {
    RealFileSystem fs;
    auto r = walk_tree(fs, dir.path(), 10, 10);
    if (rel_paths(r) != std::vector<std::string>{"closed", "open", "open/x"}) return "entries";
    if (r.errors.size() != 1) return "error count " + std::to_string(r.errors.size());
    if (r.errors[0].path != dir.file("closed") || r.errors[0].errno_value != EACCES) {
      return "error " + r.errors[0].to_string();
    }
    return "";
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(walk_and_check(), "");
    return;
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const std::string problem = walk_and_check();
    if (!problem.empty()) std::fprintf(stderr, "as nobody: %s\n", problem.c_str());
    ::_exit(problem.empty() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A hostile user swaps a directory for a symlink to elsewhere while we walk. Racy by nature:
// run many walks against a swapper and require that nothing from outside ever shows up.
TEST(WalkTreeTest, DirectorySwappedForASymlinkDuringTheWalkNeverLeadsOutside) {
  TempDir outside;
  for (int i = 0; i < 20; ++i) write_file(outside.file("SECRET" + std::to_string(i)), "");
  TempDir dir;
  for (int i = 0; i < 20; ++i) write_file(dir.file("d/f" + std::to_string(i)), "");
  make_symlink(outside.path(), dir.file("link"));
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const std::string d = dir.file("d"), link = dir.file("link");
    while (!stop) {
      // d <-> link, atomically, over and over.
      ::renameat2(AT_FDCWD, d.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
    }
  });
  RealFileSystem fs;
  size_t walks_into_d = 0;
  for (int i = 0; i < 2000; ++i) {
    auto r = walk_tree(fs, dir.path(), 1000, 10);
    for (const auto& e : r.entries) {
      ASSERT_EQ(e.rel_path.find("SECRET"), std::string::npos) << e.rel_path;
      if (e.rel_path.find("/f") != std::string::npos) ++walks_into_d;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_GT(walks_into_d, 0U);  // the race was actually exercised
}

TEST(WalkTreeTest, TenThousandFilesQuickly) {
  // On tmpfs when we may mount one: creating 10k files on a busy disk is the slow part.
  testing::TmpfsMount mnt(64 << 20);
  TempDir fallback;
  const std::string root = mnt.ok() ? mnt.path() : fallback.path();
  for (int d = 0; d < 100; ++d) {
    const std::string sub = root + "/d" + std::to_string(d);
    make_dir(sub);
    for (int f = 0; f < 100; ++f) {
      const int fd = ::open((sub + "/" + std::to_string(f) + ".ltx").c_str(),
                            O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
  }
  RealFileSystem fs;
  const auto start = std::chrono::steady_clock::now();
  auto r = walk_tree(fs, root, 200000, 10);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.entries.size(), 10100U);
  EXPECT_FALSE(r.truncated);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_LT(took, std::chrono::seconds(2));
  EXPECT_EQ(r.entries[1].rel_path, "d0/0.ltx");
}

// The default walk (list_dir by path, used by fakes) and the fd-based one agree.
TEST(WalkTreeTest, DefaultWalkMatchesTheRealOne) {
  TempDir dir;
  write_file(dir.file("b/y"), "yy");
  write_file(dir.file("b/x/deep"), "d");
  write_file(dir.file("a"), "a");
  make_symlink("..", dir.file("b/up"));
  make_fifo(dir.file("fifo"));
  testing::FakeFileSystem fake;
  RealFileSystem real;
  auto from_real = walk_tree(real, dir.path(), 100, 10);
  for (const auto& e : from_real.entries) {
    const std::string p = "/root/" + e.rel_path;
    switch (e.stat.type) {
      case FileType::directory:
        fake.add_dir(p);
        break;
      case FileType::symlink:
        fake.add_symlink(p, *real.read_link(dir.file(e.rel_path)));
        break;
      case FileType::regular:
        fake.add_sized_file(p, e.stat.size_bytes);
        break;
      default:
        fake.add_special(p, e.stat.type);
        break;
    }
  }
  for (int depth : {1, 2, 10}) {
    for (size_t max : {size_t{2}, size_t{100}}) {
      auto a = walk_tree(real, dir.path(), max, depth);
      auto b = walk_tree(fake, "/root", max, depth);
      EXPECT_EQ(rel_paths(a), rel_paths(b)) << depth << " " << max;
      EXPECT_EQ(a.truncated, b.truncated) << depth << " " << max;
      EXPECT_EQ(a.depth_limited, b.depth_limited) << depth << " " << max;
    }
  }
}

}  // namespace
}  // namespace ltxguard::sys

namespace ltxguard::sys {
namespace {

using testing::TempDir;
using testing::write_file;

struct Visited {
  std::vector<std::string> rel_paths;
  std::vector<uint64_t> sizes;
};

Visited visit_all(const FileSystem& fs, const std::string& root, size_t max_entries, int max_depth,
                  WalkResult* result = nullptr) {
  Visited v;
  WalkResult r =
      visit_tree(fs, root, max_entries, max_depth, [&v](std::string_view rel, const FileStat& st) {
        v.rel_paths.emplace_back(rel);
        v.sizes.push_back(st.size_bytes);
      });
  EXPECT_TRUE(r.entries.empty());
  if (result != nullptr) *result = std::move(r);
  return v;
}

TEST(VisitTreeTest, SameEntriesOrderAndFlagsAsWalkTree) {
  TempDir dir;
  write_file(dir.file("b/y"), "yy");
  write_file(dir.file("b/x/deep"), "d");
  write_file(dir.file("b.x"), "dot sorts before slash");
  write_file(dir.file("a"), "a");
  ASSERT_EQ(::symlink("..", dir.file("b/up").c_str()), 0);
  RealFileSystem real;
  testing::FakeFileSystem fake;
  fake.add_file("/root/b/y", "yy");
  fake.add_file("/root/b/x/deep", "d");
  fake.add_file("/root/b.x", "dot sorts before slash");
  fake.add_file("/root/a", "a");
  fake.add_symlink("/root/b/up", "..");
  for (int depth : {0, 1, 2, 10}) {
    for (size_t max : {size_t{0}, size_t{3}, size_t{100}}) {
      for (auto [fs, root] : {std::pair<const FileSystem*, std::string>{&real, dir.path()},
                              std::pair<const FileSystem*, std::string>{&fake, "/root"}}) {
        WalkResult visited;
        const Visited v = visit_all(*fs, root, max, depth, &visited);
        const WalkResult walked = walk_tree(*fs, root, max, depth);
        std::vector<uint64_t> sizes;
        for (const auto& e : walked.entries) sizes.push_back(e.stat.size_bytes);
        EXPECT_EQ(v.rel_paths, rel_paths(walked)) << root << " " << depth << " " << max;
        EXPECT_EQ(v.sizes, sizes) << root << " " << depth << " " << max;
        EXPECT_EQ(visited.truncated, walked.truncated) << root << " " << depth << " " << max;
        EXPECT_EQ(visited.depth_limited, walked.depth_limited)
            << root << " " << depth << " " << max;
      }
    }
  }
}

TEST(VisitTreeTest, MissingRootIsOneError) {
  RealFileSystem fs;
  WalkResult r;
  const Visited v = visit_all(fs, "/nonexistent-ltxguard-test-dir", 10, 10, &r);
  EXPECT_TRUE(v.rel_paths.empty());
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].code, util::ErrorCode::not_found);
}

// ---- TreeWatch (inotify) ----

std::unique_ptr<TreeWatch> watched(const RealFileSystem& fs, const std::string& root,
                                   int max_depth = 10, std::vector<std::string>* seen = nullptr) {
  auto w = fs.watch_tree(root);
  EXPECT_NE(w, nullptr);
  if (!w) return w;
  const WalkResult r = w->rewalk(1000, max_depth, [seen](std::string_view rel, const FileStat&) {
    if (seen != nullptr) seen->emplace_back(rel);
  });
  EXPECT_TRUE(r.errors.empty());
  return w;
}

std::vector<std::string> changed_paths(TreeWatch& w) {
  const TreeChanges c = w.poll();
  EXPECT_FALSE(c.resync);
  return c.rel_paths;
}

TEST(TreeWatchTest, RewalkVisitsLikeVisitTree) {
  TempDir dir;
  write_file(dir.file("ltx/0/a.ltx"), "aa");
  write_file(dir.file("top"), "");
  RealFileSystem fs;
  std::vector<std::string> seen;
  auto w = watched(fs, dir.path(), 10, &seen);
  EXPECT_EQ(seen, visit_all(fs, dir.path(), 1000, 10).rel_paths);
  EXPECT_TRUE(changed_paths(*w).empty());
}

TEST(TreeWatchTest, ReportsWritesTruncatesCreatesRenamesRemovalsAndAttributes) {
  TempDir dir;
  write_file(dir.file("wal/00000000.wal"), "x");
  write_file(dir.file("wal/00000001.wal"), "x");
  write_file(dir.file("generation"), "0123456789abcdef\n");
  RealFileSystem fs;
  auto w = watched(fs, dir.path());
  ASSERT_NE(w, nullptr);

  const int fd = ::open(dir.file("wal/00000001.wal").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(::write(fd, "y", 1), 1);  // many writes, one name
  ::close(fd);
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"wal/00000001.wal"}));
  EXPECT_TRUE(changed_paths(*w).empty());  // reported once

  ASSERT_EQ(::truncate(dir.file("wal/00000000.wal").c_str(), 0), 0);
  write_file(dir.file("wal/00000002.wal.tmp"), "new");
  EXPECT_EQ(changed_paths(*w),
            (std::vector<std::string>{"wal/00000000.wal", "wal/00000002.wal.tmp"}));

  std::filesystem::rename(dir.file("wal/00000002.wal.tmp"), dir.file("wal/00000002.wal"));
  std::filesystem::remove(dir.file("wal/00000000.wal"));
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"wal/00000000.wal", "wal/00000002.wal",
                                                         "wal/00000002.wal.tmp"}));

  ASSERT_EQ(::chmod(dir.file("generation").c_str(), 0600), 0);
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"generation"}));
}

TEST(TreeWatchTest, WritesToAFileAlreadyUnlinkedAreNotReported) {
  TempDir dir;
  write_file(dir.file("x.tmp"), "");
  RealFileSystem fs;
  auto w = watched(fs, dir.path());
  ASSERT_NE(w, nullptr);
  const int fd = ::open(dir.file("x.tmp").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(dir.file("x.tmp").c_str()), 0);
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"x.tmp"}));
  ASSERT_EQ(::write(fd, "data", 4), 4);
  ::close(fd);
  EXPECT_TRUE(changed_paths(*w).empty());
}

TEST(TreeWatchTest, DirectoryCreatedRemovedOrMovedAsksForAResyncUntilRewalked) {
  TempDir dir;
  write_file(dir.file("ltx/0/a.ltx"), "");
  write_file(dir.file("gone/f"), "");
  RealFileSystem fs;
  for (const auto& change : {std::string("create"), std::string("remove"), std::string("move")}) {
    auto w = watched(fs, dir.path());
    ASSERT_NE(w, nullptr);
    if (change == "create") std::filesystem::create_directory(dir.file("ltx/1"));
    if (change == "remove") std::filesystem::remove_all(dir.file("gone"));
    if (change == "move") std::filesystem::rename(dir.file("ltx/0"), dir.file("ltx/9"));
    EXPECT_TRUE(w->poll().resync) << change;
    const TreeChanges again = w->poll();
    EXPECT_TRUE(again.resync) << change;  // until the caller walks again
    EXPECT_TRUE(again.rel_paths.empty());
    (void)w->rewalk(1000, 10, [](std::string_view, const FileStat&) {});
    EXPECT_FALSE(w->poll().resync) << change;
  }
}

TEST(TreeWatchTest, RootRemovedAsksForAResync) {
  TempDir dir;
  const std::string root = dir.file("meta");
  write_file(root + "/f", "");
  RealFileSystem fs;
  auto w = watched(fs, root);
  ASSERT_NE(w, nullptr);
  std::filesystem::remove_all(root);
  EXPECT_TRUE(w->poll().resync);
  // The rewalk of a root that is gone reports it and keeps asking.
  const WalkResult r = w->rewalk(1000, 10, [](std::string_view, const FileStat&) {});
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].code, util::ErrorCode::not_found);
  EXPECT_TRUE(w->poll().resync);
}

TEST(TreeWatchTest, ChangesFromBeforeARewalkAreForgotten) {
  TempDir dir;
  write_file(dir.file("a"), "");
  RealFileSystem fs;
  auto w = watched(fs, dir.path());
  ASSERT_NE(w, nullptr);
  write_file(dir.file("a"), "changed");
  (void)w->rewalk(1000, 10, [](std::string_view, const FileStat&) {});
  EXPECT_TRUE(changed_paths(*w).empty());
  write_file(dir.file("a"), "again");
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"a"}));
}

TEST(TreeWatchTest, DirectoriesTheWalkDidNotEnterAreNotWatched) {
  TempDir dir;
  write_file(dir.file("top"), "");
  write_file(dir.file("deep/f"), "");
  RealFileSystem fs;
  auto w = watched(fs, dir.path(), 1);
  ASSERT_NE(w, nullptr);
  write_file(dir.file("deep/f"), "not listed, not watched");
  write_file(dir.file("top"), "watched");
  EXPECT_EQ(changed_paths(*w), (std::vector<std::string>{"top"}));
}

TEST(TreeWatchTest, FakeFilesystemsHaveNoFeed) {
  testing::FakeFileSystem fake;
  fake.add_dir("/root");
  EXPECT_EQ(fake.watch_tree("/root"), nullptr);
}

}  // namespace
}  // namespace ltxguard::sys
