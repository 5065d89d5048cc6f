#include "ltxguard/output/evidence_report.hpp"

#include <gtest/gtest.h>

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
