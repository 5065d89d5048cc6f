#include "ltxguard/output/report_html.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

namespace ltxguard::output {
namespace {

using formats::RecordState;
using formats::WatchRecord;
using nlohmann::ordered_json;

// A real record: `ltxguard watch --record` on the Litestream 0.5.12 TEST DOUBLE staging an
// 18 MiB snapshot on a 32 MiB tmpfs: warning at once (the snapshot cannot fit), critical at
// +6.5 s (free below the reserve), ENOSPC at +8.5 s, wedged at +13.0 s.
WatchRecord real_record() {
  std::ifstream in(std::string(LTXGUARD_TESTDATA) + "/watch/record-0.5.12-double-wedged.jsonl");
  std::stringstream ss;
  ss << in.rdbuf();
  return formats::parse_watch_record(ss.str());
}

std::string render(const WatchRecord& rec, ReportOptions opts = {}) {
  return render_report_html(rec, formats::Redactor{}, opts);
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

struct Sample {
  int64_t t = 0;
  std::string state = "ok";
  uint64_t avail = 10 << 20, free = 10 << 20, reserve = 1 << 20;
  uint64_t staging = 0, remaining = 0, wal = 4096;
  std::optional<int64_t> headroom;  // default: avail - reserve - remaining
  std::optional<double> forecast;
  std::string db = "/data/app.db";
  ordered_json events = ordered_json::array();
};

Sample at(int64_t t) {
  Sample s;
  s.t = t;
  return s;
}

std::string line(const Sample& s) {
  const int64_t headroom =
      s.headroom.value_or(static_cast<int64_t>(s.avail) - static_cast<int64_t>(s.reserve) -
                          static_cast<int64_t>(s.remaining));
  ordered_json j;
  j["time_ms"] = s.t;
  j["filesystems"] = ordered_json::array({{{"mount", "/data"},
                                           {"dev", 1},
                                           {"total_bytes", 100 << 20},
                                           {"free_bytes", s.free},
                                           {"avail_bytes", s.avail},
                                           {"inodes_free", 100},
                                           {"reserve_bytes", s.reserve}}});
  j["databases"] = ordered_json::array(
      {{{"db", s.db},
        {"db_fs_dev", 1},
        {"staging_fs_dev", 1},
        {"wal_bytes", s.wal},
        {"staging_bytes", s.staging},
        {"state", s.state},
        {"reason", "reason for " + s.state},
        {"headroom_bytes", headroom},
        {"seconds_to_reserve_breach", s.forecast ? ordered_json(*s.forecast) : ordered_json()},
        {"remaining_staging_bytes", s.remaining},
        {"disk_full_events_total", 0},
        {"stop_recommended", false}}});
  j["events"] = s.events;
  return j.dump() + "\n";
}

ordered_json event(const std::string& kind, const std::string& message,
                   const std::string& db = "/data/app.db") {
  return {{"kind", kind}, {"db", db}, {"message", message}};
}

TEST(ReportHtmlTest, BudgetEquationAtTheTightestMomentOfARealRecord) {
  const WatchRecord rec = real_record();
  ASSERT_EQ(rec.samples, 51u);
  const DbSummary s = summarize_db(rec, rec.databases[0]);
  EXPECT_EQ(s.tightest_point, 15u);
  EXPECT_EQ(s.equation.mount, "/tmp/ltxg-tmpfs-qwcsxsdi");
  EXPECT_FALSE(s.equation.root_view);
  EXPECT_TRUE(s.equation.adds_up);
  EXPECT_EQ(s.equation.app_free_bytes, 143360);
  EXPECT_EQ(s.equation.reserve_bytes, 3355444);
  EXPECT_EQ(s.equation.remaining_staging_bytes, 5438925);
  EXPECT_EQ(s.equation.headroom_bytes, -8651009);

  const std::string html = render(rec);
  EXPECT_NE(
      html.find(
          "app-visible free 140.0 KiB − reserve 3.2 MiB − remaining staging 5.2 MiB = headroom "
          "<span class=\"neg\">-8.3 MiB</span>"),
      std::string::npos);
  EXPECT_NE(html.find("143360 − 3355444 − 5438925 = -8651009 bytes (f_bavail)"), std::string::npos);
  EXPECT_NE(html.find("Budget at the tightest moment, +0:07.5 (2026-11-25 "), std::string::npos);
}

TEST(ReportHtmlTest, VerdictOfARealRecordNamesWorstStateWhenWhyAndBreach) {
  const WatchRecord rec = real_record();
  const DbSummary s = summarize_db(rec, rec.databases[0]);
  EXPECT_EQ(s.worst_state, RecordState::wedged);
  EXPECT_EQ(s.worst_state_point, 26u);
  EXPECT_EQ(s.worst_state_reason.rfind(
                "wedged: ltx/0/0000000000000001-0000000000000001.ltx.tmp has not grown for 5 s", 0),
            0u);
  ASSERT_TRUE(s.reserve_breach_point);
  EXPECT_EQ(*s.reserve_breach_point, 13u);  // avail 2.2 MiB < reserve 3.2 MiB
  ASSERT_TRUE(s.first_warning_point);
  EXPECT_EQ(*s.first_warning_point, 0u);
  ASSERT_TRUE(s.shortest_forecast_point);
  EXPECT_EQ(*s.shortest_forecast_point, 12u);  // 0.046 s, the last forecast before the breach
  EXPECT_EQ(s.disk_full_events, 1u);
  EXPECT_TRUE(s.failed);
  EXPECT_TRUE(record_failed(rec));

  const std::string html = render(rec);
  EXPECT_NE(html.find("<span class=\"badge failed\" id=\"verdict\">FAILED</span>"),
            std::string::npos);
  EXPECT_NE(
      html.find(
          "worst state <span class=\"st st-wedged\">wedged</span>, first at +0:13.0 (2026-11-25 "),
      std::string::npos);
  EXPECT_NE(html.find("<b>breached</b> at +0:06.5 (2026-11-25 16:48:43.994 UTC), 6.5 s after the "
                      "first warning"),
            std::string::npos);
  EXPECT_NE(html.find("shortest forecast 0.0 s, at +0:06.0"), std::string::npos);
  EXPECT_NE(html.find("<b>1 disk-full event</b>"), std::string::npos);
  // markers of the real events, labelled
  EXPECT_NE(html.find("<g class=\"marker ev-warning\" data-kind=\"state_change\">"),
            std::string::npos);
  EXPECT_NE(html.find("<g class=\"marker ev-critical\" data-kind=\"state_change\">"),
            std::string::npos);
  EXPECT_NE(html.find("<g class=\"marker ev-enospc\" data-kind=\"disk_full\">"), std::string::npos);
  EXPECT_NE(html.find("<g class=\"marker ev-wedge\" data-kind=\"wedge\">"), std::string::npos);
  EXPECT_NE(html.find("<g class=\"marker ev-wedged\" data-kind=\"state_change\">"),
            std::string::npos);
  EXPECT_NE(html.find(">ENOSPC</text>"), std::string::npos);
  // every series is drawn
  for (const char* css : {"s-avail", "s-reserve", "s-staging", "s-projected", "s-wal"}) {
    EXPECT_NE(html.find(std::string("<path class=\"series ") + css + "\" d=\"M"), std::string::npos)
        << css;
  }
}

TEST(ReportHtmlTest, EverythingFromTheRecordIsEscaped) {
  Sample s;
  s.db = "/data/<script>alert(1)</script>.db";
  s.events =
      ordered_json::array({event("state_change", "<img src=x onerror=alert(2)> & \"q\" 'a'", s.db),
                           event("<b>bold</b>", "x", s.db)});
  const std::string html = render(formats::parse_watch_record(line(s)));
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>bold"), std::string::npos);
  EXPECT_NE(html.find("/data/&lt;script&gt;alert(1)&lt;/script&gt;.db"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt; &amp; &quot;q&quot; &#39;a&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("data-kind=\"&lt;b&gt;bold&lt;/b&gt;\""), std::string::npos);
}

TEST(ReportHtmlTest, HtmlEscapeReplacesControlCharacters) {
  EXPECT_EQ(html_escape(std::string("a\x01z\x7f\tb\nc\0d", 10)), "a\uFFFDz\uFFFD\tb\nc\uFFFDd");
  EXPECT_EQ(html_escape("<&>\"'"), "&lt;&amp;&gt;&quot;&#39;");
  EXPECT_EQ(html_escape("\xC3\xA9 \xE2\x88\x92"), "\xC3\xA9 \xE2\x88\x92");  // UTF-8 kept
}

TEST(ReportHtmlTest, SecretsInRecordStringsAreRedacted) {
  Sample s;
  s.events = ordered_json::array(
      {event("child_exited", "litestream: s3://AKIAEXAMPLE:hunter2secret@bucket.example")});
  const std::string html = render(formats::parse_watch_record(line(s)));
  EXPECT_EQ(html.find("hunter2secret"), std::string::npos);
  EXPECT_NE(html.find("[REDACTED]"), std::string::npos);
}

TEST(ReportHtmlTest, EachKnownEventKindGetsItsOwnMarkerAndUnknownKindsTheirName) {
  std::string text;
  const char* states[] = {"ok",     "warning", "critical", "wedged", "wedged",
                          "wedged", "wedged",  "wedged",   "ok"};
  const ordered_json evs[] = {
      ordered_json::array(),
      ordered_json::array({event("state_change", "ok -> warning")}),
      ordered_json::array(
          {event("state_change", "warning -> critical"), event("disk_full", "disk full")}),
      ordered_json::array({event("wedge", "wedged"), event("state_change", "critical -> wedged")}),
      ordered_json::array({event("protective_stop", "stopped litestream")}),
      ordered_json::array({event("alarm_latched", "alarm latched", "")}),
      ordered_json::array({event("sawtooth", "saw")}),
      ordered_json::array({event("child_exited", "exit 1", "")}),
      ordered_json::array({event("state_change", "wedged -> ok")}),
  };
  for (int i = 0; i < 9; ++i) {
    Sample s;
    s.t = 1000 + i * 1000;
    s.state = states[i];
    s.events = evs[i];
    text += line(s);
  }
  const WatchRecord rec = formats::parse_watch_record(text);
  const std::string html = render(rec);
  const std::pair<const char*, const char*> expected[] = {
      {"ev-warning", "warning"},    {"ev-critical", "critical"},
      {"ev-enospc", "ENOSPC"},      {"ev-wedge", "wedge"},
      {"ev-wedged", "wedged"},      {"ev-stop", "stop"},
      {"ev-alarm", "alarm"},        {"ev-sawtooth", "sawtooth"},
      {"ev-other", "child_exited"}, {"ev-ok", "ok"}};
  for (const auto& [css, label] : expected) {
    const std::regex marker(std::string("<g class=\"marker ") + css +
                            "\" data-kind=\"[a-z_]+\"><line [^>]+/><text [^>]+>" + label +
                            "</text>");
    EXPECT_TRUE(std::regex_search(html, marker)) << css;
    // and a row in the events table
    EXPECT_NE(html.find(std::string("<tr class=\"") + css + "\">"), std::string::npos) << css;
  }
  const DbSummary s = summarize_db(rec, rec.databases[0]);
  EXPECT_EQ(s.stop_events, 1u);
  EXPECT_EQ(s.alarm_events, 1u);  // db "" counts for every database
  EXPECT_NE(html.find("Protective stops: 1; alarms latched: 1."), std::string::npos);
}

TEST(ReportHtmlTest, EventsOfAnotherDatabaseAreNotDrawnOnThisOne) {
  Sample a;
  a.events = ordered_json::array({event("disk_full", "b is full", "/data/b.db")});
  Sample b = a;
  b.t = 2000;
  b.db = "/data/b.db";
  b.events = ordered_json::array();
  const WatchRecord rec = formats::parse_watch_record(line(a) + line(at(1000)) + line(b));
  ASSERT_EQ(rec.databases.size(), 2u);
  const std::string html = render(rec);
  EXPECT_EQ(count(html, "data-kind=\"disk_full\""), 1u);
  const size_t b_section = html.find("<section class=\"db\" id=\"db-2\">");
  ASSERT_NE(b_section, std::string::npos);
  EXPECT_GT(html.find("data-kind=\"disk_full\""), b_section);
  EXPECT_FALSE(summarize_db(rec, rec.databases[0]).failed);
  EXPECT_TRUE(summarize_db(rec, rec.databases[1]).failed);  // its ENOSPC
}

TEST(ReportHtmlTest, HealthyRecordIsOk) {
  std::string text;
  for (int i = 0; i < 5; ++i) {
    Sample s = at(1000 * i);
    s.avail = static_cast<uint64_t>((10 - i) << 20);
    text += line(s);
  }
  const WatchRecord rec = formats::parse_watch_record(text);
  const DbSummary s = summarize_db(rec, rec.databases[0]);
  EXPECT_EQ(s.worst_state, RecordState::ok);
  EXPECT_EQ(s.worst_state_point, 0u);
  EXPECT_EQ(s.worst_state_reason, "reason for ok");
  EXPECT_EQ(s.tightest_point, 4u);
  EXPECT_EQ(s.equation.headroom_bytes, 5 << 20);
  EXPECT_FALSE(s.reserve_breach_point);
  EXPECT_FALSE(s.first_warning_point);
  EXPECT_FALSE(s.failed);
  const std::string html = render(rec);
  EXPECT_NE(html.find("<span class=\"badge ok\" id=\"verdict\">OK</span>"), std::string::npos);
  EXPECT_NE(html.find("never breached"), std::string::npos);
  EXPECT_NE(html.find("none forecast"), std::string::npos);
  EXPECT_NE(html.find("No events recorded."), std::string::npos);
  EXPECT_NE(html.find("= headroom <span class=\"pos\">5.0 MiB</span>"), std::string::npos);
}

TEST(ReportHtmlTest, BreachWithoutAWarningFirstIsSaidSo) {
  Sample a = at(0);
  a.forecast = 120.4;
  Sample b = at(1000);
  b.state = "critical";
  b.avail = 512 << 10;  // below the 1 MiB reserve
  b.forecast = 0;
  const WatchRecord rec = formats::parse_watch_record(line(a) + line(b));
  const DbSummary s = summarize_db(rec, rec.databases[0]);
  EXPECT_EQ(s.reserve_breach_point, std::optional<size_t>(1));
  EXPECT_EQ(s.first_warning_point, std::optional<size_t>(1));
  EXPECT_EQ(s.shortest_forecast_point, std::optional<size_t>(0));
  EXPECT_TRUE(s.failed);
  const std::string html = render(rec);
  EXPECT_NE(
      html.find(
          "<b>breached</b> at +0:01.0 (1970-01-01 00:00:01.000 UTC), with no warning before it"),
      std::string::npos);
  EXPECT_NE(html.find("shortest forecast 120 s, at +0:00.0 (1970-01-01 00:00:00.000 UTC)"),
            std::string::npos);
}

TEST(ReportHtmlTest, RootViewIsUsedWhenTheRecordedHeadroomCountsRootReservedBlocks) {
  // ext4 with a root reserve: f_bfree 20 MiB, f_bavail 15 MiB; the app runs as root.
  Sample s;
  s.avail = 15 << 20;
  s.free = 20 << 20;
  s.reserve = 2 << 20;
  s.remaining = 1 << 20;
  s.headroom = (20 << 20) - (2 << 20) - (1 << 20);
  const WatchRecord rec = formats::parse_watch_record(line(s));
  const DbSummary sum = summarize_db(rec, rec.databases[0]);
  EXPECT_TRUE(sum.equation.root_view);
  EXPECT_TRUE(sum.equation.adds_up);
  EXPECT_EQ(sum.equation.app_free_bytes, 20 << 20);
  EXPECT_NE(render(rec).find("(f_bfree: the app runs as root)"), std::string::npos);
}

TEST(ReportHtmlTest, HeadroomTheTermsDoNotExplainIsShownAsRecordedWithANote) {
  Sample s;
  s.avail = 15 << 20;
  s.reserve = 2 << 20;
  s.headroom = -1;
  const WatchRecord rec = formats::parse_watch_record(line(s));
  const DbSummary sum = summarize_db(rec, rec.databases[0]);
  EXPECT_FALSE(sum.equation.adds_up);
  EXPECT_EQ(sum.equation.headroom_bytes, -1);
  EXPECT_NE(render(rec).find("The recorded headroom is not these terms"), std::string::npos);
}

TEST(ReportHtmlTest, EmptyRecordSaysNoData) {
  ReportOptions opts;
  opts.source = "/var/lib/x.jsonl";
  const std::string html = render(WatchRecord{}, opts);
  EXPECT_NE(html.find(">NO DATA</span>"), std::string::npos);
  EXPECT_NE(html.find("<code>/var/lib/x.jsonl</code>: no valid sample."), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(ReportHtmlTest, OneSampleIsDrawnAsDots) {
  const std::string html = render(formats::parse_watch_record(line(at(5000))));
  EXPECT_NE(html.find("<path class=\"series s-avail\" d=\"M585.0 "), std::string::npos);  // centred
  EXPECT_NE(html.find(" h0.01\">"), std::string::npos);
  const std::regex path_data("<path class=\"series [a-z-]+\" d=\"([^\"]*)\"");
  size_t paths = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), path_data);
       it != std::sregex_iterator(); ++it) {
    ++paths;
    EXPECT_TRUE(std::regex_match((*it)[1].str(), std::regex("[MLh0-9. -]+"))) << (*it)[1].str();
  }
  EXPECT_EQ(paths, 5u);
}

TEST(ReportHtmlTest, PageFetchesNothing) {
  const std::string html = render(real_record());
  EXPECT_EQ(html.find("http:"), std::string::npos);
  EXPECT_EQ(html.find("https:"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("content=\"default-src 'none'; style-src 'unsafe-inline'\""),
            std::string::npos);
}

TEST(ReportHtmlTest, LongRecordsAreDownsampledButKeepTheirPeaks) {
  std::string text;
  for (int i = 0; i < 20'000; ++i) {
    Sample s = at(1000LL * i);
    s.staging = static_cast<uint64_t>(i == 14'321 ? 9 << 20 : 1 << 20);
    text += line(s);
  }
  const WatchRecord rec = formats::parse_watch_record(text);
  ASSERT_EQ(rec.samples, 20'000u);
  ReportOptions opts;
  opts.max_points_per_series = 400;
  const std::string html = render(rec, opts);
  const size_t at = html.find("<path class=\"series s-staging\" d=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string d = html.substr(at, html.find('"', html.find("d=\"", at) + 3) - at);
  EXPECT_LE(count(d, " L") + 1, 400u);
  EXPECT_GE(count(d, " L") + 1, 100u);
  // the spike (9 MiB of a 10 MiB axis) survives: a vertex near the top of the plot
  const std::regex high(" L[0-9.]+ (8[0-9]|9[0-9])\\.[0-9]");
  EXPECT_TRUE(std::regex_search(d, high)) << d.substr(0, 200);
}

TEST(ReportHtmlTest, ExtremeValuesAreDrawnWithoutOverflow) {
  Sample a = at(0);
  a.avail = UINT64_MAX;
  a.free = UINT64_MAX;
  a.staging = UINT64_MAX;
  a.remaining = UINT64_MAX;
  a.headroom = INT64_MIN;
  Sample b = at(int64_t{1} << 42);
  const WatchRecord rec = formats::parse_watch_record(line(a) + line(b));
  ASSERT_EQ(rec.samples, 2u);
  const std::string html = render(rec);
  EXPECT_NE(html.find("<svg class=\"timeline\""), std::string::npos);
  EXPECT_EQ(html.find("text-anchor=\"end\">-"), std::string::npos);  // no negative axis label
  EXPECT_NE(html.find("text-anchor=\"end\">8192.0 PiB<"), std::string::npos);
}

TEST(ReportHtmlTest, ParseNotesAreShown) {
  const WatchRecord rec = formats::parse_watch_record(line(Sample{}) + "garbage\n");
  ReportOptions opts;
  opts.notes = {"only the first 2.0 GiB of 3.0 GiB were read"};
  const std::string html = render(rec, opts);
  EXPECT_NE(html.find("<li>only the first 2.0 GiB of 3.0 GiB were read</li>"), std::string::npos);
  EXPECT_NE(html.find("<li>1 malformed line(s) skipped</li>"), std::string::npos);
  EXPECT_NE(html.find("<li>line 2: not JSON</li>"), std::string::npos);
}

}  // namespace
}  // namespace ltxguard::output
