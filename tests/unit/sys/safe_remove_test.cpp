#include "ltxguard/sys/safe_remove.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/mounts.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

using ::testing::HasSubstr;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

namespace fs = std::filesystem;

constexpr const char* kTmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";

FileIdentity identity(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size)};
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A meta dir with one staged file in a temp dir, plus a directory outside it standing for
// everything an attacker would like a root tool to delete.
struct Fixture {
  TempDir tmp;
  std::string meta = tmp.file(".app.db-litestream");
  std::string outside = tmp.file("outside");
  std::string staged = meta + "/" + kTmp;
  Fixture() {
    write_file(staged, std::string(5000, 'x'));
    write_file(outside + "/precious", "keep me");
  }
  MetaDir open(MetaDirOptions opts = {}) {
    auto m = MetaDir::open(meta, std::move(opts));
    EXPECT_TRUE(m) << m.error().to_string();
    return std::move(*m);
  }
};

// Unmounts at scope exit, even when the test fails.
struct ScopedMount {
  std::string target;
  bool ok = false;
  ScopedMount(const std::string& source, const std::string& dst, const char* type,
              unsigned long flags, const char* data)
      : target(dst) {
    ok = ::mount(source.c_str(), dst.c_str(), type, flags, data) == 0;
  }
  ~ScopedMount() {
    if (ok) ::umount2(target.c_str(), MNT_DETACH);
  }
};

TEST(SafeRemoveTest, RemovesThePlannedFile) {
  Fixture f;
  const MetaDir m = f.open();
  EXPECT_TRUE(m.refusals().empty());
  ASSERT_TRUE(m.remove(kTmp, identity(f.staged)));
  EXPECT_FALSE(exists(f.staged));
  EXPECT_TRUE(exists(f.meta + "/ltx/0"));  // directories stay
}

TEST(SafeRemoveTest, FileSwappedForSymlinkAfterThePlanIsRefused) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  const MetaDir m = f.open();
  fs::remove(f.staged);
  fs::create_symlink(f.outside + "/precious", f.staged);
  auto r = m.remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            f.staged + ": refusing to follow a symlink (Too many levels of symbolic links)");
  EXPECT_EQ(read_file(f.outside + "/precious"), "keep me");
  EXPECT_TRUE(exists(f.staged));
}

TEST(SafeRemoveTest, DirectoryComponentSwappedForSymlinkIsRefused) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  const MetaDir m = f.open();
  // ltx/0 now points outside, where a file of the same name waits.
  fs::rename(f.meta + "/ltx/0", f.tmp.file("moved"));
  write_file(f.outside + "/0000000000000001-0000000000000001.ltx.tmp", "outside");
  fs::create_symlink(f.outside, f.meta + "/ltx/0");
  auto r = m.remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(r.error().path, f.meta + "/ltx/0");
  EXPECT_EQ(r.error().message, "refusing to follow a symlink");
  EXPECT_EQ(read_file(f.outside + "/0000000000000001-0000000000000001.ltx.tmp"), "outside");
}

TEST(SafeRemoveTest, HardLinkToAFileOutsideIsRefusedAndBothNamesSurvive) {
  Fixture f;
  const std::string inside = f.meta + "/ltx/0/0000000000000002-0000000000000002.ltx.tmp";
  fs::create_hard_link(f.outside + "/precious", inside);
  const MetaDir m = f.open();
  auto r = m.remove("ltx/0/0000000000000002-0000000000000002.ltx.tmp", identity(inside));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "has 2 hard links: not removed");
  EXPECT_TRUE(exists(inside));
  EXPECT_EQ(read_file(f.outside + "/precious"), "keep me");
}

TEST(SafeRemoveTest, PlannedFileReplacedByHardLinkToOutsideIsRefused) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  const MetaDir m = f.open();
  fs::remove(f.staged);
  fs::create_hard_link(f.outside + "/precious", f.staged);
  auto r = m.remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("changed since the plan (expected inode"));
  EXPECT_THAT(r.error().message, HasSubstr("5000 bytes; found inode"));
  EXPECT_EQ(read_file(f.outside + "/precious"), "keep me");
}

TEST(SafeRemoveTest, FileRenamedAndReplacedBetweenPlanAndApplyIsRefused) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  const MetaDir m = f.open();
  fs::rename(f.staged, f.staged + ".old");
  write_file(f.staged, std::string(5000, 'y'));  // same name and size, another inode
  auto r = m.remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("changed since the plan"));
  EXPECT_TRUE(exists(f.staged));
  EXPECT_TRUE(exists(f.staged + ".old"));
}

TEST(SafeRemoveTest, FileThatGrewSinceThePlanIsRefused) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  write_file(f.staged, std::string(6000, 'x'));  // same inode (truncate + write), new size
  auto r = f.open().remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("5000 bytes; found inode"));
  EXPECT_THAT(r.error().message, HasSubstr("6000 bytes): not removed"));
}

TEST(SafeRemoveTest, DirectoryRenamedOutDuringRemovalIsDetected) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  const std::string moved = f.outside + "/0";
  MetaDirOptions opts;
  opts.hook = [&](std::string_view stage) {
    if (stage != "checked") return;
    // Between the checks and unlinkat: the parent leaves the meta dir, a look-alike takes its
    // place.
    fs::rename(f.meta + "/ltx/0", moved);
    fs::create_directory(f.meta + "/ltx/0");
  };
  auto r = f.open(std::move(opts)).remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, f.meta + "/ltx/0");
  EXPECT_EQ(r.error().message, "directory moved or replaced during removal: not removed");
  EXPECT_TRUE(exists(moved + "/0000000000000001-0000000000000001.ltx.tmp"));
}

TEST(SafeRemoveTest, FileReplacedDuringRemovalIsDetected) {
  Fixture f;
  const FileIdentity planned = identity(f.staged);
  MetaDirOptions opts;
  opts.hook = [&](std::string_view) {
    fs::remove(f.staged);
    fs::create_hard_link(f.outside + "/precious", f.staged);
  };
  auto r = f.open(std::move(opts)).remove(kTmp, planned);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("changed since the plan"));
  EXPECT_EQ(read_file(f.outside + "/precious"), "keep me");
}

TEST(SafeRemoveTest, MetaDirThatIsASymlinkIsRefused) {
  Fixture f;
  const std::string link = f.tmp.file("link");
  fs::create_symlink(f.meta, link);
  auto m = MetaDir::open(link);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().to_string(),
            link + ": refusing to follow a symlink (Too many levels of symbolic links)");
}

TEST(SafeRemoveTest, SymlinkedParentOfTheMetaDirIsResolvedOnce) {
  Fixture f;
  const std::string via = f.tmp.file("via");
  fs::create_symlink(f.tmp.path(), via);
  auto m = MetaDir::open(via + "/.app.db-litestream");
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->path(), fs::canonical(f.meta).string());
  EXPECT_TRUE(m->remove(kTmp, identity(f.staged)));
}

TEST(SafeRemoveTest, PathsThatLeaveTheMetaDirAreRejected) {
  Fixture f;
  const MetaDir m = f.open();
  for (const std::string bad :
       {"../outside/precious", "/etc/passwd", "ltx//0/x", "", "ltx/./0", "ltx/0/"}) {
    auto r = m.remove(bad, identity(f.outside + "/precious"));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, "not a plain relative path inside the meta dir") << bad;
  }
  EXPECT_EQ(read_file(f.outside + "/precious"), "keep me");
}

TEST(SafeRemoveTest, NonRegularFileAndMissingFileAreNotRemoved) {
  Fixture f;
  const std::string fifo = f.meta + "/ltx/0/0000000000000003-0000000000000003.ltx.tmp";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const MetaDir m = f.open();
  auto r = m.remove("ltx/0/0000000000000003-0000000000000003.ltx.tmp", identity(fifo));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "not a regular file (fifo): not removed");
  auto gone = m.remove("ltx/0/0000000000000009-0000000000000009.ltx.tmp", {});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(gone.error().message, "no longer exists");
}

TEST(SafeRemoveTest, WorldWritableMetaDirIsRefused) {
  Fixture f;
  fs::permissions(f.meta, fs::perms::all);
  const MetaDir m = f.open();
  ASSERT_EQ(m.refusals().size(), 1u);
  EXPECT_THAT(m.refusals()[0].message, HasSubstr("writable by every user without the sticky bit"));
  auto r = m.remove(kTmp, identity(f.staged));
  ASSERT_FALSE(r);
  EXPECT_TRUE(exists(f.staged));
}

TEST(SafeRemoveTest, UnreadableMountinfoIsARefusal) {
  Fixture f;
  MetaDirOptions opts;
  opts.mountinfo_path = f.tmp.file("no-mountinfo");
  const MetaDir m = f.open(std::move(opts));
  ASSERT_EQ(m.refusals().size(), 1u);
  EXPECT_THAT(m.refusals()[0].message, HasSubstr("to rule out a bind mount"));
}

TEST(SafeRemoveTest, ForeignOwnedFileAndDirectoryAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  Fixture f;
  const MetaDir m = f.open();
  ASSERT_EQ(::chown(f.staged.c_str(), 12345, 12345), 0);
  auto r = m.remove(kTmp, identity(f.staged));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "owned by uid 12345, neither the meta dir's owner (uid 0) nor root: not removed");
  ASSERT_EQ(::chown(f.staged.c_str(), 0, 0), 0);
  ASSERT_EQ(::chown((f.meta + "/ltx").c_str(), 12345, 12345), 0);
  auto d = m.remove(kTmp, identity(f.staged));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().path, f.meta + "/ltx");
  EXPECT_EQ(d.error().message, "owned by uid 12345, neither the meta dir's owner (uid 0) nor root");
  EXPECT_TRUE(exists(f.staged));
}

TEST(SafeRemoveTest, MetaDirThatIsAMountPointIsRefused) {
  testing::TmpfsMount mnt(1 << 20);
  LTXGUARD_SKIP_UNLESS_MOUNTED(mnt);
  write_file(mnt.file(kTmp), "x");
  auto m = MetaDir::open(mnt.path());
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_FALSE(m->refusals().empty());
  EXPECT_EQ(
      m->refusals()[0].message,
      "is a mount point (its filesystem is not its parent's): refusing to remove anything in it");
  auto r = m->remove(kTmp, identity(mnt.file(kTmp)));
  ASSERT_FALSE(r);
  EXPECT_TRUE(exists(mnt.file(kTmp)));
}

TEST(SafeRemoveTest, BindMountOverTheMetaDirIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to bind mount";
  Fixture f;
  // Same filesystem, so st_dev matches the parent's: only mountinfo can tell.
  const std::string other = f.tmp.file("elsewhere");
  write_file(other + "/" + kTmp, "not staging");
  ScopedMount bind(other, f.meta, nullptr, MS_BIND, nullptr);
  ASSERT_TRUE(bind.ok);
  auto m = MetaDir::open(f.meta);
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_EQ(m->refusals().size(), 1u);
  EXPECT_THAT(m->refusals()[0].message, HasSubstr("is a bind mount of "));
  EXPECT_THAT(m->refusals()[0].message, HasSubstr("refusing to remove anything in it"));
  auto r = m->remove(kTmp, identity(other + "/" + kTmp));
  ASSERT_FALSE(r);
  EXPECT_EQ(read_file(other + "/" + kTmp), "not staging");
}

TEST(SafeRemoveTest, FilesystemMountedBelowTheMetaDirIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount";
  Fixture f;
  ScopedMount below("tmpfs", f.meta + "/ltx/0", "tmpfs", 0, "size=1m");
  ASSERT_TRUE(below.ok);
  write_file(f.staged, "on tmpfs");
  auto m = MetaDir::open(f.meta);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->refusals().size(), 1u);
  EXPECT_EQ(m->refusals()[0].message, "a filesystem is mounted below it at " +
                                          fs::canonical(f.meta).string() +
                                          "/ltx/0: refusing to remove anything in it");
  EXPECT_FALSE(m->remove(kTmp, identity(f.staged)));
  EXPECT_TRUE(exists(f.staged));
}

TEST(SafeRemoveTest, ReadPrefixReadsOnlyThePlannedFile) {
  Fixture f;
  write_file(f.staged, "LTX1" + std::string(200, 'h'));
  const FileIdentity planned = identity(f.staged);
  const MetaDir m = f.open();
  auto head = m.read_prefix(kTmp, planned, 100);
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(std::string(head->begin(), head->end()), "LTX1" + std::string(96, 'h'));
  fs::remove(f.staged);
  fs::create_hard_link(f.outside + "/precious", f.staged);
  auto other = m.read_prefix(kTmp, planned, 100);
  ASSERT_FALSE(other);
  EXPECT_THAT(other.error().message, HasSubstr("changed since the plan"));
}

TEST(SafeRemoveTest, MoveToQuarantineCopiesSyncsAndRemoves) {
  Fixture f;
  TempDir qdir;
  auto q = Quarantine::create(qdir.path(), "run-1", {});
  ASSERT_TRUE(q) << q.error().to_string();
  auto dest = f.open().move_to(kTmp, identity(f.staged), *q);
  ASSERT_TRUE(dest) << dest.error().to_string();
  EXPECT_EQ(*dest, fs::canonical(qdir.path()).string() + "/run-1/" + kTmp);
  EXPECT_EQ(read_file(*dest), std::string(5000, 'x'));
  EXPECT_FALSE(exists(f.staged));
  struct stat st {};
  ASSERT_EQ(::stat(dest->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SafeRemoveTest, QuarantineOnTheFilesystemUnderPressureIsRefused) {
  Fixture f;
  auto q = Quarantine::create(f.tmp.path(), "run-1", {identity(f.meta).dev});
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().message,
            "is on the filesystem under pressure: moving files there frees nothing; choose a "
            "directory on another "
            "filesystem");
  auto missing = Quarantine::create(f.tmp.file("nope"), "run-1", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::ErrorCode::not_found);
}

TEST(SafeRemoveTest, ExistingQuarantineCopyIsNeverOverwritten) {
  Fixture f;
  TempDir qdir;
  auto q = Quarantine::create(qdir.path(), "run-1", {});
  ASSERT_TRUE(q);
  write_file(q->path() + "/" + kTmp, "earlier copy");
  auto dest = f.open().move_to(kTmp, identity(f.staged), *q);
  ASSERT_FALSE(dest);
  EXPECT_EQ(dest.error().message, "cannot create quarantine copy");
  EXPECT_EQ(dest.error().errno_value, EEXIST);
  EXPECT_EQ(read_file(q->path() + "/" + kTmp), "earlier copy");
  EXPECT_TRUE(exists(f.staged));
}

TEST(SafeRemoveTest, FullQuarantineKeepsTheSourceAndLeavesNoPartialCopy) {
  testing::TmpfsMount small(64 << 10);
  LTXGUARD_SKIP_UNLESS_MOUNTED(small);
  Fixture f;
  write_file(f.staged, std::string(256 << 10, 'z'));
  auto q = Quarantine::create(small.path(), "run-1", {});
  ASSERT_TRUE(q);
  auto dest = f.open().move_to(kTmp, identity(f.staged), *q);
  ASSERT_FALSE(dest);
  EXPECT_EQ(dest.error().code, util::ErrorCode::no_space);
  EXPECT_TRUE(exists(f.staged));
  EXPECT_FALSE(exists(q->path() + "/" + kTmp));
}

TEST(SafeRemoveTest, SourceReplacedAfterCopyIsNotRemovedAndTheCopyIsDiscarded) {
  Fixture f;
  TempDir qdir;
  auto q = Quarantine::create(qdir.path(), "run-1", {});
  ASSERT_TRUE(q);
  MetaDirOptions opts;
  opts.hook = [&](std::string_view stage) {
    if (stage != "copied") return;
    fs::rename(f.staged, f.staged + ".moved");
    write_file(f.staged, std::string(5000, 'x'));
  };
  auto dest = f.open(std::move(opts)).move_to(kTmp, identity(f.staged), *q);
  ASSERT_FALSE(dest);
  EXPECT_THAT(dest.error().message, HasSubstr("changed since the plan"));
  EXPECT_TRUE(exists(f.staged));
  EXPECT_TRUE(exists(f.staged + ".moved"));
  EXPECT_FALSE(exists(q->path() + "/" + kTmp));
}

}  // namespace
}  // namespace ltxguard::sys
