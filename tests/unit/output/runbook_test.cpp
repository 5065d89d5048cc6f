#include "ltxguard/output/runbook.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "ltxguard/formats/policy.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::output {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kDocsRunbook = std::string(LTXGUARD_TESTDATA) + "/../../docs/runbook.md";

RunbookInput host() {
  RunbookInput in;
  in.generated_at = "2026-01-01 00:00:00 UTC";
  in.db_path = "/data/app.db";
  in.config_path = "/etc/litestream.yml";
  in.meta_path = "/data/.app.db-litestream";
  in.layout = "0.5";
  in.litestream_version = "0.5.12";
  in.db_bytes = 20ull << 30;
  in.wal_bytes = 6 << 20;
  in.staged_bytes = 15ull << 30;
  in.filesystems = {{"database, meta dir", "/data", 49ull << 30, 0}};
  in.litestream_running = {"pid 42 (litestream replicate -config /etc/litestream.yml)"};
  model::CleanupPlan plan;
  model::CleanupItem tmp;
  tmp.rel_path = "ltx/0/0000000000000001-0000000000000001.ltx.tmp";
  tmp.kind = "ltx_tmp";
  tmp.cls = model::CleanupClass::do_not_touch;
  tmp.class_if_stopped = model::CleanupClass::safe;
  tmp.allocated_bytes = 15ull << 30;
  tmp.reason = "in-flight LTX staging | of a stopped Litestream";
  plan.items.push_back(tmp);
  plan.litestream_running = true;
  plan.safe_if_stopped = {1, 15ull << 30, 15ull << 30};
  plan.avail_now_bytes = 0;
  plan.avail_after_safe_bytes = 0;
  plan.avail_after_review_bytes = 0;
  in.plan = plan;
  model::BudgetResult now;
  now.verdict = model::Verdict::critical;
  model::FilesystemBudget f;
  f.mount = "/data";
  f.equation =
      "available 0 B − projected staging 20.3 GiB = −20.3 GiB → CRITICAL: initial sync cannot fit";
  now.filesystems.push_back(f);
  now.advice = {"/data: move meta-path of app.db to a filesystem with at least 20.3 GiB free"};
  in.budget_now = now;
  in.reserve_bytes = 2'631'850'394;  // not a whole MiB: the policy rounds up
  in.staging_peak_bytes = 21ull << 30;
  return in;
}

TEST(RunbookTest, DocsRunbookIsTheGenericRendering) {
  RunbookInput in;
  in.generic = true;
  const std::string rendered = render_markdown(build_runbook(in), formats::Redactor{});
  EXPECT_EQ(testing::read_file(kDocsRunbook), rendered)
      << "docs/runbook.md is out of date: regenerate it with `ltxguard runbook --generic > "
         "docs/runbook.md`";
}

TEST(RunbookTest, SectionsHaveTheStableAnchorsInOrder) {
  const Runbook book = build_runbook(host());
  ASSERT_EQ(book.sections.size(), 6u);
  const char* anchors[] = {"capture-evidence", "stop-litestream-safely",
                           "cleanup",          "budget-before-restart",
                           "policy",           "what-not-to-do"};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(book.sections[i].anchor, anchors[i]);
  const std::string md = render_markdown(book, formats::Redactor{});
  for (const char* a : anchors) EXPECT_THAT(md, HasSubstr(std::string("<a id=\"") + a + "\"></a>"));
  // The headings slug to the same anchors on renderers that generate ids.
  EXPECT_THAT(md, HasSubstr("## Stop Litestream safely\n"));
  EXPECT_THAT(md, HasSubstr("## Budget before restart\n"));
  EXPECT_THAT(md, HasSubstr("## What not to do\n"));
  const std::string html = render_html(book, formats::Redactor{});
  for (const char* a : anchors) EXPECT_THAT(html, HasSubstr(std::string("<h2 id=\"") + a + "\">"));
}

TEST(RunbookTest, HostRunbookCarriesThisHostsPlanBudgetAndProcesses) {
  const std::string md = render_markdown(build_runbook(host()), formats::Redactor{});
  EXPECT_THAT(md, HasSubstr("database `/data/app.db`: 20.0 GiB, WAL 6.0 MiB"));
  EXPECT_THAT(md, HasSubstr("filesystem `/data` (database, meta dir): 0 B available of 49.0 GiB"));
  EXPECT_THAT(md,
              HasSubstr("running: `pid 42 (litestream replicate -config /etc/litestream.yml)`"));
  EXPECT_THAT(
      md, HasSubstr(
              "| do-not-touch (safe once stopped) | 15.0 GiB | "
              "`ltx/0/0000000000000001-0000000000000001.ltx.tmp` | in-flight LTX staging \\| of a "
              "stopped Litestream |"));
  EXPECT_THAT(md, HasSubstr("15.0 GiB would be safe once it is stopped"));
  EXPECT_THAT(md, HasSubstr("now:\n  /data: available 0 B − projected staging 20.3 GiB"));
  EXPECT_THAT(md, HasSubstr("- /data: move meta-path of app.db"));
  EXPECT_THAT(md,
              HasSubstr("ltxguard evidence --db /data/app.db --config /etc/litestream.yml --out"));
  EXPECT_THAT(md, HasSubstr("(`--out` must not be on `/data`)"));
  EXPECT_THAT(md, HasSubstr("reserve_bytes: 2510MiB"));
  EXPECT_THAT(md, HasSubstr("max_staging_bytes: 21504MiB"));
}

std::string code_block_after(const std::string& md, const std::string& heading) {
  const size_t at = md.find(heading);
  const size_t open = md.find("```\n", at);
  const size_t close = md.find("\n```", open + 4);
  return md.substr(open + 4, close - open - 4);
}

TEST(RunbookTest, PolicySnippetParsesAsAPolicy) {
  for (bool generic : {true, false}) {
    RunbookInput in = host();
    in.generic = generic;
    const std::string yaml =
        code_block_after(render_markdown(build_runbook(in), formats::Redactor{}), "## Policy");
    auto p = formats::parse_policy(yaml, "runbook");
    ASSERT_TRUE(p) << p.error().to_string() << "\n" << yaml;
    ASSERT_TRUE(p->reserve_bytes);
    EXPECT_EQ(*p->lead_time_seconds, 300u);
    if (!generic) {
      EXPECT_GE(*p->reserve_bytes, 2'631'850'394u);  // rounded up, never below the budget's reserve
      EXPECT_EQ(*p->max_staging_bytes, 21ull << 30);
    }
  }
}

TEST(RunbookTest, EveryTextIsRedactedBeforeRendering) {
  RunbookInput in = host();
  in.litestream_running = {
      "pid 42 (litestream replicate /data/app.db s3://AKIAIOSFODNN7EXAMPLE:s3cr3tCanary@bucket)"};
  formats::Redactor red;
  red.add_secret("s3cr3tCanary");
  for (const std::string& out :
       {render_markdown(build_runbook(in), red), render_html(build_runbook(in), red)}) {
    EXPECT_THAT(out, Not(HasSubstr("s3cr3tCanary")));
    EXPECT_THAT(out, Not(HasSubstr("AKIAIOSFODNN7EXAMPLE")));
    EXPECT_THAT(out, HasSubstr("[REDACTED]"));
  }
}

TEST(RunbookTest, HtmlEscapesHostileText) {
  RunbookInput in = host();
  in.db_path = "/data/<script>alert(1)</script>&.db";
  const std::string html = render_html(build_runbook(in), formats::Redactor{});
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("/data/&lt;script&gt;alert(1)&lt;/script&gt;&amp;.db"));
  EXPECT_THAT(html, HasSubstr("<code>systemctl stop litestream</code>"));
  EXPECT_THAT(html, HasSubstr("<!DOCTYPE html>"));
  EXPECT_THAT(html, HasSubstr("</html>\n"));
}

// A host string holding a newline, a backtick or a fence cannot start a line, close a code
// span or end a code block, in either rendering.
TEST(RunbookTest, HostStringsStayInsideTheirLineSpanAndBlock) {
  RunbookInput in = host();
  in.db_path = "/data/x\n## Forged`s heading\xff.db";
  in.filesystems[0].mount = "/data\n```\n# forged";
  in.budget_now->filesystems[0].mount = in.filesystems[0].mount;
  in.plan->items[0].rel_path = "a`b|c\nd";
  in.litestream_running = {"pid 42 (litestream `x`\nreplicate)"};
  const std::string md = render_markdown(build_runbook(in), formats::Redactor{});
  EXPECT_THAT(md, Not(HasSubstr("\n## Forged")));
  EXPECT_THAT(md, Not(HasSubstr("\n```\n# forged")));
  EXPECT_THAT(md, Not(HasSubstr("\xff")));
  EXPECT_THAT(md, HasSubstr("database `/data/x\\n## Forged\\x60s heading\\xff.db`: 20.0 GiB"));
  EXPECT_THAT(md, HasSubstr("  /data\\n\\x60\\x60\\x60\\n# forged: available 0 B"));
  EXPECT_THAT(md, HasSubstr("| `a\\x60b\\|c\\nd` |"));
  EXPECT_THAT(md, HasSubstr("- running: `pid 42 (litestream \\x60x\\x60\\nreplicate)`\n"));
  const std::string html = render_html(build_runbook(in), formats::Redactor{});
  EXPECT_THAT(html, HasSubstr("<code>/data/x\\n## Forged\\x60s heading\\xff.db</code>"));
  EXPECT_THAT(html, HasSubstr("<code>a\\x60b|c\\nd</code>"));
}

TEST(RunbookTest, LongPlansAreCutAndCounted) {
  RunbookInput in = host();
  model::CleanupItem i;
  i.rel_path = "generations/0123456789abcdef/wal/00000000.wal";
  i.reason = "r";
  in.plan->items.assign(kRunbookMaxListedFiles + 7, i);
  const std::string md = render_markdown(build_runbook(in), formats::Redactor{});
  EXPECT_THAT(
      md,
      HasSubstr("7 more entries: `ltxguard cleanup --db /data/app.db --config /etc/litestream.yml` "
                "lists them all."));
}

TEST(RunbookTest, WhatNotToDoNamesTheDatabaseFilesAndPublicEvidence) {
  const std::string md = render_markdown(build_runbook(host()), formats::Redactor{});
  EXPECT_THAT(md,
              HasSubstr("Do not delete `/data/app.db`, `/data/app.db-wal` or `/data/app.db-shm`"));
  EXPECT_THAT(md, HasSubstr("(`rm -rf /data/.app.db-litestream`)"));
  EXPECT_THAT(md, HasSubstr("use `ltxguard evidence --public`"));
  EXPECT_THAT(md, HasSubstr("Do not run `litestream reset` before the budget"));
}

}  // namespace
}  // namespace ltxguard::output
