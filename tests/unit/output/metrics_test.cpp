#include "ltxguard/output/metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

#include "ltxguard/formats/prom_text.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::output {
namespace {

using formats::find_sample;
using formats::parse_prom_text;

constexpr const char* kDb = "/srv/app/app.db";
constexpr const char* kMount = "/srv";

DbValues sample_db() {
  DbValues v;
  v.staging_bytes = 1000;
  v.projected_staging_bytes = 5000;
  v.remaining_staging_bytes = 4000;
  v.staging_peak_bytes = 1200;
  v.wal_bytes = 300;
  v.headroom_bytes = -2500;
  v.seconds_to_reserve_breach = 42.5;
  v.disk_full_events_total = 3;
  v.sawtooth_cycles_total = 1;
  v.state = "critical";
  return v;
}

TEST(MetricsTest, FilesystemSeriesCarryMountLabelAndValues) {
  Metrics m("0.1.0");
  m.set_filesystem(kMount, {.total_bytes = 64u << 20,
                            .free_bytes = 9u << 20,
                            .avail_bytes = 6u << 20,
                            .inodes_free = 777,
                            .reserve_bytes = 4u << 20});
  const auto s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_filesystem_total_bytes", {{"mount", kMount}}), 64 << 20);
  EXPECT_EQ(find_sample(s, "ltxguard_filesystem_free_bytes", {{"mount", kMount}}), 9 << 20);
  EXPECT_EQ(find_sample(s, "ltxguard_filesystem_avail_bytes", {{"mount", kMount}}), 6 << 20);
  EXPECT_EQ(find_sample(s, "ltxguard_filesystem_inodes_free", {{"mount", kMount}}), 777);
  EXPECT_EQ(find_sample(s, "ltxguard_reserve_bytes", {{"mount", kMount}}), 4 << 20);
}

TEST(MetricsTest, DbSeriesCarryDbLabelAndValues) {
  Metrics m("0.1.0");
  m.set_db(kDb, sample_db());
  const auto s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_staging_bytes", {{"db", kDb}}), 1000);
  EXPECT_EQ(find_sample(s, "ltxguard_projected_staging_bytes", {{"db", kDb}}), 5000);
  EXPECT_EQ(find_sample(s, "ltxguard_remaining_staging_bytes", {{"db", kDb}}), 4000);
  EXPECT_EQ(find_sample(s, "ltxguard_staging_peak_bytes", {{"db", kDb}}), 1200);
  EXPECT_EQ(find_sample(s, "ltxguard_wal_bytes", {{"db", kDb}}), 300);
  EXPECT_EQ(find_sample(s, "ltxguard_headroom_bytes", {{"db", kDb}}), -2500);
  EXPECT_EQ(find_sample(s, "ltxguard_seconds_to_reserve_breach", {{"db", kDb}}), 42.5);
  EXPECT_EQ(find_sample(s, "ltxguard_disk_full_events_total", {{"db", kDb}}), 3);
  EXPECT_EQ(find_sample(s, "ltxguard_sawtooth_cycles_total", {{"db", kDb}}), 1);
}

TEST(MetricsTest, TypesAreDeclaredCountersAndGauges) {
  Metrics m("0.1.0");
  m.set_db(kDb, sample_db());
  const std::string text = m.serialize();
  EXPECT_NE(text.find("# TYPE ltxguard_disk_full_events_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ltxguard_sawtooth_cycles_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ltxguard_headroom_bytes gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ltxguard_state gauge\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP ltxguard_headroom_bytes "), std::string::npos);
  EXPECT_EQ(text.find("_total_total"), std::string::npos);
}

TEST(MetricsTest, StateIsOneHot) {
  Metrics m("0.1.0");
  DbValues v = sample_db();
  m.set_db(kDb, v);
  auto s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "critical"}}), 1);
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "ok"}}), 0);
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "warning"}}), 0);
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "wedged"}}), 0);

  v.state = "ok";
  m.set_db(kDb, v);
  s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "ok"}}), 1);
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", kDb}, {"state", "critical"}}), 0);
  int series = 0;
  for (const auto& x : s) series += x.name == "ltxguard_state";
  EXPECT_EQ(series, 4);
}

TEST(MetricsTest, UnknownStateExportsAllZeroAndNoNewLabel) {
  Metrics m("0.1.0");
  DbValues v = sample_db();
  v.state = "exploded";
  m.set_db(kDb, v);
  const auto s = parse_prom_text(m.serialize());
  double sum = 0;
  int series = 0;
  for (const auto& x : s) {
    if (x.name != "ltxguard_state") continue;
    sum += x.value;
    ++series;
  }
  EXPECT_EQ(series, 4);
  EXPECT_EQ(sum, 0);
  EXPECT_FALSE(find_sample(s, "ltxguard_state", {{"state", "exploded"}}).has_value());
}

TEST(MetricsTest, NoBreachForecastIsPlusInf) {
  Metrics m("0.1.0");
  DbValues v = sample_db();
  v.seconds_to_reserve_breach.reset();
  m.set_db(kDb, v);
  const std::string text = m.serialize();
  EXPECT_NE(text.find("ltxguard_seconds_to_reserve_breach{db=\"/srv/app/app.db\"} +Inf\n"),
            std::string::npos);
  const auto got = find_sample(parse_prom_text(text), "ltxguard_seconds_to_reserve_breach");
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(std::isinf(*got) && *got > 0);
}

TEST(MetricsTest, CountersFollowTotalsButNeverGoDown) {
  Metrics m("0.1.0");
  DbValues v = sample_db();
  v.disk_full_events_total = 5;
  m.set_db(kDb, v);
  v.disk_full_events_total = 2;  // e.g. the model restarted: a counter must not drop
  m.set_db(kDb, v);
  EXPECT_EQ(find_sample(parse_prom_text(m.serialize()), "ltxguard_disk_full_events_total"), 5);
  v.disk_full_events_total = 9;
  m.set_db(kDb, v);
  EXPECT_EQ(find_sample(parse_prom_text(m.serialize()), "ltxguard_disk_full_events_total"), 9);
}

TEST(MetricsTest, HostileLabelValuesAreEscapedAndParseBack) {
  Metrics m("0.1.0");
  const std::string mount = "/mnt/we\"ird\\path\nnext";
  m.set_filesystem(mount, {.total_bytes = 1});
  const std::string text = m.serialize();
  EXPECT_NE(text.find("{mount=\"/mnt/we\\\"ird\\\\path\\nnext\"}"), std::string::npos);
  EXPECT_EQ(
      find_sample(parse_prom_text(text), "ltxguard_filesystem_total_bytes", {{"mount", mount}}), 1);
}

// Paths are bytes; Prometheus refuses the whole scrape for one label value that is not UTF-8.
TEST(MetricsTest, InvalidUtf8InLabelValuesBecomesReplacementCharacter) {
  Metrics m("0.1.0");
  const std::string db = "/srv/dir\nx\xff\xfe/app\xc3(.db";
  const std::string mount = "/mnt/cass\xe9";
  m.set_db(db, sample_db());
  m.set_filesystem(mount, {.total_bytes = 7});
  m.enable_supervisor();
  m.count_protective_stop(db, "cannot_fit\x80");
  const std::string text = m.serialize();
  EXPECT_NE(text.find("ltxguard_staging_bytes{db=\"/srv/dir\\nx\xEF\xBF\xBD/app\xEF\xBF\xBD(.db\"} 1000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("{mount=\"/mnt/cass\xEF\xBF\xBD\"} 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("condition=\"cannot_fit\xEF\xBF\xBD\""), std::string::npos) << text;
  EXPECT_EQ(text.find('\xff'), std::string::npos);
  EXPECT_EQ(text.find('\xe9'), std::string::npos);
  EXPECT_EQ(text.find('\x80'), std::string::npos);
  // The series stay addressable by the raw path: remove_* sanitizes the same way.
  m.remove_db(db);
  m.remove_filesystem(mount);
  const auto s = parse_prom_text(m.serialize());
  EXPECT_FALSE(find_sample(s, "ltxguard_staging_bytes").has_value());
  EXPECT_FALSE(find_sample(s, "ltxguard_state").has_value());
  EXPECT_FALSE(find_sample(s, "ltxguard_filesystem_total_bytes").has_value());
}

TEST(MetricsTest, PromtoolAcceptsLabelValuesWithInvalidUtf8) {
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  testing::TempDir dir;
  Metrics m("0.1.0");
  m.set_filesystem("/mnt/\xff\xfe", {.total_bytes = 1});
  m.set_db("/d/app\xc3(.db", sample_db());
  testing::write_file(dir.file("m.prom"), m.serialize());
  const std::string cmd = "/usr/bin/promtool check metrics < '" + dir.file("m.prom") + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_EQ(out, "");
}

TEST(MetricsTest, BuildInfoUpAndLastSample) {
  Metrics m("1.2.3");
  auto s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(find_sample(s, "ltxguard_up"), 0);
  EXPECT_FALSE(find_sample(s, "ltxguard_last_sample_timestamp_seconds").has_value());
  m.set_up(true);
  m.set_last_sample_time(1735787045.5);
  s = parse_prom_text(m.serialize());
  EXPECT_EQ(find_sample(s, "ltxguard_up"), 1);
  EXPECT_EQ(find_sample(s, "ltxguard_last_sample_timestamp_seconds"), 1735787045.5);
}

TEST(MetricsTest, RemoveDbAndFilesystemDropTheirSeriesOnly) {
  Metrics m("0.1.0");
  m.set_db(kDb, sample_db());
  m.set_db("/other.db", sample_db());
  m.set_filesystem(kMount, {.total_bytes = 1});
  m.remove_db(kDb);
  m.remove_filesystem(kMount);
  m.remove_db("/never-added.db");
  const auto s = parse_prom_text(m.serialize());
  for (const auto& x : s) {
    for (const auto& [k, v] : x.labels) {
      EXPECT_NE(v, kDb) << x.name;
      EXPECT_NE(v, kMount) << x.name;
    }
  }
  EXPECT_EQ(find_sample(s, "ltxguard_staging_bytes", {{"db", "/other.db"}}), 1000);
  EXPECT_EQ(find_sample(s, "ltxguard_state", {{"db", "/other.db"}, {"state", "critical"}}), 1);
}

// A scrape never sees half an update: staging and wal are always set to the same value here.
TEST(MetricsTest, SerializeSeesWholeUpdatesWhileSamplerWrites) {
  Metrics m("0.1.0");
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 1; i <= 3000; ++i) {
      DbValues v;
      v.staging_bytes = i;
      v.wal_bytes = i;
      v.state = "ok";
      m.set_db(kDb, v);
    }
    done = true;
  });
  int scrapes = 0;
  while (!done || scrapes == 0) {
    const auto s = parse_prom_text(m.serialize());
    const auto staging = find_sample(s, "ltxguard_staging_bytes");
    const auto wal = find_sample(s, "ltxguard_wal_bytes");
    ASSERT_EQ(staging.has_value(), wal.has_value());
    if (staging) {
      ASSERT_EQ(*staging, *wal);
    }
    ++scrapes;
  }
  writer.join();
  EXPECT_EQ(find_sample(parse_prom_text(m.serialize()), "ltxguard_staging_bytes"), 3000);
}

// promtool's lint checks names, units and suffixes the way Prometheus itself expects them.
TEST(MetricsTest, PromtoolLintAcceptsTheExposition) {
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool not installed";
  testing::TempDir dir;
  Metrics m("0.1.0");
  m.set_up(true);
  m.set_last_sample_time(1735787045.5);
  m.set_filesystem(kMount, {.total_bytes = 1});
  m.set_db(kDb, sample_db());
  testing::write_file(dir.file("m.prom"), m.serialize());
  const std::string cmd = "/usr/bin/promtool check metrics < '" + dir.file("m.prom") + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace ltxguard::output

namespace ltxguard::output {
namespace {

TEST(MetricsSupervisorTest, WatchDoesNotExportSupervisorFamilies) {
  Metrics m("0.1.0");
  m.set_supervisor(true, true);  // ignored until enabled
  m.count_protective_stop("/a.db", "wedge");
  const std::string text = m.serialize();
  EXPECT_EQ(text.find("ltxguard_litestream_up"), std::string::npos);
  EXPECT_EQ(text.find("ltxguard_alarm_latched"), std::string::npos);
  EXPECT_EQ(text.find("ltxguard_protective_stops_total"), std::string::npos);
}

TEST(MetricsSupervisorTest, SupervisorFamiliesCarryTheirValues) {
  Metrics m("0.1.0");
  m.enable_supervisor();
  auto parsed = formats::parse_prom_text(m.serialize());
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_litestream_up", {}), 0.0);
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_alarm_latched", {}), 0.0);
  m.set_supervisor(true, false);
  parsed = formats::parse_prom_text(m.serialize());
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_litestream_up", {}), 1.0);
  m.set_supervisor(false, true);
  m.count_protective_stop("/a.db", "cannot_fit");
  const std::string text = m.serialize();
  parsed = formats::parse_prom_text(text);
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_litestream_up", {}), 0.0);
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_alarm_latched", {}), 1.0);
  EXPECT_EQ(formats::find_sample(parsed, "ltxguard_protective_stops_total", {{"db", "/a.db"}, {"condition", "cannot_fit"}}),
            1.0);
  EXPECT_NE(text.find("# TYPE ltxguard_protective_stops_total counter"), std::string::npos);
}

}  // namespace
}  // namespace ltxguard::output
