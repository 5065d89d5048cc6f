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
