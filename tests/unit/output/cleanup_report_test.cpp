#include "ltxguard/output/cleanup_report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ltxguard::output {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

model::CleanupPlan plan() {
  model::CleanupInput in;
  in.db_path = "/d/app.db";
  in.meta_path = "/d/.app.db-litestream";
  in.db_files = {{"database", "/d/app.db", true, 7, 1, 4096, 4096}};
  in.meta_exists = true;
  in.meta_dev = 7;
  in.layout = formats::Layout::v0_5;
  in.meta_fs_avail_bytes = 0;
  model::CleanupFileInput tmp;
  tmp.rel_path = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  tmp.path = in.meta_path + "/" + tmp.rel_path;
  tmp.name = formats::classify_staging_path(tmp.rel_path);
  tmp.dev = 7;
  tmp.ino = 9;
  tmp.size_bytes = tmp.allocated_bytes = 3 << 20;
  tmp.ltx_state = formats::LtxState::incomplete;
  tmp.header_recorded = true;
  model::CleanupFileInput odd = tmp;
  odd.rel_path = "notes-s3cr3tCanary.txt";
  odd.path = in.meta_path + "/" + odd.rel_path;
  odd.name = formats::classify_staging_path(odd.rel_path);
  odd.ino = 10;
  in.files = {tmp, odd};
  return model::plan_cleanup(in);
}

CleanupContext context() {
  CleanupContext ctx;
  ctx.db_path = "/d/app.db";
  ctx.meta_path = "/d/.app.db-litestream";
  ctx.layout = "0.5";
  ctx.meta_fs_mount = "/d";
  ctx.replicas = {"s3: metrics scrape failed"};
  ctx.headers["ltx/0/0000000000000001-0000000000000001.ltx.tmp"] = {'L', 'T', 'X', '1', 0, 0, 0, 2};
  ctx.headers["notes-s3cr3tCanary.txt"] = {'x'};
  ctx.next_step = "ltxguard cleanup --db /d/app.db --apply";
  return ctx;
}

formats::Redactor redactor() {
  formats::Redactor r;
  r.add_secret("s3cr3tCanary");
  return r;
}

TEST(CleanupReportTest, JsonCarriesClassesTotalsAndHeadersOfRemovableFilesOnly) {
  const auto j = cleanup_json(context(), plan(), nullptr, redactor());
  ASSERT_EQ(j["items"].size(), 4u);  // database, the tmp, the odd file, the reset entry
  const auto& tmp = j["items"][1];
  EXPECT_EQ(tmp["class"], "safe");
  EXPECT_EQ(tmp["class_if_stopped"], nullptr);
  EXPECT_EQ(tmp["header"]["bytes"], 8);
  EXPECT_EQ(tmp["header"]["hex"], "4c54583100000002");
  EXPECT_EQ(tmp["header"]["crc64"], header_crc64_hex({'L', 'T', 'X', '1', 0, 0, 0, 2}));
  EXPECT_EQ(j["items"][2]["class"], "do-not-touch");
  EXPECT_EQ(j["items"][2]["header"], nullptr);  // not removable: its bytes stay out of the bundle
  EXPECT_EQ(j["items"][3]["kind"], "action");
  EXPECT_EQ(j["totals"]["safe"]["allocated_bytes"], 3 << 20);
  EXPECT_EQ(j["free_space"]["avail_after_safe_bytes"], 3 << 20);
  EXPECT_EQ(j.find("apply"), j.end());
  EXPECT_THAT(j.dump(), Not(HasSubstr("s3cr3tCanary")));
}

TEST(CleanupReportTest, HeaderCrcIsGoCrc64Iso) {
  const std::string check = "123456789";
  EXPECT_EQ(header_crc64_hex({check.begin(), check.end()}), "b90956c775a41001");
}

TEST(CleanupReportTest, TextGroupsByClassWithReasonsAndRedacts) {
  const std::string t = cleanup_text(context(), plan(), nullptr, redactor());
  EXPECT_THAT(t, HasSubstr("safe (1 file, 3.0 MiB): removed by --apply\n"));
  EXPECT_THAT(t, HasSubstr("     3.0 MiB  ltx/0/0000000000000001-0000000000000001.ltx.tmp\n"));
  EXPECT_THAT(
      t, HasSubstr(
             "review (0 files, 0 B): removed only with --apply --include-review --reason TEXT\n"));
  EXPECT_THAT(t, HasSubstr("do-not-touch (2 files, 3.0 MiB): never removed\n"));
  EXPECT_THAT(
      t,
      HasSubstr("free space on /d: now 0 B; after safe 3.0 MiB; after safe and review 3.0 MiB\n"));
  EXPECT_THAT(t, HasSubstr("  Litestream: stopped for this database\n"));
  EXPECT_THAT(t, HasSubstr("next: ltxguard cleanup --db /d/app.db --apply\n"));
  EXPECT_THAT(t, Not(HasSubstr("s3cr3tCanary")));
}

TEST(CleanupReportTest, ApplyReportSaysWhatWasDoneAndTheNextStep) {
  CleanupApplyReport ap;
  ap.evidence_dir = "/var/lib/ltxguard/evidence/20260101T000000Z";
  ap.journal_path = "/var/lib/ltxguard/cleanup-journal.jsonl";
  ap.actions = {{"ltx/0/0000000000000001-0000000000000001.ltx.tmp", model::CleanupClass::safe,
                 3 << 20, 3 << 20, "removed", "", ""},
                {"ltx/0/0000000000000002-0000000000000002.ltx.tmp", model::CleanupClass::safe, 1,
                 4096, "skipped", "", "x: changed since the plan"}};
  ap.done_files = 1;
  ap.done_allocated_bytes = 3 << 20;
  ap.skipped_files = 1;
  ap.avail_after_bytes = 3 << 20;
  ap.restart_would_fill = true;
  ap.verdict_line = "restarting Litestream now would fill the disk again";
  ap.next_step = "do not start Litestream yet";
  const std::string t = cleanup_text(context(), plan(), &ap, redactor());
  EXPECT_THAT(t, HasSubstr("applied: 1 removed (3.0 MiB), 1 skipped\n"));
  EXPECT_THAT(
      t,
      HasSubstr(
          "  skipped        4.0 KiB  ltx/0/0000000000000002-0000000000000002.ltx.tmp: x: changed "
          "since the plan\n"));
  EXPECT_THAT(t, HasSubstr("restarting Litestream now would fill the disk again\nnext: do not "
                           "start Litestream yet\n"));
  const auto j = cleanup_json(context(), plan(), &ap, redactor());
  EXPECT_EQ(j["apply"]["restart_would_fill"], true);
  EXPECT_EQ(j["apply"]["skipped_files"], 1);
  EXPECT_EQ(j["apply"]["actions"][1]["action"], "skipped");
}

// A file named to look like a line of the report stays on its own line, escaped.
TEST(CleanupReportTest, TextEscapesNewlinesAndInvalidUtf8InHostStrings) {
  model::CleanupInput in;
  in.db_path = "/d/app.db";
  in.meta_path = "/d/.app.db-litestream";
  in.meta_exists = true;
  in.meta_dev = 7;
  in.layout = formats::Layout::v0_5;
  model::CleanupFileInput odd;
  odd.rel_path = "x\nsafe (9 files, 9 GiB): removed by --apply\xff";
  odd.path = in.meta_path + "/" + odd.rel_path;
  odd.name = formats::classify_staging_path(odd.rel_path);
  odd.dev = 7;
  odd.ino = 10;
  in.files = {odd};
  CleanupContext ctx = context();
  ctx.db_path = "/d/app\n.db";
  ctx.litestream_other = {"pid 7 (litestream replicate -exec 'a\nb')"};
  CleanupApplyReport ap;
  ap.evidence_dir = "/var/lib/ltxguard/ev\tx";
  ap.journal_path = "/var/lib/ltxguard/j";
  ap.actions = {{odd.rel_path, model::CleanupClass::review, 1, 4096, "skipped", "", "changed\r"}};
  const std::string t = cleanup_text(ctx, model::plan_cleanup(in), &ap, redactor());
  EXPECT_THAT(t, HasSubstr("cleanup plan for /d/app\\n.db\n"));
  EXPECT_THAT(t, HasSubstr("  x\\nsafe (9 files, 9 GiB): removed by --apply\\xff\n"));
  EXPECT_THAT(t, HasSubstr("  other Litestream (not this database): pid 7 (litestream replicate -exec 'a\\nb')\n"));
  EXPECT_THAT(t, HasSubstr("  skipped        4.0 KiB  x\\nsafe (9 files, 9 GiB): removed by --apply\\xff: changed\\r\n"));
  EXPECT_THAT(t, HasSubstr("evidence bundle: /var/lib/ltxguard/ev\\tx\n"));
  EXPECT_THAT(t, Not(HasSubstr("\nsafe (9 files")));
  EXPECT_THAT(t, Not(HasSubstr("\xff")));
}

}  // namespace
}  // namespace ltxguard::output
