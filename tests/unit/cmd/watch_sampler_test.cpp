#include "ltxguard/cmd/watch_sampler.hpp"

#include <gtest/gtest.h>

#include "support/fake_filesystem.hpp"
#include "support/fake_process_table.hpp"

namespace ltxguard::cmd {
namespace {

using testing::FakeFileSystem;
using testing::FakeProcessTable;

constexpr const char* kDb = "/d/app.db";
constexpr const char* kMeta = "/d/.app.db-litestream";

sys::ProcessInfo litestream(int pid) {
  sys::ProcessInfo p;
  p.pid = pid;
  p.comm = "litestream";
  p.exe = "/usr/bin/litestream";
  p.cmdline = {"litestream", "replicate"};
  return p;
}

sys::ProcessInfo other(int pid) {
  sys::ProcessInfo p;
  p.pid = pid;
  p.comm = "app";
  p.cmdline = {"/srv/app"};
  return p;
}

class WatchSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.add_file(kDb, "");
    fs_.add_dir(kMeta);
    procs_.add_process(other(10));
  }
  WatchSampler sampler(std::vector<formats::ReplicaConfig> replicas = {},
                       model::LitestreamModel lmodel = model::LitestreamModel::v0_5) {
    WatchTarget t;
    t.db_path = kDb;
    t.db_config.path = kDb;
    t.db_config.meta_path = kMeta;
    t.db_config.replicas = std::move(replicas);
    collect::LogSource log;
    log.kind = collect::LogSourceKind::none;
    return WatchSampler(fs_, procs_, {t}, log, "", lmodel);
  }
  static std::optional<bool> alive(WatchSampler& s, int64_t now_ms) {
    return s.sample(now_ms).databases.at(0).litestream_alive;
  }

  FakeFileSystem fs_;
  FakeProcessTable procs_;
};

TEST_F(WatchSamplerTest, LitestreamFoundIsFollowedByItsPidAndItsExitSeenAtTheNextSample) {
  procs_.add_process(litestream(42));
  auto s = sampler();
  EXPECT_EQ(alive(s, 0), true);
  EXPECT_EQ(alive(s, 1000), true);
  procs_.kill(42);
  EXPECT_EQ(alive(s, 2000), false);
}

TEST_F(WatchSamplerTest, ARestartedLitestreamIsFoundAtOnce) {
  procs_.add_process(litestream(42));
  auto s = sampler();
  EXPECT_EQ(alive(s, 0), true);
  procs_.kill(42);
  procs_.add_process(litestream(43));
  EXPECT_EQ(alive(s, 1000), true);
  procs_.kill(43);
  EXPECT_EQ(alive(s, 2000), false);
}

TEST_F(WatchSamplerTest, ALitestreamStartingLaterIsFoundWithinTheRescanPeriod) {
  auto s = sampler();
  EXPECT_EQ(alive(s, 0), false);
  procs_.add_process(litestream(42));
  EXPECT_EQ(alive(s, 1000), false);  // no table scan yet
  EXPECT_EQ(alive(s, 4999), false);
  EXPECT_EQ(alive(s, 5000), true);
}

TEST_F(WatchSamplerTest, TheSupervisedChildIsAliveFromItsFirstTickWhateverItsName) {
  auto s = sampler();
  EXPECT_EQ(alive(s, 0), false);  // scanned before the child started
  procs_.add_process(other(77));  // e.g. python3 running a stand-in
  s.set_supervised_pid(77);
  EXPECT_EQ(alive(s, 1000), true);
  procs_.kill(77);
  EXPECT_EQ(alive(s, 2000), false);
}

// Field test: after a protective stop, a Litestream replicating another config on the same
// host kept "Litestream alive" true and a wedge was logged for the stopped one.
TEST_F(WatchSamplerTest, ALitestreamNamingAnotherConfigIsNotThisDatabasesOne) {
  sys::ProcessInfo theirs = litestream(42);
  theirs.cmdline = {"litestream", "replicate", "-config", "/srv/other.yml"};
  procs_.add_process(theirs);
  auto s = sampler();
  s.set_config_paths({"/etc/ours.yml"});
  EXPECT_EQ(alive(s, 0), false);
  sys::ProcessInfo ours = litestream(43);
  ours.cmdline = {"litestream", "replicate", "--config=/etc/ours.yml"};
  procs_.add_process(ours);
  EXPECT_EQ(alive(s, 5000), true);
  procs_.kill(43);
  // A relative -config depends on that process's directory: it may be ours.
  sys::ProcessInfo relative = litestream(44);
  relative.cmdline = {"litestream", "replicate", "-config", "ours.yml"};
  procs_.add_process(relative);
  EXPECT_EQ(alive(s, 6000), true);
  procs_.kill(44);
  // No -config means /etc/litestream.yml: not ours here.
  procs_.add_process(litestream(45));
  EXPECT_EQ(alive(s, 7000), false);
}

TEST_F(WatchSamplerTest, AnUnreadableProcessTableIsNoInformationAndRetriedEachSample) {
  procs_.add_process(litestream(42));
  procs_.fail_with(util::make_error(util::ErrorCode::io, "/proc", "cannot read"));
  auto s = sampler();
  EXPECT_EQ(alive(s, 0), std::nullopt);
  procs_.fail_with(std::nullopt);
  EXPECT_EQ(alive(s, 1000), true);
}

TEST_F(WatchSamplerTest, AnUnknownModelIsLearnedFromTheFirstStagedFiles) {
  auto s = sampler({}, model::LitestreamModel::unknown);
  EXPECT_EQ(s.sample(0).databases.at(0).litestream_model, model::LitestreamModel::unknown);
  fs_.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx.tmp", 100);
  EXPECT_EQ(s.sample(1000).databases.at(0).litestream_model, model::LitestreamModel::v0_5);
}

TEST_F(WatchSamplerTest, StagingBytesAndInFlightFilesFollowTheMetaDir) {
  auto s = sampler();
  EXPECT_EQ(s.sample(0).databases.at(0).staging_bytes, 0u);
  const std::string tmp = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  fs_.add_sized_file(std::string(kMeta) + "/" + tmp, 100);
  auto d = s.sample(1000).databases.at(0);
  EXPECT_EQ(d.staging_bytes, 100u);
  ASSERT_EQ(d.in_flight.size(), 1u);
  EXPECT_EQ(d.in_flight[0].rel_path, tmp);
  EXPECT_EQ(d.in_flight[0].bytes, 100u);
  fs_.add_sized_file(std::string(kMeta) + "/" + tmp, 4000);
  fs_.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000000-0000000000000000.ltx", 50);
  d = s.sample(2000).databases.at(0);
  EXPECT_EQ(d.staging_bytes, 4050u);
  EXPECT_EQ(d.in_flight.at(0).bytes, 4000u);
}

TEST_F(WatchSamplerTest, FileReplicaBacklogCountsEveryStagedFile) {
  fs_.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000001-0000000000000001.ltx", 1000);
  fs_.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000002-0000000000000002.ltx", 200);
  fs_.add_sized_file(std::string(kMeta) + "/ltx/0/0000000000000003-0000000000000003.ltx.tmp", 30);
  fs_.add_sized_file("/r/ltx/0/0000000000000001-0000000000000001.ltx", 1000);
  formats::ReplicaConfig rc;
  rc.type = "file";
  rc.path = "/r";
  auto s = sampler({rc});
  const auto d = s.sample(0).databases.at(0);
  EXPECT_EQ(d.replica_backlog_bytes, 230u);
}

TEST_F(WatchSamplerTest, PushedLinesJoinTheNextSampleOnly) {
  auto s = sampler();
  s.add_log_lines(
      {"time=x level=ERROR msg=\"sync error\" db=/d/app.db error=\"no space left on device\""});
  const auto first = s.sample(0);
  EXPECT_EQ(s.last_log_lines().size(), 1u);
  EXPECT_EQ(first.databases.at(0).new_log_lines, 1u);
  EXPECT_EQ(first.databases.at(0).new_error_lines, 1u);
  (void)s.sample(1000);
  EXPECT_TRUE(s.last_log_lines().empty());
}

}  // namespace
}  // namespace ltxguard::cmd
