#include <gtest/gtest.h>

#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/collect/replica_state.hpp"
#include "ltxguard/collect/staging_scan.hpp"
#include "ltxguard/util/bytes.hpp"
#include "support/fake_filesystem.hpp"
#include "support/fake_process_table.hpp"

namespace ltxguard::collect {
namespace {

using testing::FakeFileSystem;

constexpr const char* kMeta = "/d/.app.db-litestream";

ScanOptions no_ltx() {
  ScanOptions o;
  o.inspect_ltx = false;
  return o;
}

std::string sqlite_header(uint32_t page_size, uint32_t page_count) {
  std::string h(100, '\0');
  const std::string magic = "SQLite format 3";
  h.replace(0, magic.size(), magic);
  auto* p = reinterpret_cast<uint8_t*>(h.data());
  util::put_be16(p + 16, static_cast<uint16_t>(page_size == 65536 ? 1 : page_size));
  p[18] = p[19] = 2;  // WAL
  p[21] = 64;
  p[22] = 32;
  p[23] = 32;
  util::put_be32(p + 24, 7);  // change counter
  util::put_be32(p + 28, page_count);
  util::put_be32(p + 92, 7);  // version-valid-for == change counter
  util::put_be32(p + 96, 3040001);
  return h;
}

TEST(StagingScanTest, MissingMetaDirIsNotAnError) {
  FakeFileSystem fs;
  fs.add_dir("/d");
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  EXPECT_FALSE(scan.exists);
  EXPECT_TRUE(scan.errors.empty());
  EXPECT_EQ(scan.layout, formats::Layout::none);
}

TEST(StagingScanTest, ClassesA03TreeAndSumsBytes) {
  FakeFileSystem fs;
  fs.add_file(std::string(kMeta) + "/generation", "0123456789abcdef\n");
  fs.add_sized_file(std::string(kMeta) + "/generations/0123456789abcdef/wal/00000000.wal", 4096);
  fs.add_sized_file(std::string(kMeta) + "/generations/0123456789abcdef/wal/00000001.wal", 8192);
  fs.add_sized_file(std::string(kMeta) + "/generations/0123456789abcdef/wal/00000002.wal.tmp", 100);
  fs.add_sized_file(std::string(kMeta) + "/stray.bin", 7);
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  EXPECT_TRUE(scan.exists);
  EXPECT_EQ(scan.layout, formats::Layout::v0_3);
  EXPECT_EQ(scan.total_bytes, 17u + 4096 + 8192 + 100 + 7);
  EXPECT_EQ(scan.in_flight_bytes, 100u);
  EXPECT_EQ(scan.file_count, 5u);
  EXPECT_EQ(scan.unknown_count, 1u);
}

TEST(StagingScanTest, SymlinkNamedLikeStagingIsNeitherCountedNorFollowed) {
  FakeFileSystem fs;
  fs.add_sized_file("/etc/big", 1 << 30);
  fs.add_symlink(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx.tmp", "/etc/big");
  const auto scan = scan_staging(fs, kMeta);
  EXPECT_EQ(scan.total_bytes, 0u);
  EXPECT_EQ(scan.in_flight_bytes, 0u);
  ASSERT_EQ(scan.files.size(), 1u);
  EXPECT_EQ(scan.files[0].name.kind, formats::StagingKind::unknown);
  EXPECT_FALSE(scan.files[0].ltx.has_value());
  for (const auto& r : fs.reads()) EXPECT_NE(r.path, "/etc/big");
}

TEST(StagingScanTest, MetaDirThatIsASymlinkIsRefused) {
  FakeFileSystem fs;
  fs.add_dir("/elsewhere/ltx/0");
  fs.add_symlink(kMeta, "/elsewhere");
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  EXPECT_FALSE(scan.exists);
  ASSERT_EQ(scan.errors.size(), 1u);
  EXPECT_EQ(scan.errors[0].code, util::ErrorCode::unsafe_path);
}

TEST(StagingScanTest, ZeroFiveWinsOverLeftover03Generations) {
  FakeFileSystem fs;
  fs.add_sized_file(std::string(kMeta) + "/generations/0123456789abcdef/wal/00000000.wal", 10);
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx", 10);
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  EXPECT_EQ(scan.layout, formats::Layout::v0_5);
  EXPECT_TRUE(scan.mixed_layouts);
}

TEST(ReplicaStateTest, File05ReplicaBacklogIsLocalL0AboveTheReplicasMark) {
  FakeFileSystem fs;
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx", 1000);
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000002-0000000000000002.ltx", 200);
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000003-0000000000000003.ltx", 30);
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000004-0000000000000004.ltx.tmp", 4);
  fs.add_sized_file("/r/ltx/1/0000000000000001-0000000000000002.ltx", 1100);
  fs.add_sized_file("/r/ltx/0/0000000000000001-0000000000000001.ltx", 1000);
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  formats::ReplicaConfig rc;
  rc.type = "file";
  rc.path = "/r";
  const auto r = file_replica_state(fs, rc, scan, 1);
  EXPECT_TRUE(r.known);
  EXPECT_EQ(*r.max_txid, 2u);
  EXPECT_EQ(*r.backlog_bytes, 30u + 4u);
  EXPECT_EQ(r.backlog_files, 2u);
}

TEST(ReplicaStateTest, File03ReplicaBacklogCountsFromTheLastUploadedOffset) {
  FakeFileSystem fs;
  const std::string gen = "0123456789abcdef";
  fs.add_file(std::string(kMeta) + "/generation", gen + "\n");
  fs.add_sized_file(std::string(kMeta) + "/generations/" + gen + "/wal/00000000.wal", 5000);
  fs.add_sized_file(std::string(kMeta) + "/generations/" + gen + "/wal/00000001.wal", 8000);
  fs.add_sized_file(std::string(kMeta) + "/generations/" + gen + "/wal/00000002.wal", 3000);
  fs.add_sized_file("/r/generations/" + gen + "/wal/00000000_00000000.wal.lz4", 10);
  fs.add_sized_file("/r/generations/" + gen + "/wal/00000001_00000000.wal.lz4", 10);
  fs.add_sized_file("/r/generations/" + gen + "/wal/00000001_00000fa0.wal.lz4", 10);  // offset 4000
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  formats::ReplicaConfig rc;
  rc.type = "file";
  rc.path = "/r";
  const auto r = file_replica_state(fs, rc, scan, 1);
  EXPECT_EQ(r.generation, gen);
  EXPECT_EQ(*r.wal_index, 1u);
  EXPECT_EQ(r.wal_offset, 4000u);
  EXPECT_EQ(*r.backlog_bytes, (8000u - 4000u) + 3000u);
  // The offset in the name is where the last chunk starts (its length is only known
  // compressed): the text must not call it the end.
  EXPECT_EQ(r.reason,
            "replica holds generation 0123456789abcdef through WAL index 1 (its last chunk starts at offset 4000)");
}

TEST(ReplicaStateTest, MissingFileReplicaMeansEverythingIsBacklog) {
  FakeFileSystem fs;
  fs.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx", 1000);
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  formats::ReplicaConfig rc;
  rc.type = "file";
  rc.path = "/nowhere";
  const auto r = file_replica_state(fs, rc, scan, 1);
  EXPECT_TRUE(r.known);
  EXPECT_EQ(*r.backlog_bytes, 1000u);
}

TEST(ReplicaStateTest, RemoteReplicaWithoutMetricsIsUnknownWithTheReason) {
  FakeFileSystem fs;
  formats::DbConfig db;
  db.path = "/d/app.db";
  formats::ReplicaConfig rc;
  rc.type = "s3";
  db.replicas.push_back(rc);
  const auto states = replica_states(fs, db, StagingScan{}, 1, std::nullopt, "");
  ASSERT_EQ(states.size(), 1u);
  EXPECT_FALSE(states[0].known);
  EXPECT_FALSE(states[0].backlog_bytes.has_value());
  EXPECT_EQ(states[0].reason,
            "s3 replica: its upload state is not visible from this host; set `addr:` in the Litestream config "
            "to expose metrics");
}

TEST(ReplicaStateTest, MetricsGiveThe03Gap) {
  formats::ReplicaConfig rc;
  rc.type = "s3";
  rc.name = "s3";
  std::vector<formats::PromSample> samples = {
      {"litestream_shadow_wal_index", {{"db", "/d/app.db"}}, 7},
      {"litestream_replica_wal_index", {{"db", "/d/app.db"}, {"name", "s3"}}, 4},
      {"litestream_replica_wal_index", {{"db", "/other.db"}, {"name", "s3"}}, 1},
  };
  const auto r = metrics_replica_state(rc, "/d/app.db", samples);
  EXPECT_TRUE(r.known);
  EXPECT_EQ(*r.wal_index, 4u);
  EXPECT_EQ(r.reason, "metrics: shadow WAL index 7, replica WAL index 4 (gap 3)");
  EXPECT_EQ(r.wal_offset, 0u);  // not exported: the index alone
}

// Field test: with the index alone a healthy replica looked stalled for seconds between WAL
// rollovers; the offset moves with every sync.
TEST(ReplicaStateTest, MetricsOffsetIsPartOfThePosition) {
  formats::ReplicaConfig rc;
  rc.type = "s3";
  rc.name = "s3";
  std::vector<formats::PromSample> samples = {
      {"litestream_shadow_wal_index", {{"db", "/d/app.db"}}, 7},
      {"litestream_replica_wal_index", {{"db", "/d/app.db"}, {"name", "s3"}}, 7},
      {"litestream_replica_wal_offset", {{"db", "/d/app.db"}, {"name", "s3"}}, 2191872},
      {"litestream_replica_wal_offset", {{"db", "/d/app.db"}, {"name", "other"}}, 99},
  };
  auto r = metrics_replica_state(rc, "/d/app.db", samples);
  EXPECT_TRUE(r.known);
  EXPECT_EQ(r.wal_offset, 2191872u);
  samples[2].value = -1;  // hostile metrics: ignored, not wrapped
  r = metrics_replica_state(rc, "/d/app.db", samples);
  EXPECT_EQ(r.wal_offset, 0u);
}

TEST(DatabaseTest, SizesAndHeaderWithoutReadingPastByte100) {
  FakeFileSystem fs;
  fs.add_sized_file("/d/app.db", 4096 * 10, sqlite_header(4096, 10) + std::string(4096 * 10 - 100, 'x'));
  fs.add_sized_file("/d/app.db-wal", 12345);
  const auto d = collect_database(fs, "/d/app.db");
  EXPECT_TRUE(d.db.exists);
  EXPECT_EQ(d.wal.bytes, 12345u);
  EXPECT_FALSE(d.shm.exists);
  ASSERT_TRUE(d.header.has_value()) << d.header_error;
  EXPECT_EQ(d.header->page_size_bytes, 4096u);
  EXPECT_EQ(d.logical_bytes(), 40960u);
  for (const auto& r : fs.reads()) {
    if (r.path == "/d/app.db") {
      EXPECT_LE(r.max_bytes, 100u);
    }
    EXPECT_NE(r.path, "/d/app.db-wal");
    EXPECT_NE(r.path, "/d/app.db-shm");
  }
}

TEST(DatabaseTest, PathChecks) {
  FakeFileSystem fs;
  fs.add_file("/d/app.db", sqlite_header(4096, 1));
  fs.add_file("/other/real.db", sqlite_header(4096, 1));
  fs.add_symlink("/d/link.db", "/other/real.db");
  fs.add_symlink("/d/same.db", "/d/app.db");
  fs.add_dir("/d/dir.db");
  EXPECT_EQ(*check_database_path(fs, "/d/app.db"), "/d/app.db");
  EXPECT_EQ(*check_database_path(fs, "/d/same.db"), "/d/same.db");
  EXPECT_EQ(check_database_path(fs, "/d/link.db").error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(check_database_path(fs, "/d/none.db").error().message, "database not found");
  EXPECT_EQ(check_database_path(fs, "/d/dir.db").error().message, "database path is not a regular file");
}

// SQLite follows the link and writes app.db-wal; a link.db-wal would be someone else's file.
TEST(DatabaseTest, SameDirectorySymlinkIsMeasuredWhereSqliteKeepsItsWal) {
  FakeFileSystem fs;
  fs.add_sized_file("/d/app.db", 4096 * 10, sqlite_header(4096, 10));
  fs.add_sized_file("/d/app.db-wal", 12345);
  fs.add_sized_file("/d/app.db-shm", 32768);
  fs.add_sized_file("/d/link.db-wal", 999);  // not SQLite's: never counted
  fs.add_symlink("/d/link.db", "app.db");
  fs.add_symlink("/d/chain.db", "/d/link.db");
  for (const std::string given : {"/d/link.db", "/d/chain.db"}) {
    const auto d = collect_database(fs, given);
    EXPECT_EQ(d.db_path, given);
    EXPECT_EQ(d.sqlite_path, "/d/app.db");
    EXPECT_EQ(d.wal.path, "/d/app.db-wal");
    EXPECT_EQ(d.wal.bytes, 12345u);
    EXPECT_EQ(d.shm.path, "/d/app.db-shm");
    EXPECT_EQ(d.shm.bytes, 32768u);
    EXPECT_EQ(d.db.bytes, 40960u);
    ASSERT_TRUE(d.header.has_value()) << d.header_error;
    EXPECT_EQ(d.header->page_count, 10u);
  }
}

TEST(DatabaseTest, SymlinkedParentDirectoryKeepsTheGivenSpelling) {
  FakeFileSystem fs;
  fs.add_sized_file("/mnt/data/app.db", 4096, sqlite_header(4096, 1));
  fs.add_sized_file("/mnt/data/app.db-wal", 777);
  fs.add_symlink("/data", "/mnt/data");
  fs.add_symlink("/mnt/data/link.db", "app.db");
  EXPECT_EQ(*sqlite_path(fs, "/data/app.db"), "/data/app.db");
  EXPECT_EQ(*sqlite_path(fs, "/data/link.db"), "/data/app.db");
  const auto d = collect_database(fs, "/data/link.db");
  EXPECT_EQ(d.wal.path, "/data/app.db-wal");
  EXPECT_EQ(d.wal.bytes, 777u);
}

// Not reachable past check_database_path, but a link may change under a running watch.
TEST(DatabaseTest, SymlinkIntoAnotherDirectoryResolvesToTheTarget) {
  FakeFileSystem fs;
  fs.add_sized_file("/other/real.db", 4096, sqlite_header(4096, 1));
  fs.add_sized_file("/other/real.db-wal", 555);
  fs.add_symlink("/d/link.db", "/other/real.db");
  EXPECT_EQ(*sqlite_path(fs, "/d/link.db"), "/other/real.db");
  EXPECT_EQ(collect_database(fs, "/d/link.db").wal.bytes, 555u);
}

TEST(DatabaseTest, SymlinkLoopFailsInsteadOfHanging) {
  FakeFileSystem fs;
  fs.add_symlink("/d/a.db", "b.db");
  fs.add_symlink("/d/b.db", "a.db");
  fs.add_sized_file("/d/a.db-wal", 5);
  auto p = sqlite_path(fs, "/d/a.db");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().to_string(), "/d/a.db: cannot resolve path (Too many levels of symbolic links)");
  const auto d = collect_database(fs, "/d/a.db");
  EXPECT_EQ(d.sqlite_path, "/d/a.db");
  EXPECT_FALSE(d.db.exists);
  EXPECT_FALSE(d.header.has_value());
  EXPECT_EQ(check_database_path(fs, "/d/a.db").error().message, "database path is a dangling symlink");
}

EvidenceOptions quick_evidence(const std::string& db_path) {
  EvidenceOptions o;
  o.db_path = db_path;
  o.log.kind = LogSourceKind::none;
  o.samples = 2;
  o.litestream_bin = "/nonexistent/litestream";
  o.sleep_ms = [](int) {};
  o.now_ms = [] { return int64_t{1000}; };
  return o;
}

// Litestream keeps its meta dir next to the path it was given; SQLite's WAL follows the link.
TEST(EvidenceTest, SymlinkedDatabaseSamplesSqlitesWalAndLitestreamsMetaDir) {
  FakeFileSystem fs;
  testing::FakeProcessTable procs;
  fs.add_sized_file("/d/app.db", 4096, sqlite_header(4096, 1));
  fs.add_sized_file("/d/app.db-wal", 4242);
  fs.add_symlink("/d/link.db", "app.db");
  const Evidence ev = collect_evidence(fs, procs, quick_evidence("/d/link.db"));
  EXPECT_EQ(ev.db.wal.path, "/d/app.db-wal");
  ASSERT_EQ(ev.samples.size(), 2u);
  for (const auto& s : ev.samples) EXPECT_EQ(s.wal_bytes, 4242u);
  EXPECT_EQ(ev.db_config.meta_path, "/d/.link.db-litestream");
}

// An empty process list is "none running" only when the list could be read.
TEST(EvidenceTest, UnreadableProcessListIsANoteNotAnEmptyList) {
  FakeFileSystem fs;
  testing::FakeProcessTable procs;
  fs.add_sized_file("/d/app.db", 4096, sqlite_header(4096, 1));
  fs.add_dir(kMeta);
  const Evidence seen = collect_evidence(fs, procs, quick_evidence("/d/app.db"));
  EXPECT_TRUE(seen.litestream.processes.empty());
  EXPECT_EQ(seen.litestream.proc_note, "");
  procs.fail_with(util::make_error(util::ErrorCode::invalid_input, "/proc",
                                   "not a proc filesystem, so which processes run is unknown"));
  const Evidence unknown = collect_evidence(fs, procs, quick_evidence("/d/app.db"));
  EXPECT_TRUE(unknown.litestream.processes.empty());
  EXPECT_EQ(unknown.litestream.proc_note, "/proc: not a proc filesystem, so which processes run is unknown");
}

}  // namespace
}  // namespace ltxguard::collect

namespace ltxguard::collect {
namespace {

TEST(ReplicaStateTest, NothingStagedMeansNoBacklog) {
  FakeFileSystem fs;
  fs.add_dir("/r");
  fs.add_dir("/d");
  const auto scan = scan_staging(fs, kMeta, no_ltx());
  formats::ReplicaConfig rc;
  rc.type = "file";
  rc.path = "/r";
  const auto r = file_replica_state(fs, rc, scan, 1);
  ASSERT_TRUE(r.backlog_bytes.has_value());
  EXPECT_EQ(*r.backlog_bytes, 0u);
  rc.path = "/missing";
  EXPECT_EQ(*file_replica_state(fs, rc, scan, 1).backlog_bytes, 0u);
}

}  // namespace
}  // namespace ltxguard::collect

namespace ltxguard::collect {
namespace {

sys::ProcessInfo litestream(int pid, std::vector<std::string> argv) {
  return sys::ProcessInfo{pid, 0, "litestream", "/usr/bin/litestream", std::move(argv)};
}

// Field test: a Litestream replicating another database (its own config) was counted as
// "1 process(es) running" for this one.
TEST(EvidenceTest, LitestreamForAnotherDatabaseIsListedApart) {
  FakeFileSystem fs;
  testing::FakeProcessTable procs;
  fs.add_sized_file("/d/app.db", 4096, sqlite_header(4096, 1));
  fs.add_file("/d/a.yml");
  fs.add_symlink("/d/a-link.yml", "a.yml");
  fs.add_dir(kMeta);
  procs.add_process(litestream(11, {"litestream", "replicate", "-config", "/d/a.yml"}));
  procs.add_process(litestream(12, {"litestream", "replicate", "-config", "/d/b.yml"}));
  procs.add_process(litestream(13, {"litestream", "replicate", "/d/app.db", "s3://bucket/app"}));
  procs.add_process(litestream(14, {"litestream", "replicate", "-config", "/etc/x.yml"}));
  procs.add_open_file(sys::OpenFile{14, 5, "", "/d/app.db", false});
  procs.add_process(sys::ProcessInfo{15, 0, "app", "/usr/bin/app", {"app"}});
  procs.add_open_file(sys::OpenFile{15, 3, "", "/d/app.db-wal", false});
  auto opts = quick_evidence("/d/app.db");
  opts.config_path = "/d/a-link.yml";  // matched as written and canonical
  const Evidence ev = collect_evidence(fs, procs, opts);
  std::vector<int> mine, others;
  for (const auto& p : ev.litestream.processes) mine.push_back(p.pid);
  for (const auto& p : ev.litestream.other_processes) others.push_back(p.pid);
  EXPECT_EQ(mine, (std::vector<int>{11, 13, 14}));
  EXPECT_EQ(others, (std::vector<int>{12}));
  opts.config_path.clear();  // no config read: only the command line and open files tell
  const Evidence no_config = collect_evidence(fs, procs, opts);
  EXPECT_EQ(no_config.litestream.processes.size(), 2u);
  EXPECT_EQ(no_config.litestream.other_processes.size(), 2u);
}

}  // namespace
}  // namespace ltxguard::collect

