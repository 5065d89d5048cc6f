#include "ltxguard/formats/alarm_state.hpp"

#include <gtest/gtest.h>

namespace ltxguard::formats {
namespace {

TEST(AlarmStateTest, RoundTripsEveryField) {
  AlarmState s;
  s.latched = true;
  s.latched_at_ms = 1764000000123;
  s.db_path = "/var/lib/app/app.db";
  s.condition = "cannot_fit";
  s.reason = "remaining staging write 1.0 GiB cannot fit on /var: ... = -212.0 MiB";
  s.headroom_bytes = -222298112;
  s.stop_outcome = "exited 0 after SIGTERM in 0.2 s";
  s.evidence_files = {"/var/lib/ltxguard/evidence/1/ltxguard-evidence-1.json"};
  s.evidence_note = "";
  s.config_path = "/srv/app/litestream.yml";
  s.policy_path = "/srv/app/policy.yml";
  s.litestream_bin = "/opt/litestream/bin/litestream";
  s.litestream_version = "0.3.13";
  s.cleared_at_ms = 5;
  s.cleared_how = "forced: disk grown";
  auto back = parse_alarm(serialize_alarm(s), "alarm.json");
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->latched, true);
  EXPECT_EQ(back->latched_at_ms, s.latched_at_ms);
  EXPECT_EQ(back->db_path, s.db_path);
  EXPECT_EQ(back->condition, s.condition);
  EXPECT_EQ(back->reason, s.reason);
  EXPECT_EQ(back->headroom_bytes, s.headroom_bytes);
  EXPECT_EQ(back->stop_outcome, s.stop_outcome);
  EXPECT_EQ(back->evidence_files, s.evidence_files);
  EXPECT_EQ(back->config_path, s.config_path);
  EXPECT_EQ(back->policy_path, s.policy_path);
  EXPECT_EQ(back->litestream_bin, s.litestream_bin);
  EXPECT_EQ(back->litestream_version, s.litestream_version);
  EXPECT_EQ(back->cleared_at_ms, 5);
  EXPECT_EQ(back->cleared_how, s.cleared_how);
}

// alarm.json as written before run recorded its preflight inputs: it still loads, and the
// inputs are empty (alarm clear then falls back to its own defaults and the db_path).
TEST(AlarmStateTest, FileWithoutTheRecordedPreflightInputsLoads) {
  auto r = parse_alarm(R"({
  "latched": true,
  "latched_at_ms": 1764000000123,
  "db_path": "/d/app.db",
  "condition": "wedge",
  "reason": "wedged: no upload for 30 s",
  "headroom_bytes": -1024,
  "stop_outcome": "exited 0 after SIGTERM",
  "evidence_files": ["/var/lib/ltxguard/e.json"],
  "evidence_note": "",
  "cleared_at_ms": 0,
  "cleared_how": ""
})",
                       "alarm.json");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->latched);
  EXPECT_EQ(r->db_path, "/d/app.db");
  EXPECT_EQ(r->condition, "wedge");
  EXPECT_EQ(r->config_path, "");
  EXPECT_EQ(r->policy_path, "");
  EXPECT_EQ(r->litestream_bin, "");
  EXPECT_EQ(r->litestream_version, "");
}

TEST(AlarmStateTest, MissingLatchedIsInvalid) {
  auto r = parse_alarm(R"({"db_path":"/x"})", "alarm.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "alarm state file has no boolean \"latched\"");
  EXPECT_EQ(r.error().path, "alarm.json");
  EXPECT_FALSE(parse_alarm(R"({"latched":"yes"})", "a"));
}

TEST(AlarmStateTest, GarbageAndTruncationAreInvalid) {
  EXPECT_FALSE(parse_alarm("", "a"));
  EXPECT_FALSE(parse_alarm("{\"latched\": tr", "a"));
  EXPECT_FALSE(parse_alarm("[true]", "a"));
  EXPECT_FALSE(parse_alarm(std::string(kMaxAlarmBytes + 1, ' '), "a"));
}

TEST(AlarmStateTest, WrongTypesAndUnknownFieldsAreIgnored) {
  auto r = parse_alarm(R"({"latched":false,"db_path":7,"headroom_bytes":"x","evidence_files":[1,"/e"],"future":{}})",
                       "a");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->latched);
  EXPECT_EQ(r->db_path, "");
  EXPECT_EQ(r->headroom_bytes, 0);
  EXPECT_EQ(r->evidence_files, std::vector<std::string>{"/e"});
}

}  // namespace
}  // namespace ltxguard::formats
