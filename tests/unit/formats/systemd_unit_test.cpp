#include "ltxguard/formats/systemd_unit.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace ltxguard::formats {
namespace {

// Litestream's own etc/litestream.service (identical in v0.3.13 and v0.5.16).
constexpr std::string_view kShipped =
    "[Unit]\n"
    "Description=Litestream\n"
    "\n"
    "[Service]\n"
    "Restart=always\n"
    "ExecStart=/usr/bin/litestream replicate\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

SystemdUnit parse_ok(std::string_view text, std::string_view name = "litestream.service") {
  auto u = parse_systemd_unit(text, name);
  EXPECT_TRUE(u.has_value()) << (u ? "" : u.error().to_string());
  return u ? *u : SystemdUnit{};
}

std::string parse_error(std::string_view text) {
  auto u = parse_systemd_unit(text, "x.service");
  EXPECT_FALSE(u.has_value());
  return u ? std::string() : u.error().to_string();
}

TEST(SystemdUnitTest, ParsesTheShippedLitestreamUnit) {
  const SystemdUnit u = parse_ok(kShipped);
  EXPECT_EQ(u.get("Service", "Restart"), "always");
  EXPECT_EQ(u.get("Service", "ExecStart"), "/usr/bin/litestream replicate");
  EXPECT_EQ(u.get("Install", "WantedBy"), "multi-user.target");
  EXPECT_EQ(u.get("Service", "User"), std::nullopt);
  EXPECT_EQ(u.get("Unit", "Restart"), std::nullopt);  // keys are per section
  ASSERT_NE(u.where("Service", "Restart"), nullptr);
  EXPECT_EQ(u.where("Service", "Restart")->line, 5);
  EXPECT_EQ(u.where("Service", "Restart")->source, "litestream.service");
}

TEST(SystemdUnitTest, SkipsCommentsAndTrimsAroundTheEqualsSign) {
  const SystemdUnit u = parse_ok(
      "# comment\n; also a comment\n[Service]\n  # indented comment\n  User  =  app  \n"
      "Environment=A=1 B=2\n");
  EXPECT_EQ(u.get("Service", "User"), "app");
  EXPECT_EQ(u.get("Service", "Environment"), "A=1 B=2");  // only the first '=' splits
  EXPECT_EQ(u.assignments.size(), 2U);
}

TEST(SystemdUnitTest, JoinsContinuationLinesWithASpace) {
  const SystemdUnit u = parse_ok(
      "[Service]\n"
      "ExecStart=/usr/bin/litestream \\\n"
      "# a comment inside a continuation is skipped\n"
      "\n"
      "  replicate \\\n"
      "  -config /etc/l.yml\n"
      "User=app\n");
  EXPECT_EQ(u.get("Service", "ExecStart"),
            "/usr/bin/litestream    replicate    -config /etc/l.yml");
  EXPECT_EQ(u.where("Service", "ExecStart")->line, 2);
  EXPECT_EQ(u.where("Service", "User")->line, 7);
}

TEST(SystemdUnitTest, EscapedBackslashDoesNotContinue) {
  const SystemdUnit u = parse_ok("[Service]\nEnvironment=P=C:\\\\\nUser=app\n");
  EXPECT_EQ(u.get("Service", "Environment"), "P=C:\\\\");
  EXPECT_EQ(u.get("Service", "User"), "app");
}

TEST(SystemdUnitTest, ContinuationAtEndOfFileIsKept) {
  const SystemdUnit u = parse_ok("[Service]\nUser=app\\");
  EXPECT_EQ(u.get("Service", "User"), "app");
}

TEST(SystemdUnitTest, AcceptsCrlfLineEndings) {
  const SystemdUnit u = parse_ok("[Service]\r\nUser=app\r\nRestart=always\r\n");
  EXPECT_EQ(u.get("Service", "User"), "app");
  EXPECT_EQ(u.get("Service", "Restart"), "always");
}

TEST(SystemdUnitTest, RepeatedKeysAccumulateAndEmptyAssignmentResets) {
  const SystemdUnit u = parse_ok(
      "[Service]\nExecStartPre=/bin/a\nExecStartPre=/bin/b\nExecStartPre=\nExecStartPre=/bin/c\n"
      "ExecStartPre=/bin/d\nUser=app\nUser=\n");
  EXPECT_EQ(u.get_all("Service", "ExecStartPre"), (std::vector<std::string>{"/bin/c", "/bin/d"}));
  EXPECT_EQ(u.get("Service", "ExecStartPre"), "/bin/d");
  EXPECT_EQ(u.get("Service", "User"), std::nullopt);  // reset to the default: no user
  EXPECT_EQ(u.where("Service", "User"), nullptr);
  EXPECT_TRUE(u.get_all("Service", "User").empty());
}

TEST(SystemdUnitTest, DropInsApplyInMergeOrder) {
  SystemdUnit u = parse_ok(kShipped);
  const SystemdUnit a = parse_ok(
      "[Service]\nUser=litestream\nExecStart=\nExecStart=/usr/bin/ltxguard run\n", "10-user.conf");
  const SystemdUnit b = parse_ok("[Unit]\nStartLimitBurst=5\n[Service]\nUser=\n", "20-root.conf");
  merge_drop_in(u, a);
  EXPECT_EQ(u.get("Service", "User"), "litestream");
  EXPECT_EQ(u.get_all("Service", "ExecStart"), (std::vector<std::string>{"/usr/bin/ltxguard run"}));
  EXPECT_EQ(u.where("Service", "User")->source, "10-user.conf");
  EXPECT_EQ(u.where("Service", "User")->line, 2);
  merge_drop_in(u, b);
  EXPECT_EQ(u.get("Service", "User"), std::nullopt);  // the later drop-in reset it
  EXPECT_EQ(u.get("Unit", "StartLimitBurst"), "5");
  EXPECT_EQ(u.get("Service", "Restart"), "always");  // untouched by both
  EXPECT_EQ(u.drop_ins, (std::vector<std::string>{"10-user.conf", "20-root.conf"}));
}

TEST(SystemdUnitTest, EmptyTextIsAnEmptyUnit) {
  const SystemdUnit u = parse_ok("");
  EXPECT_TRUE(u.assignments.empty());
}

TEST(SystemdUnitTest, RefusesAssignmentOutsideASection) {
  EXPECT_EQ(parse_error("# header\nUser=root\n[Service]\n"),
            "x.service:2: assignment outside of a section");
}

TEST(SystemdUnitTest, RefusesInvalidSectionHeader) {
  EXPECT_EQ(parse_error("[Service\nUser=root\n"), "x.service:1: invalid section header '[Service'");
  EXPECT_EQ(parse_error("[Unit]\n[]\n"), "x.service:2: invalid section header '[]'");
}

TEST(SystemdUnitTest, RefusesLineWithoutEquals) {
  EXPECT_EQ(parse_error("[Service]\nUser root\n"),
            "x.service:2: expected Key=Value, got 'User root'");
}

TEST(SystemdUnitTest, RefusesEmptyKey) {
  EXPECT_EQ(parse_error("[Service]\n =root\n"), "x.service:2: empty key");
}

TEST(SystemdUnitTest, QuotesAtMostSixtyBytesOfABadLine) {
  const std::string line(100, 'x');
  EXPECT_EQ(parse_error("[Service]\n" + line + "\n"),
            "x.service:2: expected Key=Value, got '" + std::string(60, 'x') + "...'");
}

TEST(SystemdUnitTest, RefusesNulBytes) {
  EXPECT_EQ(parse_error(std::string_view("[Service]\nUser=a\0b\n", 19)),
            "x.service:2: NUL byte in unit file");
}

TEST(SystemdUnitTest, RefusesOversizedText) {
  const std::string big(kMaxUnitBytes + 1, '#');
  EXPECT_EQ(parse_error(big), "x.service:1: unit file is larger than 1048576 bytes");
}

TEST(SystemdUnitTest, ParsesSystemdBooleans) {
  for (const char* t : {"1", "yes", "Y", "TRUE", "t", "on", " On "})
    EXPECT_EQ(parse_systemd_bool(t), true) << t;
  for (const char* f : {"0", "no", "N", "false", "F", "off"})
    EXPECT_EQ(parse_systemd_bool(f), false) << f;
  for (const char* x : {"", "2", "yess", "enable"})
    EXPECT_EQ(parse_systemd_bool(x), std::nullopt) << x;
}

TEST(SystemdUnitTest, ParsesTimeSpans) {
  EXPECT_EQ(parse_systemd_timespan_usec("30"), 30'000'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("30s"), 30'000'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("1min 30s"), 90'000'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("2h30m"), 9000'000'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("500ms"), 500'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("1.5min"), 90'000'000U);
  EXPECT_EQ(parse_systemd_timespan_usec("0"), 0U);
  EXPECT_EQ(parse_systemd_timespan_usec("infinity"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_systemd_timespan_usec(""), std::nullopt);
  EXPECT_EQ(parse_systemd_timespan_usec("soon"), std::nullopt);
  EXPECT_EQ(parse_systemd_timespan_usec("5 fortnights"), std::nullopt);
  EXPECT_EQ(parse_systemd_timespan_usec("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_systemd_timespan_usec("999999999999y"), std::nullopt);
}

}  // namespace
}  // namespace ltxguard::formats
