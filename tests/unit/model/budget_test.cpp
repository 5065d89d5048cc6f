#include "ltxguard/model/budget.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace ltxguard::model {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kHeadroom4k = 121359ULL * 4096;  // 497086464, the default app WAL headroom

FilesystemInput make_fs(uint64_t dev, std::string mount, uint64_t total, uint64_t avail,
                        uint64_t free_bytes = 0) {
  FilesystemInput f;
  f.dev = dev;
  f.mount = std::move(mount);
  f.total_bytes = total;
  f.avail_bytes = avail;
  f.free_bytes = free_bytes != 0 ? free_bytes : avail;
  f.inodes_total = 1'000'000;
  f.inodes_free = 900'000;
  f.inodes_avail = 900'000;
  return f;
}

DatabaseInput make_db(uint64_t pages, uint32_t page_size = 4096, uint64_t dev = 1,
                      uint64_t meta_dev = 1) {
  DatabaseInput d;
  d.db_path = "/data/app.db";
  d.header_valid = true;
  d.page_size_bytes = page_size;
  d.page_count = pages;
  d.db_fs_dev = dev;
  d.meta_fs_dev = meta_dev;
  d.model = LitestreamModel::v0_5;
  d.model_reason = "detected v0.5.12";
  d.replica_backlog_bytes = 0;
  return d;
}

formats::Policy policy(const std::string& yaml) {
  auto p = formats::parse_policy(yaml, "policy.yml");
  EXPECT_TRUE(p) << p.error().to_string();
  return p ? *p : formats::Policy{};
}

BudgetInput one_fs(FilesystemInput fs, DatabaseInput db, const std::string& yaml) {
  BudgetInput in;
  in.filesystems.push_back(std::move(fs));
  in.databases.push_back(std::move(db));
  in.policy = policy(yaml);
  return in;
}

BudgetResult budget(const BudgetInput& in) {
  auto r = compute_budget(in);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : BudgetResult{};
}

const BudgetTerm* term(const FilesystemBudget& b, std::string_view label) {
  for (const BudgetTerm& t : b.terms) {
    if (t.label == label) return &t;
  }
  return nullptr;
}

bool has_note(const FilesystemBudget& b, std::string_view part) {
  return std::any_of(b.notes.begin(), b.notes.end(),
                     [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

bool contains(const std::vector<std::string>& lines, std::string_view part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& n) { return n.find(part) != std::string::npos; });
}

// The issue's example: a 20.4 GiB database, 20.0 GiB available, a 2 GiB reserve, ratio 1.03.
BudgetInput issue_example() {
  return one_fs(
      make_fs(1, "/data", 100 * kGiB, 20 * kGiB), make_db(5347738),
      "reserve_bytes: 2GiB\nstaging_overhead_ratio: 1.03\napp_write_bytes_per_second: 0\n");
}

TEST(BudgetTest, EquationMatchesTheIssueExample) {
  const BudgetResult r = budget(issue_example());
  ASSERT_EQ(r.filesystems.size(), 1u);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(b.equation,
            "available 20.0 GiB \u2212 projected staging 21.0 GiB (db 20.4 GiB \u00d7 1.03) \u2212 "
            "reserve 2.0 GiB = \u22123.0 GiB \u2192 CRITICAL: initial sync cannot fit");
  // ceil(5347738 × 4096 × 1.03) = ceil(22561464893.44)
  EXPECT_EQ(term(b, "projected staging")->bytes, 22561464894);
  EXPECT_EQ(b.headroom_bytes, 21474836480 - 22561464894 - 2147483648);
  EXPECT_EQ(b.verdict, Verdict::critical);
  EXPECT_EQ(r.verdict, Verdict::critical);
  EXPECT_EQ(exit_code(r.verdict), 2);
  EXPECT_TRUE(r.unknowns.empty());
}

TEST(BudgetTest, CriticalWhenStagingExceedsAvailable) {
  const BudgetResult r = budget(issue_example());
  ASSERT_FALSE(r.advice.empty());
  EXPECT_EQ(r.advice[0],
            "/data: move meta-path of app.db to a filesystem with at least 21.0 GiB (22561464894 "
            "bytes) free above its own reserve, or free 3.0 GiB (3234112062 bytes) on /data");
}

TEST(BudgetTest, AdviceNeverSuggestsLoweringTheReserve) {
  BudgetInput tiny = issue_example();
  tiny.filesystems[0].avail_bytes = tiny.filesystems[0].free_bytes = kGiB;  // inside the reserve
  for (const BudgetInput& in : {issue_example(), tiny}) {
    const BudgetResult r = budget(in);
    EXPECT_EQ(r.verdict, Verdict::critical);
    for (const std::string& a : r.advice) {
      EXPECT_EQ(a.find("lower"), std::string::npos) << a;
      EXPECT_EQ(a.find("reduce"), std::string::npos) << a;
      EXPECT_EQ(a.find("reserve_"), std::string::npos) << a;
    }
  }
}

TEST(BudgetTest, AlreadyInsideTheReserveAsksToFreeBytes) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = kGiB;
  const BudgetResult r = budget(in);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_NE(b.equation.find("\u2192 CRITICAL: already inside the reserve"), std::string::npos);
  ASSERT_FALSE(r.advice.empty());
  // Moving staging away frees 21.0 GiB, but the deficit is 22.0 GiB: freeing comes first.
  EXPECT_EQ(r.advice[0],
            "/data: free 22.0 GiB (23635206718 bytes) on /data: moving meta-path "
            "away alone is not enough");
}

TEST(BudgetTest, OkWhenStagingFitsWithMargin) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::ok);
  EXPECT_EQ(exit_code(r.verdict), 0);
  EXPECT_TRUE(r.advice.empty());
  EXPECT_EQ(r.filesystems[0].equation,
            "available 60.0 GiB \u2212 projected staging 21.0 GiB (db 20.4 GiB \u00d7 1.03) \u2212 "
            "reserve 2.0 GiB = 37.0 GiB \u2192 OK");
}

TEST(BudgetTest, RoundingIsDecidedInBytes) {
  // 1001 pages × 512 B = 512512 B; × 1.03 = 527887.36, charged as 527888.
  const std::string yaml =
      "reserve_bytes: 1000\nstaging_overhead_ratio: 1.03\napp_write_bytes_per_second: 0\n"
      "warn_at: 0\n";
  BudgetInput exact =
      one_fs(make_fs(1, "/data", 10 * kMiB, 527888 + 1000), make_db(1001, 512), yaml);
  const BudgetResult fits = budget(exact);
  EXPECT_EQ(term(fits.filesystems[0], "projected staging")->bytes, 527888);
  EXPECT_EQ(fits.filesystems[0].headroom_bytes, 0);
  EXPECT_EQ(fits.verdict, Verdict::ok);

  BudgetInput short_by_one = exact;
  short_by_one.filesystems[0].avail_bytes = short_by_one.filesystems[0].free_bytes = 527888 + 999;
  const BudgetResult misses = budget(short_by_one);
  EXPECT_EQ(misses.filesystems[0].headroom_bytes, -1);
  EXPECT_EQ(misses.verdict, Verdict::critical);
  // Both show "available 516.5 KiB": only the bytes tell them apart.
  EXPECT_EQ(fits.filesystems[0].equation.substr(0, 25),
            misses.filesystems[0].equation.substr(0, 25));
  EXPECT_NE(misses.filesystems[0].equation.find("= \u22121 B"), std::string::npos);
}

TEST(BudgetTest, NonIntegralGibDatabaseKeepsExactBytes) {
  // 3 GiB + 1 page of 1 KiB: not a whole number of GiB, charged to the byte.
  const uint64_t pages = 3 * kGiB / 1024 + 1;
  BudgetInput in = one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(pages, 1024),
                          "staging_overhead_ratio: 1.000001\napp_write_bytes_per_second: 0\n");
  const BudgetResult r = budget(in);
  const uint64_t db_bytes = pages * 1024;  // 3221226496
  const int64_t expected = static_cast<int64_t>((db_bytes * 1'000'001 + 999'999) / 1'000'000);
  EXPECT_EQ(term(r.filesystems[0], "projected staging")->bytes, expected);
  EXPECT_EQ(expected, 3221229718);
}

TEST(BudgetTest, DefaultProjectionIsTheLtxWorstCase) {
  EXPECT_EQ(ltx_snapshot_worst_case_bytes(10, 4096), 10u * (4096 + 44 + 16) + 131);
  EXPECT_EQ(ltx_snapshot_worst_case_bytes(1, 512), 512u + 44 + 2 + 131);
  EXPECT_EQ(ltx_snapshot_worst_case_bytes(1, 65536), 65536u + 44 + 257 + 131);
  EXPECT_EQ(ltx_snapshot_worst_case_bytes(UINT64_MAX, 65536), UINT64_MAX);

  BudgetInput in = one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000), "");
  const BudgetResult r = budget(in);
  const BudgetTerm* t = term(r.filesystems[0], "projected staging");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->bytes, 4156131);
  EXPECT_EQ(t->detail, "db 3.9 MiB \u00d7 1.0147");  // ceil(4156131 / 4096000, 4 decimals)
}

TEST(BudgetTest, LtxModuleBoundIsUsedWhenGiven) {
  DatabaseInput db = make_db(1000);
  db.snapshot_max_bytes = 5'000'000;
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), db, ""));
  const BudgetTerm* t = term(r.filesystems[0], "projected staging");
  EXPECT_EQ(t->bytes, 5'000'000);
  EXPECT_EQ(t->detail, "db 3.9 MiB \u00d7 1.2208");
}

TEST(BudgetTest, PolicyRatioBelowWorstCaseIsUsedAndNoted) {
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000),
                                       "staging_overhead_ratio: 1.0\n"));
  EXPECT_EQ(term(r.filesystems[0], "projected staging")->bytes, 4'096'000);
  EXPECT_TRUE(
      has_note(r.filesystems[0], "staging_overhead_ratio 1.00 is below the LTX worst case"));
}

TEST(BudgetTest, MetaOnSeparateFilesystemIsChargedTheStaging) {
  BudgetInput in;
  in.filesystems = {make_fs(1, "/data", 100 * kGiB, 50 * kGiB),
                    make_fs(2, "/staging", 100 * kGiB, 30 * kGiB)};
  in.databases = {make_db(5242880, 4096, 1, 2)};  // 20 GiB
  in.policy = policy("reserve_bytes: 2GiB\nstaging_overhead_ratio: 1.03\nwal_growth_bytes: 1GiB\n");
  const BudgetResult r = budget(in);
  ASSERT_EQ(r.filesystems.size(), 2u);
  const FilesystemBudget& data = r.filesystems[0];
  const FilesystemBudget& staging = r.filesystems[1];
  EXPECT_EQ(data.mount, "/data");
  EXPECT_EQ(term(data, "projected staging"), nullptr);
  EXPECT_EQ(data.staging_bytes, 0);
  EXPECT_EQ(
      data.equation,
      "available 50.0 GiB \u2212 app WAL growth 1.0 GiB (wal_growth_bytes) \u2212 reserve 2.0 GiB "
      "= 47.0 GiB \u2192 OK");
  EXPECT_EQ(staging.mount, "/staging");
  EXPECT_EQ(staging.reserve_bytes, 0);
  EXPECT_EQ(term(staging, "projected staging")->bytes, 22119081575);
  EXPECT_EQ(term(staging, "catch-up L0")->bytes, static_cast<int64_t>(kGiB));
  EXPECT_EQ(staging.staging_bytes, 22119081575 + static_cast<int64_t>(kGiB));
  EXPECT_EQ(staging.headroom_bytes,
            static_cast<int64_t>(30 * kGiB) - 22119081575 - static_cast<int64_t>(kGiB));
  EXPECT_EQ(r.verdict, Verdict::ok);
}

TEST(BudgetTest, SameFilesystemCarriesStagingGrowthAndReserve) {
  BudgetInput in =
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(5242880),
             "reserve_bytes: 2GiB\nstaging_overhead_ratio: 1.03\nwal_growth_bytes: 1GiB\n");
  const BudgetResult r = budget(in);
  ASSERT_EQ(r.filesystems.size(), 1u);
  EXPECT_EQ(r.filesystems[0].headroom_bytes, static_cast<int64_t>(50 * kGiB) - 22119081575 -
                                                 2 * static_cast<int64_t>(kGiB) -
                                                 2 * static_cast<int64_t>(kGiB));
}

TEST(BudgetTest, RootAndUserPerspectivesDifferByRootReserve) {
  BudgetInput user = issue_example();
  user.filesystems[0].free_bytes = 25 * kGiB;  // 5 GiB of root-reserved blocks
  BudgetInput root = user;
  root.app_runs_as_root = true;
  const BudgetResult u = budget(user);
  const BudgetResult r = budget(root);
  EXPECT_EQ(u.filesystems[0].available_bytes, static_cast<int64_t>(20 * kGiB));
  EXPECT_EQ(r.filesystems[0].available_bytes, static_cast<int64_t>(25 * kGiB));
  EXPECT_EQ(r.filesystems[0].headroom_bytes - u.filesystems[0].headroom_bytes,
            static_cast<int64_t>(5 * kGiB));
  EXPECT_TRUE(has_note(u.filesystems[0],
                       "Litestream runs as root: it can also fill the 5.0 GiB of "
                       "root-reserved blocks the app cannot use"));
  EXPECT_FALSE(has_note(r.filesystems[0], "Litestream runs as root"));
  BudgetInput neither = user;
  neither.litestream_runs_as_root = false;
  EXPECT_FALSE(has_note(budget(neither).filesystems[0], "Litestream runs as root"));
}

TEST(BudgetTest, InodeExhaustionIsCritical) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  in.filesystems[0].inodes_total = 1000;
  in.filesystems[0].inodes_avail = 3;
  in.filesystems[0].inodes_free = 100;
  const BudgetResult r = budget(in);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(b.verdict, Verdict::critical);
  EXPECT_TRUE(has_note(b, "inodes: 3 available, staging needs 8 \u2192 CRITICAL"));
  EXPECT_NE(b.equation.find("\u2192 CRITICAL: no inodes for staging"), std::string::npos);
  EXPECT_TRUE(contains(r.advice, "/data: free at least 5 inodes on /data (3 available)"));
  // As root the app sees f_ffree: 100 of 1000 inodes is enough.
  in.app_runs_as_root = true;
  EXPECT_EQ(budget(in).verdict, Verdict::ok);
}

TEST(BudgetTest, FewInodesLeftIsAWarning) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  in.filesystems[0].inodes_avail = 9'999;  // of 1'000'000
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::warning);
  EXPECT_NE(r.filesystems[0].equation.find("\u2192 WARNING: under 1 % of inodes free"),
            std::string::npos);
}

TEST(BudgetTest, FilesystemWithoutInodeCountsIsNotFlagged) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  in.filesystems[0].inodes_total = in.filesystems[0].inodes_avail = in.filesystems[0].inodes_free =
      0;
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::ok);
  EXPECT_TRUE(has_note(r.filesystems[0], "inodes: the filesystem does not count inodes"));
}

TEST(BudgetTest, FileReplicaOnTheSameFilesystemDoublesStaging) {
  const std::string yaml =
      "reserve_bytes: 2GiB\nstaging_overhead_ratio: 1.03\napp_write_bytes_per_second: 0\n";
  BudgetInput plain =
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(262144), yaml);  // 1 GiB
  BudgetInput replica = plain;
  replica.databases[0].file_replica_fs_devs = {1};
  const FilesystemBudget a = budget(plain).filesystems[0];
  const FilesystemBudget b = budget(replica).filesystems[0];
  EXPECT_EQ(term(b, "projected staging")->bytes, 1105954079);
  EXPECT_EQ(term(b, "file replica copy")->bytes, 1105954079);
  EXPECT_EQ(a.headroom_bytes - b.headroom_bytes, 1105954079);
  EXPECT_NE(b.equation.find("\u2212 file replica copy 1.0 GiB (full copy)"), std::string::npos);
}

TEST(BudgetTest, FileReplicaElsewhereIsChargedWhereItLands) {
  BudgetInput in = one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(262144),
                          "staging_overhead_ratio: 1.03\napp_write_bytes_per_second: 0\n");
  in.filesystems.push_back(make_fs(3, "/backup", 10 * kGiB, 5 * kGiB));
  in.databases[0].file_replica_fs_devs = {3};
  const BudgetResult r = budget(in);
  ASSERT_EQ(r.filesystems.size(), 2u);
  EXPECT_EQ(term(r.filesystems[0], "file replica copy"), nullptr);
  const FilesystemBudget& backup = r.filesystems[1];
  EXPECT_EQ(backup.mount, "/backup");
  EXPECT_EQ(term(backup, "file replica copy")->bytes, 1105954079);
  EXPECT_EQ(backup.reserve_bytes, 0);
  EXPECT_EQ(backup.headroom_bytes, static_cast<int64_t>(5 * kGiB) - 1105954079);
}

TEST(BudgetTest, StagingAboveMaxStagingBytesIsCritical) {
  BudgetInput in = one_fs(make_fs(1, "/data", 200 * kGiB, 150 * kGiB), make_db(5242880),
                          "max_staging_bytes: 10GiB\nstaging_overhead_ratio: 1.0\n"
                          "app_write_bytes_per_second: 0\n");
  const BudgetResult r = budget(in);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_GT(b.headroom_bytes, 0);
  EXPECT_EQ(b.verdict, Verdict::critical);
  EXPECT_NE(b.equation.find("\u2192 CRITICAL: staging above max_staging_bytes 10.0 GiB"),
            std::string::npos);
  EXPECT_TRUE(has_note(b,
                       "staging at peak 20.0 GiB (on disk now 0 B + projected 20.0 GiB) > "
                       "max_staging_bytes 10.0 GiB \u2192 CRITICAL"));
  EXPECT_TRUE(contains(r.advice,
                       "staging would peak at 20.0 GiB (21474836480 bytes), above "
                       "max_staging_bytes 10.0 GiB (10737418240 bytes)"));
}

TEST(BudgetTest, CapCountsStagingAlreadyOnDisk) {
  BudgetInput in = one_fs(make_fs(1, "/data", 200 * kGiB, 150 * kGiB), make_db(2097152),  // 8 GiB
                          "max_staging_bytes: 9GiB\nstaging_overhead_ratio: 1.0\n"
                          "app_write_bytes_per_second: 0\n");
  EXPECT_EQ(budget(in).verdict, Verdict::ok);
  in.databases[0].staged_bytes_now = 2 * kGiB;
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::critical);
  EXPECT_EQ(r.filesystems[0].staging_peak_bytes, static_cast<int64_t>(10 * kGiB));
}

TEST(BudgetTest, HeadroomUnderWarnAtIsAWarning) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 28 * kGiB;
  in.policy = policy(
      "reserve_bytes: 2GiB\nstaging_overhead_ratio: 1.03\napp_write_bytes_per_second: 0\n"
      "warn_at: 10GiB\n");
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::warning);
  EXPECT_EQ(exit_code(r.verdict), 1);
  EXPECT_NE(
      r.filesystems[0].equation.find("= 5.0 GiB \u2192 WARNING: headroom under warn_at 10.0 GiB"),
      std::string::npos);
  EXPECT_TRUE(
      contains(r.advice, "/data: headroom 5.0 GiB is under warn_at 10.0 GiB: free 5.0 GiB"));
}

TEST(BudgetTest, DefaultWarnAtIsFivePercentOfTheFilesystem) {
  BudgetInput in = issue_example();  // 100 GiB filesystem: warn_at 5 GiB
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 28 * kGiB;  // headroom ~5.0 GiB
  in.policy.reserve_bytes = 2 * kGiB + 2 * kMiB;  // headroom just under 5 GiB
  EXPECT_EQ(budget(in).verdict, Verdict::warning);
  in.policy.reserve_bytes = kGiB;  // headroom ~6 GiB
  EXPECT_EQ(budget(in).verdict, Verdict::ok);
}

TEST(BudgetTest, HeadroomUnderCriticalAtIsCritical) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 24 * kGiB;  // headroom ~1 GiB
  in.policy.critical_at = formats::Threshold{formats::Threshold::Unit::bytes, 2 * kGiB, 0};
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::critical);
  EXPECT_NE(r.filesystems[0].equation.find("\u2192 CRITICAL: headroom under critical_at 2.0 GiB"),
            std::string::npos);
}

TEST(BudgetTest, V03ChargesTwiceTheWalHighWaterMark) {
  DatabaseInput db = make_db(1000);
  db.model = LitestreamModel::v0_3;
  db.model_reason = "detected v0.3.13";
  db.wal_bytes = 100 * kMiB;
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), db,
                                       "reserve_bytes: 1GiB\nwal_growth_bytes: 200MiB\n"));
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(term(b, "projected staging")->bytes, static_cast<int64_t>(400 * kMiB));
  EXPECT_EQ(term(b, "app WAL growth")->bytes, static_cast<int64_t>(100 * kMiB));
  EXPECT_EQ(
      b.equation,
      "available 50.0 GiB \u2212 projected staging 400.0 MiB (WAL high-water 200.0 MiB \u00d7 2) "
      "\u2212 app WAL growth 100.0 MiB (WAL 100.0 MiB \u2192 200.0 MiB) \u2212 reserve 1.0 GiB = "
      "48.5 GiB \u2192 OK");
  EXPECT_TRUE(has_note(b, "app.db: Litestream 0.3 model (detected v0.3.13)"));
}

TEST(BudgetTest, V03UsesTheCurrentWalWhenLarger) {
  DatabaseInput db = make_db(1000);
  db.model = LitestreamModel::v0_3;
  db.wal_bytes = 300 * kMiB;
  const BudgetResult r =
      budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), db, "wal_growth_bytes: 200MiB\n"));
  EXPECT_EQ(term(r.filesystems[0], "projected staging")->bytes, static_cast<int64_t>(600 * kMiB));
  EXPECT_EQ(term(r.filesystems[0], "app WAL growth")->bytes, 0);
}

TEST(BudgetTest, V03WithoutGrowthPolicyUsesTheWalHeadroom) {
  DatabaseInput db = make_db(1000);
  db.model = LitestreamModel::v0_3;
  db.wal_bytes = 0;
  BudgetInput in = one_fs(make_fs(1, "/data", 100 * kGiB, 600 * kMiB), db, "reserve_bytes: 1MiB\n");
  const BudgetResult r = budget(in);
  EXPECT_EQ(term(r.filesystems[0], "projected staging")->bytes,
            static_cast<int64_t>(2 * kHeadroom4k));
  EXPECT_EQ(r.verdict, Verdict::critical);
  EXPECT_NE(r.filesystems[0].equation.find("\u2192 CRITICAL: shadow WAL cannot fit"),
            std::string::npos);
}

TEST(BudgetTest, WalGrowthFromAppRateTimesStagingTime) {
  DatabaseInput db = make_db(2621440);  // 10 GiB
  db.snapshot_max_bytes = 10 * kGiB;
  db.app_write_bytes_per_second = 10 * kMiB;
  FilesystemInput fs = make_fs(1, "/data", 100 * kGiB, 50 * kGiB);
  fs.write_bytes_per_second = 100 * kMiB;
  const BudgetResult r = budget(one_fs(fs, db, ""));
  // ceil(10240 MiB / 100 MiB/s) = 103 s; 103 s × 10 MiB/s = 1030 MiB
  const BudgetTerm* growth = term(r.filesystems[0], "app WAL growth");
  ASSERT_NE(growth, nullptr);
  EXPECT_EQ(growth->bytes, static_cast<int64_t>(1030 * kMiB));
  EXPECT_EQ(growth->detail, "10.0 MiB/s \u00d7 103 s staging");
  EXPECT_EQ(term(r.filesystems[0], "catch-up L0")->bytes, static_cast<int64_t>(1030 * kMiB));
}

TEST(BudgetTest, RatesTakeTheFasterAppAndTheSlowerDisk) {
  DatabaseInput db = make_db(2621440);
  db.snapshot_max_bytes = 10 * kGiB;
  db.app_write_bytes_per_second = 10 * kMiB;  // measured, above the policy's 5 MiB/s
  FilesystemInput fs = make_fs(1, "/data", 100 * kGiB, 50 * kGiB);
  fs.write_bytes_per_second = 200 * kMiB;  // measured, above the policy's 100 MiB/s
  const BudgetResult r = budget(one_fs(fs, db,
                                       "app_write_bytes_per_second: 5MiB/s\n"
                                       "staging_write_bytes_per_second: 100MiB/s\n"));
  const BudgetTerm* growth = term(r.filesystems[0], "app WAL growth");
  EXPECT_EQ(growth->bytes, static_cast<int64_t>(1030 * kMiB));
  EXPECT_NE(growth->reason.find("app write rate (measured)"), std::string::npos);
  EXPECT_NE(growth->reason.find("policy.yml:2: staging_write_bytes_per_second"), std::string::npos);
}

TEST(BudgetTest, WalGrowthFallsBackToPolicyThenHeadroom) {
  BudgetInput in =
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000), "wal_growth_bytes: 1GiB\n");
  const BudgetResult with_policy = budget(in);
  const BudgetTerm* g = term(with_policy.filesystems[0], "app WAL growth");
  EXPECT_EQ(g->bytes, static_cast<int64_t>(kGiB));
  EXPECT_EQ(g->detail, "wal_growth_bytes");
  in.policy = policy("");
  const BudgetResult r = budget(in);
  g = term(r.filesystems[0], "app WAL growth");
  EXPECT_EQ(g->bytes, static_cast<int64_t>(kHeadroom4k));
  EXPECT_EQ(g->detail, "app WAL headroom");
}

TEST(BudgetTest, DefaultReserveIsTheLargerOfFivePercentAndWalHeadroom) {
  struct Case {
    uint64_t total;
    int64_t reserve;
    const char* detail;
  };
  for (const Case& c : {
           Case{100 * kGiB, 5368709120, "5 % of 100.0 GiB"},
           Case{10 * kGiB, 536870912, "5 % of 10.0 GiB"},
           Case{8 * kGiB, static_cast<int64_t>(kHeadroom4k),
                "app WAL headroom"},                       // 5 % = 409.6 MiB
           Case{4 * kGiB, 429496730, "app WAL headroom"},  // headroom capped at 10 % = 409.6 MiB
       }) {
    const BudgetResult r =
        budget(one_fs(make_fs(1, "/data", c.total, c.total / 2), make_db(1000), ""));
    const BudgetTerm* t = term(r.filesystems[0], "reserve");
    EXPECT_EQ(t->bytes, c.reserve) << c.total;
    EXPECT_EQ(t->detail, c.detail) << c.total;
  }
  const BudgetResult small =
      budget(one_fs(make_fs(1, "/data", 4 * kGiB, 2 * kGiB), make_db(1000), ""));
  EXPECT_TRUE(has_note(small.filesystems[0],
                       "app.db: app WAL headroom 409.6 MiB (10 % of the filesystem, "
                       "below 121359 pages × 4096 B)"));
  const BudgetResult big =
      budget(one_fs(make_fs(1, "/data", 8 * kGiB, 4 * kGiB), make_db(1000), ""));
  EXPECT_TRUE(has_note(big.filesystems[0],
                       "app.db: app WAL headroom 474.1 MiB (121359 pages × 4096 B, "
                       "Litestream's WAL truncate threshold)"));
}

TEST(BudgetTest, ReservePercentReplacesFivePercent) {
  const BudgetResult r = budget(
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000), "reserve_percent: 7.5\n"));
  const BudgetTerm* t = term(r.filesystems[0], "reserve");
  EXPECT_EQ(t->bytes, 8053063680);
  EXPECT_EQ(t->detail, "7.5 % of 100.0 GiB");
}

TEST(BudgetTest, MinFreeAboveTheReserveBecomesTheFloor) {
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000),
                                       "reserve_bytes: 1GiB\nmin_free_bytes: 3GiB\n"));
  const BudgetTerm* t = term(r.filesystems[0], "reserve");
  EXPECT_EQ(t->bytes, static_cast<int64_t>(3 * kGiB));
  EXPECT_EQ(t->detail, "min_free_bytes");
  EXPECT_EQ(r.filesystems[0].reserve_bytes, static_cast<int64_t>(3 * kGiB));
}

TEST(BudgetTest, ExplicitReserveBelowWalHeadroomIsNoted) {
  const BudgetResult r = budget(
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000), "reserve_bytes: 100MiB\n"));
  EXPECT_TRUE(has_note(r.filesystems[0],
                       "reserve_bytes 100.0 MiB is below the app WAL headroom 474.1 MiB"));
}

TEST(BudgetTest, PolicyLargerThanTheFilesystemIsAnError) {
  auto r = compute_budget(one_fs(make_fs(1, "/data", 20 * kGiB, 10 * kGiB), make_db(1000),
                                 "# reserve\nreserve_bytes: 30GiB\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(
      r.error().to_string(),
      "policy.yml:2: reserve_bytes: 30.0 GiB (32212254720 bytes) is larger than the filesystem "
      "/data (20.0 GiB)");
  auto m = compute_budget(
      one_fs(make_fs(1, "/data", 20 * kGiB, 10 * kGiB), make_db(1000), "min_free_bytes: 21GiB\n"));
  ASSERT_FALSE(m);
  EXPECT_EQ(
      m.error().to_string(),
      "policy.yml:1: min_free_bytes: 21.0 GiB (22548578304 bytes) is larger than the filesystem "
      "/data (20.0 GiB)");
}

TEST(BudgetTest, CriticalAtAboveWarnAtOnceResolvedIsAnError) {
  auto r = compute_budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000),
                                 "warn_at: 1GiB\ncritical_at: 5%\n"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().to_string(),
            "policy.yml:2: critical_at: 5.0 GiB (5368709120 bytes) is above warn_at 1.0 GiB "
            "(1073741824 bytes) on /data: critical must be the lower headroom");
  // critical_at alone raises the default warn_at with it.
  EXPECT_TRUE(compute_budget(
      one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), make_db(1000), "critical_at: 10%\n")));
}

TEST(BudgetTest, UnknownWhenHeaderInvalidButStillShowsTheRest) {
  DatabaseInput db = make_db(0, 0);
  db.header_valid = false;
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), db, ""));
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_EQ(exit_code(r.verdict), 3);
  ASSERT_EQ(r.unknowns.size(), 1u);
  EXPECT_EQ(
      r.unknowns[0],
      "/data/app.db: SQLite header not valid: database size unknown, staging cannot be projected");
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(term(b, "projected staging"), nullptr);
  // Page size unknown: the WAL headroom takes its cap, 10 % of the filesystem, and so the reserve.
  EXPECT_EQ(b.reserve_bytes, 10737418240);
  EXPECT_NE(b.equation.find("\u2192 UNKNOWN: /data/app.db: SQLite header not valid"),
            std::string::npos);
}

TEST(BudgetTest, UnknownVersionShowsTheLargerProjection) {
  DatabaseInput big = make_db(5242880);  // 20 GiB: the 0.5 snapshot is larger
  big.model = LitestreamModel::unknown;
  big.model_reason = "litestream not on PATH";
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), big, ""));
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_TRUE(contains(r.unknowns,
                       "/data/app.db: Litestream version unknown (litestream not on PATH): "
                       "pass --litestream-version"));
  EXPECT_TRUE(has_note(r.filesystems[0], "showing the larger projection, the 0.5 model"));
  EXPECT_NE(term(r.filesystems[0], "catch-up L0"), nullptr);

  DatabaseInput small = make_db(256);  // 1 MiB: twice the WAL headroom is larger
  small.model = LitestreamModel::unknown;
  const BudgetResult s = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), small, ""));
  EXPECT_TRUE(has_note(s.filesystems[0], "showing the larger projection, the 0.3 model"));
  EXPECT_EQ(term(s.filesystems[0], "projected staging")->bytes,
            static_cast<int64_t>(2 * kHeadroom4k));
}

TEST(BudgetTest, UnknownWhenReplicaStateNotMeasured) {
  DatabaseInput db = make_db(1000);
  db.replica_backlog_bytes.reset();
  const BudgetResult r = budget(one_fs(make_fs(1, "/data", 100 * kGiB, 50 * kGiB), db, ""));
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_TRUE(contains(r.unknowns, "replica upload state not measured"));
}

TEST(BudgetTest, KnownDeficitStaysCriticalWhenSomethingElseIsUnknown) {
  BudgetInput in = issue_example();
  in.databases[0].replica_backlog_bytes.reset();
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::critical);
  EXPECT_FALSE(r.unknowns.empty());
}

TEST(BudgetTest, UnknownWhenAFilesystemWasNotMeasured) {
  BudgetInput in = issue_example();
  in.databases[0].meta_fs_dev = 9;
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_TRUE(contains(r.unknowns,
                       "/data/app.db: the filesystem of the meta dir (device 9) was not measured"));
}

TEST(BudgetTest, NoDatabaseIsUnknownNotOk) {
  BudgetInput in;
  in.filesystems.push_back(make_fs(1, "/data", 100 * kGiB, 50 * kGiB));
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.verdict, Verdict::unknown);
  EXPECT_TRUE(r.filesystems.empty());
  EXPECT_EQ(r.unknowns, std::vector<std::string>{"no database to check"});
}

TEST(BudgetTest, BacklogIsShownButNotChargedTwice) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  const int64_t before = budget(in).filesystems[0].headroom_bytes;
  in.databases[0].replica_backlog_bytes = 300 * kMiB;
  in.databases[0].staged_bytes_now = 300 * kMiB;
  const BudgetResult r = budget(in);
  EXPECT_EQ(r.filesystems[0].headroom_bytes, before);
  EXPECT_TRUE(has_note(r.filesystems[0],
                       "app.db: 300.0 MiB (314572800 bytes) staged but not yet uploaded"));
}

TEST(BudgetTest, InFlightSnapshotIsCredited) {
  BudgetInput in = issue_example();
  in.databases[0].snapshot_in_flight_bytes = 10 * kGiB;
  const BudgetResult r = budget(in);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(term(b, "snapshot already written")->bytes, -static_cast<int64_t>(10 * kGiB));
  EXPECT_EQ(
      b.equation,
      "available 20.0 GiB \u2212 projected staging 21.0 GiB (db 20.4 GiB \u00d7 1.03) + snapshot "
      "already written 10.0 GiB (.ltx.tmp on disk) \u2212 reserve 2.0 GiB = 7.0 GiB \u2192 OK");
  EXPECT_EQ(b.staging_bytes, 22561464894 - static_cast<int64_t>(10 * kGiB));
}

TEST(BudgetTest, SeveralDatabasesOnOneFilesystemAreChargedEach) {
  BudgetInput in = issue_example();
  in.filesystems[0].avail_bytes = in.filesystems[0].free_bytes = 60 * kGiB;
  in.databases[0].db_path = "/data/a.db";
  DatabaseInput second = make_db(262144);
  second.db_path = "/data/b.db";
  in.databases.push_back(second);
  in.policy.reserve_bytes.reset();
  const BudgetResult r = budget(in);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(term(b, "projected staging of a.db")->bytes, 22561464894);
  EXPECT_EQ(term(b, "projected staging of b.db")->bytes, 1105954079);
  EXPECT_EQ(b.reserve_bytes, 5368709120);  // 5 % of 100 GiB beats 2 × 474 MiB of headroom
  EXPECT_EQ(b.staging_bytes, 22561464894 + 1105954079);
}

TEST(BudgetTest, HugeValuesSaturateInsteadOfOverflowing) {
  FilesystemInput fs = make_fs(1, "/huge", UINT64_MAX, UINT64_MAX, UINT64_MAX);
  fs.inodes_total = fs.inodes_avail = fs.inodes_free = UINT64_MAX;
  fs.write_bytes_per_second = 1;
  DatabaseInput db = make_db(UINT64_MAX, 65536);
  db.app_write_bytes_per_second = UINT64_MAX;
  db.wal_bytes = UINT64_MAX;
  db.staged_bytes_now = UINT64_MAX;
  db.snapshot_in_flight_bytes = UINT64_MAX;
  db.replica_backlog_bytes = UINT64_MAX;
  db.file_replica_fs_devs = {1, 1};
  BudgetInput in =
      one_fs(fs, db, "staging_overhead_ratio: 16\nmax_staging_bytes: 18446744073709551615\n");
  const BudgetResult r = budget(in);
  ASSERT_EQ(r.filesystems.size(), 1u);
  const FilesystemBudget& b = r.filesystems[0];
  EXPECT_EQ(b.available_bytes, INT64_MAX);
  EXPECT_EQ(term(b, "projected staging")->bytes, INT64_MAX);
  EXPECT_EQ(b.verdict, Verdict::critical);
  EXPECT_FALSE(b.equation.empty());

  db.model = LitestreamModel::v0_3;
  const BudgetResult r3 = budget(one_fs(fs, db, ""));
  EXPECT_EQ(term(r3.filesystems[0], "projected staging")->bytes, INT64_MAX);
  EXPECT_EQ(r3.verdict, Verdict::critical);
}

TEST(BudgetTest, VerdictNamesAndExitCodes) {
  EXPECT_EQ(exit_code(Verdict::ok), 0);
  EXPECT_EQ(exit_code(Verdict::warning), 1);
  EXPECT_EQ(exit_code(Verdict::critical), 2);
  EXPECT_EQ(exit_code(Verdict::unknown), 3);
  EXPECT_STREQ(to_string(Verdict::ok), "ok");
  EXPECT_STREQ(to_string(Verdict::warning), "warning");
  EXPECT_STREQ(to_string(Verdict::critical), "critical");
  EXPECT_STREQ(to_string(Verdict::unknown), "unknown");
  EXPECT_STREQ(to_string(LitestreamModel::v0_3), "0.3");
  EXPECT_STREQ(to_string(LitestreamModel::v0_5), "0.5");
}

}  // namespace
}  // namespace ltxguard::model
