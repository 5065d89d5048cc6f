#include "ltxguard/formats/watch_record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace ltxguard::formats {
namespace {

using nlohmann::ordered_json;

// One line exactly as `ltxguard watch --record` wrote it (0.5.12 double filling a 32 MiB tmpfs).
constexpr const char* kRealLine =
    R"({"time_ms":1795625317486,"filesystems":[{"mount":"/tmp/ltxg-tmpfs-qwcsxsdi","dev":38,"total_bytes":33554432,)"
    R"("free_bytes":14585856,"avail_bytes":14585856,"inodes_free":3085448,"reserve_bytes":3355444}],"databases":[{"db":)"
    R"("/tmp/ltxg-tmpfs-qwcsxsdi/app.db","db_fs_dev":38,"staging_fs_dev":38,"wal_bytes":32992,"staging_bytes":0,)"
    R"("in_flight":[{"rel_path":"ltx/0/0000000000000001-0000000000000001.ltx.tmp","bytes":50109,"expected_final_bytes":)"
    R"(19120889}],"litestream_alive":true,"new_log_lines":0,"new_disk_full_lines":0,"state":"warning","reason":)"
    R"("remaining staging write 18.2 MiB cannot fit on /tmp/ltxg-tmpfs-qwcsxsdi: app-visible free 13.9 MiB − reserve )"
    R"(3.2 MiB − remaining staging 18.2 MiB = -7.5 MiB","headroom_bytes":-7834126,"seconds_to_reserve_breach":null,)"
    R"("remaining_staging_bytes":19064538,"projected_staging_bytes":19064538,"staging_peak_bytes":0,)"
    R"("disk_full_events_total":0,"stop_recommended":true}],"events":[{"kind":"remaining_write_cannot_fit","db":)"
    R"("/tmp/ltxg-tmpfs-qwcsxsdi/app.db","message":"/tmp/ltxg-tmpfs-qwcsxsdi/app.db: remaining staging write 18.2 MiB )"
    R"(cannot fit"},{"kind":"state_change","db":"/tmp/ltxg-tmpfs-qwcsxsdi/app.db","message":)"
    R"("/tmp/ltxg-tmpfs-qwcsxsdi/app.db: ok -> warning: remaining staging write 18.2 MiB cannot fit"}]})";

ordered_json fs_json(uint64_t dev, uint64_t avail, uint64_t reserve,
                     const std::string& mount = "/data") {
  return {{"mount", mount},          {"dev", dev},           {"total_bytes", 100 << 20},
          {"free_bytes", avail},     {"avail_bytes", avail}, {"inodes_free", 1000},
          {"reserve_bytes", reserve}};
}

ordered_json db_json(const std::string& path, const std::string& state, int64_t headroom,
                     uint64_t staging = 0, uint64_t remaining = 0, uint64_t db_dev = 1,
                     uint64_t staging_dev = 1) {
  return {{"db", path},
          {"db_fs_dev", db_dev},
          {"staging_fs_dev", staging_dev},
          {"wal_bytes", 4096},
          {"staging_bytes", staging},
          {"in_flight", ordered_json::array()},
          {"litestream_alive", true},
          {"new_log_lines", 0},
          {"new_disk_full_lines", 0},
          {"state", state},
          {"reason", state + " because"},
          {"headroom_bytes", headroom},
          {"seconds_to_reserve_breach", nullptr},
          {"remaining_staging_bytes", remaining},
          {"projected_staging_bytes", staging + remaining},
          {"staging_peak_bytes", staging},
          {"disk_full_events_total", 0},
          {"stop_recommended", false}};
}

std::string line(int64_t t, const std::string& state, int64_t headroom = 1 << 20,
                 ordered_json events = ordered_json::array()) {
  ordered_json j;
  j["time_ms"] = t;
  j["filesystems"] = ordered_json::array({fs_json(1, 10 << 20, 1 << 20)});
  j["databases"] = ordered_json::array({db_json("/data/app.db", state, headroom)});
  j["events"] = std::move(events);
  return j.dump() + "\n";
}

TEST(WatchRecordTest, ParsesARealRecordLine) {
  const WatchRecord rec = parse_watch_record(std::string(kRealLine) + "\n");
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.lines, 1u);
  EXPECT_EQ(rec.lines_malformed, 0u);
  EXPECT_EQ(rec.first_time_ms, 1795625317486);
  EXPECT_EQ(rec.last_time_ms, 1795625317486);
  ASSERT_EQ(rec.filesystems.size(), 1u);
  EXPECT_EQ(rec.filesystems[0].mount, "/tmp/ltxg-tmpfs-qwcsxsdi");
  EXPECT_EQ(rec.filesystems[0].dev, 38u);
  EXPECT_EQ(rec.filesystems[0].total_bytes, 33554432u);
  ASSERT_EQ(rec.databases.size(), 1u);
  const RecordDb& db = rec.databases[0];
  EXPECT_EQ(db.path, "/tmp/ltxg-tmpfs-qwcsxsdi/app.db");
  ASSERT_EQ(db.points.size(), 1u);
  const RecordPoint& p = db.points[0];
  EXPECT_EQ(p.time_ms, 1795625317486);
  ASSERT_TRUE(p.db_fs);
  EXPECT_EQ(p.db_fs->dev, 38u);
  EXPECT_EQ(p.db_fs->avail_bytes, 14585856u);
  EXPECT_EQ(p.db_fs->free_bytes, 14585856u);
  EXPECT_EQ(p.db_fs->reserve_bytes, 3355444u);
  EXPECT_EQ(p.db_fs->charge_bytes, 19064538u);
  ASSERT_TRUE(p.staging_fs);
  EXPECT_EQ(p.staging_fs->dev, 38u);
  EXPECT_EQ(p.wal_bytes, 32992u);
  EXPECT_EQ(p.staging_bytes, 0u);
  EXPECT_EQ(p.remaining_staging_bytes, 19064538u);
  EXPECT_EQ(p.headroom_bytes, -7834126);
  // the recorded headroom is exactly the watcher's three terms
  EXPECT_EQ(static_cast<int64_t>(p.db_fs->avail_bytes - p.db_fs->reserve_bytes) -
                static_cast<int64_t>(p.db_fs->charge_bytes),
            p.headroom_bytes);
  EXPECT_FALSE(p.seconds_to_reserve_breach);
  EXPECT_EQ(p.state, RecordState::warning);
  EXPECT_TRUE(p.stop_recommended);
  ASSERT_EQ(db.runs.size(), 1u);
  EXPECT_EQ(db.runs[0].first_point, 0u);
  EXPECT_EQ(db.runs[0].state, RecordState::warning);
  EXPECT_EQ(db.runs[0].reason,
            "remaining staging write 18.2 MiB cannot fit on /tmp/ltxg-tmpfs-qwcsxsdi: app-visible "
            "free 13.9 MiB − "
            "reserve 3.2 MiB − remaining staging 18.2 MiB = -7.5 MiB");
  ASSERT_EQ(rec.events.size(), 2u);
  EXPECT_EQ(rec.events[0].kind, "remaining_write_cannot_fit");
  EXPECT_EQ(rec.events[1].kind, "state_change");
  EXPECT_EQ(rec.events[1].db, "/tmp/ltxg-tmpfs-qwcsxsdi/app.db");
  EXPECT_EQ(rec.events[1].time_ms, 1795625317486);
  EXPECT_EQ(rec.events[1].message,
            "/tmp/ltxg-tmpfs-qwcsxsdi/app.db: ok -> warning: remaining staging write 18.2 MiB "
            "cannot fit");
}

TEST(WatchRecordTest, StateRunsKeepTheReasonTheStateWasEnteredWith) {
  const WatchRecord rec =
      parse_watch_record(line(1000, "ok") + line(2000, "warning") + line(3000, "warning") +
                         line(4000, "critical") + line(5000, "ok"));
  ASSERT_EQ(rec.databases.size(), 1u);
  const auto& runs = rec.databases[0].runs;
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[1].state, RecordState::warning);
  EXPECT_EQ(runs[1].first_point, 1u);
  EXPECT_EQ(runs[1].reason, "warning because");
  EXPECT_EQ(runs[2].state, RecordState::critical);
  EXPECT_EQ(runs[2].first_point, 3u);
  EXPECT_EQ(runs[3].state, RecordState::ok);
  EXPECT_EQ(rec.samples, 5u);
  EXPECT_EQ(rec.first_time_ms, 1000);
  EXPECT_EQ(rec.last_time_ms, 5000);
}

TEST(WatchRecordTest, MalformedLinesAreSkippedCountedAndNamed) {
  std::string bad_wal = line(3000, "ok");
  bad_wal.replace(bad_wal.find("\"wal_bytes\":4096"), 16, "\"wal_bytes\":-1");
  std::string no_state = line(4000, "ok");
  no_state.replace(no_state.find("\"state\":\"ok\""), 12, "\"state\":7");
  const WatchRecord rec =
      parse_watch_record(line(1000, "ok") + "not json\n" + "\n   \n" + "[1,2]\n" +
                         R"({"databases":[]})" + "\n" + bad_wal + no_state + line(5000, "ok"));
  EXPECT_EQ(rec.samples, 2u);
  EXPECT_EQ(rec.lines, 7u);  // blank lines are not counted
  EXPECT_EQ(rec.lines_malformed, 5u);
  ASSERT_EQ(rec.problems.size(), 5u);
  EXPECT_EQ(rec.problems[0], "line 2: not JSON");
  EXPECT_EQ(rec.problems[1], "line 5: not a JSON object");  // lines 3 and 4 are blank
  EXPECT_EQ(rec.problems[2], "line 6: time_ms missing or not an integer");
  EXPECT_EQ(rec.problems[3], "line 7: databases[0].wal_bytes missing or not an unsigned integer");
  EXPECT_EQ(rec.problems[4], "line 8: databases[0].state missing or not a string");
}

TEST(WatchRecordTest, OverlongLineIsSkippedWholeEvenAcrossChunks) {
  WatchRecordLimits limits;
  limits.max_line_bytes = 1000;
  WatchRecordParser parser(limits);
  const std::string text = line(1000, "ok") + std::string(5000, 'x') + "\n" + line(2000, "warning");
  for (size_t i = 0; i < text.size(); i += 7) parser.feed(std::string_view(text).substr(i, 7));
  const WatchRecord rec = parser.finish();
  EXPECT_EQ(rec.samples, 2u);
  EXPECT_EQ(rec.lines_too_long, 1u);
  ASSERT_EQ(rec.problems.size(), 1u);
  EXPECT_EQ(rec.problems[0], "line 2: longer than 1000 bytes");
  EXPECT_EQ(rec.databases[0].points[1].state, RecordState::warning);
}

TEST(WatchRecordTest, ChunkBoundariesDoNotChangeTheResult) {
  const std::string text =
      line(1000, "ok") + line(2000, "warning", -5) + std::string(kRealLine) + "\n";
  const WatchRecord whole = parse_watch_record(text);
  WatchRecordParser parser;
  for (const char c : text) parser.feed(std::string_view(&c, 1));
  const WatchRecord bytewise = parser.finish();
  EXPECT_EQ(whole.samples, 3u);
  EXPECT_EQ(bytewise.samples, whole.samples);
  EXPECT_EQ(bytewise.databases.size(), 2u);
  EXPECT_EQ(bytewise.databases[0].points[1].headroom_bytes, -5);
  EXPECT_EQ(bytewise.events.size(), whole.events.size());
}

TEST(WatchRecordTest, LastLineWithoutNewlineCountsAndACutOneIsMalformed) {
  std::string text = line(1000, "ok") + line(2000, "ok");
  text.pop_back();
  EXPECT_EQ(parse_watch_record(text).samples, 2u);
  const std::string cut = line(1000, "ok") + line(2000, "ok").substr(0, 50);
  const WatchRecord rec = parse_watch_record(cut);
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.lines_malformed, 1u);
  EXPECT_EQ(rec.problems.at(0), "line 2: not JSON");
}

TEST(WatchRecordTest, CrLfLineEndsAreAccepted) {
  std::string a = line(1000, "ok");
  a.insert(a.size() - 1, "\r");
  const WatchRecord rec = parse_watch_record(a);
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.lines_malformed, 0u);
}

TEST(WatchRecordTest, SamplesBeyondTheCapAreCountedNotKept) {
  WatchRecordLimits limits;
  limits.max_samples = 2;
  ordered_json ev =
      ordered_json::array({{{"kind", "disk_full"}, {"db", "/data/app.db"}, {"message", "m"}}});
  const WatchRecord rec = parse_watch_record(
      line(1000, "ok") + line(2000, "ok") + line(3000, "critical", 0, ev) + line(4000, "ok"),
      limits);
  EXPECT_EQ(rec.samples, 2u);
  EXPECT_EQ(rec.samples_dropped, 2u);
  EXPECT_EQ(rec.events_dropped, 1u);
  EXPECT_EQ(rec.last_time_ms, 2000);
  EXPECT_EQ(rec.databases[0].points.size(), 2u);
}

TEST(WatchRecordTest, SampleOlderThanTheOneBeforeIsSkipped) {
  const WatchRecord rec =
      parse_watch_record(line(2000, "ok") + line(1000, "critical") + line(2000, "warning"));
  EXPECT_EQ(rec.samples, 2u);
  EXPECT_EQ(rec.samples_out_of_order, 1u);
  EXPECT_EQ(rec.problems.at(0),
            "line 2: time_ms 1000 is older than the sample before (2000): skipped");
  EXPECT_EQ(rec.databases[0].points[1].state, RecordState::warning);
}

TEST(WatchRecordTest, UnknownStatesAndEventKindsAreKeptVerbatim) {
  ordered_json ev = ordered_json::array(
      {{{"kind", "protective_stop"}, {"db", "/data/app.db"}, {"message", "stopped"}},
       {{"kind", "child_exited"}, {"message", "litestream exited 1"}}});
  const WatchRecord rec = parse_watch_record(line(1000, "melting", 0, ev));
  ASSERT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.databases[0].points[0].state, RecordState::unknown);
  ASSERT_EQ(rec.events.size(), 2u);
  EXPECT_EQ(rec.events[0].kind, "protective_stop");
  EXPECT_EQ(rec.events[1].kind, "child_exited");
  EXPECT_EQ(rec.events[1].db, "");
  EXPECT_EQ(rec.events[1].message, "litestream exited 1");
}

TEST(WatchRecordTest, LineWithOnlyEventsAndNoDatabasesIsASample) {
  const WatchRecord rec = parse_watch_record(
      R"({"time_ms":5,"filesystems":[],"databases":[],"events":[{"kind":"alarm_latched","db":"","message":"x"}]})");
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_TRUE(rec.databases.empty());
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0].kind, "alarm_latched");
}

TEST(WatchRecordTest, DeepNestingIsRefusedBeforeParsing) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']') + "\n";
  const WatchRecord rec = parse_watch_record(deep + line(1000, "ok"));
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.problems.at(0), "line 1: nested deeper than 8 levels");
  // brackets inside strings do not count
  std::string quoted = line(2000, "ok");
  quoted.replace(quoted.find("ok because"), 10, "[[[[[[[[[[[[ \\\" {{{{{{{{{{{");
  const WatchRecord rec2 = parse_watch_record(quoted);
  EXPECT_EQ(rec2.samples, 1u);
  EXPECT_EQ(rec2.databases[0].runs[0].reason, "[[[[[[[[[[[[ \" {{{{{{{{{{{");
}

TEST(WatchRecordTest, DatabasesBeyondTheLimitAreDropped) {
  WatchRecordLimits limits;
  limits.max_databases = 1;
  ordered_json j;
  j["time_ms"] = 1;
  j["databases"] = ordered_json::array({db_json("/a.db", "ok", 1)});
  ordered_json k = j;
  k["time_ms"] = 2;
  k["databases"] = ordered_json::array({db_json("/b.db", "ok", 1)});
  ordered_json both = j;
  both["time_ms"] = 3;
  both["databases"] = ordered_json::array({db_json("/a.db", "ok", 1), db_json("/b.db", "ok", 1)});
  const WatchRecord rec =
      parse_watch_record(j.dump() + "\n" + k.dump() + "\n" + both.dump() + "\n", limits);
  ASSERT_EQ(rec.databases.size(), 1u);
  EXPECT_EQ(rec.databases[0].path, "/a.db");
  EXPECT_EQ(rec.db_points_dropped, 1u);
  EXPECT_EQ(rec.samples, 2u);
  EXPECT_EQ(rec.lines_malformed, 1u);
  EXPECT_EQ(rec.problems.at(0), "line 3: more than 1 databases");
}

TEST(WatchRecordTest, TextBudgetEmptiesReasonsAndDropsEventsOnceSpent) {
  WatchRecordLimits limits;
  limits.max_text_bytes = 20;
  ordered_json ev =
      ordered_json::array({{{"kind", "disk_full"}, {"db", "/data/app.db"}, {"message", "m"}}});
  const WatchRecord rec = parse_watch_record(
      line(1000, "ok") + line(2000, "warning") + line(3000, "critical", 0, ev), limits);
  const auto& runs = rec.databases[0].runs;
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].reason, "ok because");
  EXPECT_EQ(runs[1].reason, "");  // 10 + 15 > 20
  EXPECT_EQ(rec.strings_emptied, 2u);
  EXPECT_TRUE(rec.events.empty());
  EXPECT_EQ(rec.events_dropped, 1u);
}

TEST(WatchRecordTest, StringsAreCutAtAUtf8Boundary) {
  WatchRecordLimits limits;
  limits.max_string_bytes = 5;
  std::string l = line(1000, "ok");
  l.replace(l.find("ok because"), 10, "\xC3\xA9\xC3\xA9\xC3\xA9");  // "ééé"
  const WatchRecord rec = parse_watch_record(l, limits);
  EXPECT_EQ(rec.databases[0].runs[0].reason, "\xC3\xA9\xC3\xA9");
  EXPECT_EQ(rec.databases[0].path, "/data");  // "/data/app.db" cut to 5 bytes
}

TEST(WatchRecordTest, StagingOnAnotherFilesystemAndChargesOfSeveralDatabases) {
  ordered_json j;
  j["time_ms"] = 1;
  j["filesystems"] = ordered_json::array(
      {fs_json(1, 50 << 20, 5 << 20, "/data"), fs_json(2, 8 << 20, 0, "/meta")});
  j["databases"] = ordered_json::array({db_json("/data/a.db", "ok", 1, 100, 3 << 20, 1, 2),
                                        db_json("/data/b.db", "ok", 1, 100, 2 << 20, 1, 2),
                                        db_json("/data/c.db", "ok", 1, 0, 0, 9, 9)});
  const WatchRecord rec = parse_watch_record(j.dump());
  ASSERT_EQ(rec.databases.size(), 3u);
  const RecordPoint& a = rec.databases[0].points[0];
  ASSERT_TRUE(a.db_fs && a.staging_fs);
  EXPECT_EQ(a.db_fs->dev, 1u);
  EXPECT_EQ(a.db_fs->charge_bytes, 0u);
  EXPECT_EQ(a.staging_fs->dev, 2u);
  EXPECT_EQ(a.staging_fs->avail_bytes, 8u << 20);
  EXPECT_EQ(a.staging_fs->charge_bytes, 5u << 20);  // both databases stage there
  const RecordPoint& c = rec.databases[2].points[0];
  EXPECT_FALSE(c.db_fs);  // dev 9 is not in the sample
  EXPECT_FALSE(c.staging_fs);
  EXPECT_EQ(rec.filesystems.size(), 2u);
  EXPECT_EQ(rec.filesystems[1].mount, "/meta");
}

TEST(WatchRecordTest, ForecastMustBeNullOrANonNegativeNumber) {
  std::string l = line(1000, "ok");
  l.replace(l.find("\"seconds_to_reserve_breach\":null"), 32, "\"seconds_to_reserve_breach\":12.5");
  EXPECT_EQ(*parse_watch_record(l).databases[0].points[0].seconds_to_reserve_breach, 12.5);
  std::string neg = line(1000, "ok");
  neg.replace(neg.find("\"seconds_to_reserve_breach\":null"), 32,
              "\"seconds_to_reserve_breach\":-1");
  const WatchRecord rec = parse_watch_record(neg);
  EXPECT_EQ(rec.samples, 0u);
  EXPECT_EQ(rec.problems.at(0),
            "line 1: databases[0].seconds_to_reserve_breach is not null or a number >= 0");
}

TEST(WatchRecordTest, TimeOutsideTheEpochTo2109IsMalformed) {
  const WatchRecord rec = parse_watch_record(line(-1, "ok") + line(int64_t{1} << 62, "ok") +
                                             line(int64_t{1} << 42, "ok"));
  EXPECT_EQ(rec.samples, 1u);
  EXPECT_EQ(rec.problems.at(0), "line 1: time_ms -1 out of range");
  EXPECT_EQ(rec.problems.at(1), "line 2: time_ms 4611686018427387904 out of range");
}

TEST(WatchRecordTest, EmptyInputHasNoSample) {
  const WatchRecord rec = parse_watch_record("");
  EXPECT_EQ(rec.samples, 0u);
  EXPECT_EQ(rec.lines, 0u);
  EXPECT_TRUE(rec.problems.empty());
}

}  // namespace
}  // namespace ltxguard::formats
