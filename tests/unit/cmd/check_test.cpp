#include "ltxguard/cmd/check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "support/fake_filesystem.hpp"

namespace ltxguard::cmd {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
// A binary that does not exist: `litestream version` fails fast and the version is unknown.
constexpr const char* kNoBinary = "/nonexistent-ltxguard-test/litestream";

// "/" is dev 1 (10 GiB); "/meta" is dev 2. The config puts the meta dir on /meta.
class CheckGatherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sys::FsStats root;
    root.dev = 1;
    root.mount_point = "/";
    root.total_bytes = 10 * kGiB;
    fs_.add_mount(root);
    sys::FsStats meta;
    meta.dev = 2;
    meta.mount_point = "/meta";
    meta.total_bytes = 10 * kGiB;
    fs_.add_mount(meta);
    fs_.add_dir("/meta");
    fs_.add_file("/data/app.db", "");
    fs_.add_file("/etc/ls.yml",
                 "addr: 127.0.0.1:9090\n"
                 "dbs:\n"
                 "  - path: /data/app.db\n"
                 "    meta-path: /meta/app\n"
                 "    replica:\n"
                 "      url: s3://bucket/app\n");
    args_.config_path = "/etc/ls.yml";
    args_.litestream_bin = kNoBinary;
  }

  testing::FakeFileSystem fs_;
  CheckArgs args_;
};

TEST_F(CheckGatherTest, ReadsExplicitUnitWithItsDropInsAndMeasuresPlacements) {
  fs_.add_file("/u/litestream.service",
               "[Service]\nRestart=always\nExecStart=/usr/bin/litestream replicate\n");
  fs_.add_file("/u/litestream.service.d/20-watchdog.conf", "[Service]\nWatchdogSec=30s\n");
  fs_.add_file("/u/litestream.service.d/10-user.conf", "[Service]\nUser=litestream\n");
  fs_.add_file("/u/litestream.service.d/README", "not a drop-in");
  args_.unit_path = "/u/litestream.service";
  auto in = gather_check_input(fs_, args_);
  ASSERT_TRUE(in) << in.error().to_string();
  ASSERT_TRUE(in->unit);
  EXPECT_EQ(in->unit_path, "/u/litestream.service");
  EXPECT_EQ(in->unit->drop_ins,
            (std::vector<std::string>{"/u/litestream.service.d/10-user.conf",
                                      "/u/litestream.service.d/20-watchdog.conf"}));
  EXPECT_EQ(in->unit->get("Service", "User"), "litestream");
  ASSERT_TRUE(in->config);
  EXPECT_EQ(in->config_path, "/etc/ls.yml");
  EXPECT_EQ(in->policy_path, "");
  EXPECT_FALSE(in->version);
  EXPECT_EQ(in->version_note.rfind(std::string("`") + kNoBinary + " version` failed", 0), 0U)
      << in->version_note;
  ASSERT_EQ(in->placements.size(), 1U);
  const auto& p = in->placements[0];
  EXPECT_EQ(p.db_path, "/data/app.db");
  EXPECT_EQ(p.meta_path, "/meta/app");  // not created yet: measured at /meta
  EXPECT_EQ(p.db_dev, 1U);
  EXPECT_EQ(p.meta_dev, 2U);
  EXPECT_EQ(p.fs_total_bytes, 10 * kGiB);
}

TEST_F(CheckGatherTest, DefaultSearchTakesTheFirstUnitAndMasksDropInsByName) {
  fs_.add_file("/etc/systemd/system/litestream.service", "[Service]\nUser=etc\n");
  fs_.add_file("/lib/systemd/system/litestream.service", "[Service]\nUser=lib\n");
  fs_.add_file("/lib/systemd/system/litestream.service.d/10-a.conf",
               "[Service]\nUser=lib-dropin\n");
  fs_.add_file("/etc/systemd/system/litestream.service.d/10-a.conf",
               "[Service]\nUser=etc-dropin\n");
  fs_.add_file("/lib/systemd/system/litestream.service.d/20-b.conf", "[Service]\nWatchdogSec=5s\n");
  UnitSearch search;
  search.dirs = {"/etc/systemd/system", "/lib/systemd/system"};
  auto in = gather_check_input(fs_, args_, search);
  ASSERT_TRUE(in) << in.error().to_string();
  ASSERT_TRUE(in->unit);
  EXPECT_EQ(in->unit_path, "/etc/systemd/system/litestream.service");
  EXPECT_EQ(in->unit->get("Service", "User"), "etc-dropin");
  EXPECT_EQ(in->unit->get("Service", "WatchdogSec"), "5s");
  EXPECT_EQ(in->unit->drop_ins,
            (std::vector<std::string>{"/etc/systemd/system/litestream.service.d/10-a.conf",
                                      "/lib/systemd/system/litestream.service.d/20-b.conf"}));
}

TEST_F(CheckGatherTest, NoDefaultUnitIsANoteAndTheUnitRulesAreUnknown) {
  UnitSearch search;
  search.dirs = {"/etc/systemd/system", "/lib/systemd/system"};
  auto in = gather_check_input(fs_, args_, search);
  ASSERT_TRUE(in) << in.error().to_string();
  EXPECT_FALSE(in->unit);
  EXPECT_EQ(in->unit_note, "no litestream.service in /etc/systemd/system, /lib/systemd/system");
  const auto findings = model::run_checks(*in);
  const auto user = std::find_if(findings.begin(), findings.end(),
                                 [](const auto& f) { return f.id == "unit-user"; });
  ASSERT_NE(user, findings.end());
  EXPECT_EQ(user->status, model::CheckStatus::unknown);
}

TEST_F(CheckGatherTest, MalformedDefaultUnitIsANoteNotAFailure) {
  fs_.add_file("/etc/systemd/system/litestream.service", "[Service]\ngarbage\n");
  UnitSearch search;
  search.dirs = {"/etc/systemd/system"};
  auto in = gather_check_input(fs_, args_, search);
  ASSERT_TRUE(in) << in.error().to_string();
  EXPECT_FALSE(in->unit);
  EXPECT_EQ(in->unit_note,
            "/etc/systemd/system/litestream.service:2: expected Key=Value, got 'garbage'");
}

TEST_F(CheckGatherTest, MalformedExplicitUnitFailsWithItsLine) {
  fs_.add_file("/u/x.service", "[Service]\nUser=app\ngarbage\n");
  args_.unit_path = "/u/x.service";
  auto in = gather_check_input(fs_, args_);
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(in.error().to_string(), "/u/x.service:3: expected Key=Value, got 'garbage'");
}

TEST_F(CheckGatherTest, MalformedExplicitDropInFailsWithItsLine) {
  fs_.add_file("/u/x.service", "[Service]\nUser=app\n");
  fs_.add_file("/u/x.service.d/a.conf", "User=root\n");
  args_.unit_path = "/u/x.service";
  auto in = gather_check_input(fs_, args_);
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().to_string(), "/u/x.service.d/a.conf:1: assignment outside of a section");
}

TEST_F(CheckGatherTest, MissingExplicitUnitFails) {
  args_.unit_path = "/u/none.service";
  auto in = gather_check_input(fs_, args_);
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().code, util::ErrorCode::not_found);
}

TEST_F(CheckGatherTest, MaskedUnitIsANote) {
  fs_.add_symlink("/etc/systemd/system/litestream.service", "/dev/null");
  fs_.add_special("/dev/null", sys::FileType::char_device);
  UnitSearch search;
  search.dirs = {"/etc/systemd/system"};
  auto in = gather_check_input(fs_, args_, search);
  ASSERT_TRUE(in) << in.error().to_string();
  EXPECT_FALSE(in->unit);
  EXPECT_EQ(in->unit_note,
            "/etc/systemd/system/litestream.service is masked (a link to /dev/null)");
}

TEST_F(CheckGatherTest, VersionIsAskedOfTheBinaryTheUnitRuns) {
  fs_.add_file("/opt/ltxg-test-nonexistent/litestream", "");
  fs_.add_file("/u/litestream.service",
               "[Service]\nExecStart=/usr/bin/ltxguard run -- "
               "/opt/ltxg-test-nonexistent/litestream replicate\n");
  args_.unit_path = "/u/litestream.service";
  args_.litestream_bin.clear();
  auto in = gather_check_input(fs_, args_);
  ASSERT_TRUE(in) << in.error().to_string();
  EXPECT_EQ(in->version_note.rfind("`/opt/ltxg-test-nonexistent/litestream version` failed", 0), 0U)
      << in->version_note;
}

TEST_F(CheckGatherTest, RelativeMetaPathIsNotMeasured) {
  fs_.add_file("/etc/ls.yml", "dbs:\n  - path: /data/app.db\n    meta-path: meta/app\n");
  auto in = gather_check_input(fs_, args_);
  ASSERT_TRUE(in) << in.error().to_string();
  ASSERT_EQ(in->placements.size(), 1U);
  EXPECT_FALSE(in->placements[0].db_dev);
  EXPECT_EQ(in->placements[0].note,
            "'meta/app' is not an absolute path (Litestream resolves it against its own working "
            "directory)");
}

TEST_F(CheckGatherTest, FileReplicasAreMeasuredAtTheirNearestExistingParent) {
  // Neither replica dir exists yet: Litestream creates it on the first upload.
  fs_.add_file("/etc/ls.yml",
               "dbs:\n"
               "  - path: /data/app.db\n"
               "    meta-path: /meta/app\n"
               "    replicas:\n"
               "      - type: file\n"
               "        path: /data/backup/app\n"
               "      - type: file\n"
               "        path: /meta/replica\n"
               "      - type: file\n"
               "        path: rel/replica\n"
               "      - url: s3://bucket/app\n");
  auto in = gather_check_input(fs_, args_);
  ASSERT_TRUE(in) << in.error().to_string();
  ASSERT_EQ(in->placements.size(), 1U);
  const auto& r = in->placements[0].file_replicas;
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[0].path, "/data/backup/app");
  EXPECT_EQ(r[0].dev, 1U);
  EXPECT_EQ(r[1].path, "/meta/replica");
  EXPECT_EQ(r[1].dev, 2U);
  EXPECT_FALSE(r[2].dev);
  EXPECT_EQ(r[2].note,
            "not an absolute path (Litestream resolves it against its own working directory)");
}

TEST_F(CheckGatherTest, MalformedPolicyFails) {
  fs_.add_file("/etc/p.yml", "reserve_byte: 1GiB\n");
  args_.policy_path = "/etc/p.yml";
  auto in = gather_check_input(fs_, args_);
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().to_string(), "/etc/p.yml:1: unknown key 'reserve_byte'");
}

model::CheckInput text_input() {
  model::CheckInput in;
  formats::LitestreamConfig c;
  in.config = c;
  in.config_path = "/etc/litestream.yml";
  auto u = formats::parse_systemd_unit("[Service]\nUser=app\n",
                                       "/etc/systemd/system/litestream.service");
  in.unit = *u;
  in.unit_path = "/etc/systemd/system/litestream.service";
  return in;
}

TEST(CheckOutputTest, TextIsOneBarmanStyleLinePerFinding) {
  const model::CheckInput in = text_input();
  const std::vector<model::CheckFinding> findings{
      {"litestream-version", model::CheckStatus::ok, "Litestream 0.5.16", ""},
      {"unit-user", model::CheckStatus::warning, "no User=", "set User="},
      {"metrics-loopback", model::CheckStatus::failed, "addr :9090", "bind 127.0.0.1"},
      {"meta-dir-placement", model::CheckStatus::unknown, "not measured", ""},
  };
  EXPECT_EQ(check_text(in, findings),
            "Litestream setup (config /etc/litestream.yml, unit "
            "/etc/systemd/system/litestream.service, policy "
            "built-in defaults):\n"
            "\tlitestream-version: OK\n"
            "\tunit-user: WARNING (no User=; hint: set User=)\n"
            "\tmetrics-loopback: FAILED (addr :9090; hint: bind 127.0.0.1)\n"
            "\tmeta-dir-placement: UNKNOWN (not measured)\n");
}

// A database path from the config that holds a newline cannot add a finding line.
TEST(CheckOutputTest, TextEscapesNewlinesInPathsAndMessages) {
  model::CheckInput in = text_input();
  in.config_path = "/etc/lite\nstream.yml";
  const std::vector<model::CheckFinding> findings{
      {"meta-dir-placement", model::CheckStatus::warning,
       "/srv/x\n\tlitestream-version: OK\xff shares a filesystem", "move\tit"},
  };
  EXPECT_EQ(check_text(in, findings),
            "Litestream setup (config /etc/lite\\nstream.yml, unit "
            "/etc/systemd/system/litestream.service, policy built-in defaults):\n"
            "\tmeta-dir-placement: WARNING (/srv/x\\n\\tlitestream-version: OK\\xff shares a "
            "filesystem; hint: move\\tit)\n");
}

TEST(CheckOutputTest, JsonHasStatusInputsAndEveryFinding) {
  model::CheckInput in = text_input();
  in.policy_path = "/etc/ltxguard/policy.yml";
  const std::vector<model::CheckFinding> findings{
      {"litestream-version", model::CheckStatus::ok, "Litestream 0.5.16", ""},
      {"unit-user", model::CheckStatus::warning, "no User=", "set User="},
  };
  const auto j = nlohmann::json::parse(check_json(in, findings));
  EXPECT_EQ(j["status"], "warning");
  EXPECT_EQ(j["inputs"]["config"], "/etc/litestream.yml");
  EXPECT_EQ(j["inputs"]["unit"], "/etc/systemd/system/litestream.service");
  EXPECT_EQ(j["inputs"]["policy"], "/etc/ltxguard/policy.yml");
  EXPECT_TRUE(j["inputs"]["litestream_version"].is_null());
  ASSERT_EQ(j["findings"].size(), 2U);
  EXPECT_EQ(j["findings"][1]["id"], "unit-user");
  EXPECT_EQ(j["findings"][1]["status"], "warning");
  EXPECT_EQ(j["findings"][1]["message"], "no User=");
  EXPECT_EQ(j["findings"][1]["hint"], "set User=");
}

TEST(CheckOutputTest, SecretsFromTheConfigNeverReachTheOutput) {
  model::CheckInput in = text_input();
  auto c = formats::parse_litestream_config(
      "dbs:\n  - path: /d/app.db\n    replica:\n      url: s3://b/app\n"
      "      secret-access-key: CanarySecretValue123\n",
      [](std::string_view) { return std::nullopt; }, "l.yml");
  ASSERT_TRUE(c) << c.error().to_string();
  in.config = *c;
  const std::vector<model::CheckFinding> findings{
      {"config-issues", model::CheckStatus::warning, "value CanarySecretValue123 seen", ""}};
  EXPECT_EQ(check_text(in, findings).find("CanarySecretValue123"), std::string::npos);
  EXPECT_EQ(check_json(in, findings).find("CanarySecretValue123"), std::string::npos);
}

TEST(CheckOutputTest, ExitCodesFollowPreflight) {
  EXPECT_EQ(check_exit_code(model::CheckStatus::ok), 0);
  EXPECT_EQ(check_exit_code(model::CheckStatus::warning), 1);
  EXPECT_EQ(check_exit_code(model::CheckStatus::failed), 2);
  EXPECT_EQ(check_exit_code(model::CheckStatus::unknown), 3);
}

}  // namespace
}  // namespace ltxguard::cmd
