#include "ltxguard/formats/policy.hpp"

#include <gtest/gtest.h>

#include <string>

#include "support/temp_dir.hpp"

namespace ltxguard::formats {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = kKiB * 1024;
constexpr uint64_t kGiB = kMiB * 1024;

// The one-line error text of a policy that must not parse.
std::string policy_error(const std::string& yaml) {
  auto p = parse_policy(yaml, "policy.yml");
  if (p) return "(parsed)";
  EXPECT_EQ(p.error().code, util::ErrorCode::invalid_input);
  return p.error().to_string();
}

std::string size_error(const std::string& text) {
  auto v = parse_size(text);
  if (v) return "(parsed " + std::to_string(*v) + ")";
  EXPECT_EQ(v.error().code, util::ErrorCode::invalid_input);
  return v.error().to_string();
}

TEST(PolicyTest, EmptyDocumentMeansEveryDefault) {
  for (const char* text : {"", "# only a comment\n", "\n\n"}) {
    auto p = parse_policy(text, "policy.yml");
    ASSERT_TRUE(p) << p.error().to_string();
    EXPECT_FALSE(p->reserve_bytes);
    EXPECT_FALSE(p->warn_at);
    EXPECT_FALSE(p->max_staging_bytes);
    EXPECT_TRUE(p->key_lines.empty());
  }
}

TEST(PolicyTest, ParsesEveryKey) {
  const std::string yaml =
      "reserve_percent: 7.5\n"
      "app_wal_headroom_bytes: 512MiB\n"
      "max_staging_bytes: 40GiB\n"
      "min_free_bytes: 1073741824\n"
      "staging_overhead_ratio: 1.03\n"
      "wal_growth_bytes: '256 MiB'\n"
      "app_write_bytes_per_second: 2MiB/s\n"
      "staging_write_bytes_per_second: 100000000\n"
      "warn_at: 10%\n"
      "critical_at: 2GiB\n"
      "lead_time_seconds: 15m\n";
  auto p = parse_policy(yaml, "policy.yml");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->reserve_percent_ppm, 75'000u);
  EXPECT_EQ(p->app_wal_headroom_bytes, 512 * kMiB);
  EXPECT_EQ(p->max_staging_bytes, 40 * kGiB);
  EXPECT_EQ(p->min_free_bytes, kGiB);
  EXPECT_EQ(p->staging_overhead_ratio_ppm, 1'030'000u);
  EXPECT_EQ(p->wal_growth_bytes, 256 * kMiB);
  EXPECT_EQ(p->app_write_bytes_per_second, 2 * kMiB);
  EXPECT_EQ(p->staging_write_bytes_per_second, 100'000'000u);
  ASSERT_TRUE(p->warn_at);
  EXPECT_EQ(p->warn_at->unit, Threshold::Unit::percent);
  EXPECT_EQ(p->warn_at->percent_ppm, 100'000u);
  ASSERT_TRUE(p->critical_at);
  EXPECT_EQ(p->critical_at->unit, Threshold::Unit::bytes);
  EXPECT_EQ(p->critical_at->bytes, 2 * kGiB);
  EXPECT_EQ(p->lead_time_seconds, 900u);
  EXPECT_EQ(p->key_lines.at("max_staging_bytes"), 3);
  EXPECT_EQ(policy_key_location(*p, "critical_at"), "policy.yml:10: critical_at");
  EXPECT_EQ(policy_key_location(*p, "reserve_bytes"), "policy: reserve_bytes");
}

TEST(PolicyTest, ExampleFileParses) {
  const std::string text =
      testing::read_file(std::string(LTXGUARD_TESTDATA) + "/../../deploy/policy.example.yml");
  auto p = parse_policy(text, "policy.example.yml");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->reserve_percent_ppm, 50'000u);
  EXPECT_FALSE(p->reserve_bytes);  // commented out: it cannot be combined with reserve_percent
  EXPECT_EQ(p->max_staging_bytes, 40 * kGiB);
  EXPECT_EQ(p->staging_overhead_ratio_ppm, 1'020'000u);
  EXPECT_EQ(p->lead_time_seconds, 900u);
  EXPECT_EQ(p->stop_grace_seconds, 10u);
  // every key except reserve_bytes and the two opt-in supervisor switches is shown in use
  EXPECT_EQ(p->key_lines.size(), 12u);
}

TEST(PolicyTest, UnknownKeyNamesKeyAndLine) {
  EXPECT_EQ(policy_error("reserve_percent: 5\n# a comment\nreserve_byte: 1GiB\n"),
            "policy.yml:3: unknown key 'reserve_byte'");
}

TEST(PolicyTest, BadSizeNamesKeyAndLine) {
  EXPECT_EQ(policy_error("warn_at: 1GiB\n\n# cap\nmax_staging_bytes: lots\n"),
            "policy.yml:4: max_staging_bytes: expected a size like 2GiB, got 'lots'");
}

TEST(PolicyTest, PercentOutOfRange) {
  EXPECT_EQ(policy_error("# reserve\nreserve_percent: 150\n"),
            "policy.yml:2: reserve_percent: must be between 0 and 100");
  EXPECT_EQ(policy_error("reserve_percent: -1\n"),
            "policy.yml:1: reserve_percent: must be between 0 and 100");
  EXPECT_EQ(policy_error("reserve_percent: five\n"),
            "policy.yml:1: reserve_percent: expected a percentage like 5 or 7.5, got 'five'");
}

TEST(PolicyTest, WrongTypesAreErrors) {
  EXPECT_EQ(policy_error("reserve_bytes: [1, 2]\n"),
            "policy.yml:1: reserve_bytes: expected a size like 2GiB, got a list");
  EXPECT_EQ(policy_error("min_free_bytes:\n  a: 1\n"),
            "policy.yml:2: min_free_bytes: expected a size like 2GiB, got a mapping");
  EXPECT_EQ(policy_error("reserve_bytes: 1GiB\nmin_free_bytes:\n"),
            "policy.yml:2: min_free_bytes: expected a size like 2GiB, got nothing");
  EXPECT_EQ(policy_error("lead_time_seconds: 1.5h\n"),
            "policy.yml:1: lead_time_seconds: expected seconds like 600 or a duration like 10m, "
            "got '1.5h'");
  EXPECT_EQ(policy_error("app_write_bytes_per_second: fast\n"),
            "policy.yml:1: app_write_bytes_per_second: expected a rate like 20MiB/s, got 'fast'");
  EXPECT_EQ(policy_error("warn_at: 10 percent\n"),
            "policy.yml:1: warn_at: expected a size like 2GiB or a percentage like 10%, got "
            "'10 percent'");
  EXPECT_EQ(policy_error("critical_at: 120%\n"),
            "policy.yml:1: critical_at: must be between 0% and 100%");
}

TEST(PolicyTest, RatioMustBeAtLeastOne) {
  EXPECT_EQ(policy_error("staging_overhead_ratio: 0.9\n"),
            "policy.yml:1: staging_overhead_ratio: must be between 1.0 and 16, got 0.9");
  EXPECT_EQ(policy_error("staging_overhead_ratio: -2\n"),
            "policy.yml:1: staging_overhead_ratio: must be between 1.0 and 16, got -2");
  EXPECT_EQ(policy_error("staging_overhead_ratio: 17\n"),
            "policy.yml:1: staging_overhead_ratio: must be between 1.0 and 16, got 17");
  EXPECT_EQ(policy_error("staging_overhead_ratio: 1e0\n"),
            "policy.yml:1: staging_overhead_ratio: expected a ratio like 1.03, got '1e0'");
  auto p = parse_policy("staging_overhead_ratio: 1.0095\n", "policy.yml");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->staging_overhead_ratio_ppm, 1'009'500u);
}

TEST(PolicyTest, DuplicateKeyIsError) {
  EXPECT_EQ(policy_error("warn_at: 1GiB\nreserve_percent: 5\nwarn_at: 2GiB\n"),
            "policy.yml:3: duplicate key 'warn_at' (first on line 1)");
}

TEST(PolicyTest, ReserveBytesAndPercentAreExclusive) {
  EXPECT_EQ(policy_error("reserve_bytes: 2GiB\nreserve_percent: 5\n"),
            "policy.yml:2: reserve_percent: cannot be combined with reserve_bytes (line 1): "
            "reserve_bytes replaces the computed reserve");
}

TEST(PolicyTest, CriticalAboveWarnIsError) {
  EXPECT_EQ(policy_error("warn_at: 1GiB\ncritical_at: 2GiB\n"),
            "policy.yml:2: critical_at: 2.0 GiB is above warn_at 1.0 GiB (line 1): critical must "
            "be the lower headroom");
  EXPECT_EQ(policy_error("critical_at: 10%\nwarn_at: 5%\n"),
            "policy.yml:1: critical_at: 10% is above warn_at 5% (line 2): critical must be the "
            "lower headroom");
  // Mixed units can only be compared once the filesystem is known (the budget does it).
  EXPECT_TRUE(parse_policy("warn_at: 1GiB\ncritical_at: 5%\n", "policy.yml"));
}

TEST(PolicyTest, DocumentMustBeAMapping) {
  EXPECT_EQ(policy_error("- reserve_bytes\n- 1GiB\n"),
            "policy.yml:1: expected a mapping of policy keys, got a list");
  EXPECT_EQ(policy_error("5GiB\n"), "policy.yml:1: expected a mapping of policy keys, got '5GiB'");
  EXPECT_EQ(policy_error("[a]: 1\n"), "policy.yml:1: expected a key name, got a list");
}

TEST(PolicyTest, InvalidYamlReportsOneBasedLine) {
  EXPECT_EQ(policy_error("warn_at: 1GiB\nreserve_bytes: [1, 2\n"),
            "policy.yml:3: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(policy_error("warn_at: 1GiB\n  bad indent: 2\n"),
            "policy.yml:2: invalid YAML: illegal map value");
}

TEST(PolicyTest, OversizedPolicyIsRefused) {
  const std::string big(kMaxPolicyBytes + 1, '#');
  EXPECT_EQ(policy_error(big),
            "policy.yml:1: policy is 1048577 bytes, more than the 1048576 a policy may have");
}

TEST(PolicyTest, ThresholdResolvesPercentRoundingUp) {
  Threshold t{Threshold::Unit::percent, 0, 100'000};  // 10 %
  EXPECT_EQ(t.resolve_bytes(1000), 100u);
  EXPECT_EQ(t.resolve_bytes(1001), 101u);  // 100.1 rounds up
  EXPECT_EQ(t.resolve_bytes(UINT64_MAX), 1844674407370955162u);
  EXPECT_EQ(t.to_string(), "10%");
  Threshold b{Threshold::Unit::bytes, 3 * kGiB, 0};
  EXPECT_EQ(b.resolve_bytes(1), 3 * kGiB);
  EXPECT_EQ(b.to_string(), "3.0 GiB");
}

TEST(SizeTest, AcceptsBytesAndUnits) {
  EXPECT_EQ(parse_size("1073741824").value(), kGiB);
  EXPECT_EQ(parse_size("0").value(), 0u);
  EXPECT_EQ(parse_size("512MiB").value(), 512 * kMiB);
  EXPECT_EQ(parse_size("2GiB").value(), 2 * kGiB);
  EXPECT_EQ(parse_size("2 GiB").value(), 2 * kGiB);
  EXPECT_EQ(parse_size("500MB").value(), 500'000'000u);
  EXPECT_EQ(parse_size("4kB").value(), 4000u);
  EXPECT_EQ(parse_size("4KB").value(), 4000u);
  EXPECT_EQ(parse_size("1.5GiB").value(), 1'610'612'736u);
  EXPECT_EQ(parse_size("2TB").value(), 2'000'000'000'000u);
  EXPECT_EQ(parse_size("1PiB").value(), kGiB * kMiB);
  EXPECT_EQ(parse_size("10B").value(), 10u);
  EXPECT_EQ(parse_size("18446744073709551615").value(), UINT64_MAX);
}

TEST(SizeTest, FractionsRoundDownToWholeBytes) {
  EXPECT_EQ(parse_size("1.9").value(), 1u);
  EXPECT_EQ(parse_size("0.5KiB").value(), 512u);
  EXPECT_EQ(parse_size("0.0001KiB").value(), 0u);    // 0.1024 bytes
  EXPECT_EQ(parse_size("1.001KiB").value(), 1025u);  // 1025.024
  EXPECT_EQ(parse_size("0.1GB").value(), 100'000'000u);
}

TEST(SizeTest, RejectsEverythingElse) {
  EXPECT_EQ(size_error("lots"), "expected a size like 2GiB, got 'lots'");
  EXPECT_EQ(size_error(""), "expected a size like 2GiB, got ''");
  EXPECT_EQ(size_error("-1"), "expected a size like 2GiB, got '-1'");
  EXPECT_EQ(size_error("2gib"), "expected a size like 2GiB, got '2gib'");
  EXPECT_EQ(size_error("2Gb"), "expected a size like 2GiB, got '2Gb'");
  EXPECT_EQ(size_error("1e9"), "expected a size like 2GiB, got '1e9'");
  EXPECT_EQ(size_error("0x10"), "expected a size like 2GiB, got '0x10'");
  EXPECT_EQ(size_error(".5GiB"), "expected a size like 2GiB, got '.5GiB'");
  EXPECT_EQ(size_error("1.GiB"), "expected a size like 2GiB, got '1.GiB'");
  EXPECT_EQ(size_error("2GiB2"), "expected a size like 2GiB, got '2GiB2'");
  EXPECT_EQ(size_error("18446744073709551616"), "size '18446744073709551616' is too large");
  EXPECT_EQ(size_error("16384PiB"), "size '16384PiB' is too large");
  EXPECT_EQ(size_error("99999999999999999999999GiB"),
            "size '99999999999999999999999GiB' is too large");
}

}  // namespace
}  // namespace ltxguard::formats

namespace ltxguard::formats {
namespace {

TEST(PolicySupervisorKeysTest, ParsesSupervisorKeys) {
  auto p = parse_policy(
      "stop_grace_seconds: 30s\nballast_bytes: 64MiB\nballast_path: /srv/app/.ballast\nremove_staging_tmp_on_stop: true\n",
      "policy.yml");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_EQ(p->stop_grace_seconds, 30u);
  EXPECT_EQ(p->ballast_bytes, 64u << 20);
  EXPECT_EQ(p->ballast_path, "/srv/app/.ballast");
  EXPECT_TRUE(p->remove_staging_tmp_on_stop);
}

TEST(PolicySupervisorKeysTest, SupervisorKeysAreOffByDefault) {
  auto p = parse_policy("", "policy.yml");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->ballast_bytes);
  EXPECT_FALSE(p->ballast_path);
  EXPECT_FALSE(p->remove_staging_tmp_on_stop);
  EXPECT_FALSE(p->stop_grace_seconds);
}

TEST(PolicySupervisorKeysTest, BadSupervisorValuesNameKeyAndLine) {
  auto bad_bool = parse_policy("remove_staging_tmp_on_stop: yes\n", "policy.yml");
  ASSERT_FALSE(bad_bool);
  EXPECT_EQ(bad_bool.error().to_string(),
            "policy.yml:1: remove_staging_tmp_on_stop: expected true or false, got 'yes'");
  auto relative = parse_policy("ballast_path: ballast\n", "policy.yml");
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().to_string(), "policy.yml:1: ballast_path: expected an absolute path, got 'ballast'");
}

}  // namespace
}  // namespace ltxguard::formats
