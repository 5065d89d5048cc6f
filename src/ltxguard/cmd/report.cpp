#include "ltxguard/cmd/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <span>
#include <vector>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/version.hpp"
#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/formats/watch_record.hpp"
#include "ltxguard/output/report_html.hpp"
#include "ltxguard/sys/file_byte_source.hpp"
#include "ltxguard/util/atomic_file.hpp"
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::cmd {
namespace {

// The parser keeps at most a million samples (~1 KB a line); reading further would only
// count lines. Bytes past this are not read, and the page says so.
constexpr uint64_t kMaxRecordBytes = uint64_t{2} << 30;
constexpr size_t kChunkBytes = 1 << 20;

int fail_with(const util::Error& e, int code) {
  std::fprintf(stderr, "ltxguard: %s\n", e.to_string().c_str());
  return code;
}

}  // namespace

int run_report(const ReportArgs& args) {
  // O_NOFOLLOW, regular files only, no blocking open on a FIFO.
  auto src = sys::FileByteSource::open(args.record_path);
  if (!src) return fail_with(src.error(), kExitNoInput);
  const uint64_t size = (*src)->size();
  const uint64_t to_read = std::min(size, kMaxRecordBytes);

  formats::WatchRecordParser parser;
  std::vector<uint8_t> buf(kChunkBytes);
  for (uint64_t off = 0; off < to_read;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, to_read - off));
    auto n = (*src)->read_at(off, std::span<uint8_t>(buf.data(), want));
    if (!n) return fail_with(n.error(), kExitNoInput);
    if (*n == 0) break;  // truncated meanwhile
    parser.feed(std::string_view(reinterpret_cast<const char*>(buf.data()), *n));
    off += *n;
  }
  const formats::WatchRecord rec = parser.finish();
  if (rec.samples == 0) {
    std::string detail = rec.lines == 0 ? "no lines" : fmt::format("{} line(s)", rec.lines);
    if (!rec.problems.empty()) detail += ", " + rec.problems.front();
    return fail_with(
        util::make_error(
            util::ErrorCode::invalid_input, args.record_path,
            fmt::format("no valid sample in the record ({}); is it a watch --record file?",
                        detail)),
        kExitDataErr);
  }

  output::ReportOptions opts;
  opts.source = args.record_path;
  opts.generator = std::string("ltxguard ") + version();
  if (size > to_read) {
    opts.notes.push_back(fmt::format(
        "only the first {} of {} were read", util::human_bytes(static_cast<int64_t>(to_read)),
        util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(size, INT64_MAX)))));
  }
  // No config here: the pattern rules (credentials, URL passwords, keys) still apply to every
  // string of the record, e.g. a Litestream line quoted in an event message.
  const formats::Redactor redactor;
  const std::string html = output::render_report_html(rec, redactor, opts);
  const char* verdict = output::record_failed(rec) ? "FAILED" : "OK";

  if (args.out_path.empty()) {
    if (std::fwrite(html.data(), 1, html.size(), stdout) != html.size() ||
        std::fflush(stdout) != 0) {
      return fail_with(util::sys_error(errno, "", "cannot write the report to standard output"),
                       kExitCantCreate);
    }
    return kExitOk;
  }
  if (auto w = util::write_file_atomic(args.out_path, html, 0644); !w)
    return fail_with(w.error(), kExitCantCreate);
  std::fprintf(stderr, "ltxguard: wrote %s (%zu samples, %zu database(s), verdict %s)\n",
               args.out_path.c_str(), rec.samples, rec.databases.size(), verdict);
  return kExitOk;
}

}  // namespace ltxguard::cmd
