// StagingTracker: the watcher's meta-dir view kept current from a change feed. The feed is
// scripted here (ScriptedFileSystem); the real inotify feed is tested in sys/filesystem_test.
#include "ltxguard/collect/staging_scan.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>

#include "support/fake_filesystem.hpp"
#include "support/ltx_writer.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::collect {
namespace {

using testing::FakeFileSystem;

constexpr const char* kMeta = "/d/.app.db-litestream";
const std::string kWal = std::string(kMeta) + "/generations/0123456789abcdef/wal/";
const std::string kL0 = std::string(kMeta) + "/ltx/0/";

// What the scripted feed hands out and what the tracker asked of the filesystem.
struct Script {
  std::deque<sys::TreeChanges> polls;  // empty: "nothing changed"
  int rewalks = 0;
  int polls_taken = 0;
  std::vector<std::string> lstats;
};

class ScriptedWatch final : public sys::TreeWatch {
 public:
  ScriptedWatch(const sys::FileSystem& fs, std::string root, Script& script)
      : fs_(fs), root_(std::move(root)), script_(script) {}
  sys::WalkResult rewalk(size_t max_entries, int max_depth,
                         const sys::WalkVisitor& visit) override {
    ++script_.rewalks;
    return sys::visit_tree(fs_, root_, max_entries, max_depth, visit);
  }
  sys::TreeChanges poll() override {
    ++script_.polls_taken;
    if (script_.polls.empty()) return {};
    sys::TreeChanges c = std::move(script_.polls.front());
    script_.polls.pop_front();
    return c;
  }

 private:
  const sys::FileSystem& fs_;
  std::string root_;
  Script& script_;
};

// FakeFileSystem with a change feed the test scripts; counts lstat calls.
class ScriptedFileSystem final : public sys::FileSystem {
 public:
  FakeFileSystem fake;
  Script script;

  util::Result<sys::FileStat> lstat(const std::string& path) const override {
    const_cast<Script&>(script).lstats.push_back(path);
    return fake.lstat(path);
  }
  util::Result<sys::FileStat> stat(const std::string& path) const override {
    return fake.stat(path);
  }
  util::Result<sys::FsStats> fs_stats(const std::string& path) const override {
    return fake.fs_stats(path);
  }
  util::Result<std::vector<uint8_t>> read_prefix(const std::string& path,
                                                 size_t max_bytes) const override {
    return fake.read_prefix(path, max_bytes);
  }
  util::Result<std::string> read_text(const std::string& path, size_t max_bytes) const override {
    return fake.read_text(path, max_bytes);
  }
  util::Result<std::vector<sys::DirEntry>> list_dir(const std::string& path,
                                                    size_t max_entries) const override {
    return fake.list_dir(path, max_entries);
  }
  util::Result<std::string> read_link(const std::string& path) const override {
    return fake.read_link(path);
  }
  util::Result<std::string> real_path(const std::string& path) const override {
    return fake.real_path(path);
  }
  std::unique_ptr<sys::TreeWatch> watch_tree(const std::string& root) const override {
    return std::make_unique<ScriptedWatch>(fake, root, const_cast<Script&>(script));
  }
};

sys::TreeChanges changed(std::vector<std::string> rel_paths) {
  sys::TreeChanges c;
  c.rel_paths = std::move(rel_paths);
  return c;
}

sys::TreeChanges resync() {
  sys::TreeChanges c;
  c.resync = true;
  return c;
}

ScanOptions no_ltx() {
  ScanOptions o;
  o.inspect_ltx = false;
  return o;
}

std::vector<std::string> rel_paths(const StagingScan& scan) {
  std::vector<std::string> out;
  for (const auto& f : scan.files) out.push_back(f.rel_path);
  return out;
}

// The bytes of a fake file, owned: LTX inspection reads the fake, not the disk.
class OwnedBytes final : public formats::ByteSource {
 public:
  explicit OwnedBytes(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  util::Result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) const override {
    return formats::MemoryByteSource(bytes_).read_at(offset, out);
  }

 private:
  std::vector<uint8_t> bytes_;
};

ByteSourceOpener opener_of(const FakeFileSystem& fs) {
  return [&fs](const std::string& path) -> util::Result<std::unique_ptr<formats::ByteSource>> {
    auto bytes = fs.read_prefix(path, 1 << 20);
    if (!bytes) return util::fail(bytes.error());
    return std::unique_ptr<formats::ByteSource>(std::make_unique<OwnedBytes>(std::move(*bytes)));
  };
}

// The tracker's counters and in-flight files against a fresh scan_staging of the same tree.
void expect_same_as_scan(const sys::FileSystem& fs, const StagingScan& got,
                         const std::string& meta = kMeta) {
  const StagingScan want = scan_staging(fs, meta, no_ltx());
  EXPECT_EQ(got.exists, want.exists);
  EXPECT_EQ(got.layout, want.layout);
  EXPECT_EQ(got.mixed_layouts, want.mixed_layouts);
  EXPECT_EQ(got.total_bytes, want.total_bytes);
  EXPECT_EQ(got.allocated_bytes, want.allocated_bytes);
  EXPECT_EQ(got.in_flight_bytes, want.in_flight_bytes);
  EXPECT_EQ(got.file_count, want.file_count);
  EXPECT_EQ(got.unknown_count, want.unknown_count);
  EXPECT_EQ(got.ltx_count, want.ltx_count);
  std::vector<std::string> in_flight;
  for (const auto& f : want.files) {
    if (f.name.in_flight()) in_flight.push_back(f.rel_path);
  }
  EXPECT_EQ(rel_paths(got), in_flight);
}

void add_03_tree(FakeFileSystem& fs, int segments) {
  fs.add_file(std::string(kMeta) + "/generation", "0123456789abcdef\n");
  for (int i = 0; i < segments; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%08x.wal", i);
    fs.add_sized_file(kWal + name, 4096);
  }
}

TEST(StagingTrackerTest, FirstUpdateWalksAndAgreesWithScanStaging) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 3);
  fs.fake.add_sized_file(kWal + "00000003.wal.tmp", 100);
  fs.fake.add_sized_file(std::string(kMeta) + "/stray.bin", 7);
  StagingTracker t(fs, kMeta, no_ltx());
  const StagingScan& scan = t.update();
  EXPECT_EQ(t.walks(), 1u);
  EXPECT_EQ(scan.total_bytes, 17u + 3 * 4096 + 100 + 7);
  EXPECT_EQ(scan.in_flight_bytes, 100u);
  EXPECT_EQ(rel_paths(scan),
            (std::vector<std::string>{"generations/0123456789abcdef/wal/00000003.wal.tmp"}));
  expect_same_as_scan(fs.fake, scan);
}

TEST(StagingTrackerTest, QuietTreeIsNeitherWalkedNorStatedAgain) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 1000);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  fs.script.lstats.clear();
  for (int i = 0; i < 5; ++i) {
    const StagingScan& scan = t.update();
    EXPECT_EQ(scan.total_bytes, 17u + 1000 * 4096);
    EXPECT_EQ(scan.file_count, 1001u);
  }
  EXPECT_EQ(t.walks(), 1u);
  EXPECT_EQ(fs.script.polls_taken, 5);
  // One lstat of the meta dir per update, nothing per file.
  EXPECT_EQ(fs.script.lstats, std::vector<std::string>(5, kMeta));
}

TEST(StagingTrackerTest, GrowingTmpIsExactAtEveryUpdate) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 2);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  const std::string tmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  for (uint64_t size : {uint64_t{0}, uint64_t{4096}, uint64_t{1} << 20, (uint64_t{1} << 20) + 17}) {
    fs.fake.add_sized_file(std::string(kMeta) + "/" + tmp, size);
    fs.script.polls.push_back(changed({tmp}));
    const StagingScan& scan = t.update();
    EXPECT_EQ(scan.in_flight_bytes, size);
    EXPECT_EQ(scan.total_bytes, 17u + 2 * 4096 + size);
    ASSERT_EQ(scan.files.size(), 1u);
    EXPECT_EQ(scan.files[0].stat.size_bytes, size);
    EXPECT_EQ(scan.files[0].path, std::string(kMeta) + "/" + tmp);
    expect_same_as_scan(fs.fake, scan);
  }
  EXPECT_EQ(t.walks(), 1u);
}

TEST(StagingTrackerTest, CreatedRenamedAndRemovedFilesFollowTheFeed) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 2);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  // The 0.5 way to finish a file: write the .tmp, rename it to its final name.
  const std::string tmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  const std::string done = "ltx/0/0000000000000001-0000000000000001.ltx";
  fs.fake.add_sized_file(std::string(kMeta) + "/" + tmp, 5000);
  fs.script.polls.push_back(changed({tmp}));
  EXPECT_EQ(t.update().ltx_count, 0u);
  fs.fake.remove(std::string(kMeta) + "/" + tmp);
  fs.fake.add_sized_file(std::string(kMeta) + "/" + done, 5000);
  fs.script.polls.push_back(changed({done, tmp}));
  const StagingScan& scan = t.update();
  EXPECT_EQ(scan.ltx_count, 1u);
  EXPECT_EQ(scan.in_flight_bytes, 0u);
  EXPECT_TRUE(scan.files.empty());
  EXPECT_EQ(scan.layout, formats::Layout::v0_5);
  EXPECT_TRUE(scan.mixed_layouts);
  expect_same_as_scan(fs.fake, scan);
  // A segment removed (retention) leaves the total.
  fs.fake.remove(kWal + "00000000.wal");
  fs.script.polls.push_back(changed({"generations/0123456789abcdef/wal/00000000.wal"}));
  expect_same_as_scan(fs.fake, t.update());
  EXPECT_EQ(t.walks(), 1u);
}

TEST(StagingTrackerTest, NamedPathThatIsNowASymlinkIsNeitherCountedNorRead) {
  ScriptedFileSystem fs;
  fs.fake.add_sized_file("/etc/big", 1 << 30);
  fs.fake.add_dir(std::string(kMeta) + "/ltx/0");
  ScanOptions opts;
  opts.open_bytes = opener_of(fs.fake);
  StagingTracker t(fs, kMeta, opts);
  (void)t.update();
  const std::string tmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  fs.fake.add_symlink(std::string(kMeta) + "/" + tmp, "/etc/big");
  fs.script.polls.push_back(changed({tmp}));
  const StagingScan& scan = t.update();
  EXPECT_EQ(scan.total_bytes, 0u);
  EXPECT_EQ(scan.in_flight_bytes, 0u);
  EXPECT_EQ(scan.unknown_count, 1u);
  EXPECT_TRUE(scan.files.empty());
  for (const auto& r : fs.fake.reads()) EXPECT_NE(r.path, "/etc/big");
}

TEST(StagingTrackerTest, ResyncFromTheFeedWalksAgain) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 2);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  // A new generation directory: the feed cannot list what it did not watch.
  fs.fake.add_sized_file(std::string(kMeta) + "/generations/fedcba9876543210/wal/00000000.wal",
                         999);
  fs.script.polls.push_back(resync());
  const StagingScan& scan = t.update();
  EXPECT_EQ(t.walks(), 2u);
  EXPECT_EQ(scan.total_bytes, 17u + 2 * 4096 + 999);
  expect_same_as_scan(fs.fake, scan);
}

TEST(StagingTrackerTest, WalksAgainAfterKStagingRewalkUpdatesEvenWhenQuiet) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 1);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  // A change the feed never reported (say, under a mount made later) shows at the rewalk.
  fs.fake.add_sized_file(kWal + "00000000.wal", 8192);
  for (uint64_t i = 1; i < kStagingRewalkUpdates; ++i)
    EXPECT_EQ(t.update().total_bytes, 17u + 4096);
  EXPECT_EQ(t.walks(), 1u);
  EXPECT_EQ(t.update().total_bytes, 17u + 8192);
  EXPECT_EQ(t.walks(), 2u);
}

TEST(StagingTrackerTest, MetaDirAppearingVanishingAndReplaced) {
  ScriptedFileSystem fs;
  fs.fake.add_dir("/d");
  StagingTracker t(fs, kMeta, no_ltx());
  EXPECT_FALSE(t.update().exists);
  EXPECT_TRUE(t.update().errors.empty());
  EXPECT_EQ(t.walks(), 0u);
  add_03_tree(fs.fake, 1);
  EXPECT_EQ(t.update().total_bytes, 17u + 4096);
  EXPECT_EQ(t.walks(), 1u);
  // Removed and made again (litestream reset, a restore): another directory, walked afresh.
  fs.fake.remove(kMeta);
  const StagingScan& gone = t.update();
  EXPECT_FALSE(gone.exists);
  EXPECT_EQ(gone.total_bytes, 0u);
  fs.fake.add_sized_file(kL0 + "0000000000000001-0000000000000001.ltx", 300);
  EXPECT_EQ(t.update().total_bytes, 300u);
  EXPECT_EQ(t.walks(), 2u);
  // Swapped under the same path without the tracker seeing it missing: a new inode.
  fs.fake.remove(kMeta);
  fs.fake.add_sized_file(kL0 + "0000000000000002-0000000000000002.ltx", 40);
  EXPECT_EQ(t.update().total_bytes, 40u);
  EXPECT_EQ(t.walks(), 3u);
}

TEST(StagingTrackerTest, MetaDirThatIsASymlinkIsRefusedAsByTheScan) {
  ScriptedFileSystem fs;
  fs.fake.add_dir("/elsewhere/ltx/0");
  fs.fake.add_symlink(kMeta, "/elsewhere");
  StagingTracker t(fs, kMeta, no_ltx());
  const StagingScan& scan = t.update();
  EXPECT_FALSE(scan.exists);
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(scan.errors[0].message,
            "meta dir is not a directory (a symlink or a file); not scanned");
}

TEST(StagingTrackerTest, WithoutAFeedEveryUpdateIsAWalk) {
  FakeFileSystem fs;  // no watch_tree: the default has no feed
  add_03_tree(fs, 2);
  StagingTracker t(fs, kMeta, no_ltx());
  EXPECT_EQ(t.update().total_bytes, 17u + 2 * 4096);
  fs.add_sized_file(kWal + "00000001.wal", 10);
  const StagingScan& scan = t.update();
  EXPECT_EQ(scan.total_bytes, 17u + 4096 + 10);
  EXPECT_EQ(t.walks(), 2u);
  expect_same_as_scan(fs, scan);
}

TEST(StagingTrackerTest, NewFilesPastMaxEntriesAreNotKeptAndMarkTheScanTruncated) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 2);  // 1 + 3 dirs + 2 segments = 6 entries
  ScanOptions opts = no_ltx();
  opts.max_entries = 6;
  StagingTracker t(fs, kMeta, opts);
  EXPECT_FALSE(t.update().truncated);
  fs.fake.add_sized_file(kWal + "00000002.wal", 1);
  fs.script.polls.push_back(changed({"generations/0123456789abcdef/wal/00000002.wal"}));
  const StagingScan& scan = t.update();
  EXPECT_TRUE(scan.truncated);
  EXPECT_EQ(scan.file_count, 3u);
  // Once one goes, there is room again.
  fs.fake.remove(kWal + "00000000.wal");
  fs.script.polls.push_back(changed({"generations/0123456789abcdef/wal/00000000.wal",
                                     "generations/0123456789abcdef/wal/00000002.wal"}));
  const StagingScan& after = t.update();
  EXPECT_FALSE(after.truncated);
  EXPECT_EQ(after.total_bytes, 17u + 4096 + 1);
}

TEST(StagingTrackerTest, UnreadableNamedPathIsReportedAndDropped) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 2);
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  const std::string rel = "generations/0123456789abcdef/wal/00000001.wal";
  fs.fake.fail_on(std::string(kMeta) + "/" + rel,
                  util::sys_error(EACCES, std::string(kMeta) + "/" + rel, "cannot lstat"));
  fs.script.polls.push_back(changed({rel}));
  const StagingScan& scan = t.update();
  EXPECT_EQ(scan.total_bytes, 17u + 4096);
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].errno_value, EACCES);
  EXPECT_EQ(scan.errors[0].path, std::string(kMeta) + "/" + rel);
}

TEST(StagingTrackerTest, InFlightLtxCarriesItsInspectionAtEachUpdate) {
  ScriptedFileSystem fs;
  testing::LtxWriteOptions o;
  o.commit_pages = 3;
  std::vector<std::pair<uint32_t, std::string>> pages;
  uint32_t x = 12345;  // incompressible pages: the file is as big as a real snapshot's
  for (uint32_t p = 1; p <= 3; ++p) {
    std::string page(4096, '\0');
    for (char& c : page) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
    pages.emplace_back(p, page);
  }
  const std::string whole = testing::encode_ltx(o, pages);
  const std::string tmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  fs.fake.add_file(std::string(kMeta) + "/" + tmp, whole.substr(0, 100));
  ScanOptions opts;
  opts.open_bytes = opener_of(fs.fake);
  StagingTracker t(fs, kMeta, opts);
  const StagingScan& scan = t.update();
  ASSERT_EQ(scan.files.size(), 1u);
  ASSERT_TRUE(scan.files[0].ltx.has_value());
  EXPECT_EQ(scan.files[0].ltx->state, formats::LtxState::incomplete);
  EXPECT_GT(scan.files[0].ltx->expected_final_bytes, 3u * 4096);
  EXPECT_EQ(remaining_staging_bytes(scan), scan.files[0].ltx->expected_final_bytes - 100);
  fs.fake.add_file(std::string(kMeta) + "/" + tmp, whole.substr(0, 5000));
  fs.script.polls.push_back(changed({tmp}));
  const StagingScan& later = t.update();
  ASSERT_EQ(later.files.size(), 1u);
  ASSERT_TRUE(later.files[0].ltx.has_value());
  EXPECT_EQ(later.files[0].ltx->file_bytes, 5000u);  // read again, not remembered
  EXPECT_EQ(remaining_staging_bytes(later), later.files[0].ltx->expected_final_bytes - 5000);
}

TEST(StagingTrackerTest, FullScanListsEveryFileInScanStagingOrder) {
  ScriptedFileSystem fs;
  add_03_tree(fs.fake, 3);
  fs.fake.add_sized_file(kWal + "00000003.wal.tmp", 5);
  fs.fake.add_sized_file(kL0 + "0000000000000001-0000000000000001.ltx", 10);
  fs.fake.add_sized_file(std::string(kMeta) + "/ltx/0.x", 1);  // '.' sorts before '/'
  fs.fake.add_sized_file(std::string(kMeta) + "/ltx-x", 1);    // '-' too
  fs.fake.add_symlink(std::string(kMeta) + "/link", "/etc/passwd");
  StagingTracker t(fs, kMeta, no_ltx());
  (void)t.update();
  fs.fake.add_sized_file(kWal + "00000001.wal", 77);
  fs.script.polls.push_back(changed({"generations/0123456789abcdef/wal/00000001.wal"}));
  (void)t.update();
  const StagingScan full = t.full_scan();
  const StagingScan want = scan_staging(fs.fake, kMeta, no_ltx());
  EXPECT_EQ(rel_paths(full), rel_paths(want));
  ASSERT_EQ(full.files.size(), want.files.size());
  for (size_t i = 0; i < full.files.size(); ++i) {
    EXPECT_EQ(full.files[i].path, want.files[i].path);
    EXPECT_EQ(full.files[i].stat.size_bytes, want.files[i].stat.size_bytes)
        << full.files[i].rel_path;
    EXPECT_EQ(full.files[i].stat.type, want.files[i].stat.type) << full.files[i].rel_path;
    EXPECT_EQ(full.files[i].name.kind, want.files[i].name.kind) << full.files[i].rel_path;
    EXPECT_EQ(full.files[i].name.wal_index, want.files[i].name.wal_index) << full.files[i].rel_path;
  }
  EXPECT_EQ(full.total_bytes, want.total_bytes);
}

TEST(StagingLayoutTest, AgreesWithTheScanWithoutRecords) {
  FakeFileSystem fs;
  fs.add_dir("/d");
  EXPECT_EQ(staging_layout(fs, kMeta), formats::Layout::none);
  add_03_tree(fs, 2);
  EXPECT_EQ(staging_layout(fs, kMeta), formats::Layout::v0_3);
  fs.add_symlink(kL0 + "0000000000000001-0000000000000001.ltx", "/elsewhere");  // not a file
  EXPECT_EQ(staging_layout(fs, kMeta), formats::Layout::v0_3);
  fs.add_sized_file(kL0 + "0000000000000002-0000000000000002.ltx", 1);
  EXPECT_EQ(staging_layout(fs, kMeta), formats::Layout::v0_5);
}

// The real filesystem and its inotify feed under the tracker: a growing file, a rename, a new
// directory, on a tree where a quiet update does no walk.
TEST(StagingTrackerTest, OnTheRealFilesystemQuietUpdatesDoNotWalkAndChangesAreExact) {
  testing::TempDir dir;
  const std::string meta = dir.file(".app.db-litestream");
  const std::string wal = meta + "/generations/0123456789abcdef/wal";
  std::filesystem::create_directories(wal);
  for (int i = 0; i < 200; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "/%08x.wal", i);
    testing::write_file(wal + name, std::string(100, 'x'));
  }
  sys::RealFileSystem fs;
  StagingTracker t(fs, meta, no_ltx());
  EXPECT_EQ(t.update().total_bytes, 200u * 100);
  EXPECT_EQ(t.update().total_bytes, 200u * 100);
  EXPECT_EQ(t.walks(), 1u);

  const std::string tmp = wal + "/000000c8.wal.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  for (int round = 1; round <= 3; ++round) {
    ASSERT_EQ(::write(fd, std::string(1000, 'y').data(), 1000), 1000);
    const StagingScan& scan = t.update();
    EXPECT_EQ(scan.in_flight_bytes, 1000u * static_cast<unsigned>(round));
    EXPECT_EQ(scan.total_bytes, 200u * 100 + 1000u * static_cast<unsigned>(round));
  }
  ::close(fd);
  std::filesystem::rename(tmp, wal + "/000000c8.wal");
  std::filesystem::remove(wal + "/00000000.wal");
  const StagingScan& renamed = t.update();
  EXPECT_EQ(renamed.in_flight_bytes, 0u);
  EXPECT_EQ(renamed.total_bytes, 199u * 100 + 3000);
  EXPECT_EQ(t.walks(), 1u);

  testing::write_file(meta + "/ltx/0/0000000000000001-0000000000000001.ltx", std::string(50, 'z'));
  const StagingScan& walked = t.update();
  EXPECT_EQ(walked.total_bytes, 199u * 100 + 3000 + 50);
  EXPECT_EQ(walked.layout, formats::Layout::v0_5);
  EXPECT_EQ(t.walks(), 2u);
  expect_same_as_scan(fs, walked, meta);
}

}  // namespace
}  // namespace ltxguard::collect
