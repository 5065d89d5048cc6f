#include "ltxguard/model/protective_stop.hpp"

#include <gtest/gtest.h>

namespace ltxguard::model {
namespace {

DbStatus status(std::string db, std::vector<Condition> conditions, Attribution a = {}) {
  DbStatus st;
  st.db_path = std::move(db);
  st.conditions = std::move(conditions);
  st.attribution = a;
  st.reason = "the numbers";
  st.headroom_bytes = -5;
  st.forecast_span_ms = 30'000;  // a full window behind any forecast
  return st;
}

Attribution consumed(int64_t consumed_bytes, int64_t staging_growth, int64_t wal) {
  Attribution a;
  a.window_ms = 30'000;
  a.consumed_bytes = consumed_bytes;
  a.staging_growth_bytes = staging_growth;
  a.wal_bytes = wal;
  return a;
}

TEST(ProtectiveStopTest, NoConditionKeepsLitestreamRunning) {
  EXPECT_FALSE(decide_protective_stop({status("/a.db", {})}));
  EXPECT_FALSE(decide_protective_stop({}));
}

TEST(ProtectiveStopTest, LitestreamFailuresStopWithoutAttribution) {
  for (Condition c : {Condition::wedge, Condition::disk_full, Condition::cannot_fit, Condition::staging_cap,
                      Condition::sawtooth}) {
    auto d = decide_protective_stop({status("/a.db", {c})});
    ASSERT_TRUE(d) << to_string(c);
    EXPECT_EQ(d->condition, c);
    EXPECT_EQ(d->db_path, "/a.db");
    EXPECT_EQ(d->reason, "the numbers");
    EXPECT_EQ(d->headroom_bytes, -5);
  }
}

TEST(ProtectiveStopTest, SpaceConditionDrivenByTheAppDoesNotStopLitestream) {
  // 10 MiB consumed, 1 MiB of it staging, none WAL: the app's own data fills the disk, and
  // stopping Litestream would only lose the backup.
  for (Condition c : {Condition::full, Condition::below_reserve, Condition::forecast}) {
    EXPECT_FALSE(decide_protective_stop({status("/a.db", {c}, consumed(10 << 20, 1 << 20, 0))})) << to_string(c);
  }
}

TEST(ProtectiveStopTest, SpaceConditionDrivenByStagingAndPinnedWalStops) {
  auto d = decide_protective_stop({status("/a.db", {Condition::below_reserve}, consumed(10 << 20, 3 << 20, 2 << 20))});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->condition, Condition::below_reserve);
  EXPECT_EQ(d->litestream_share_percent, 50);
  EXPECT_FALSE(
      decide_protective_stop({status("/a.db", {Condition::below_reserve}, consumed(10 << 20, 3 << 20, 1 << 20))}));
}

TEST(ProtectiveStopTest, ForecastNeedsAFullSpanOfSamplesBehindIt) {
  // Field test: 0.3 copying the WAL at 4x the app's rate in its first seconds was extrapolated
  // into a stop of a healthy replica.
  DbStatus st = status("/a.db", {Condition::forecast}, consumed(10 << 20, 6 << 20, 2 << 20));
  st.replica_stalled_ms = kReplicaStallForStopMs;
  st.forecast_span_ms = 5'000;
  EXPECT_FALSE(decide_protective_stop({st}));
  st.forecast_span_ms = kForecastSpanForStopMs;
  EXPECT_TRUE(decide_protective_stop({st}));
  // A file replica on a full filesystem is proof enough at any span: 0.3.13 then fills a
  // small disk in seconds (the real 0.3.13 incident test reached a full disk otherwise).
  st.forecast_span_ms = 5'000;
  st.replica_stalled_ms = 0;
  st.replica_blocked = true;
  EXPECT_TRUE(decide_protective_stop({st}));
  st.replica_blocked = false;
  st.replica_stalled_ms = kReplicaStallForStopMs;
  // An actual breach needs no span.
  st.forecast_span_ms = 0;
  st.conditions = {Condition::below_reserve};
  EXPECT_TRUE(decide_protective_stop({st}));
}

TEST(ProtectiveStopTest, ForecastWithAnUnobservableReplicaNeedsLitestreamErrors) {
  // A remote replica without `addr:`: nothing says whether it keeps up, so a forecast alone
  // does not stop the backup; Litestream's own ERROR lines do.
  DbStatus st = status("/a.db", {Condition::forecast}, consumed(10 << 20, 6 << 20, 2 << 20));
  EXPECT_FALSE(decide_protective_stop({st}));
  st.error_lines_in_window = 1;
  auto d = decide_protective_stop({st});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->condition, Condition::forecast);
  // Below the reserve, an unobservable replica counts as stalled: the reserve is eaten now.
  st.error_lines_in_window = 0;
  st.conditions = {Condition::below_reserve};
  EXPECT_TRUE(decide_protective_stop({st}));
  st.conditions = {Condition::full};
  EXPECT_TRUE(decide_protective_stop({st}));
}

TEST(ProtectiveStopTest, SpaceConditionWhileTheReplicaAdvancesDoesNotStop) {
  // Healthy 0.3: the shadow WAL dominates the window's growth, but the replica keeps up.
  DbStatus st = status("/a.db", {Condition::forecast}, consumed(10 << 20, 6 << 20, 2 << 20));
  st.replica_stalled_ms = 900;
  EXPECT_FALSE(decide_protective_stop({st}));
  st.replica_stalled_ms = kReplicaStallForStopMs;
  EXPECT_TRUE(decide_protective_stop({st}));
  // A file replica on a full filesystem cannot advance: no need to wait for the stall.
  st.replica_stalled_ms = 900;
  st.replica_blocked = true;
  EXPECT_TRUE(decide_protective_stop({st}));
  st.replica_blocked = false;
  // Litestream's own failures stop it whatever the replica does.
  st.replica_stalled_ms = 0;
  st.conditions = {Condition::disk_full};
  EXPECT_TRUE(decide_protective_stop({st}));
}

TEST(ProtectiveStopTest, ForecastOfABoundedWriteThatFitsDoesNotStop) {
  // A healthy 0.5 first sync: the snapshot's final size is known and fits above the reserve.
  DbStatus st = status("/a.db", {Condition::forecast}, consumed(10 << 20, 10 << 20, 0));
  st.remaining_staging_bytes = 8 << 20;
  st.headroom_bytes = 1 << 20;
  st.replica_stalled_ms = kReplicaStallForStopMs;
  EXPECT_FALSE(decide_protective_stop({st}));
  st.headroom_bytes = -1;  // it does not fit: cannot_fit would say so too
  EXPECT_TRUE(decide_protective_stop({st}));
  st.headroom_bytes = 1 << 20;
  st.remaining_staging_bytes = 0;  // unbounded growth (0.3 shadow WAL)
  EXPECT_TRUE(decide_protective_stop({st}));
  st.staging_bounded = true;  // 0.5, snapshot complete: the window still remembers its rate
  EXPECT_FALSE(decide_protective_stop({st}));
}

TEST(ProtectiveStopTest, SpaceConditionWithNothingConsumedDoesNotStop) {
  EXPECT_FALSE(decide_protective_stop({status("/a.db", {Condition::below_reserve}, consumed(0, 0, 0))}));
  EXPECT_FALSE(decide_protective_stop({status("/a.db", {Condition::below_reserve})}));  // empty window
  EXPECT_EQ(litestream_share_percent(consumed(-4096, 100, 0)), std::nullopt);
}

TEST(ProtectiveStopTest, ShrinkingStagingOrWalDoesNotCountAgainstLitestream) {
  EXPECT_EQ(litestream_share_percent(consumed(1000, -5000, 600)), 60);
  EXPECT_EQ(litestream_share_percent(consumed(1000, 5000, 0)), 200);  // capped at twice consumed
}

TEST(ProtectiveStopTest, MostSevereConditionOfTheFirstDatabaseWins) {
  auto d = decide_protective_stop({status("/quiet.db", {Condition::forecast}, consumed(100, 0, 0)),
                                   status("/a.db", {Condition::cannot_fit, Condition::wedge}),
                                   status("/b.db", {Condition::disk_full})});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->db_path, "/a.db");
  EXPECT_EQ(d->condition, Condition::wedge);
}

}  // namespace
}  // namespace ltxguard::model

namespace ltxguard::model {
namespace {

WatchSample one_fs_sample(uint64_t free_bytes, uint64_t avail_bytes) {
  WatchSample s;
  s.time_ms = 1000;
  s.filesystems.push_back(FsSample{7, "/srv", 100 << 20, free_bytes, avail_bytes, 1000});
  DbSample d;
  d.db_path = "/srv/a.db";
  d.db_fs_dev = 7;
  d.staging_fs_dev = 7;
  s.databases.push_back(d);
  return s;
}

TEST(ProtectiveStopMinFreeTest, FreeUnderMinFreeStopsWhateverTheAttribution) {
  DbStatus st;
  st.db_path = "/srv/a.db";
  st.conditions = {Condition::below_reserve};  // app-driven: alone it would not stop
  const auto s = one_fs_sample(8 << 20, 4 << 20);
  auto d = decide_protective_stop({st}, s, uint64_t{5} << 20, false);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->condition, Condition::below_reserve);
  EXPECT_EQ(d->reason, "app-visible free 4.0 MiB on /srv is below min_free_bytes 5.0 MiB");
  // root's view: 8 MiB free is above the floor
  EXPECT_FALSE(decide_protective_stop({st}, s, uint64_t{5} << 20, true));
  EXPECT_FALSE(decide_protective_stop({st}, s, std::nullopt, false));
}

}  // namespace
}  // namespace ltxguard::model
