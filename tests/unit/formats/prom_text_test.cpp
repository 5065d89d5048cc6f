#include "ltxguard/formats/prom_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace ltxguard::formats {
namespace {

std::string read_testdata(const std::string& rel) {
  std::ifstream in(std::string(LTXGUARD_TESTDATA) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kDb = "/tmp/ls-metrics/app.db";

TEST(PromTextTest, ParsesRealLitestream0313Metrics) {
  const std::string text = read_testdata("metrics/litestream-0.3.13.txt");
  ASSERT_FALSE(text.empty());
  const auto samples = parse_prom_text(text);
  EXPECT_EQ(samples.size(), 34u);  // every non-comment line of the capture

  EXPECT_EQ(find_sample(samples, "litestream_shadow_wal_index", {{"db", kDb}}), 4.0);
  EXPECT_EQ(find_sample(samples, "litestream_shadow_wal_size", {{"db", kDb}}), 20664.0);
  EXPECT_EQ(find_sample(samples, "litestream_replica_wal_index", {{"db", kDb}, {"name", "file"}}),
            4.0);
  EXPECT_EQ(find_sample(samples, "litestream_replica_wal_offset", {{"name", "s3"}}), 4152.0);
  EXPECT_EQ(find_sample(samples, "litestream_sync_error_count", {{"db", kDb}}), 0.0);
  EXPECT_EQ(find_sample(samples, "litestream_wal_size"), 28872.0);
  EXPECT_EQ(find_sample(samples, "litestream_checkpoint_count", {{"mode", "PASSIVE"}}), 4.0);
  EXPECT_EQ(find_sample(samples, "litestream_replica_operation_total",
                        {{"operation", "PUT"}, {"replica_type", "s3"}}),
            10.0);
  EXPECT_EQ(find_sample(samples, "litestream_replica_validation_total",
                        {{"name", "s3"}, {"status", "error"}}),
            0.0);
  EXPECT_DOUBLE_EQ(*find_sample(samples, "litestream_sync_seconds"), 0.04168514);
  EXPECT_DOUBLE_EQ(*find_sample(samples, "go_memstats_last_gc_time_seconds"),
                   1.7956160486318064e+09);
  EXPECT_DOUBLE_EQ(*find_sample(samples, "go_gc_duration_seconds", {{"quantile", "0.5"}}),
                   0.000164624);
  EXPECT_EQ(find_sample(samples, "go_gc_duration_seconds_count"), 6.0);
  // 0.5-only names are absent: how a caller tells the versions apart
  EXPECT_FALSE(find_sample(samples, "litestream_txid"));
  EXPECT_FALSE(find_sample(samples, "litestream_replica_wal_index", {{"name", "gcs"}}));

  const auto& s = samples.back();
  EXPECT_EQ(s.name, "process_start_time_seconds");
  EXPECT_TRUE(s.labels.empty());
}

TEST(PromTextTest, LabelsKeepOrderAndAreUnescaped) {
  const auto samples =
      parse_prom_text("m{path=\"C:\\\\dir\\\\a \\\"q\\\"\",nl=\"a\\nb\",empty=\"\",} 1\n");
  ASSERT_EQ(samples.size(), 1u);
  using L = std::pair<std::string, std::string>;
  EXPECT_EQ(samples[0].labels,
            (std::vector<L>{{"path", "C:\\dir\\a \"q\""}, {"nl", "a\nb"}, {"empty", ""}}));
  EXPECT_EQ(find_sample(samples, "m", {{"nl", "a\nb"}}), 1.0);
}

TEST(PromTextTest, SpecialValuesTimestampsBlanksAndCrlf) {
  const auto samples = parse_prom_text(
      "a NaN\n"
      "b +Inf\n"
      "c -Inf 1700000000000\n"
      "  d\t{x = \"1\" }\t-1.5e3  \r\n"
      "e 7 -5\n"
      "ns:sub_total 3\n");
  ASSERT_EQ(samples.size(), 6u);
  EXPECT_TRUE(std::isnan(samples[0].value));
  EXPECT_EQ(samples[1].value, INFINITY);
  EXPECT_EQ(samples[2].value, -INFINITY);
  EXPECT_EQ(samples[3].name, "d");
  EXPECT_EQ(samples[3].value, -1500.0);
  EXPECT_EQ(samples[4].value, 7.0);
  EXPECT_EQ(samples[5].name, "ns:sub_total");
}

TEST(PromTextTest, MalformedLinesAreSkippedAndTheRestKept) {
  const auto samples = parse_prom_text(
      "# HELP good a metric\n"
      "# TYPE good gauge\n"
      "good 1\n"
      "1bad 2\n"            // name starts with a digit
      "bad{a=\"b\" 3\n"     // unterminated label set
      "bad{a=\"b} 3\n"      // unterminated value
      "bad{a=b} 3\n"        // unquoted value
      "bad{a=\"\\t\"} 3\n"  // unknown escape
      "bad{:a=\"b\"} 3\n"   // ':' in a label name
      "bad 3 notatimestamp\n"
      "bad 3 123 junk\n"
      "bad 0x10\n"
      "bad ++1\n"
      "bad\n"
      "bad{}\n"
      "\n"
      "good{k=\"v\"} 2\n"
      "good 3");  // no final newline
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].value, 1.0);
  EXPECT_EQ(find_sample(samples, "good", {{"k", "v"}}), 2.0);
  EXPECT_EQ(samples[2].value, 3.0);
  EXPECT_FALSE(find_sample(samples, "bad"));
}

TEST(PromTextTest, FindSampleMatchesASubsetOfLabelsAndTakesTheFirst) {
  const auto samples = parse_prom_text("m{a=\"1\",b=\"2\"} 10\nm{a=\"1\",b=\"3\"} 20\n");
  EXPECT_EQ(find_sample(samples, "m"), 10.0);
  EXPECT_EQ(find_sample(samples, "m", {{"b", "3"}}), 20.0);
  EXPECT_EQ(find_sample(samples, "m", {{"a", "1"}, {"b", "3"}}), 20.0);
  EXPECT_FALSE(find_sample(samples, "m", {{"a", "2"}}));
  EXPECT_FALSE(find_sample(samples, "m", {{"c", ""}}));
  EXPECT_FALSE(find_sample(samples, "n"));
}

TEST(PromTextTest, EveryPrefixOfARealScrapeParsesWithoutHarm) {
  // A scrape cut off mid-transfer: no crash, never more samples than the whole text.
  const std::string text = read_testdata("metrics/litestream-0.3.13.txt");
  const size_t full = parse_prom_text(text).size();
  for (size_t n = 0; n <= text.size(); n += 7) {
    EXPECT_LE(parse_prom_text(std::string_view(text).substr(0, n)).size(), full);
  }
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  EXPECT_TRUE(parse_prom_text(garbage).empty());
}

}  // namespace
}  // namespace ltxguard::formats
