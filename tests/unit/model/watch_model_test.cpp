#include "ltxguard/model/watch_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>
#include <stdexcept>

namespace ltxguard::model {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr const char* kDb = "/data/app.db";
constexpr const char* kTmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";

// One database on a simulated host: free space follows from the files, as statvfs would
// report it. Meta dir on the DB's filesystem unless `separate_meta`.
struct World {
  int64_t time_ms = 0;
  uint64_t total_bytes = 4096 * kMiB;
  uint64_t root_reserved_bytes = 0;  // ext4 root reserve: f_bfree − f_bavail
  uint64_t other_bytes = 0;          // everything that is neither the DB nor Litestream's
  uint64_t db_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t committed_bytes = 0;  // staged files under the meta dir (.ltx / shadow WAL)
  uint64_t tmp_bytes = 0;        // the in-flight file; 0 = none
  std::optional<uint64_t> tmp_expected_bytes;
  std::optional<uint64_t> projected_snapshot_bytes;
  bool separate_meta = false;
  uint64_t meta_total_bytes = 1024 * kMiB;
  std::optional<bool> alive = true;
  std::optional<bool> holds_staging;  // default: a live Litestream holds its in-flight .tmp
  std::optional<std::string> position;
  std::optional<uint64_t> backlog_bytes;
  bool replica_blocked = false;
  uint64_t disk_full_lines = 0;
  uint64_t error_lines = 0;  // ERROR lines that are not disk-full ones
  std::optional<bool> gauge;
  LitestreamModel litestream_model = LitestreamModel::v0_5;

  static FsSample fs(uint64_t dev, const char* mount, uint64_t total, uint64_t used,
                     uint64_t root_reserved) {
    FsSample f;
    f.dev = dev;
    f.mount = mount;
    f.total_bytes = total;
    f.free_bytes = total - std::min(total, used);
    f.avail_bytes = f.free_bytes - std::min(f.free_bytes, root_reserved);
    return f;
  }
  uint64_t staging_bytes() const { return committed_bytes + tmp_bytes; }
  // What the in-flight file can still grow to on its filesystem (root writes down to 0 free).
  uint64_t staging_room() const {
    const uint64_t used =
        separate_meta ? staging_bytes() : other_bytes + db_bytes + wal_bytes + staging_bytes();
    return (separate_meta ? meta_total_bytes : total_bytes) - used;
  }
  WatchSample sample() const {
    WatchSample s;
    s.time_ms = time_ms;
    const uint64_t db_used =
        other_bytes + db_bytes + wal_bytes + (separate_meta ? 0 : staging_bytes());
    s.filesystems.push_back(fs(1, "/data", total_bytes, db_used, root_reserved_bytes));
    if (separate_meta)
      s.filesystems.push_back(fs(2, "/meta", meta_total_bytes, staging_bytes(), 0));
    DbSample d;
    d.db_path = kDb;
    d.db_fs_dev = 1;
    d.staging_fs_dev = separate_meta ? 2 : 1;
    d.page_size_bytes = 4096;
    d.page_count = db_bytes / 4096;
    d.wal_bytes = wal_bytes;
    d.staging_bytes = staging_bytes();
    if (tmp_bytes > 0) d.in_flight.push_back({kTmp, tmp_bytes, tmp_expected_bytes});
    d.projected_snapshot_bytes = projected_snapshot_bytes;
    d.litestream_alive = alive;
    d.litestream_holds_staging = holds_staging.value_or(alive.value_or(true) && tmp_bytes > 0);
    d.new_disk_full_lines = disk_full_lines;
    d.new_log_lines = disk_full_lines + error_lines;
    d.new_error_lines = disk_full_lines + error_lines;
    d.replica_position = position;
    d.replica_backlog_bytes = backlog_bytes;
    d.replica_blocked = replica_blocked;
    d.litestream_disk_full_gauge = gauge;
    d.litestream_model = litestream_model;
    s.databases.push_back(std::move(d));
    return s;
  }
};

// A recorded sequence replayed through a model: the status and events after each sample.
struct Replay {
  std::vector<DbStatus> status;  // of kDb, per sample
  std::vector<WatchState> overall;
  std::vector<std::pair<size_t, WatchEvent>> events;

  std::vector<std::pair<size_t, std::string>> kinds() const {
    std::vector<std::pair<size_t, std::string>> out;
    for (const auto& [i, e] : events) {
      out.emplace_back(i, e.kind == "state_change"
                              ? e.fields.at("PREVIOUS_STATE") + "->" + e.fields.at("STATE")
                              : e.kind);
    }
    return out;
  }
  const WatchEvent& event(std::string_view kind) const {
    for (const auto& [i, e] : events) {
      if (e.kind == kind) return e;
    }
    throw std::runtime_error("no event " + std::string(kind));
  }
  // First sample index in state s, or SIZE_MAX.
  size_t first(WatchState s) const {
    for (size_t i = 0; i < status.size(); ++i) {
      if (status[i].state == s) return i;
    }
    return SIZE_MAX;
  }
};

// Feeds n one-second samples; `step(i, world)` sets sample i's world before it is taken.
Replay replay(WatchModel& m, World w, size_t n, const std::function<void(size_t, World&)>& step) {
  Replay r;
  for (size_t i = 0; i < n; ++i) {
    w.time_ms = static_cast<int64_t>(i) * 1000;
    step(i, w);
    for (auto& e : m.update(w.sample())) r.events.emplace_back(i, std::move(e));
    r.status.push_back(m.status().at(0));
    r.overall.push_back(m.overall());
  }
  return r;
}

WatchConfig config(uint64_t reserve_bytes) {
  WatchConfig c;
  c.reserve_bytes[1] = reserve_bytes;
  return c;
}

using Kinds = std::vector<std::pair<size_t, std::string>>;

// ---- 0.5.12, upstream #1310 scaled down: a 2.2 GiB DB, 1.8 GiB free, the snapshot .ltx.tmp
// grows 12 MiB/s, stops at 0 free, nothing is logged.
World silent_fill_world() {
  World w;
  w.other_bytes = 80 * kMiB;
  w.db_bytes = 2200 * kMiB;
  w.wal_bytes = 16 * kMiB;  // free = 4096 − 2296 = 1800 MiB
  return w;
}
void silent_fill_step(size_t i, World& w) {
  if (i < 5) return;                   // Litestream starts the snapshot at sample 5
  w.tmp_expected_bytes = 2232 * kMiB;  // ~1.0147 × the DB, from the .tmp's header
  w.tmp_bytes = std::min<uint64_t>(12 * kMiB * (i - 4), w.tmp_bytes + w.staging_room());
}

TEST(WatchModelTest, SilentFillWarnsWhenTheSnapshotCannotFitLongBeforeTheDiskIsFull) {
  WatchModel m(config(200 * kMiB));
  const Replay r = replay(m, silent_fill_world(), 170, silent_fill_step);
  // Warning the moment the .tmp and its final size appear (sample 5), 133 s before the
  // reserve is breached (sample 138: 192 MiB left); full at 154; the disk-full event once the
  // .tmp stops growing (155); wedged after a 5 s stall (159).
  EXPECT_EQ(r.kinds(), (Kinds{{5, "remaining_write_cannot_fit"},
                              {5, "ok->warning"},
                              {138, "warning->critical"},
                              {155, "disk_full"},
                              {159, "wedge"},
                              {159, "critical->wedged"}}));
  EXPECT_EQ(r.status[4].state, WatchState::ok);
  EXPECT_FALSE(r.status[4].stop_recommended);
  EXPECT_TRUE(r.status[5].remaining_write_cannot_fit);
  EXPECT_TRUE(r.status[5].stop_recommended);
  EXPECT_EQ(
      r.event("state_change").message,
      "/data/app.db: ok -> warning: remaining staging write 2.2 GiB cannot fit on /data: "
      "app-visible free 1.7 GiB − reserve 200.0 MiB − remaining staging 2.2 GiB = -632.0 MiB");
  EXPECT_EQ(r.event("state_change").level, WatchEvent::Level::warning);
  EXPECT_EQ(r.events[2].second.message,
            "/data/app.db: warning -> critical: app-visible free 192.0 MiB on /data is below the "
            "reserve 200.0 MiB");
  EXPECT_EQ(r.events[2].second.level, WatchEvent::Level::error);
  const WatchEvent& full = r.event("disk_full");
  EXPECT_EQ(full.level, WatchEvent::Level::error);
  EXPECT_EQ(full.message, std::string("/data/app.db: disk full: /data has 0 B available and ") +
                              kTmp + " stopped growing at 1.8 GiB");
  EXPECT_EQ(full.fields.at("ERRNO"), "28");
  EXPECT_EQ(full.fields.at("PATH"), kTmp);
  EXPECT_EQ(full.fields.at("BYTES"), std::to_string(1800 * kMiB));
  const WatchEvent& wedge = r.event("wedge");
  EXPECT_EQ(wedge.level, WatchEvent::Level::error);
  EXPECT_EQ(wedge.message,
            std::string("/data/app.db: wedged: ") + kTmp +
                " has not grown for 5 s at 1.8 GiB, /data has 0 B available, no replica "
                "progress, Litestream alive");
  EXPECT_EQ(r.status.back().disk_full_events_total, 1u);
  EXPECT_EQ(r.overall.back(), WatchState::wedged);
}

TEST(WatchModelTest, HeadroomStaysPutWhileStagingFillsAndTheForecastTracksTheRate) {
  WatchModel m(config(200 * kMiB));
  const Replay r = replay(m, silent_fill_world(), 101, silent_fill_step);
  // free − remaining is constant while only staging writes: −632 MiB from the first sample.
  EXPECT_EQ(r.status[5].headroom_bytes, -632 * static_cast<int64_t>(kMiB));
  const DbStatus& st = r.status[100];  // 96 s into the fill: 1152 MiB written, 648 MiB free
  EXPECT_EQ(st.headroom_bytes, -632 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(st.staging_bytes, 1152 * kMiB);
  EXPECT_EQ(st.remaining_staging_bytes, 1080 * kMiB);
  EXPECT_EQ(st.projected_staging_bytes, 2232 * kMiB);
  EXPECT_EQ(st.staging_peak_bytes, 1152 * kMiB);
  ASSERT_TRUE(st.seconds_to_reserve_breach.has_value());
  EXPECT_NEAR(*st.seconds_to_reserve_breach, 448.0 / 12.0, 1e-9);  // (648 − 200) MiB at 12 MiB/s
  EXPECT_EQ(st.attribution.window_ms, 30'000);
  EXPECT_EQ(st.attribution.consumed_bytes, 360 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(st.attribution.staging_bytes, 360 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(st.attribution.wal_bytes, 0);
  EXPECT_EQ(st.attribution.other_bytes, 0);
  EXPECT_TRUE(st.attribution.staging_is_driver);
  // Before the snapshot nothing is consumed: no forecast at all.
  EXPECT_FALSE(r.status[4].seconds_to_reserve_breach.has_value());
}

TEST(WatchModelTest, UnrecognisedProcessHoldingTheTmpIsAWedge) {
  WatchModel m(config(200 * kMiB));
  World w = silent_fill_world();
  w.alive = false;  // the name scan found no Litestream (a stand-in under an interpreter) ...
  w.holds_staging = true;  // ... but a live process has the .tmp open
  const Replay r = replay(m, w, 170, silent_fill_step);
  EXPECT_NE(r.first(WatchState::wedged), SIZE_MAX);
}

TEST(WatchModelTest, DeadLitestreamIsNotAWedge) {
  WatchModel m(config(200 * kMiB));
  World w = silent_fill_world();
  w.alive = false;
  const Replay r = replay(m, w, 170, silent_fill_step);
  EXPECT_EQ(r.status.back().state, WatchState::critical);
  EXPECT_EQ(r.first(WatchState::wedged), SIZE_MAX);
}

// ---- 0.5.3: 1 s retries. Each cycle: the .tmp grows 100 MiB/s to 300 MiB (20 MiB free, under
// the 50 MiB reserve), the write fails, Litestream logs the error and deletes the .tmp; 1 s later
// it starts again from page 1.
World sawtooth_world() {
  World w;
  w.total_bytes = 1024 * kMiB;
  w.other_bytes = 100 * kMiB;
  w.db_bytes = 600 * kMiB;
  w.wal_bytes = 4 * kMiB;                   // free 320 MiB
  w.projected_snapshot_bytes = 610 * kMiB;  // no complete snapshot yet
  return w;
}
void sawtooth_step(size_t i, World& w) {
  w.disk_full_lines = 0;
  w.tmp_bytes = 0;
  if (i == 0 || i > 25) return;
  switch ((i - 1) % 5) {
    case 0:
    case 1:
    case 2:
      w.tmp_bytes = 100 * kMiB * ((i - 1) % 5 + 1);
      break;
    case 3:
      w.disk_full_lines = 1;  // the drop sample: .tmp deleted, ERROR sync error logged
      break;
    default:
      break;
  }
}

TEST(WatchModelTest, SawtoothStaysCriticalBetweenPeaksAndRemembersThePeak) {
  WatchConfig c = config(50 * kMiB);
  c.sawtooth_memory_ms = 60'000;
  WatchModel m(c);
  const Replay r = replay(m, sawtooth_world(), 160, [](size_t i, World& w) {
    sawtooth_step(i, w);
    if (i > 25) {  // the operator stops Litestream and drops the pending snapshot
      w.alive = false;
      w.projected_snapshot_bytes.reset();
    }
  });
  // Pending 610 MiB snapshot into 320 MiB free: warning from the start; critical at the
  // first peak (sample 3) and through every trough until 60 s after the last peak's drop
  // (sample 24): raw ok at 84, one step down per 30 s clear.
  EXPECT_EQ(r.kinds(), (Kinds{{0, "remaining_write_cannot_fit"},
                              {0, "ok->warning"},
                              {3, "warning->critical"},
                              {4, "disk_full"},
                              {4, "sawtooth"},
                              {114, "critical->warning"},
                              {144, "warning->ok"}}));
  for (size_t i = 3; i < 114; ++i) ASSERT_EQ(r.status[i].state, WatchState::critical) << i;
  const DbStatus& trough = r.status[20];  // between the 4th drop and the 5th peak
  EXPECT_EQ(trough.staging_bytes, 0u);
  EXPECT_EQ(trough.staging_peak_bytes, 300 * kMiB);
  EXPECT_EQ(trough.sawtooth_cycles, 4u);
  EXPECT_TRUE(trough.stop_recommended);
  EXPECT_EQ(
      trough.reason,
      "saw-tooth (cycle 4): staging peaked at 300.0 MiB with 20.0 MiB app-visible free 2 s ago: "
      "Litestream retries the whole snapshot");
  EXPECT_EQ(r.status[25].sawtooth_cycles, 5u);
  EXPECT_EQ(r.status[25].disk_full_events_total, 5u);
  EXPECT_EQ(r.event("sawtooth").message,
            "/data/app.db: saw-tooth: staging filled to 300.0 MiB with 20.0 MiB app-visible free, "
            "then was "
            "freed: Litestream retries the whole snapshot; critical held for 60 s after each peak");
  EXPECT_EQ(r.status[83].reason.substr(0, 19), "saw-tooth (cycle 5)");
}

TEST(WatchModelTest, ATroughSampleAloneLooksOnlyLikeAWarning) {
  // What a one-off check between peaks sees: no ENOSPC, free space back. Only the memory of
  // the sequence makes it critical.
  WatchModel m(config(50 * kMiB));
  World w = sawtooth_world();
  w.time_ms = 20'000;
  (void)m.update(w.sample());
  EXPECT_EQ(m.status().at(0).state, WatchState::warning);
}

TEST(WatchModelTest, RenamedSnapshotIsNotASawtoothCycle) {
  WatchModel m(config(50 * kMiB));
  const Replay r = replay(m, sawtooth_world(), 40, [](size_t i, World& w) {
    w.projected_snapshot_bytes.reset();
    w.other_bytes = 0;  // 420 MiB free: a 300 MiB snapshot fits
    w.tmp_expected_bytes = 300 * kMiB;
    w.tmp_bytes = i < 3 ? 100 * kMiB * (i + 1) : 0;
    w.committed_bytes = i < 3 ? 0 : 300 * kMiB;  // renamed to .ltx: nothing freed
  });
  EXPECT_EQ(r.status.back().sawtooth_cycles, 0u);
}

// ---- 0.5.15: the same failure, logged once and flagged by the litestream_disk_full gauge.
TEST(WatchModelTest, GaugeAndLogLineAreOneDiskFullEvent) {
  WatchModel m(config(50 * kMiB));
  const Replay r = replay(m, sawtooth_world(), 60, [](size_t i, World& w) {
    w.disk_full_lines = 0;
    w.tmp_bytes = i >= 1 && i <= 3 ? 100 * kMiB * i : 0;
    if (i == 4 || i == 21) w.disk_full_lines = 1;  // the failure, then a failed retry
    w.gauge = i >= 4 && i <= 24;                   // paused until space is freed
    if (i == 57) w.gauge = true;                   // a new failure after a quiet half minute
  });
  EXPECT_EQ(r.status[4].disk_full_events_total, 1u);
  EXPECT_EQ(r.status[20].disk_full_events_total, 1u);
  EXPECT_EQ(r.status[21].disk_full_events_total, 2u);
  EXPECT_EQ(r.status[56].disk_full_events_total, 2u);
  EXPECT_EQ(r.status[57].disk_full_events_total, 3u);
  std::vector<size_t> logged;
  for (const auto& [i, e] : r.events) {
    if (e.kind == "disk_full") logged.push_back(i);
  }
  EXPECT_EQ(logged, (std::vector<size_t>{4, 57}));  // one log event per episode
  EXPECT_EQ(
      r.event("disk_full").message,
      "/data/app.db: disk full: Litestream logged 1 disk-full error(s); litestream_disk_full is 1");
}

// ---- 0.3.13: a file replica on a full disk deadlocks silently; the shadow WAL and the app's
// WAL keep growing, nothing is logged.
World stuck_replica_world() {
  World w;
  w.total_bytes = 1024 * kMiB;
  w.db_bytes = 100 * kMiB;
  w.wal_bytes = 4 * kMiB;
  w.committed_bytes = 8 * kMiB;
  w.litestream_model = LitestreamModel::v0_3;
  return w;
}
void stuck_replica_step(size_t i, World& w) {
  w.position = "gen/00000001:" + std::to_string(std::min<size_t>(i, 10));
  if (i > 10) {
    w.committed_bytes = (8 + (i - 10)) * kMiB;
    w.wal_bytes = (4 + (i - 10)) * kMiB;
  }
}

TEST(WatchModelTest, StuckReplicaIn03IsAWedgeWithoutAnyLogLine) {
  WatchModel m(config(50 * kMiB));
  const Replay r = replay(m, stuck_replica_world(), 80, stuck_replica_step);
  EXPECT_EQ(r.kinds(), (Kinds{{70, "wedge"}, {70, "ok->wedged"}}));
  EXPECT_EQ(r.event("wedge").message,
            "/data/app.db: wedged: no replica progress for 60 s (position gen/00000001:10) while "
            "staging grew by 60.0 MiB to 68.0 MiB, Litestream alive");
  EXPECT_TRUE(r.status[70].stop_recommended);
  EXPECT_EQ(r.event("wedge").fields.count("PATH"), 0u);  // nothing in flight to name
}

TEST(WatchModelTest, ReplicaOnAFullFilesystemIsAWedgeAfterSeconds) {
  WatchModel m(config(50 * kMiB));
  World w = stuck_replica_world();
  w.replica_blocked = true;
  const Replay r = replay(m, w, 80, stuck_replica_step);
  const size_t wedged = r.first(WatchState::wedged);
  ASSERT_NE(wedged, SIZE_MAX);
  EXPECT_LE(wedged, 16u);  // the position froze at sample 10; 5 s later it is a wedge
  EXPECT_NE(r.event("wedge").message.find("its filesystem is full"), std::string::npos);
}

TEST(WatchModelTest, StuckReplicaUsesTheBacklogWhenKnown) {
  WatchModel m(config(50 * kMiB));
  const Replay r = replay(m, stuck_replica_world(), 80, [](size_t i, World& w) {
    stuck_replica_step(i, w);
    w.backlog_bytes = 0;  // backlog measured and not growing: the growth is not the replica's
  });
  EXPECT_EQ(r.first(WatchState::wedged), SIZE_MAX);
}

TEST(WatchModelTest, LongUploadIn05IsNotAStuckReplica) {
  WatchModel m(config(50 * kMiB));
  World w = stuck_replica_world();
  w.litestream_model = LitestreamModel::v0_5;
  const Replay r = replay(m, w, 80, stuck_replica_step);
  EXPECT_TRUE(r.events.empty());
}

TEST(WatchModelTest, IdleAppWithAFrozenPositionIsNotAWedge) {
  WatchModel m(config(50 * kMiB));
  const Replay r = replay(m, stuck_replica_world(), 80,
                          [](size_t, World& w) { w.position = "gen/00000001:10"; });
  EXPECT_TRUE(r.events.empty());
}

// ---- Healthy 0.5: WAL grows and is checkpointed, L0 files come and go, small incremental
// .tmps are caught now and then, the replica advances.
TEST(WatchModelTest, HealthySequenceNeverLeavesOk) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r = replay(m, w, 600, [](size_t i, World& w) {
    w.wal_bytes = (i % 8) * kMiB;
    w.committed_bytes = (i % 60) * kMiB / 2;
    w.tmp_bytes = i % 5 == 0 ? 64 * 1024 : 0;  // an incremental LTX: no expected size
    w.tmp_expected_bytes.reset();
    w.position = std::to_string(i);
  });
  EXPECT_TRUE(r.events.empty());
  for (size_t i = 0; i < r.status.size(); ++i) {
    ASSERT_EQ(r.status[i].state, WatchState::ok) << i;
    ASSERT_FALSE(r.status[i].stop_recommended) << i;
  }
  EXPECT_EQ(r.status.back().reason,
            "headroom 2.8 GiB on /data: app-visible free 3.0 GiB − reserve 200.0 MiB − remaining "
            "staging 0 B");
}

// ---- Hysteresis: app-visible free oscillates 1 MiB around the reserve for 30 s.
TEST(WatchModelTest, FlappingInputDoesNotFlapAndStepsDownOneLevelPerRecoverPeriod) {
  WatchModel m(config(50 * kMiB));
  World w;
  w.total_bytes = 1024 * kMiB;
  w.db_bytes = 500 * kMiB;
  const Replay r = replay(m, w, 120, [](size_t i, World& w) {
    const uint64_t avail = i < 10    ? 300 * kMiB
                           : i <= 40 ? (i % 2 == 0 ? 49 : 51) * kMiB
                                     : 300 * kMiB;
    w.other_bytes = 1024 * kMiB - 500 * kMiB - avail;
  });
  EXPECT_EQ(r.kinds(),
            (Kinds{{10, "ok->critical"}, {71, "critical->warning"}, {101, "warning->ok"}}));
  EXPECT_EQ(r.status[50].reason,
            "critical held until conditions stay below it for 30 s (9 s so far); now ok: headroom "
            "250.0 MiB "
            "on /data: app-visible free 300.0 MiB − reserve 50.0 MiB − remaining staging 0 B");
  EXPECT_FALSE(
      r.status[50].stop_recommended);  // the supervisor acts on conditions, not on the hold
  EXPECT_EQ(r.events[0].second.fields.at("HEADROOM_BYTES"),
            std::to_string(-1 * static_cast<int64_t>(kMiB)));
}

// ---- Who sees what: f_bavail for a non-root app, f_bfree for a root one (ext4 root reserve).
TEST(WatchModelTest, NonRootAppSeesAvailRootAppSeesFree) {
  World w;
  w.total_bytes = 1024 * kMiB;
  w.root_reserved_bytes = 51 * kMiB;
  w.db_bytes = 784 * kMiB;  // free 240 MiB, avail 189 MiB
  WatchConfig c = config(200 * kMiB);
  WatchModel non_root(c);
  (void)non_root.update(w.sample());
  EXPECT_EQ(non_root.status().at(0).state, WatchState::critical);
  EXPECT_EQ(non_root.status().at(0).headroom_bytes, -11 * static_cast<int64_t>(kMiB));
  c.app_runs_as_root = true;
  WatchModel root(c);
  (void)root.update(w.sample());
  EXPECT_EQ(root.status().at(0).state, WatchState::ok);
  EXPECT_EQ(root.status().at(0).headroom_bytes, 40 * static_cast<int64_t>(kMiB));
}

// ---- meta-path on its own filesystem: staging fills /meta, the DB's disk is untouched.
TEST(WatchModelTest, SeparateMetaFilesystemIsJudgedOnItsOwn) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  w.wal_bytes = 4 * kMiB;
  w.separate_meta = true;
  const Replay r = replay(m, w, 115, [](size_t i, World& w) {
    if (i < 3) return;
    w.tmp_expected_bytes = 1100 * kMiB;
    w.tmp_bytes = std::min<uint64_t>(10 * kMiB * (i - 2), w.tmp_bytes + w.staging_room());
  });
  EXPECT_EQ(r.kinds(), (Kinds{{3, "remaining_write_cannot_fit"},
                              {3, "ok->warning"},
                              {105, "warning->critical"},
                              {106, "disk_full"},
                              {110, "wedge"},
                              {110, "critical->wedged"}}));
  EXPECT_EQ(r.status[3].headroom_bytes, -76 * static_cast<int64_t>(kMiB));  // 1014 − 0 − 1090
  EXPECT_EQ(r.events[0].second.message,
            "/data/app.db: remaining staging write 1.1 GiB cannot fit on /meta: app-visible free "
            "1014.0 MiB "
            "− reserve 0 B − remaining staging 1.1 GiB = -76.0 MiB");
  EXPECT_EQ(r.events[2].second.message,
            "/data/app.db: warning -> critical: /meta is full: 0 B available");
  const Attribution& a = r.status[60].attribution;  // the DB's disk: nothing consumed
  EXPECT_EQ(a.consumed_bytes, 0);
  EXPECT_EQ(a.staging_bytes, 0);
  EXPECT_FALSE(a.staging_is_driver);
  EXPECT_EQ(m.reserve_bytes(1), 200 * kMiB);
  EXPECT_EQ(m.reserve_bytes(2), 0u);
}

TEST(WatchModelTest, MinFreeRaisesTheReserveEverywhere) {
  WatchConfig c = config(200 * kMiB);
  c.min_free_bytes = 300 * kMiB;
  WatchModel m(c);
  EXPECT_EQ(m.reserve_bytes(1), 300 * kMiB);
  EXPECT_EQ(m.reserve_bytes(2), 300 * kMiB);
  World w;
  w.total_bytes = 1024 * kMiB;
  w.db_bytes = 774 * kMiB;  // 250 MiB free: above the reserve, below min_free
  (void)m.update(w.sample());
  EXPECT_EQ(m.status().at(0).state, WatchState::critical);
  EXPECT_TRUE(m.status().at(0).stop_recommended);
  EXPECT_EQ(m.status().at(0).reason,
            "app-visible free 250.0 MiB on /data is below the reserve 300.0 MiB");
}

// ---- Attribution over the window.
TEST(WatchModelTest, AttributionSplitsConsumptionAndNamesStagingTheDriverAtHalf) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r = replay(m, w, 31, [](size_t i, World& w) {
    w.committed_bytes = 3 * kMiB * i;
    w.wal_bytes = 1 * kMiB * i;
    w.other_bytes = 2 * kMiB * i;
  });
  const Attribution& a = r.status[30].attribution;
  EXPECT_EQ(a.window_ms, 30'000);
  EXPECT_EQ(a.consumed_bytes, 180 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(a.staging_bytes, 90 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(a.wal_bytes, 30 * static_cast<int64_t>(kMiB));
  EXPECT_EQ(a.other_bytes, 60 * static_cast<int64_t>(kMiB));
  EXPECT_TRUE(a.staging_is_driver);  // exactly 50 %

  WatchModel m2(config(200 * kMiB));
  const Replay r2 = replay(m2, w, 31, [](size_t i, World& w) {
    w.committed_bytes = 1 * kMiB * i;
    w.wal_bytes = 3 * kMiB * i;
  });
  EXPECT_EQ(r2.status[30].attribution.staging_bytes, 30 * static_cast<int64_t>(kMiB));
  EXPECT_FALSE(r2.status[30].attribution.staging_is_driver);
  EXPECT_EQ(r2.status[0].attribution.window_ms, 0);
}

// ---- Forecast: another process eats 2 MiB/s; 1000 MiB above the 200 MiB reserve.
TEST(WatchModelTest, ForecastWarnsExactlyWhenTheBreachIsWithinLeadTime) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r =
      replay(m, w, 205, [](size_t i, World& w) { w.other_bytes = (1896 + 2 * i) * kMiB; });
  EXPECT_EQ(r.kinds(), (Kinds{{200, "ok->warning"}}));
  EXPECT_NEAR(*r.status[199].seconds_to_reserve_breach, 301.0, 1e-9);
  EXPECT_NEAR(*r.status[200].seconds_to_reserve_breach, 300.0, 1e-9);
  EXPECT_FALSE(r.status[199].stop_recommended);
  EXPECT_TRUE(r.status[200].stop_recommended);
  EXPECT_EQ(r.status[200].reason,
            "reserve 200.0 MiB on /data breached in 300 s at 2.0 MiB/s (lead time 300 s)");
  EXPECT_EQ(r.events[0].second.fields.at("SECONDS_TO_RESERVE_BREACH"), "300");
  EXPECT_FALSE(r.status[200].attribution.staging_is_driver);
  EXPECT_EQ(r.status[200].attribution.other_bytes, 60 * static_cast<int64_t>(kMiB));
}

TEST(WatchModelTest, ForecastSpanAndErrorLinesOverTheWindowAreReported) {
  // What the supervisor weighs a forecast by: how many seconds of samples it rests on, and
  // whether Litestream logged ERRORs meanwhile.
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r = replay(m, w, 45, [](size_t i, World& w) {
    w.other_bytes = (1896 + 2 * i) * kMiB;
    w.disk_full_lines = i == 12 ? 2 : 0;  // two ERROR lines at sample 12
  });
  EXPECT_EQ(r.status[4].forecast_span_ms, 0);  // under 5 s: no forecast
  EXPECT_EQ(r.status[5].forecast_span_ms, 5'000);
  EXPECT_EQ(r.status[39].forecast_span_ms, 30'000);  // the window's length
  EXPECT_EQ(r.status[11].error_lines_in_window, 0u);
  EXPECT_EQ(r.status[12].error_lines_in_window, 2u);
  EXPECT_EQ(r.status[42].error_lines_in_window, 2u);  // the window [12 s, 42 s] still holds it
  EXPECT_EQ(r.status[43].error_lines_in_window, 0u);
}

// Field test: a healthy 0.5 first sync that fits was forecast to breach the reserve in 15 s
// (and the forecast alert would page) for as long as the window remembered its growth.
TEST(WatchModelTest, ABoundedSnapshotThatFitsIsNoTrendButTheAppsGrowthStillIs) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;  // free 3096 MiB; snapshot ~1015 MiB fits above the reserve
  const Replay r = replay(m, w, 60, [](size_t i, World& w) {
    if (i < 5) return;
    w.tmp_expected_bytes = 1015 * kMiB;
    w.tmp_bytes = std::min<uint64_t>(50 * kMiB * (i - 4), 1015 * kMiB);
    if (w.tmp_bytes == 1015 * kMiB) {  // renamed: complete
      w.committed_bytes = w.tmp_bytes;
      w.tmp_bytes = 0;
      w.tmp_expected_bytes.reset();
    }
  });
  for (size_t i = 0; i < r.status.size(); ++i) {
    EXPECT_FALSE(r.status[i].seconds_to_reserve_breach.has_value()) << "sample " << i;
    EXPECT_EQ(r.status[i].state, WatchState::ok) << "sample " << i << ": " << r.status[i].reason;
  }

  // The same sync while the app itself grows 20 MiB/s: the forecast follows the app's rate.
  WatchModel m2(config(200 * kMiB));
  World w2;
  w2.db_bytes = 1000 * kMiB;
  const Replay r2 = replay(m2, w2, 30, [](size_t i, World& w) {
    w.other_bytes = 20 * kMiB * i;
    if (i < 5) return;
    w.tmp_expected_bytes = 1015 * kMiB;
    w.tmp_bytes = 50 * kMiB * (i - 4);
  });
  ASSERT_TRUE(r2.status[29].seconds_to_reserve_breach.has_value());
  // left = free − reserve at sample 29, consumed by the app alone at 20 MiB/s.
  const double free_mib = 4096.0 - 1000 - 20 * 29 - 50 * 25;
  EXPECT_NEAR(*r2.status[29].seconds_to_reserve_breach, (free_mib - 200) / 20.0, 1e-6);

  // 0.3's shadow WAL is unbounded: its growth is extrapolated as before.
  WatchModel m3(config(200 * kMiB));
  World w3;
  w3.db_bytes = 1000 * kMiB;
  w3.litestream_model = LitestreamModel::v0_3;
  const Replay r3 = replay(m3, w3, 30, [](size_t i, World& w) { w.committed_bytes = 50 * kMiB * i; });
  ASSERT_TRUE(r3.status[29].seconds_to_reserve_breach.has_value());
}

// Field test: 0.3.13 logged `monitor error` (S3 unreachable, 403s) every second for 20 s and
// watch said nothing until the disk filled.
TEST(WatchModelTest, LitestreamErrorLinesAreOneEventPerEpisode) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r = replay(m, w, 80, [](size_t i, World& w) {
    w.error_lines = (i >= 3 && i < 20) || i == 70 ? 1 : 0;  // an episode, a quiet window, one more
    w.disk_full_lines = i == 45 ? 1 : 0;                      // a disk-full line is its own event
  });
  Kinds errors;
  for (const auto& k : r.kinds()) {
    if (k.second == "litestream_errors") errors.push_back(k);
  }
  EXPECT_EQ(errors, (Kinds{{3, "litestream_errors"}, {70, "litestream_errors"}}));
  const WatchEvent& e = r.event("litestream_errors");
  EXPECT_EQ(e.level, WatchEvent::Level::warning);
  EXPECT_EQ(e.fields.at("ERROR_LINES"), "1");
  EXPECT_EQ(e.message,
            "/data/app.db: Litestream logged 1 error line(s) in the last 30 s besides disk-full ones (sync or "
            "replica errors): its replica may not be keeping up, and what it has not uploaded stays on this disk");
  EXPECT_EQ(r.status[19].state, WatchState::ok);  // errors alone change no state
}

// Recheck in the field: a healthy 0.3 replica on a small disk, free space cycling 14.2-17.9 MiB
// every 4 s with no net loss, held `warning` (breach "in 150 s") for minutes, because two end
// points of the window caught a falling phase. The fit over every sample sees no trend.
TEST(WatchModelTest, ASawtoothWithNoNetLossForecastsNothingWhateverItsPhase) {
  for (size_t phase = 0; phase < 4; ++phase) {
    WatchModel m(config(3 * kMiB));
    World w;
    w.total_bytes = 32 * kMiB;
    w.db_bytes = 10 * kMiB;
    const Replay r = replay(m, w, 90, [phase](size_t i, World& w) {
      w.wal_bytes = ((i + phase) % 4) * kMiB;  // 0, 1, 2, 3 MiB, then back to 0
    });
    // A few cycles into a fresh window the fit can still lean; once the window holds seven
    // cycles it does not, and the state settles back to ok and stays there.
    for (size_t i = 20; i < r.status.size(); ++i) {
      const auto& c = r.status[i].conditions;
      EXPECT_EQ(std::count(c.begin(), c.end(), Condition::forecast), 0) << "phase " << phase << " sample " << i;
    }
    for (size_t i = 50; i < r.status.size(); ++i) {
      EXPECT_EQ(r.status[i].state, WatchState::ok) << "phase " << phase << " sample " << i << ": " << r.status[i].reason;
    }
  }
  // The same cycle on top of a real loss of 64 KiB/s is still forecast.
  WatchModel m(config(3 * kMiB));
  World w;
  w.total_bytes = 32 * kMiB;
  w.db_bytes = 10 * kMiB;
  const Replay r = replay(m, w, 60, [](size_t i, World& w) {
    w.wal_bytes = (i % 4) * kMiB;
    w.other_bytes = 64 * 1024 * i;
  });
  ASSERT_TRUE(r.status[59].seconds_to_reserve_breach.has_value());
  EXPECT_LT(*r.status[59].seconds_to_reserve_breach, 300.0);
  EXPECT_EQ(r.status[59].state, WatchState::warning);
}

TEST(WatchModelTest, NoForecastFromLessThanFiveSeconds) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  const Replay r =
      replay(m, w, 5, [](size_t i, World& w) { w.other_bytes = (2000 + 100 * i) * kMiB; });
  EXPECT_FALSE(r.status[4].seconds_to_reserve_breach.has_value());
  EXPECT_EQ(r.status[4].state, WatchState::ok);
}

// ---- Staging cap (max_staging_bytes): what is to come warns, what is there is critical.
TEST(WatchModelTest, StagingCapWarnsOnProjectionAndIsCriticalWhenExceeded) {
  WatchConfig c = config(200 * kMiB);
  c.max_staging_bytes = 500 * kMiB;
  World w;
  w.db_bytes = 1000 * kMiB;
  w.committed_bytes = 300 * kMiB;
  w.tmp_bytes = 100 * kMiB;
  w.tmp_expected_bytes = 200 * kMiB;  // projected 500: at the cap
  WatchModel at_cap(c);
  (void)at_cap.update(w.sample());
  EXPECT_EQ(at_cap.status().at(0).state, WatchState::ok);
  w.tmp_expected_bytes = 201 * kMiB;
  WatchModel over(c);
  auto events = over.update(w.sample());
  EXPECT_EQ(over.status().at(0).state, WatchState::warning);
  EXPECT_TRUE(over.status().at(0).remaining_write_cannot_fit);
  EXPECT_EQ(over.status().at(0).reason,
            "projected staging 501.0 MiB would exceed max_staging_bytes 500.0 MiB on /data");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, "remaining_write_cannot_fit");
  w.committed_bytes = 401 * kMiB;
  WatchModel exceeded(c);
  (void)exceeded.update(w.sample());
  EXPECT_EQ(exceeded.status().at(0).state, WatchState::critical);
  EXPECT_EQ(exceeded.status().at(0).reason,
            "staging 501.0 MiB exceeds max_staging_bytes 500.0 MiB on /data");
}

// ---- A pending snapshot (projected_snapshot_bytes) is a write still to come.
TEST(WatchModelTest, PendingSnapshotIsChargedLessTheLargestInFlightFileWithoutASize) {
  World w;
  w.total_bytes = 4096 * kMiB;
  w.db_bytes = 2000 * kMiB;
  w.other_bytes = 1072 * kMiB;  // 1 GiB free
  w.projected_snapshot_bytes = 2048 * kMiB;
  WatchModel pending(config(100 * kMiB));
  (void)pending.update(w.sample());
  EXPECT_EQ(pending.status().at(0).remaining_staging_bytes, 2048 * kMiB);
  EXPECT_EQ(pending.status().at(0).state, WatchState::warning);
  EXPECT_EQ(pending.status().at(0).reason,
            "remaining staging write 2.0 GiB cannot fit on /data: app-visible free 1.0 GiB − "
            "reserve 100.0 MiB − "
            "remaining staging 2.0 GiB = -1.1 GiB");
  w.tmp_bytes = 512 * kMiB;  // header not readable yet
  w.other_bytes -= 512 * kMiB;
  WatchModel started(config(100 * kMiB));
  (void)started.update(w.sample());
  EXPECT_EQ(started.status().at(0).remaining_staging_bytes, 1536 * kMiB);
  w.tmp_expected_bytes = 600 * kMiB;  // a .tmp with its own size wins over the projection
  WatchModel sized(config(100 * kMiB));
  (void)sized.update(w.sample());
  EXPECT_EQ(sized.status().at(0).remaining_staging_bytes, 88 * kMiB);
  EXPECT_EQ(sized.status().at(0).state, WatchState::ok);
}

// ---- Several databases staging on one filesystem: their remaining writes add up.
TEST(WatchModelTest, RemainingWritesOfDatabasesOnOneFilesystemAddUp) {
  WatchSample s;
  s.time_ms = 1000;
  s.filesystems.push_back(World::fs(1, "/data", 4096 * kMiB, 4096 * kMiB - 700 * kMiB, 0));
  s.filesystems.push_back(World::fs(3, "/other", 1024 * kMiB, 10 * kMiB, 0));
  for (const char* path : {"/data/a.db", "/data/b.db"}) {
    DbSample d;
    d.db_path = path;
    d.db_fs_dev = d.staging_fs_dev = 1;
    d.projected_snapshot_bytes = 300 * kMiB;
    s.databases.push_back(d);
  }
  DbSample c;
  c.db_path = "/other/c.db";
  c.db_fs_dev = c.staging_fs_dev = 3;
  s.databases.push_back(c);
  WatchModel m(config(200 * kMiB));
  (void)m.update(s);
  ASSERT_EQ(m.status().size(), 3u);
  EXPECT_EQ(m.status()[0].headroom_bytes,
            -100 * static_cast<int64_t>(kMiB));  // 700 − 200 − 2 × 300
  EXPECT_EQ(m.status()[1].state, WatchState::warning);
  EXPECT_EQ(m.status()[2].state, WatchState::ok);
  EXPECT_EQ(m.overall(), WatchState::warning);
}

TEST(WatchModelTest, OlderSampleIsIgnored) {
  WatchModel m(config(200 * kMiB));
  World w;
  w.db_bytes = 1000 * kMiB;
  w.time_ms = 10'000;
  (void)m.update(w.sample());
  w.time_ms = 9'000;
  w.other_bytes = 3000 * kMiB;  // would be critical
  EXPECT_TRUE(m.update(w.sample()).empty());
  EXPECT_EQ(m.overall(), WatchState::ok);
}

TEST(WatchModelTest, StatesAreStable) {
  EXPECT_STREQ(to_string(WatchState::ok), "ok");
  EXPECT_STREQ(to_string(WatchState::warning), "warning");
  EXPECT_STREQ(to_string(WatchState::critical), "critical");
  EXPECT_STREQ(to_string(WatchState::wedged), "wedged");
  EXPECT_EQ(WatchModel(WatchConfig{}).overall(), WatchState::ok);
}

}  // namespace
}  // namespace ltxguard::model
