#include "ltxguard/model/check_rules.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace ltxguard::model {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

formats::SystemdUnit unit(std::string_view text) {
  auto u = formats::parse_systemd_unit(text, "litestream.service");
  EXPECT_TRUE(u.has_value()) << (u ? "" : u.error().to_string());
  return u ? *u : formats::SystemdUnit{};
}

constexpr std::string_view kGoodUnit =
    "[Unit]\n"
    "StartLimitIntervalSec=10min\n"
    "StartLimitBurst=5\n"
    "[Service]\n"
    "Type=notify\n"
    "User=litestream\n"
    "Restart=always\n"
    "WatchdogSec=30s\n"
    "ExecStart=/usr/bin/ltxguard run -- /usr/bin/litestream replicate\n";

// Litestream's own etc/litestream.service.
constexpr std::string_view kShippedUnit =
    "[Unit]\n"
    "Description=Litestream\n"
    "\n"
    "[Service]\n"
    "Restart=always\n"
    "ExecStart=/usr/bin/litestream replicate\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

formats::LitestreamVersion version(int major, int minor, int patch) {
  formats::LitestreamVersion v;
  v.major = major;
  v.minor = minor;
  v.patch = patch;
  v.raw = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  return v;
}

// Every rule passes on this setup; each test breaks one thing.
CheckInput good_input() {
  CheckInput in;
  in.version = version(0, 5, 16);
  in.unit = unit(kGoodUnit);
  in.unit_path = "litestream.service";
  formats::LitestreamConfig c;
  c.addr = "127.0.0.1:9090";
  formats::DbConfig db;
  db.path = "/data/app.db";
  db.meta_path = "/meta/app.db";
  db.meta_path_explicit = true;
  db.line = 3;
  c.dbs.push_back(db);
  c.keys = {{"addr", 1, "127.0.0.1:9090"},
            {"dbs[0].path", 3, "/data/app.db"},
            {"dbs[0].meta-path", 4, "/meta/app.db"},
            {"dbs[0].replica.url", 6, "s3://bucket/app"}};
  in.config = c;
  in.config_path = "/etc/litestream.yml";
  CheckInput::DbPlacement p;
  p.db_path = "/data/app.db";
  p.meta_path = "/meta/app.db";
  p.db_dev = 1;
  p.meta_dev = 2;
  p.fs_total_bytes = 10 * kGiB;
  p.page_size_bytes = 4096;
  in.placements.push_back(p);
  return in;
}

const CheckFinding& find(const std::vector<CheckFinding>& fs, std::string_view id) {
  const auto it =
      std::find_if(fs.begin(), fs.end(), [&](const CheckFinding& f) { return f.id == id; });
  if (it == fs.end()) {
    ADD_FAILURE() << "no finding " << id;
    static const CheckFinding none;
    return none;
  }
  return *it;
}

CheckFinding check(const CheckInput& in, std::string_view id) { return find(run_checks(in), id); }

void add_key(CheckInput& in, std::string path, int line, std::string value) {
  in.config->keys.push_back({std::move(path), line, std::move(value)});
}

TEST(CheckRulesTest, GoodSetupIsOkOnEveryRuleInAFixedOrder) {
  const auto findings = run_checks(good_input());
  std::vector<std::string> ids;
  for (const auto& f : findings) {
    ids.push_back(f.id);
    EXPECT_EQ(f.status, CheckStatus::ok) << f.id << ": " << f.message;
    EXPECT_TRUE(f.hint.empty()) << f.id;
  }
  EXPECT_EQ(ids,
            (std::vector<std::string>{
                "litestream-version", "unit-user", "unit-restart", "unit-watchdog", "metrics-addr",
                "metrics-loopback", "meta-dir-placement", "replica-same-filesystem",
                "db-path-symlink", "auto-recover", "policy-reserve", "replica-credentials",
                "legacy-config-keys", "l0-retention", "config-issues"}));
  EXPECT_EQ(overall(findings), CheckStatus::ok);
}

TEST(CheckRulesTest, OverallIsTheWorstWithUnknownAboveWarningBelowFailed) {
  auto f = [](CheckStatus s) { return CheckFinding{"x", s, "", ""}; };
  EXPECT_EQ(overall({}), CheckStatus::ok);
  EXPECT_EQ(overall({f(CheckStatus::ok), f(CheckStatus::warning)}), CheckStatus::warning);
  EXPECT_EQ(overall({f(CheckStatus::unknown), f(CheckStatus::warning)}), CheckStatus::unknown);
  EXPECT_EQ(overall({f(CheckStatus::unknown), f(CheckStatus::failed), f(CheckStatus::ok)}),
            CheckStatus::failed);
  EXPECT_EQ(check_status_name(CheckStatus::failed), "FAILED");
  EXPECT_EQ(check_status_name(CheckStatus::unknown), "UNKNOWN");
}

// --- litestream-version

TEST(CheckRulesTest, VersionOlderThan0515WarnsThatEnospcIsNotSurfaced) {
  CheckInput in = good_input();
  in.version = version(0, 5, 12);
  const auto f = check(in, "litestream-version");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(
      f.message,
      "Litestream 0.5.12 is older than 0.5.15: a full disk while staging shows only as a generic "
      "`sync error` and no metric reports it");
  EXPECT_EQ(f.hint,
            "upgrade to 0.5.15 or later: it logs `disk full while staging ltx file` and exports "
            "litestream_disk_full");
}

TEST(CheckRulesTest, Version03WarnsAboutShadowWalGrowth) {
  CheckInput in = good_input();
  in.version = version(0, 3, 13);
  const auto f = check(in, "litestream-version");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_NE(f.message.find(
                "Litestream 0.3.13 (0.3 era): a replica that stops advancing makes the shadow WAL"),
            std::string::npos)
      << f.message;
}

TEST(CheckRulesTest, Version0515AndLaterAndPrereleasesAreOrdered) {
  CheckInput in = good_input();
  in.version = version(0, 5, 15);
  EXPECT_EQ(check(in, "litestream-version").status, CheckStatus::ok);
  EXPECT_EQ(check(in, "litestream-version").message, "Litestream 0.5.15");
  in.version->prerelease = "beta1";  // 0.5.15-beta1 < 0.5.15
  EXPECT_EQ(check(in, "litestream-version").status, CheckStatus::warning);
  in.version = version(1, 0, 0);
  EXPECT_EQ(check(in, "litestream-version").status, CheckStatus::ok);
}

TEST(CheckRulesTest, VersionMissingOrDevelopmentIsUnknownWithWhy) {
  CheckInput in = good_input();
  in.version.reset();
  in.version_note = "no litestream binary on PATH";
  const auto f = check(in, "litestream-version");
  EXPECT_EQ(f.status, CheckStatus::unknown);
  EXPECT_EQ(f.message, "Litestream version unknown: no litestream binary on PATH");
  in.version = formats::LitestreamVersion{};
  in.version->development = true;
  in.version->raw = "(development build)";
  EXPECT_EQ(check(in, "litestream-version").status, CheckStatus::unknown);
}

// --- unit-user

TEST(CheckRulesTest, UnitWithoutUserRunsAsRoot) {
  CheckInput in = good_input();
  in.unit = unit(kShippedUnit);
  const auto f = check(in, "unit-user");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message, "litestream.service: no User= in [Service], so Litestream runs as root");
  EXPECT_NE(f.hint.find("root-reserved blocks"), std::string::npos);
}

TEST(CheckRulesTest, UnitWithUserRootOrZeroWarnsWithItsLine) {
  CheckInput in = good_input();
  in.unit = unit("[Service]\nRestart=no\nUser=root\n");
  EXPECT_EQ(check(in, "unit-user").status, CheckStatus::warning);
  EXPECT_EQ(check(in, "unit-user").message, "litestream.service:3: User=root");
  in.unit = unit("[Service]\nUser=0\n");
  EXPECT_EQ(check(in, "unit-user").status, CheckStatus::warning);
}

TEST(CheckRulesTest, DynamicUserOrANamedUserIsOk) {
  CheckInput in = good_input();
  in.unit = unit("[Service]\nDynamicUser=yes\n");
  EXPECT_EQ(check(in, "unit-user").status, CheckStatus::ok);
  in.unit = unit("[Service]\nDynamicUser=no\n");
  EXPECT_EQ(check(in, "unit-user").status, CheckStatus::warning);
  EXPECT_EQ(check(good_input(), "unit-user").message, "User=litestream");
}

TEST(CheckRulesTest, DropInUserResetBringsRootBack) {
  CheckInput in = good_input();
  merge_drop_in(*in.unit, unit("[Service]\nUser=\n"));
  EXPECT_EQ(check(in, "unit-user").status, CheckStatus::warning);
}

TEST(CheckRulesTest, UnitRulesAreUnknownWithoutAUnit) {
  CheckInput in = good_input();
  in.unit.reset();
  in.unit_note = "no litestream.service in /etc/systemd/system or /lib/systemd/system";
  for (const char* id : {"unit-user", "unit-restart", "unit-watchdog"}) {
    const auto f = check(in, id);
    EXPECT_EQ(f.status, CheckStatus::unknown) << id;
    EXPECT_EQ(f.message,
              "no systemd unit read: no litestream.service in /etc/systemd/system or "
              "/lib/systemd/system");
    EXPECT_EQ(f.hint, "pass --unit with the unit file that runs Litestream");
  }
}

// --- unit-restart

TEST(CheckRulesTest, RestartAlwaysWithoutStartLimitWarns) {
  CheckInput in = good_input();
  in.unit = unit(kShippedUnit);
  const auto f = check(in, "unit-restart");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "litestream.service:5: Restart=always without StartLimitIntervalSec= or "
            "StartLimitBurst=: only "
            "systemd's default limit stops a crash loop, and a RestartSec= of 2 s or more never "
            "reaches it");
}

TEST(CheckRulesTest, RestartAlwaysWithStartLimitDisabledWarns) {
  CheckInput in = good_input();
  in.unit = unit("[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestart=always\n");
  const auto f = check(in, "unit-restart");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "litestream.service:4: Restart=always with StartLimitIntervalSec=0: the start limit is "
            "disabled");
}

TEST(CheckRulesTest, RestartWithLimitsOrNotAlwaysIsOk) {
  EXPECT_EQ(check(good_input(), "unit-restart").message,
            "Restart=always, StartLimitIntervalSec=10min, StartLimitBurst=5");
  CheckInput in = good_input();
  in.unit = unit("[Service]\nRestart=on-failure\n");
  EXPECT_EQ(check(in, "unit-restart").status, CheckStatus::ok);
  in.unit = unit("[Service]\nRestart=always\nStartLimitBurst=3\n");  // legacy place still counts
  EXPECT_EQ(check(in, "unit-restart").status, CheckStatus::ok);
}

// --- unit-watchdog

TEST(CheckRulesTest, NoWatchdogWarns) {
  CheckInput in = good_input();
  in.unit = unit(kShippedUnit);
  const auto f = check(in, "unit-watchdog");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "litestream.service: no WatchdogSec=: systemd cannot tell a wedged Litestream from a "
            "working one");
}

TEST(CheckRulesTest, WatchdogOnBareLitestreamWarnsThatSystemdWillKillIt) {
  CheckInput in = good_input();
  in.unit = unit("[Service]\nWatchdogSec=30s\nExecStart=-/usr/bin/litestream replicate\n");
  const auto f = check(in, "unit-watchdog");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "litestream.service:2: WatchdogSec=30s but ExecStart= runs litestream itself, which "
            "never sends "
            "WATCHDOG=1: systemd kills it every 30s");
}

TEST(CheckRulesTest, WatchdogZeroWarnsAndGarbageIsUnknown) {
  CheckInput in = good_input();
  in.unit = unit("[Service]\nWatchdogSec=0\n");
  EXPECT_EQ(check(in, "unit-watchdog").status, CheckStatus::warning);
  in.unit = unit("[Service]\nWatchdogSec=soon\n");
  EXPECT_EQ(check(in, "unit-watchdog").status, CheckStatus::unknown);
  EXPECT_EQ(check(good_input(), "unit-watchdog").status, CheckStatus::ok);
}

// --- metrics-addr / metrics-loopback

TEST(CheckRulesTest, MetricsAddrUnsetWarns) {
  CheckInput in = good_input();
  in.config->addr.clear();
  const auto f = check(in, "metrics-addr");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "no addr: in /etc/litestream.yml: Litestream serves no /metrics, so no alert can see "
            "its sync errors");
  EXPECT_EQ(check(in, "metrics-loopback").status, CheckStatus::ok);
  EXPECT_EQ(check(in, "metrics-loopback").message, "no metrics listener");
}

TEST(CheckRulesTest, MetricsOnAllInterfacesFails) {
  CheckInput in = good_input();
  in.config->addr = ":9090";
  const auto f = check(in, "metrics-loopback");
  EXPECT_EQ(f.status, CheckStatus::failed);
  EXPECT_EQ(f.message,
            "addr :9090 is not a loopback address: /metrics and /debug/pprof are reachable from "
            "the network");
  EXPECT_NE(f.hint.find("/debug/pprof"), std::string::npos);
  EXPECT_EQ(check(in, "metrics-addr").status, CheckStatus::ok);
}

TEST(CheckRulesTest, LoopbackListenAddresses) {
  for (const char* a :
       {"127.0.0.1:9090", "127.1.2.3:1", "[::1]:9090", "localhost:9090", "LOCALHOST:1"}) {
    EXPECT_TRUE(is_loopback_listen_addr(a)) << a;
  }
  for (const char* a :
       {":9090", "0.0.0.0:9090", "[::]:9090", "10.0.0.5:9090", "127.0.0.1.evil.com:80",
        "127.1:9090", "example.com:9090", "[::1", "1270.0.0.1:1"}) {
    EXPECT_FALSE(is_loopback_listen_addr(a)) << a;
  }
}

TEST(CheckRulesTest, ConfigRulesAreUnknownWithoutAConfig) {
  CheckInput in = good_input();
  in.config.reset();
  in.config_note = "/etc/litestream.yml does not exist";
  for (const char* id :
       {"metrics-addr", "metrics-loopback", "meta-dir-placement", "replica-same-filesystem",
        "db-path-symlink", "auto-recover", "policy-reserve", "replica-credentials",
        "legacy-config-keys", "l0-retention", "config-issues"}) {
    const auto f = check(in, id);
    EXPECT_EQ(f.status, CheckStatus::unknown) << id;
    EXPECT_EQ(f.message, "no Litestream config read: /etc/litestream.yml does not exist") << id;
  }
}

// --- db-path-symlink
TEST(CheckRulesTest, DbPathThatIsALinkToAnotherFileFails) {
  CheckInput in = good_input();
  ASSERT_FALSE(in.placements.empty());
  const std::string db = in.placements[0].db_path;
  EXPECT_EQ(check(in, "db-path-symlink").status, CheckStatus::ok);
  in.placements[0].sqlite_path = "/srv/real/app.db";
  const auto f = check(in, "db-path-symlink");
  EXPECT_EQ(f.status, CheckStatus::failed);
  EXPECT_EQ(f.message, db + ": a symlink to /srv/real/app.db: SQLite writes /srv/real/app.db-wal, "
                       "Litestream looks for " + db + "-wal and cannot replicate");
  EXPECT_EQ(f.hint, "set path: /srv/real/app.db (the file the link resolves to) in the Litestream config");
  in.placements.clear();
  EXPECT_EQ(check(in, "db-path-symlink").status, CheckStatus::unknown);
}

// --- meta-dir-placement

TEST(CheckRulesTest, MetaDirOnTheDatabaseFilesystemWarns) {
  CheckInput in = good_input();
  in.placements[0].meta_dev = 1;
  in.placements[0].meta_path = "/data/.app.db-litestream";
  const auto f = check(in, "meta-dir-placement");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "/data/app.db: meta dir /data/.app.db-litestream is on the database's filesystem: "
            "staging competes "
            "with the app's WAL for the same space");
}

TEST(CheckRulesTest, MetaPlacementCombinesDatabasesAndReportsUnmeasuredOnes) {
  CheckInput in = good_input();
  CheckInput::DbPlacement other;
  other.db_path = "/data/b.db";
  other.note = "/data/b.db: not found";
  in.placements.push_back(other);
  const auto f = check(in, "meta-dir-placement");
  EXPECT_EQ(f.status, CheckStatus::unknown);
  EXPECT_EQ(f.message, "/data/b.db: filesystem not measured: /data/b.db: not found");
  in.placements.clear();
  EXPECT_EQ(check(in, "meta-dir-placement").status, CheckStatus::unknown);
  EXPECT_EQ(check(in, "meta-dir-placement").message, "no database in /etc/litestream.yml");
}

TEST(CheckRulesTest, MetaDirHintSaysWhatGrowsThereForTheVersion) {
  CheckInput in = good_input();
  in.placements[0].meta_dev = 1;
  in.version = version(0, 3, 13);
  const std::string v03 = check(in, "meta-dir-placement").hint;
  EXPECT_NE(
      v03.find("Litestream 0.3.13 keeps its shadow WAL there, which grows at the app's WAL rate "
               "without bound while a replica does not advance"),
      std::string::npos)
      << v03;
  EXPECT_EQ(v03.find(".ltx.tmp"), std::string::npos) << v03;
  EXPECT_EQ(v03.find("snapshot"), std::string::npos) << v03;
  in.version = version(0, 5, 16);
  const std::string v05 = check(in, "meta-dir-placement").hint;
  EXPECT_NE(
      v05.find("Litestream 0.5.16 stages a whole snapshot there (a .ltx.tmp of ~1x the database)"),
      std::string::npos)
      << v05;
  EXPECT_EQ(v05.find("shadow WAL"), std::string::npos) << v05;
  in.version.reset();
  const std::string unknown = check(in, "meta-dir-placement").hint;
  EXPECT_NE(unknown.find(".ltx.tmp"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("0.3's shadow WAL grows there"), std::string::npos) << unknown;
}

// --- replica-same-filesystem

TEST(CheckRulesTest, FileReplicaOnTheDatabaseFilesystemWarns) {
  CheckInput in = good_input();
  EXPECT_EQ(check(in, "replica-same-filesystem").message, "no file replica");
  in.placements[0].file_replicas.push_back({"/backup/app", 7, ""});
  EXPECT_EQ(check(in, "replica-same-filesystem").status, CheckStatus::ok);
  EXPECT_EQ(check(in, "replica-same-filesystem").message,
            "/data/app.db: file replica /backup/app on another filesystem");
  in.placements[0].file_replicas.push_back({"/data/replica", 1, ""});
  const auto f = check(in, "replica-same-filesystem");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "/data/app.db: file replica /data/replica is on the database's filesystem: it needs a "
            "second full copy of "
            "the database on the disk the app needs");
  EXPECT_EQ(f.hint,
            "put the file replica on another disk, or replicate off the host (s3, sftp, ...): "
            "ltxguard preflight "
            "charges its full copy against this filesystem, and when the replica fills it the app "
            "gets ENOSPC too");
}

TEST(CheckRulesTest, FileReplicaNotMeasuredIsUnknown) {
  CheckInput in = good_input();
  in.placements[0].file_replicas.push_back(
      {"replica", std::nullopt,
       "not an absolute path (Litestream resolves it against its own working directory)"});
  const auto f = check(in, "replica-same-filesystem");
  EXPECT_EQ(f.status, CheckStatus::unknown);
  EXPECT_EQ(f.message,
            "/data/app.db: file replica replica: filesystem not measured: not an absolute path "
            "(Litestream resolves "
            "it against its own working directory)");
  in.placements.clear();
  EXPECT_EQ(check(in, "replica-same-filesystem").status, CheckStatus::unknown);
  EXPECT_EQ(check(in, "replica-same-filesystem").message, "no database in /etc/litestream.yml");
}

// --- auto-recover

TEST(CheckRulesTest, AutoRecoverOnAReplicaFails) {
  CheckInput in = good_input();
  add_key(in, "dbs[0].replica.auto-recover", 7, "true");
  const auto f = check(in, "auto-recover");
  EXPECT_EQ(f.status, CheckStatus::failed);
  EXPECT_EQ(f.message,
            "/etc/litestream.yml: dbs[0].replica.auto-recover (line 7) enabled: on a missing or "
            "corrupt LTX "
            "file Litestream resets its local state and stages a new full snapshot (~1x the "
            "database) next "
            "to the app, with only a warning in the log");
}

TEST(CheckRulesTest, GlobalAutoRecoverFailsUnlessEveryReplicaTurnsItOff) {
  CheckInput in = good_input();
  add_key(in, "auto-recover", 2, "yes");
  EXPECT_EQ(check(in, "auto-recover").status, CheckStatus::failed);
  add_key(in, "dbs[0].replica.auto-recover", 7, "false");
  EXPECT_EQ(check(in, "auto-recover").status, CheckStatus::ok);
  EXPECT_EQ(check(in, "auto-recover").message, "auto-recover off");
}

TEST(CheckRulesTest, AutoRecoverOnAVersionWithoutItOnlyWarns) {
  CheckInput in = good_input();
  add_key(in, "dbs[0].replica.auto-recover", 7, "on");
  in.version = version(0, 5, 6);
  const auto f = check(in, "auto-recover");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "/etc/litestream.yml: dbs[0].replica.auto-recover (line 7) enabled: Litestream 0.5.6 "
            "ignores it, "
            "but from 0.5.7 on it re-stages a full snapshot unattended after an LTX error");
  in.version = version(0, 5, 7);
  EXPECT_EQ(check(in, "auto-recover").status, CheckStatus::failed);
  in.version.reset();  // unknown: assume it applies
  EXPECT_EQ(check(in, "auto-recover").status, CheckStatus::failed);
}

// --- policy-reserve

TEST(CheckRulesTest, ReserveSmallerThanWalHeadroomFails) {
  CheckInput in = good_input();
  in.policy.reserve_bytes = 100ull << 20;
  in.policy.source_name = "policy.yml";
  in.policy.key_lines["reserve_bytes"] = 1;
  const auto f = check(in, "policy-reserve");
  EXPECT_EQ(f.status, CheckStatus::failed);
  EXPECT_EQ(
      f.message,
      "/data/app.db: policy.yml:1: reserve_bytes 100.0 MiB is smaller than the app's WAL headroom "
      "474.1 MiB: the app can hit ENOSPC before the reserve is touched");
  EXPECT_EQ(f.hint,
            "raise reserve_bytes to at least 474.1 MiB, or remove it: the default is max(5% of the "
            "filesystem, the WAL headroom)");
}

TEST(CheckRulesTest, ReserveAsLargeAsTheFilesystemFails) {
  CheckInput in = good_input();
  in.policy.reserve_percent_ppm = 1'000'000;
  EXPECT_EQ(check(in, "policy-reserve").status, CheckStatus::failed);
}

TEST(CheckRulesTest, DefaultReserveIsOkAndUnmeasuredFilesystemIsUnknown) {
  CheckInput in = good_input();
  const auto f = check(in, "policy-reserve");
  EXPECT_EQ(f.status, CheckStatus::ok);
  EXPECT_EQ(f.message.rfind("/data/app.db: reserve 512.0 MiB (", 0), 0U) << f.message;
  in.placements[0].fs_total_bytes.reset();
  EXPECT_EQ(check(in, "policy-reserve").status, CheckStatus::unknown);
}

// --- replica-credentials

TEST(CheckRulesTest, CleartextCredentialsWarnWithoutShowingThem) {
  CheckInput in = good_input();
  in.config->has_cleartext_credentials = true;
  add_key(in, "dbs[0].replica.secret-access-key", 8, "[REDACTED]");
  const auto f = check(in, "replica-credentials");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message, "/etc/litestream.yml holds a replica credential in clear");
  EXPECT_NE(f.hint.find("EnvironmentFile="), std::string::npos);
  EXPECT_EQ(check(good_input(), "replica-credentials").status, CheckStatus::ok);
}

// --- legacy-config-keys

TEST(CheckRulesTest, V03KeysOn05Warn) {
  CheckInput in = good_input();
  add_key(in, "dbs[0].replicas[0].retention", 9, "24h");
  add_key(in, "dbs[0].replica.snapshot-interval", 10, "1h");
  add_key(in, "snapshot.retention", 11, "24h");  // the 0.5 key: fine
  const auto f = check(in, "legacy-config-keys");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "dbs[0].replicas[0].retention (line 9), dbs[0].replica.snapshot-interval (line 10): "
            "0.3-only keys "
            "that Litestream 0.5.16 ignores without a word");
}

TEST(CheckRulesTest, V03KeysAreOkOn03AndUnknownWithoutAVersion) {
  CheckInput in = good_input();
  add_key(in, "dbs[0].replicas[0].snapshot-interval", 9, "1h");
  in.version = version(0, 3, 13);
  EXPECT_EQ(check(in, "legacy-config-keys").status, CheckStatus::ok);
  in.version.reset();
  EXPECT_EQ(check(in, "legacy-config-keys").status, CheckStatus::unknown);
  EXPECT_EQ(check(good_input(), "legacy-config-keys").message, "no 0.3-only keys");
}

TEST(CheckRulesTest, LegacyKeyListIsCapped) {
  CheckInput in = good_input();
  for (int i = 0; i < 7; ++i)
    add_key(in, "dbs[" + std::to_string(i) + "].replicas[0].retention", 10 + i, "1h");
  EXPECT_NE(check(in, "legacy-config-keys").message.find("(line 14) and 2 more: "),
            std::string::npos);
}

// --- l0-retention

TEST(CheckRulesTest, L0RetentionZeroWarns) {
  CheckInput in = good_input();
  add_key(in, "l0-retention", 2, "0s");
  in.version = version(0, 5, 16);
  auto f = check(in, "l0-retention");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(
      f.message,
      "/etc/litestream.yml:2: l0-retention: 0s: Litestream 0.5.16 refuses to start with it (\"l0 "
      "retention must be greater than 0\")");
  in.version.reset();
  f = check(in, "l0-retention");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_NE(f.message.find("never delete local L0 files"), std::string::npos);
}

TEST(CheckRulesTest, L0RetentionPositiveOrUnsetIsOk) {
  CheckInput in = good_input();
  EXPECT_EQ(check(in, "l0-retention").message, "l0-retention not set (default 5m)");
  add_key(in, "l0-retention", 2, "10m");
  EXPECT_EQ(check(in, "l0-retention").status, CheckStatus::ok);
}

TEST(CheckRulesTest, GoDurationZero) {
  for (const char* z : {"0", "0s", "-0s", "0h0m0.000s", "0.0ms", "0µs"})
    EXPECT_EQ(go_duration_is_zero(z), true) << z;
  for (const char* n : {"1s", "0h1m", "0.5s", "5m"}) EXPECT_EQ(go_duration_is_zero(n), false) << n;
  for (const char* x : {"", "s", "0x", "zero", "00"})
    EXPECT_EQ(go_duration_is_zero(x), std::nullopt) << x;
}

// --- config-issues

TEST(CheckRulesTest, ConfigIssuesWarnWithTheirLines) {
  CheckInput in = good_input();
  in.config->issues.push_back(
      {6, "dbs[0].replica: 'url' has no scheme (like s3://); Litestream refuses it"});
  const auto f = check(in, "config-issues");
  EXPECT_EQ(f.status, CheckStatus::warning);
  EXPECT_EQ(f.message,
            "/etc/litestream.yml:6: dbs[0].replica: 'url' has no scheme (like s3://); Litestream "
            "refuses it");
}

// The shipped unit and a default config: the first thing an operator runs check on.
TEST(CheckRulesTest, ShippedSetupFailsOnlyOnExposedMetrics) {
  CheckInput in = good_input();
  in.unit = unit(kShippedUnit);
  in.version = version(0, 5, 12);
  in.config->addr = ":9090";
  in.placements[0].meta_dev = 1;
  const auto findings = run_checks(in);
  EXPECT_EQ(overall(findings), CheckStatus::failed);
  std::vector<std::string> not_ok;
  for (const auto& f : findings) {
    if (f.status != CheckStatus::ok) not_ok.push_back(f.id);
  }
  EXPECT_EQ(not_ok,
            (std::vector<std::string>{"litestream-version", "unit-user", "unit-restart",
                                      "unit-watchdog", "metrics-loopback", "meta-dir-placement"}));
}

}  // namespace
}  // namespace ltxguard::model
