#include "ltxguard/model/evidence_verdict.hpp"

#include <gtest/gtest.h>

namespace ltxguard::model {
namespace {

constexpr uint64_t kMiB = 1 << 20;

VerdictFs fs(uint64_t total, uint64_t free, uint64_t avail) { return VerdictFs{total, free, avail, true}; }

// The #1310 shape scaled down: 48 MiB disk, 20 MiB DB, an in-flight snapshot of 20 MiB.
EvidenceInput incident() {
  EvidenceInput in;
  in.db_fs = in.staging_fs = fs(48 * kMiB, 1 * kMiB / 2, 1 * kMiB / 2);
  in.page_size_bytes = 4096;
  in.db_bytes = 20 * kMiB;
  in.wal_bytes = 4 * kMiB;
  in.staging_found = true;
  in.staging_bytes = 23 * kMiB;
  in.staging_growth_bytes = 4 * kMiB;
  in.staging_fs_consumed_bytes = 4 * kMiB;
  in.window_seconds = 2;
  in.in_flight = true;
  in.remaining_staging_bytes = 1 * kMiB;
  in.reserve_bytes = 2 * kMiB;
  in.log_disk_full_lines = 0;
  in.log_error_lines = 0;
  return in;
}

TEST(EvidenceVerdictTest, StagingFillingTheDiskIsTheDriverAndDoesNotFit) {
  const auto v = decide_evidence(incident());
  EXPECT_EQ(v.staging_is_driver, Answer::yes);
  EXPECT_EQ(v.staging_fits, Answer::no);
  EXPECT_EQ(v.wal_blocked, Answer::yes);
  EXPECT_EQ(v.visible_in_logs, Answer::no);
  ASSERT_EQ(v.reasons.size(), 4u);
  EXPECT_EQ(v.reasons[1], "staging_fits=false: free 512.0 KiB − remaining staging write 1.0 MiB − reserve 2.0 MiB = -2.5 MiB");
  EXPECT_EQ(*v.staging_share_percent, 23u * 100 / 47u);
}

TEST(EvidenceVerdictTest, NoStagingIsNotTheDriver) {
  auto in = incident();
  in.staging_found = false;
  in.staging_bytes = 0;
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
}

TEST(EvidenceVerdictTest, SmallStaticStagingOnABigDiskIsNotTheDriver) {
  auto in = incident();
  in.staging_fs = in.db_fs = fs(1000 * kMiB, 600 * kMiB, 600 * kMiB);
  in.staging_bytes = 10 * kMiB;
  in.staging_growth_bytes = 0;
  in.staging_fs_consumed_bytes = 50 * kMiB;
  const auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::no);
  EXPECT_EQ(v.wal_blocked, Answer::no);
}

TEST(EvidenceVerdictTest, GrowthDominatingTheWindowMakesStagingTheDriverEvenWhenSmall) {
  auto in = incident();
  in.staging_fs = in.db_fs = fs(1000 * kMiB, 600 * kMiB, 600 * kMiB);
  in.staging_bytes = 10 * kMiB;
  in.staging_growth_bytes = 6 * kMiB;
  in.staging_fs_consumed_bytes = 8 * kMiB;
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::yes);
}

TEST(EvidenceVerdictTest, FitsWhenRemainingWritePlusReserveIsFree) {
  auto in = incident();
  in.staging_fs = in.db_fs = fs(100 * kMiB, 10 * kMiB, 10 * kMiB);
  in.remaining_staging_bytes = 8 * kMiB;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::yes);
  in.remaining_staging_bytes = 8 * kMiB + 1;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::no);  // exactly one byte short
}

TEST(EvidenceVerdictTest, ReserveDoesNotApplyWhenStagingHasItsOwnFilesystem) {
  auto in = incident();
  in.same_filesystem = false;
  in.staging_fs = fs(100 * kMiB, 10 * kMiB, 10 * kMiB);
  in.remaining_staging_bytes = 10 * kMiB;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::yes);
}

TEST(EvidenceVerdictTest, StuckReplicaMeansStagingDoesNotFit) {
  auto in = incident();
  in.in_flight = false;
  in.remaining_staging_bytes.reset();
  in.staging_fs = in.db_fs = fs(100 * kMiB, 50 * kMiB, 50 * kMiB);
  in.replica_stuck = true;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::no);
  in.replica_stuck = false;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::yes);
  in.replica_stuck.reset();
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::unknown);
}

TEST(EvidenceVerdictTest, WalBlockedUsesTheApplicationsView) {
  auto in = incident();
  // ext4: root still has 3 MiB of reserved blocks, a non-root app has nothing.
  in.db_fs = in.staging_fs = fs(64 * kMiB, 3 * kMiB, 0);
  EXPECT_EQ(decide_evidence(in).wal_blocked, Answer::yes);
  in.app_runs_as_root = true;
  EXPECT_EQ(decide_evidence(in).wal_blocked, Answer::no);
}

TEST(EvidenceVerdictTest, WalRoomScalesWithPageSize) {
  auto in = incident();
  in.db_fs = in.staging_fs = fs(64 * kMiB, 1536 * 1024, 1536 * 1024);
  in.page_size_bytes = 4096;
  EXPECT_EQ(decide_evidence(in).wal_blocked, Answer::no);
  in.page_size_bytes = 65536;  // 16 pages of 64 KiB = 1 MiB... plus: needs max(1 MiB, 1 MiB)
  EXPECT_EQ(decide_evidence(in).wal_blocked, Answer::no);
  in.db_fs = in.staging_fs = fs(64 * kMiB, 1024 * 1024 - 1, 1024 * 1024 - 1);
  EXPECT_EQ(decide_evidence(in).wal_blocked, Answer::yes);
}

TEST(EvidenceVerdictTest, LogsVisibleOnlyWithDiskFullLines) {
  auto in = incident();
  in.log_disk_full_lines = 3;
  EXPECT_EQ(decide_evidence(in).visible_in_logs, Answer::yes);
  in.log_disk_full_lines.reset();
  const auto v = decide_evidence(in);
  EXPECT_EQ(v.visible_in_logs, Answer::unknown);
  EXPECT_EQ(v.reasons[3], "visible_in_logs=unknown: no Litestream log could be read");
}

TEST(EvidenceVerdictTest, UnmeasuredFilesystemsAreUnknownNotOk) {
  EvidenceInput in;
  in.staging_found = true;
  const auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::unknown);
  EXPECT_EQ(v.staging_fits, Answer::unknown);
  EXPECT_EQ(v.wal_blocked, Answer::unknown);
}

}  // namespace
}  // namespace ltxguard::model

namespace ltxguard::model {
namespace {

TEST(EvidenceVerdictTest, HealthyReplicationCopyingTheWalIsNotTheDriver) {
  // 0.3 healthy: the shadow WAL grows as fast as the app writes, and the replica keeps up.
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{64 << 20, 56 << 20, 56 << 20, true};
  in.staging_found = true;
  in.staging_bytes = 1900 << 10;  // 23 % of the 8 MiB used
  in.staging_growth_bytes = 788 << 10;
  in.staging_fs_consumed_bytes = 1500 << 10;
  in.window_seconds = 2;
  in.replica_stuck = false;
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
  in.replica_stuck.reset();  // progress unknown: growth counts
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::yes);
  in.replica_stuck = false;
  in.staging_bytes = 5 << 20;  // 62 %: dominant even while replicating (e.g. L0 never pruned)
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::yes);
}

}  // namespace
}  // namespace ltxguard::model

namespace ltxguard::model {
namespace {

constexpr uint64_t kKiB = 1 << 10;

// Field test on ext4 (5 % root reserve), app as nobody: a root Litestream 0.5.12 keeps a
// stalled 17.1 MiB .ltx.tmp, nothing reached the replica, the app already fails.
EvidenceInput ext4_wedge() {
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{56013 * kKiB, 1331 * kKiB, 0, true};
  in.page_size_bytes = 4096;
  in.wal_bytes = 2355 * kKiB;
  in.litestream_running_for_db = true;
  in.staging_found = true;
  in.staging_bytes = 17510 * kKiB;
  in.window_seconds = 2;
  in.in_flight = true;
  in.remaining_staging_bytes = 17920 * kKiB;
  in.reserve_bytes = 5632 * kKiB;
  return in;
}

TEST(EvidenceVerdictTest, ReplicaWithNothingUploadedIsNotKeepingUp) {
  auto in = ext4_wedge();
  in.replica_stuck = false;
  in.replica_behind = true;
  in.replica_detail = "file: nothing uploaded, backlog 17.1 MiB";
  const auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::yes);
  EXPECT_EQ(v.reasons[0],
            "staging_is_driver=true: staging holds 17.1 MiB of 53.4 MiB used on its filesystem, 32% ≥ 25% (a "
            "replica is behind: file: nothing uploaded, backlog 17.1 MiB); not growing while sampled");
  in.replica_behind = false;  // every replica keeps up: only a dominant share counts
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
}

TEST(EvidenceVerdictTest, FitsUsesTheApplicationsViewOnASharedFilesystem) {
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{100 * kMiB, 10 * kMiB, 5 * kMiB, true};
  in.staging_found = true;
  in.in_flight = true;
  in.remaining_staging_bytes = 4 * kMiB;
  in.reserve_bytes = 2 * kMiB;
  // Litestream (root) could write the 4 MiB, but the non-root app would be left 1 MiB.
  auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_fits, Answer::no);
  EXPECT_EQ(v.reasons[1],
            "staging_fits=false: free 5.0 MiB (the non-root app's view; root sees 10.0 MiB) − remaining staging "
            "write 4.0 MiB − reserve 2.0 MiB = -1.0 MiB");
  in.app_runs_as_root = true;
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::yes);
  in.app_runs_as_root = false;
  in.same_filesystem = false;  // staging on its own disk: root Litestream's room, no reserve
  EXPECT_EQ(decide_evidence(in).staging_fits, Answer::yes);
}

// Field test on tmpfs between two 0.5 saw-tooth peaks: Litestream deleted its .ltx.tmp after
// ENOSPC and retries while holding its read transaction; the app's WAL is 19.4 MiB.
EvidenceInput sawtooth_trough() {
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{48 * kMiB, 0, 0, true};
  in.page_size_bytes = 4096;
  in.db_bytes = 28 * kMiB;
  in.wal_bytes = 20324352;
  in.litestream_running_for_db = true;
  in.staging_found = false;
  in.window_seconds = 2;
  in.replica_stuck = false;
  in.replica_behind = true;
  in.replica_detail = "file: nothing uploaded, backlog 0 B";
  in.reserve_bytes = 4915 * kKiB;
  return in;
}

TEST(EvidenceVerdictTest, WalPinnedByLitestreamsReadTransactionMakesLitestreamTheDriver) {
  const auto v = decide_evidence(sawtooth_trough());
  EXPECT_EQ(v.staging_is_driver, Answer::yes);
  EXPECT_EQ(v.wal_blocked, Answer::yes);
  EXPECT_EQ(v.pinned_wal_bytes, 20324352u - (32u + 1000u * (4096u + 24u)));
  EXPECT_EQ(v.reasons[0],
            "staging_is_driver=true: Litestream's read transaction pins the app's WAL: 15.5 MiB of it beyond the "
            "3.9 MiB checkpoints keep it at (WAL 19.4 MiB), with 0 B staging, is 15.5 MiB of 48.0 MiB used on the "
            "database filesystem, 32% ≥ 25% (a replica is behind: file: nothing uploaded, backlog 0 B); not growing "
            "while sampled");
  EXPECT_EQ(v.reasons[2],
            "wal_blocked=true: the application can still use 0 B on the database filesystem (non-root view), a WAL "
            "commit needs about 1.0 MiB; the meta dir is on this filesystem but holds no staging files now; "
            "Litestream's read transaction pins 15.5 MiB of the 19.4 MiB WAL (checkpoints keep it at 3.9 MiB)");
}

TEST(EvidenceVerdictTest, WalIsCountedAgainstLitestreamOnlyWhenPinnedByIt) {
  auto in = sawtooth_trough();
  in.litestream_running_for_db = false;  // no Litestream for this database: another reader
  auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::no);
  EXPECT_EQ(v.pinned_wal_bytes, 0u);
  in.litestream_running_for_db.reset();  // process list unreadable
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
  in = sawtooth_trough();
  in.db_fs = in.staging_fs = VerdictFs{48 * kMiB, 2 * kMiB, 2 * kMiB, true};  // the app can still commit
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
  in = sawtooth_trough();
  in.wal_bytes = 4 * kMiB;  // within one checkpoint cycle
  EXPECT_EQ(decide_evidence(in).staging_is_driver, Answer::no);
}

TEST(EvidenceVerdictTest, StagingOnAnotherFilesystemIsSaidOnlyWhenItIs) {
  auto in = sawtooth_trough();
  in.litestream_running_for_db = false;
  in.same_filesystem = false;
  in.staging_fs = VerdictFs{48 * kMiB, 40 * kMiB, 40 * kMiB, true};
  const auto v = decide_evidence(in);
  EXPECT_NE(v.reasons[2].find("; staging is not on this filesystem"), std::string::npos) << v.reasons[2];
  in.same_filesystem = true;
  in.staging_fs = in.db_fs;
  EXPECT_EQ(decide_evidence(in).reasons[2].find("staging is not on this filesystem"), std::string::npos);
}

TEST(EvidenceVerdictTest, ReasonStatesTheRuleThatDecided) {
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{200 * kMiB, 100 * kMiB, 100 * kMiB, true};
  in.staging_found = true;
  in.staging_bytes = 24 * kMiB;  // 24 % of the used 100 MiB: below the share rule
  in.staging_growth_bytes = 6 * kMiB;
  in.staging_fs_consumed_bytes = 8 * kMiB;
  in.window_seconds = 2;
  auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::yes);
  EXPECT_EQ(v.reasons[0],
            "staging_is_driver=true: staging grew by 6.0 MiB in 2 s, 75% ≥ 50% of the 8.0 MiB consumed meanwhile; "
            "staging holds 24.0 MiB of 100.0 MiB used on its filesystem, 24% < 25% (replica progress unknown)");
  in.staging_growth_bytes = 2 * kMiB;
  v = decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, Answer::no);
  EXPECT_EQ(v.reasons[0],
            "staging_is_driver=false: staging holds 24.0 MiB of 100.0 MiB used on its filesystem, 24% < 25% "
            "(replica progress unknown); staging grew by 2.0 MiB in 2 s, 25% < 50% of the 8.0 MiB consumed "
            "meanwhile");
  in.replica_stuck = false;
  in.staging_growth_bytes = 6 * kMiB;
  EXPECT_EQ(decide_evidence(in).reasons[0],
            "staging_is_driver=false: staging holds 24.0 MiB of 100.0 MiB used on its filesystem, 24% < 50% (while "
            "every replica keeps up); staging grew by 6.0 MiB in 2 s (growth not counted while every replica keeps "
            "up)");
}

TEST(EvidenceVerdictTest, StuckReplicaEvidenceIsInTheFitsReason) {
  EvidenceInput in;
  in.db_fs = in.staging_fs = VerdictFs{100 * kMiB, 50 * kMiB, 50 * kMiB, true};
  in.staging_found = true;
  in.replica_stuck = true;
  in.replica_detail = "s3: shadow WAL index 5, replica WAL index 3 (gap 2), not closing in 2 s";
  const auto v = decide_evidence(in);
  EXPECT_EQ(v.staging_fits, Answer::no);
  EXPECT_EQ(v.reasons[1],
            "staging_fits=false: a replica is not advancing (s3: shadow WAL index 5, replica WAL index 3 (gap 2), "
            "not closing in 2 s), so staging grows without bound (50.0 MiB free)");
}

}  // namespace
}  // namespace ltxguard::model
