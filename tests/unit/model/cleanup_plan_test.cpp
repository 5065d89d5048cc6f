#include "ltxguard/model/cleanup_plan.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace ltxguard::model {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kMetaDev = 7;
constexpr const char* kGen = "0123456789abcdef";

CleanupFileInput file(const std::string& rel, uint64_t size = 4096, uint64_t ino = 100) {
  CleanupFileInput f;
  f.rel_path = rel;
  f.path = "/d/.app.db-litestream/" + rel;
  f.name = formats::classify_staging_path(rel);
  f.dev = kMetaDev;
  f.ino = ino;
  f.uid = 0;
  f.size_bytes = size;
  f.allocated_bytes = size;
  f.header_recorded = true;
  if (f.name.kind == formats::StagingKind::ltx || f.name.kind == formats::StagingKind::ltx_tmp) {
    f.ltx_state = f.name.kind == formats::StagingKind::ltx ? formats::LtxState::complete
                                                           : formats::LtxState::incomplete;
  }
  return f;
}

std::string seg(uint32_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "generations/%s/wal/%08x.wal", kGen, index);
  return buf;
}

CleanupReplica replica03(const std::string& name, std::optional<uint32_t> index,
                         std::string gen = kGen) {
  CleanupReplica r;
  r.name = name;
  r.known = true;
  r.generation = std::move(gen);
  r.wal_index = index;
  return r;
}

CleanupReplica replica05(const std::string& name, std::optional<uint64_t> txid) {
  CleanupReplica r;
  r.name = name;
  r.known = true;
  r.max_txid = txid;
  return r;
}

CleanupInput base(formats::Layout layout) {
  CleanupInput in;
  in.db_path = "/d/app.db";
  in.meta_path = "/d/.app.db-litestream";
  in.db_files = {{"database", "/d/app.db", true, kMetaDev, 1, 1 << 20, 1 << 20},
                 {"wal", "/d/app.db-wal", true, kMetaDev, 2, 8192, 8192},
                 {"shm", "/d/app.db-shm", true, kMetaDev, 3, 32768, 32768}};
  in.meta_exists = true;
  in.meta_dev = kMetaDev;
  in.layout = layout;
  in.current_generation = kGen;
  in.meta_fs_avail_bytes = 1000;
  return in;
}

// A copy: callers often pass a temporary plan.
CleanupItem item(const CleanupPlan& p, const std::string& rel) {
  for (const auto& i : p.items) {
    if (i.rel_path == rel) return i;
  }
  ADD_FAILURE() << "no item " << rel;
  return {};
}

TEST(CleanupPlanTest, DatabaseWalAndShmAreAlwaysDoNotTouch) {
  const CleanupPlan p = plan_cleanup(base(formats::Layout::v0_3));
  ASSERT_GE(p.items.size(), 3u);
  EXPECT_EQ(p.items[0].kind, "database");
  EXPECT_EQ(p.items[1].kind, "wal");
  EXPECT_EQ(p.items[2].kind, "shm");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.items[i].cls, CleanupClass::do_not_touch);
    EXPECT_FALSE(p.items[i].removable);
  }
  EXPECT_THAT(p.items[1].reason, HasSubstr("holds committed transactions"));
  EXPECT_EQ(p.do_not_touch.files, 3u);
}

TEST(CleanupPlanTest, DatabaseFileInsideMetaDirIsDoNotTouchByIdentity) {
  CleanupInput in = base(formats::Layout::v0_5);
  CleanupFileInput f =
      file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 1 << 20, 1);  // ino of the DB
  in.files.push_back(f);
  const CleanupPlan p = plan_cleanup(in);
  const CleanupItem i = item(p, f.rel_path);
  EXPECT_EQ(i.cls, CleanupClass::do_not_touch);
  EXPECT_EQ(i.reason, "this is the database file itself: never touched");
  EXPECT_FALSE(i.removable);
}

TEST(CleanupPlanTest, InFlightLtxTmpOfStoppedLitestreamIsSafeOnceHeaderRecorded) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.files.push_back(file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 5000));
  const CleanupPlan p = plan_cleanup(in);
  const CleanupItem i = item(p, "ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  EXPECT_EQ(i.cls, CleanupClass::safe);
  EXPECT_TRUE(i.removable);
  EXPECT_EQ(i.header_bytes, 100u);
  EXPECT_THAT(i.reason, HasSubstr("never resumes a .tmp"));
  EXPECT_THAT(i.reason, HasSubstr("header goes into the evidence bundle before removal"));
  EXPECT_EQ(p.safe.files, 1u);
  EXPECT_EQ(p.safe.allocated_bytes, 5000u);
  EXPECT_EQ(*p.avail_after_safe_bytes, 6000u);
}

TEST(CleanupPlanTest, IncompleteStagingWithoutRecordedHeaderIsReviewAsOnlyEvidence) {
  CleanupInput in = base(formats::Layout::v0_5);
  CleanupFileInput f = file("ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  f.header_recorded = false;
  in.files.push_back(f);
  const CleanupItem i = item(plan_cleanup(in), f.rel_path);
  EXPECT_EQ(i.cls, CleanupClass::review);
  EXPECT_THAT(i.reason, HasSubstr("the only local evidence of the failed sync"));
}

TEST(CleanupPlanTest, ShadowWalTmpIsSafeWithFrameHeaderRecorded) {
  CleanupInput in = base(formats::Layout::v0_3);
  const std::string rel = seg(2) + ".tmp";
  in.files.push_back(file(rel));
  const CleanupItem i = item(plan_cleanup(in), rel);
  EXPECT_EQ(i.cls, CleanupClass::safe);
  EXPECT_EQ(i.header_bytes, 24u);
  EXPECT_EQ(i.kind, "shadow_wal_tmp");
}

TEST(CleanupPlanTest, TruncatedFinalLtxIsSafeCorruptIsReview) {
  CleanupInput in = base(formats::Layout::v0_5);
  CleanupFileInput truncated = file("ltx/0/0000000000000002-0000000000000002.ltx", 300, 101);
  truncated.ltx_state = formats::LtxState::incomplete;
  truncated.ltx_reason = "truncated: no trailer";
  CleanupFileInput corrupt = file("ltx/0/0000000000000003-0000000000000003.ltx", 300, 102);
  corrupt.ltx_state = formats::LtxState::corrupt;
  corrupt.ltx_reason = "bad magic";
  in.files = {truncated, corrupt};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_EQ(item(p, truncated.rel_path).cls, CleanupClass::safe);
  EXPECT_THAT(item(p, truncated.rel_path).reason,
              HasSubstr("truncated LTX (truncated: no trailer)"));
  EXPECT_EQ(item(p, corrupt.rel_path).cls, CleanupClass::review);
  EXPECT_THAT(item(p, corrupt.rel_path).reason, StartsWith("corrupt LTX (bad magic)"));
}

TEST(CleanupPlanTest, ShadowSegmentsBelowEveryReplicasIndexAreSafe) {
  CleanupInput in = base(formats::Layout::v0_3);
  in.files = {file(seg(0), 5000, 10), file(seg(1), 4000, 11), file(seg(2), 3000, 12)};
  in.replicas = {replica03("file", 2), replica03("backup", 1)};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_EQ(item(p, seg(0)).cls, CleanupClass::safe);
  EXPECT_EQ(item(p, seg(0)).reason,
            "shadow WAL segment 0 of generation 0123456789abcdef, which every replica already "
            "holds (file at index "
            "2, backup at index 1)");
  EXPECT_EQ(item(p, seg(0)).header_bytes, 32u);
  // The lower replica is in segment 1: partly uploaded is not uploaded.
  EXPECT_EQ(item(p, seg(1)).cls, CleanupClass::review);
  EXPECT_THAT(item(p, seg(1)).reason, HasSubstr("replica backup is at WAL index 1"));
  EXPECT_THAT(item(p, seg(1)).reason, HasSubstr("only partly uploaded"));
  EXPECT_EQ(item(p, seg(2)).cls, CleanupClass::review);
  EXPECT_THAT(item(p, seg(2)).reason, HasSubstr("not uploaded"));
  EXPECT_EQ(p.safe.allocated_bytes, 5000u);
  EXPECT_EQ(p.review.allocated_bytes, 7000u);
  EXPECT_EQ(*p.avail_after_safe_bytes, 6000u);
  EXPECT_EQ(*p.avail_after_review_bytes, 13000u);
}

TEST(CleanupPlanTest, ShadowSegmentWithAnUnknownReplicaIsReview) {
  CleanupInput in = base(formats::Layout::v0_3);
  in.files = {file(seg(0))};
  CleanupReplica s3;
  s3.name = "s3";
  s3.reason = "its upload state is not visible from this host";
  in.replicas = {replica03("file", 5), s3};
  const CleanupItem i = item(plan_cleanup(in), seg(0));
  EXPECT_EQ(i.cls, CleanupClass::review);
  EXPECT_EQ(i.reason,
            "replica s3: position unknown (its upload state is not visible from this host): upload "
            "not proven");
}

TEST(CleanupPlanTest, ShadowSegmentWithoutReplicasOrInAnotherGenerationIsReview) {
  CleanupInput in = base(formats::Layout::v0_3);
  in.files = {file(seg(0))};
  EXPECT_THAT(item(plan_cleanup(in), seg(0)).reason, HasSubstr("no replica is configured"));

  in.replicas = {replica03("file", 3, "fedcba9876543210")};
  EXPECT_THAT(item(plan_cleanup(in), seg(0)).reason,
              HasSubstr("replica file holds no WAL segment of generation 0123456789abcdef"));

  in.replicas = {replica03("file", 3)};
  in.current_generation = "fedcba9876543210";
  const CleanupItem old = item(plan_cleanup(in), seg(0));
  EXPECT_EQ(old.cls, CleanupClass::review);
  EXPECT_THAT(old.reason, HasSubstr("is not the current one (fedcba9876543210)"));
  EXPECT_THAT(old.reason, HasSubstr("retention and restore point"));
}

TEST(CleanupPlanTest, ZeroReplicaIndexProvesNothing) {
  CleanupInput in = base(formats::Layout::v0_3);
  in.files = {file(seg(0))};
  in.replicas = {replica03("file", 0)};
  EXPECT_EQ(item(plan_cleanup(in), seg(0)).cls, CleanupClass::review);
}

TEST(CleanupPlanTest, OldGenerationNextToLtxTreeIsReview) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.mixed_layouts = true;
  in.files = {file(seg(0))};
  in.replicas = {replica03("file", 9)};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_EQ(item(p, seg(0)).cls, CleanupClass::review);
  EXPECT_THAT(item(p, seg(0)).reason, HasSubstr("left next to the 0.5 ltx/ tree"));
  EXPECT_THAT(p.notes, ::testing::Contains(HasSubstr("leftovers of an upgrade")));
}

TEST(CleanupPlanTest, CompleteLtxIsReviewWhetherOrNotUploadIsProven) {
  CleanupInput in = base(formats::Layout::v0_5);
  const std::string up = "ltx/0/0000000000000001-0000000000000005.ltx";
  const std::string notup = "ltx/0/0000000000000006-0000000000000009.ltx";
  in.files = {file(up, 100, 20), file(notup, 100, 21)};
  in.replicas = {replica05("file", 7), replica05("other", 5)};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_EQ(item(p, up).cls, CleanupClass::review);
  EXPECT_THAT(item(p, up).reason, HasSubstr("every replica holds (lowest replica TXID 5)"));
  EXPECT_EQ(item(p, notup).cls, CleanupClass::review);
  EXPECT_THAT(item(p, notup).reason, HasSubstr("upload is not proven (lowest replica TXID 5)"));

  in.replicas = {replica05("file", std::nullopt)};
  EXPECT_THAT(item(plan_cleanup(in), up).reason,
              HasSubstr("(replica file: holds no LTX file yet)"));
}

TEST(CleanupPlanTest, UnknownNamesSymlinksAndOtherFilesystemsAreDoNotTouch) {
  CleanupInput in = base(formats::Layout::v0_5);
  CleanupFileInput unknown = file("notes.txt", 10, 30);
  CleanupFileInput link = file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 10, 31);
  link.regular = false;
  link.type_name = "symlink";
  CleanupFileInput mounted = file("ltx/0/0000000000000002-0000000000000002.ltx.tmp", 10, 32);
  mounted.dev = kMetaDev + 1;
  in.files = {unknown, link, mounted};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_EQ(item(p, unknown.rel_path).cls, CleanupClass::do_not_touch);
  EXPECT_EQ(item(p, unknown.rel_path).reason,
            "not a name Litestream writes: not identified as Litestream's");
  EXPECT_EQ(item(p, link.rel_path).reason,
            "a symlink, not a file Litestream writes: never followed, never removed");
  EXPECT_THAT(item(p, mounted.rel_path).reason, HasSubstr("on another filesystem"));
  for (const auto* f : {&unknown, &link, &mounted}) EXPECT_FALSE(item(p, f->rel_path).removable);
}

TEST(CleanupPlanTest, HardLinkedForeignOwnedAndOpenFilesAreDoNotTouch) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.meta_uid = 1000;
  CleanupFileInput linked = file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 10, 40);
  linked.nlink = 2;
  CleanupFileInput foreign = file("ltx/0/0000000000000002-0000000000000002.ltx.tmp", 10, 41);
  foreign.uid = 1001;
  CleanupFileInput owner = file("ltx/0/0000000000000003-0000000000000003.ltx.tmp", 10, 42);
  owner.uid = 1000;
  CleanupFileInput open = file("ltx/0/0000000000000004-0000000000000004.ltx.tmp", 10, 43);
  open.holders = {"pid 42 (backup-agent)"};
  in.files = {linked, foreign, owner, open};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_THAT(item(p, linked.rel_path).reason, StartsWith("has 2 hard links"));
  EXPECT_EQ(item(p, foreign.rel_path).reason,
            "owned by uid 1001, neither the meta dir's owner (uid 1000) nor root");
  EXPECT_EQ(item(p, owner.rel_path).cls, CleanupClass::safe);
  EXPECT_EQ(item(p, open.rel_path).cls, CleanupClass::do_not_touch);
  EXPECT_EQ(
      item(p, open.rel_path).reason,
      "open in pid 42 (backup-agent): removing an open file frees nothing until it is closed");
}

TEST(CleanupPlanTest, GenerationPointerAndReplicaFilesAreDoNotTouch) {
  CleanupInput in = base(formats::Layout::v0_3);
  in.files = {
      file("generation", 17, 50),
      file(std::string("generations/") + kGen + "/snapshots/00000000.snapshot.lz4", 10, 51)};
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_THAT(item(p, "generation").reason, HasSubstr("pointer to the current generation"));
  EXPECT_EQ(item(p, "generation").cls, CleanupClass::do_not_touch);
  EXPECT_THAT(p.items.back().reason, HasSubstr("a replica's file"));
}

TEST(CleanupPlanTest, EverythingIsDoNotTouchWhileLitestreamRunsWithClassIfStopped) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.litestream_running = {"pid 77 (litestream replicate -config /etc/litestream.yml)"};
  in.files = {file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 5000, 60),
              file("notes.txt", 1, 61)};
  const CleanupPlan p = plan_cleanup(in);
  const CleanupItem tmp = item(p, "ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  EXPECT_EQ(tmp.cls, CleanupClass::do_not_touch);
  ASSERT_TRUE(tmp.class_if_stopped);
  EXPECT_EQ(*tmp.class_if_stopped, CleanupClass::safe);
  EXPECT_THAT(tmp.reason,
              StartsWith("Litestream is running (pid 77 (litestream replicate -config "
                         "/etc/litestream.yml)): nothing under the meta dir is touched until it "
                         "stops; then safe: "));
  EXPECT_FALSE(item(p, "notes.txt").class_if_stopped);
  EXPECT_EQ(p.safe.files, 0u);
  EXPECT_EQ(p.safe_if_stopped.allocated_bytes, 5000u);
  EXPECT_EQ(*p.avail_after_safe_bytes, 1000u);
  EXPECT_TRUE(p.litestream_running);
  EXPECT_THAT(p.notes, ::testing::Contains(HasSubstr("would be safe once it is stopped")));
}

TEST(CleanupPlanTest, ResetEntryCarriesTheBudgetAndIsNeverRemovable) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.files = {file("ltx/0/0000000000000001-0000000000000001.ltx.tmp", 5000, 70),
              file("ltx/0/0000000000000002-0000000000000002.ltx", 3000, 71)};
  ResetAssessment r;
  r.verdict = Verdict::critical;
  r.snapshot_bytes = 21 << 20;
  r.equations = {
      "available 20.0 MiB − projected staging 21.0 MiB = −1.0 MiB → CRITICAL: initial sync cannot "
      "fit"};
  in.reset = r;
  const CleanupPlan p = plan_cleanup(in);
  const CleanupItem& reset = p.items.back();
  EXPECT_EQ(reset.kind, "action");
  EXPECT_EQ(reset.path, "litestream reset /d/app.db");
  EXPECT_EQ(reset.cls, CleanupClass::review);
  EXPECT_FALSE(reset.removable);
  EXPECT_EQ(reset.allocated_bytes, 8000u);
  EXPECT_THAT(reset.reason,
              HasSubstr("forces a new full snapshot of about 1x the database (21.0 MiB)"));
  EXPECT_THAT(reset.reason, HasSubstr("budget after reset: critical: available 20.0 MiB"));
  // Not a file: totals count the two LTX files only.
  EXPECT_EQ(p.review.files, 1u);
  EXPECT_EQ(p.safe.files, 1u);
}

TEST(CleanupPlanTest, NoResetEntryForTheThreeLayout) {
  CleanupInput in = base(formats::Layout::v0_3);
  for (const auto& i : plan_cleanup(in).items) EXPECT_NE(i.kind, "action");
}

TEST(CleanupPlanTest, NotesForMissingMetaDirIncompleteScanAndOtherFilesystem) {
  CleanupInput in = base(formats::Layout::none);
  in.meta_exists = false;
  EXPECT_THAT(plan_cleanup(in).notes,
              ::testing::Contains("no meta dir at /d/.app.db-litestream: nothing is staged"));
  in.meta_exists = true;
  in.scan_complete = false;
  in.meta_on_db_fs = false;
  in.meta_fs_mount = "/staging";
  const auto notes = plan_cleanup(in).notes;
  EXPECT_THAT(notes, ::testing::Contains(HasSubstr("walk was incomplete")));
  EXPECT_THAT(notes, ::testing::Contains(HasSubstr("the meta dir is on /staging")));
}

TEST(CleanupPlanTest, FreeSpaceUnknownWhenFilesystemNotMeasured) {
  CleanupInput in = base(formats::Layout::v0_5);
  in.meta_fs_avail_bytes.reset();
  const CleanupPlan p = plan_cleanup(in);
  EXPECT_FALSE(p.avail_now_bytes);
  EXPECT_FALSE(p.avail_after_safe_bytes);
}

TEST(CleanupPlanTest, HeaderRecordBytesNeverReachPageData) {
  EXPECT_EQ(header_record_bytes(formats::StagingKind::ltx), 100u);
  EXPECT_EQ(header_record_bytes(formats::StagingKind::ltx_tmp), 100u);
  EXPECT_EQ(header_record_bytes(formats::StagingKind::shadow_wal), 32u);
  EXPECT_EQ(header_record_bytes(formats::StagingKind::shadow_wal_tmp), 24u);
  EXPECT_EQ(header_record_bytes(formats::StagingKind::unknown), 0u);
}

BudgetInput budget_in() {
  BudgetInput in;
  FilesystemInput fs;
  fs.dev = kMetaDev;
  fs.avail_bytes = 100;
  fs.free_bytes = 150;
  in.filesystems.push_back(fs);
  DatabaseInput d;
  d.db_path = "/d/app.db";
  d.meta_fs_dev = kMetaDev;
  d.db_fs_dev = kMetaDev;
  d.staged_bytes_now = 900;
  d.snapshot_in_flight_bytes = 600;
  d.replica_backlog_bytes = 800;
  d.model = LitestreamModel::v0_3;
  in.databases.push_back(d);
  return in;
}

TEST(CleanupPlanTest, BudgetAfterRemovalCreditsFreedBytesAndShrinksStaging) {
  const BudgetInput out =
      budget_input_after_removal(budget_in(), "/d/app.db", {700, 650, true, false});
  EXPECT_EQ(out.filesystems[0].avail_bytes, 800u);
  EXPECT_EQ(out.filesystems[0].free_bytes, 850u);
  EXPECT_EQ(out.databases[0].staged_bytes_now, 250u);
  EXPECT_EQ(out.databases[0].snapshot_in_flight_bytes, 0u);
  EXPECT_EQ(*out.databases[0].replica_backlog_bytes, 250u);
  EXPECT_EQ(out.databases[0].model, LitestreamModel::v0_3);
}

TEST(CleanupPlanTest, BudgetAfterResetIsAFullFiveSnapshotWithNothingStaged) {
  const BudgetInput out =
      budget_input_after_removal(budget_in(), "/d/app.db", {900, 900, false, true});
  EXPECT_EQ(out.filesystems[0].avail_bytes, 1000u);
  EXPECT_EQ(out.databases[0].staged_bytes_now, 0u);
  EXPECT_EQ(out.databases[0].snapshot_in_flight_bytes, 0u);
  EXPECT_EQ(*out.databases[0].replica_backlog_bytes, 0u);
  EXPECT_EQ(out.databases[0].model, LitestreamModel::v0_5);
  // Another database is left alone.
  EXPECT_EQ(budget_input_after_removal(budget_in(), "/other.db", {900, 900, false, true})
                .filesystems[0]
                .avail_bytes,
            100u);
}

}  // namespace
}  // namespace ltxguard::model
