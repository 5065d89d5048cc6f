#include "ltxguard/cmd/alarm.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace ltxguard::cmd {
namespace {

formats::AlarmState stopped(std::string db) {
  formats::AlarmState a;
  a.latched = true;
  a.db_path = std::move(db);
  return a;
}

TEST(AlarmClearCommandTest, NamesAConfigAndPolicyThatAreNotTheDefaults) {
  formats::AlarmState a = stopped("/srv/app.db");
  a.config_path = "/srv/litestream.yml";
  a.policy_path = "/srv/policy.yml";
  EXPECT_EQ(alarm_clear_command("/var/lib/ltxguard", a),
            "ltxguard alarm clear --state-dir /var/lib/ltxguard --config /srv/litestream.yml "
            "--policy /srv/policy.yml");
}

TEST(AlarmClearCommandTest, LeavesOutTheDefaults) {
  formats::AlarmState a = stopped("/srv/app.db");
  a.config_path = "/etc/litestream.yml";
  a.policy_path = "/etc/ltxguard/policy.yml";
  a.litestream_bin = "litestream";  // found in PATH: nothing to say
  EXPECT_EQ(alarm_clear_command("/var/lib/ltxguard", a),
            "ltxguard alarm clear --state-dir /var/lib/ltxguard");
}

TEST(AlarmClearCommandTest, NamesTheDatabaseWhenNoConfigDoesAndTheLitestreamRunUsed) {
  formats::AlarmState a = stopped("/srv/app.db");
  a.litestream_bin = "/opt/litestream/bin/litestream";
  a.litestream_version = "0.3.13";
  EXPECT_EQ(alarm_clear_command("/s", a),
            "ltxguard alarm clear --state-dir /s --db /srv/app.db --litestream-bin "
            "/opt/litestream/bin/litestream "
            "--litestream-version 0.3.13");
}

TEST(AlarmClearCommandTest, QuotesPathsForTheShell) {
  formats::AlarmState a = stopped("/srv/app.db");
  a.config_path = "/srv/my config's.yml";
  EXPECT_EQ(alarm_clear_command("/state dir", a),
            "ltxguard alarm clear --state-dir '/state dir' --config '/srv/my config'\\''s.yml'");
  EXPECT_EQ(alarm_clear_command("", stopped("/srv/app.db")),
            "ltxguard alarm clear --state-dir '' --db /srv/app.db");
}

TEST(ClearPreflightArgsTest, TakesWhatRunUsedUnlessGiven) {
  formats::AlarmState a = stopped("/srv/app.db");
  a.config_path = "/srv/litestream.yml";
  a.policy_path = "/srv/policy.yml";
  a.litestream_bin = "/opt/litestream";
  a.litestream_version = "0.5.15";
  const PreflightArgs recorded = clear_preflight_args(PreflightArgs{}, a);
  EXPECT_EQ(recorded.db_paths, std::vector<std::string>{"/srv/app.db"});
  EXPECT_EQ(recorded.config_path, "/srv/litestream.yml");
  EXPECT_EQ(recorded.policy_path, "/srv/policy.yml");
  EXPECT_EQ(recorded.litestream_bin, "/opt/litestream");
  EXPECT_EQ(recorded.litestream_version, "0.5.15");

  PreflightArgs given;
  given.db_paths = {"/other.db"};
  given.config_path = "/other.yml";
  given.policy_path = "/other-policy.yml";
  given.litestream_version = "0.3.13";
  const PreflightArgs explicit_wins = clear_preflight_args(given, a);
  EXPECT_EQ(explicit_wins.db_paths, std::vector<std::string>{"/other.db"});
  EXPECT_EQ(explicit_wins.config_path, "/other.yml");
  EXPECT_EQ(explicit_wins.policy_path, "/other-policy.yml");
  EXPECT_EQ(explicit_wins.litestream_bin, "/opt/litestream");
  EXPECT_EQ(explicit_wins.litestream_version, "0.3.13");
}

TEST(ClearPreflightArgsTest, AnAlarmWithoutRecordedInputsChangesNothingButTheDatabase) {
  const PreflightArgs pf = clear_preflight_args(PreflightArgs{}, stopped("/srv/app.db"));
  EXPECT_EQ(pf.db_paths, std::vector<std::string>{"/srv/app.db"});
  EXPECT_EQ(pf.config_path, "");
  EXPECT_EQ(pf.policy_path, "");
  EXPECT_TRUE(clear_preflight_args(PreflightArgs{}, formats::AlarmState{}).db_paths.empty());
}

TEST(RecordPreflightInputsTest, MakesRelativePathsAbsoluteAndKeepsABareBinaryName) {
  const std::string cwd = std::filesystem::current_path().string();
  formats::AlarmState a;
  record_preflight_inputs(a, {"cfg.yml", "/etc/p.yml", "litestream", "0.5.12"});
  EXPECT_EQ(a.config_path, cwd + "/cfg.yml");
  EXPECT_EQ(a.policy_path, "/etc/p.yml");
  EXPECT_EQ(a.litestream_bin, "litestream");
  EXPECT_EQ(a.litestream_version, "0.5.12");
  record_preflight_inputs(a, {"", "", "bin/litestream", ""});
  EXPECT_EQ(a.config_path, "");
  EXPECT_EQ(a.policy_path, "");
  EXPECT_EQ(a.litestream_bin, cwd + "/bin/litestream");
  EXPECT_EQ(a.litestream_version, "");
}

}  // namespace
}  // namespace ltxguard::cmd
