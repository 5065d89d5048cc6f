#include "ltxguard/output/evidence_report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace ltxguard::output {
namespace {

constexpr const char* kForged = "ERROR fake line";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

collect::StagingFile staging_file(const std::string& meta, const std::string& rel, uint64_t bytes) {
  collect::StagingFile f;
  f.rel_path = rel;
  f.path = meta + "/" + rel;
  f.name = formats::classify_staging_path(rel);
  f.stat.type = sys::FileType::regular;
  f.stat.size_bytes = bytes;
  f.stat.allocated_bytes = bytes;
  return f;
}

// A host whose directory, database, mount point and staging names hold newlines, a table
// pipe, backticks and bytes that are not UTF-8.
collect::Evidence hostile_evidence() {
  collect::Evidence ev;
  ev.taken_at_ms = 1735787045000;
  const std::string dir = std::string("/srv/x\n") + kForged + "\xff\xfe";
  ev.db.db_path = dir + "/app\n" + kForged + "|`b`.db";
  ev.db.db.bytes = 4096;
  ev.db.header_error = "cannot read " + ev.db.db_path;
  ev.db_dev = ev.staging_dev = 7;
  collect::FilesystemEvidence fs;
  fs.stats.dev = 7;
  fs.stats.mount_point = std::string("/srv/x\n") + kForged;
  fs.stats.fstype = "fuse.x\n" + std::string(kForged);
  fs.roles = {"db", "meta"};
  ev.filesystems.push_back(fs);
  const std::string meta = dir + "/.app.db-litestream";
  ev.staging.meta_path = meta;
  ev.staging.exists = true;
  ev.staging.layout = formats::Layout::v0_5;
  ev.staging.files.push_back(
      staging_file(meta, "ltx/0/0000000000000001-0000000000000001.ltx.tmp", 100));
  ev.staging.files.push_back(
      staging_file(meta, "ltx/0/x\n" + std::string(kForged) + "|`.ltx.tmp", 100));
  ev.staging.files.push_back(staging_file(meta, "x\n" + std::string(kForged), 100));
  ev.staging.file_count = 3;
  ev.staging.total_bytes = 300;
  ev.log.source = "file /var/log/x\n" + std::string(kForged);
  ev.log.why_unavailable = "cannot open\n" + std::string(kForged);
  return ev;
}

model::EvidenceVerdict verdict_with_path_reasons(const collect::Evidence& ev) {
  model::EvidenceVerdict v;
  v.reasons = {"staging_is_driver: " + ev.staging.meta_path + " holds | 300 B",
               "staging_fits: unknown", "wal_blocked: no", "visible_in_logs: no"};
  return v;
}

TEST(EvidenceReportTest, TextKeepsEveryHostStringOnItsLine) {
  const collect::Evidence ev = hostile_evidence();
  const std::string text =
      evidence_text(ev, verdict_with_path_reasons(ev), {}, formats::Redactor());
  for (const auto& l : lines_of(text)) {
    EXPECT_NE(l.rfind(kForged, 0), 0u) << l;
    EXPECT_EQ(l.find('\xff'), std::string::npos) << l;
  }
  EXPECT_NE(text.find("ltxguard evidence for /srv/x\\nERROR fake line\\xff\\xfe/app\\nERROR fake "
                      "line|`b`.db at "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  ltx/0/x\\nERROR fake line|`.ltx.tmp  100 B"), std::string::npos) << text;
  EXPECT_NE(text.find("  x\\nERROR fake line  100 B  unknown"), std::string::npos) << text;
  EXPECT_NE(text.find("filesystem  /srv/x\\nERROR fake line (fuse.x\\nERROR fake line; db, meta)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("log         file /var/log/x\\nERROR fake line: unavailable (cannot "
                      "open\\nERROR fake line)"),
            std::string::npos)
      << text;
}

TEST(EvidenceReportTest, PublicMarkdownKeepsNamesInTheirSpanCellAndLine) {
  collect::Evidence ev = hostile_evidence();
  ev.log.available = true;
  ev.log.lines = {
      "level=ERROR msg=\"sync error\" error=\"write x.ltx.tmp: no space left on device\"",
      "````/d/app.db: sync error: write x.wal: no space left on device\n# forged"};
  formats::RedactionOptions opts;
  opts.public_mode = true;
  const std::string md =
      evidence_public_markdown(ev, verdict_with_path_reasons(ev), {}, formats::Redactor(opts));
  for (const auto& l : lines_of(md)) {
    EXPECT_NE(l.rfind(kForged, 0), 0u) << l;
    EXPECT_NE(l.rfind("# forged", 0), 0u) << l;
    EXPECT_EQ(l.find('\xff'), std::string::npos) << l;
  }
  EXPECT_NE(md.find("## ltxguard evidence: ``app\\nERROR fake line|`b`.db``\n"), std::string::npos)
      << md;
  EXPECT_NE(
      md.find(
          "| in-flight file | `0000000000000001-0000000000000001.ltx.tmp` 100 B (incomplete) |\n"),
      std::string::npos)
      << md;
  EXPECT_NE(md.find("| filesystem (db, meta, fuse.x\\nERROR fake line) |"), std::string::npos)
      << md;
  // Every table row still has its three or two cells: no '|' from the host splits one.
  for (const auto& l : lines_of(md)) {
    if (l.rfind("| staging_is_driver", 0) == 0) {
      EXPECT_NE(l.find(" holds \\| 300 B |"), std::string::npos) << l;
    }
  }
  // A log line that starts with a fence cannot close the block: the fence is longer.
  EXPECT_NE(md.find("\n`````\nlevel=ERROR"), std::string::npos) << md;
  EXPECT_NE(
      md.find(
          "\n````/d/app.db: sync error: write x.wal: no space left on device\\n# forged\n`````\n"),
      std::string::npos)
      << md;
}

}  // namespace
}  // namespace ltxguard::output

namespace ltxguard::output {
namespace {

constexpr uint64_t kKiB = 1 << 10;
constexpr uint64_t kMiB = 1 << 20;

// One filesystem (dev 7) holding the database and the meta dir; `samples` samples 1 s apart
// with the given free/avail; a 4096-byte-page database.
collect::Evidence shared_disk(uint64_t total, uint64_t free, uint64_t avail, uint64_t wal_bytes, int samples = 3) {
  collect::Evidence ev;
  ev.db.db_path = "/d/app.db";
  ev.db_config.path = "/d/app.db";
  ev.db_config.meta_path = "/d/.app.db-litestream";
  formats::SqliteHeader h;
  h.page_size_bytes = 4096;
  h.page_count = 7170;
  h.page_count_valid = true;
  h.wal_mode = true;
  ev.db.header = h;
  ev.db.wal.exists = true;
  ev.db.wal.bytes = wal_bytes;
  ev.db_dev = ev.staging_dev = 7;
  collect::FilesystemEvidence fs;
  fs.stats.dev = 7;
  fs.stats.mount_point = "/d";
  fs.stats.total_bytes = total;
  fs.stats.free_bytes = free;
  fs.stats.avail_bytes = avail;
  fs.roles = {"db", "meta"};
  ev.filesystems.push_back(fs);
  for (int i = 0; i < samples; ++i) {
    collect::Sample s;
    s.time_ms = 1000 * (i + 1);
    s.wal_bytes = wal_bytes;
    s.db_fs_free_bytes = s.staging_fs_free_bytes = free;
    s.db_fs_avail_bytes = s.staging_fs_avail_bytes = avail;
    ev.samples.push_back(s);
  }
  ev.staging.meta_path = ev.db_config.meta_path;
  ev.litestream.processes.push_back(sys::ProcessInfo{42, 0, "litestream", "/usr/bin/litestream", {}});
  return ev;
}

void stage(collect::Evidence& ev, const std::string& rel, uint64_t bytes) {
  ev.staging.exists = true;
  ev.staging.files.push_back(staging_file(ev.staging.meta_path, rel, bytes));
  ev.staging.layout = ev.staging.files.back().name.layout;
  ev.staging.total_bytes += bytes;
  ev.staging.file_count += 1;
  if (ev.staging.files.back().name.in_flight()) ev.staging.in_flight_bytes += bytes;
  for (auto& s : ev.samples) s.staging_bytes = ev.staging.total_bytes;
}

collect::ReplicaState missing_file_replica(uint64_t backlog_bytes) {
  collect::ReplicaState r;
  r.name = r.type = "file";
  r.source = "none";
  r.known = true;
  r.reason = "file replica directory does not exist yet: nothing uploaded";
  r.backlog_bytes = backlog_bytes;
  r.backlog_files = backlog_bytes > 0 ? 1 : 0;
  return r;
}

model::EvidenceVerdict decide(const collect::Evidence& ev, const VerdictContext& ctx = {}) {
  return model::decide_evidence(evidence_input(ev, ctx));
}

// Field test (ext4, 5 % root reserve, app as nobody): root Litestream 0.5.12 holds a stalled
// 17.1 MiB .ltx.tmp after ENOSPC, nothing reached the replica, the app already fails.
TEST(EvidenceReportTest, Ext4WedgeWithNothingUploadedIsTheDriver) {
  collect::Evidence ev = shared_disk(56013 * kKiB, 1331 * kKiB, 0, 2355 * kKiB);
  stage(ev, "ltx/0/0000000000000001-0000000000000001.ltx.tmp", 17510 * kKiB);
  ev.replicas_first = ev.replicas = {missing_file_replica(17510 * kKiB)};
  const model::EvidenceInput in = evidence_input(ev, {});
  // The app has no room (root still sees 1.3 MiB) and nothing moved: stuck, not keeping up.
  EXPECT_EQ(in.replica_stuck, true);
  EXPECT_EQ(in.replica_detail,
            "file: nothing uploaded, backlog 17.1 MiB, no upload while the disk is full for the application");
  const auto v = model::decide_evidence(in);
  EXPECT_EQ(v.staging_is_driver, model::Answer::yes) << v.reasons[0];
  EXPECT_EQ(v.staging_fits, model::Answer::no);
}

TEST(EvidenceReportTest, NoRoomForTheReplicaIsTheApplicationsView) {
  collect::Evidence ev = shared_disk(56013 * kKiB, 1331 * kKiB, 0, 2355 * kKiB);
  stage(ev, "ltx/0/0000000000000002-0000000000000002.ltx", 3 * kMiB);
  collect::ReplicaState r;
  r.name = r.type = "file";
  r.source = "file";
  r.known = true;
  r.max_txid = 1;
  r.backlog_bytes = 3 * kMiB;
  ev.replicas_first = ev.replicas = {r};
  EXPECT_EQ(evidence_input(ev, {}).replica_stuck, true);
  VerdictContext root;
  root.app_runs_as_root = true;  // then the 1.3 MiB root sees is the app's room too
  EXPECT_EQ(evidence_input(ev, root).replica_stuck, false);
}

TEST(EvidenceReportTest, ReplicaWithNothingUploadedIsBehind) {
  collect::Evidence ev = shared_disk(100 * kMiB, 50 * kMiB, 50 * kMiB, 0);
  stage(ev, "ltx/0/0000000000000001-0000000000000001.ltx.tmp", 15 * kMiB);
  ev.replicas_first = ev.replicas = {missing_file_replica(15 * kMiB)};
  const model::EvidenceInput in = evidence_input(ev, {});
  EXPECT_EQ(in.replica_stuck, false);
  EXPECT_TRUE(in.replica_behind);
  EXPECT_EQ(in.replica_detail, "file: nothing uploaded, backlog 15.0 MiB");
  // 30 % of the used 50 MiB: the driver, since the replicas do not keep up (25 %, not 50 %).
  EXPECT_EQ(model::decide_evidence(in).staging_is_driver, model::Answer::yes);
}

// Field test (tmpfs) between two 0.5 saw-tooth peaks: no .ltx.tmp right now, Litestream
// holds its read transaction, the app's WAL is 19.4 MiB and the app fails.
TEST(EvidenceReportTest, SawtoothTroughBlamesLitestreamsReadTransaction) {
  collect::Evidence ev = shared_disk(48 * kMiB, 0, 0, 20324352);
  ev.replicas_first = ev.replicas = {missing_file_replica(0)};
  const auto v = decide(ev);
  EXPECT_EQ(v.staging_is_driver, model::Answer::yes) << v.reasons[0];
  EXPECT_EQ(v.wal_blocked, model::Answer::yes);
  const std::string text = evidence_text(ev, v, {}, formats::Redactor());
  EXPECT_NE(text.find("verdict: Litestream is filling this disk: its read transaction pins the app's WAL, which "
                      "cannot be checkpointed and reused; stop Litestream before cleaning up.\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("staging is not on this filesystem"), std::string::npos) << text;
  const auto j = evidence_json(ev, v, {}, formats::Redactor());
  EXPECT_EQ(j["verdict"]["pinned_wal_bytes"], 20324352u - (32u + 1000u * 4120u));
  // Without a Litestream for this database the WAL is not counted against it.
  ev.litestream.processes.clear();
  EXPECT_EQ(decide(ev).staging_is_driver, model::Answer::no);
}

TEST(EvidenceReportTest, OtherLitestreamIsListedApartFromThisDatabases) {
  collect::Evidence ev = shared_disk(100 * kMiB, 50 * kMiB, 50 * kMiB, 0);
  ev.litestream.other_processes.push_back(sys::ProcessInfo{13, 0, "litestream", "/usr/bin/litestream", {}});
  const std::string text = evidence_text(ev, decide(ev), {}, formats::Redactor());
  EXPECT_NE(text.find("; 1 process(es) running for this database, 0 open file(s) under the meta dir; other "
                      "Litestream (not this database): pid 13\n"),
            std::string::npos)
      << text;
  const auto j = evidence_json(ev, decide(ev), {}, formats::Redactor());
  EXPECT_EQ(j["litestream"]["processes"].size(), 1u);
  EXPECT_EQ(j["litestream"]["other_processes"][0]["pid"], 13);
}

collect::ReplicaState metrics_replica(uint32_t wal_index, uint32_t wal_offset) {
  collect::ReplicaState r;
  r.name = r.type = "s3";
  r.source = "metrics";
  r.known = true;
  r.wal_index = wal_index;
  r.wal_offset = wal_offset;
  return r;
}

// 0.3 with metrics: shadow WAL index 5, replica WAL index 3 (gap 2).
TEST(EvidenceReportTest, MetricsGapThatDoesNotCloseIsAStuckReplica) {
  collect::Evidence ev = shared_disk(100 * kMiB, 50 * kMiB, 50 * kMiB, 4 * kMiB);
  stage(ev, "generations/0123456789abcdef/wal/00000005.wal", 2 * kMiB);
  ev.shadow_wal_index_first = ev.shadow_wal_index = 5;
  ev.replicas_first = ev.replicas = {metrics_replica(3, 4096)};
  auto in = evidence_input(ev, {});
  EXPECT_EQ(in.replica_stuck, true);
  EXPECT_EQ(in.replica_detail, "s3: shadow WAL index 5, replica WAL index 3 (gap 2), not closing in 2 s");
  const auto v = model::decide_evidence(in);
  EXPECT_EQ(v.staging_fits, model::Answer::no) << v.reasons[1];
  // The replica uploads (its offset moves): not stuck.
  ev.replicas = {metrics_replica(3, 8192)};
  EXPECT_EQ(evidence_input(ev, {}).replica_stuck, false);
  // Caught up: keeping up, so staging fits.
  ev.shadow_wal_index = 3;
  EXPECT_EQ(decide(ev).staging_fits, model::Answer::yes);
  // One scrape, no window: behind, not proven stuck.
  ev = shared_disk(100 * kMiB, 50 * kMiB, 50 * kMiB, 4 * kMiB, 1);
  ev.shadow_wal_index_first = ev.shadow_wal_index = 5;
  ev.replicas_first = ev.replicas = {metrics_replica(3, 4096)};
  in = evidence_input(ev, {});
  EXPECT_EQ(in.replica_stuck, false);
  EXPECT_TRUE(in.replica_behind);
  EXPECT_NE(model::decide_evidence(in).reasons[1].find(
                "unknown: no staging write in flight and a replica is behind: s3"),
            std::string::npos);
}

TEST(EvidenceReportTest, ReplicaErrorsInTheLogMeanTheReplicaIsNotKeepingUp) {
  collect::Evidence ev = shared_disk(100 * kMiB, 50 * kMiB, 50 * kMiB, 4 * kMiB);
  stage(ev, "generations/0123456789abcdef/wal/00000005.wal", 2 * kMiB);
  collect::ReplicaState r;
  r.name = r.type = "s3";
  r.source = "none";
  r.reason = "s3 replica: its upload state is not visible from this host";
  ev.replicas_first = ev.replicas = {r};
  ev.log.available = true;
  ev.log.lines = {
      "time=2026-01-01T00:00:01Z level=ERROR msg=\"monitor error\" db=/d/app.db replica=s3 error=\"dial tcp "
      "127.0.0.1:9: connect: connection refused\"",
      "time=2026-01-01T00:00:02Z level=ERROR msg=\"monitor error\" db=/d/other.db replica=s3 error=\"x\"",
      "time=2026-01-01T00:00:03Z level=ERROR msg=\"monitor error\" db=/d/app.db replica=s3 error=\"dial tcp "
      "127.0.0.1:9: connect: connection refused\""};
  auto v = decide(ev);
  EXPECT_EQ(v.staging_fits, model::Answer::no);
  EXPECT_EQ(v.reasons[1],
            "staging_fits=false: a replica is not advancing (s3: 2 replica error line(s) in the log since its last "
            "upload), so staging grows without bound (50.0 MiB free)");
  // A finished upload after the errors: the replica recovered; its progress is unknown again.
  ev.log.lines.push_back(
      "time=2026-01-01T00:00:04Z level=INFO msg=\"wal segment written\" db=/d/app.db replica=s3 "
      "position=0123456789abcdef/00000005:0 elapsed=1ms sz=4120");
  v = decide(ev);
  EXPECT_EQ(v.staging_fits, model::Answer::unknown) << v.reasons[1];
}

}  // namespace
}  // namespace ltxguard::output
