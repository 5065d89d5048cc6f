#include "ltxguard/cmd/evidence.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/model/reserve.hpp"
#include "ltxguard/output/evidence_report.hpp"
#include "ltxguard/sys/proc.hpp"
#include "ltxguard/util/atomic_file.hpp"

namespace ltxguard::cmd {
namespace {

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

formats::Redactor build_redactor(const std::optional<formats::LitestreamConfig>& config, const collect::Evidence& ev,
                                 formats::RedactionOptions opts) {
  formats::Redactor red = config ? formats::make_redactor(*config, process_env(), opts) : formats::Redactor(opts);
  if (opts.public_mode) {
    red.add_hostname(hostname());
    for (const std::string& p : {ev.db.db_path, ev.db.wal.path, ev.db.shm.path, ev.db_config.meta_path}) {
      red.add_path(p);
    }
    red.add_path(std::filesystem::path(ev.db.db_path).parent_path().string());
    for (const auto& f : ev.filesystems) red.add_path(f.stats.mount_point);
    for (const auto& r : ev.replicas) {
      if (!r.path.empty()) red.add_backup_metadata(r.path);
    }
  }
  for (const auto& r : ev.db_config.replicas) {
    if (!r.path.empty()) red.add_backup_metadata(r.path);
    if (!r.bucket.empty()) red.add_backup_metadata(r.bucket);
    if (!r.url.empty()) red.add_backup_metadata(r.url);
  }
  return red;
}

// Writing the bundle onto the filesystem that is filling up would make things worse.
util::Result<void> check_out_dir(const sys::FileSystem& fs, const std::string& dir, const collect::Evidence& ev,
                                 bool force) {
  auto st = fs.stat(dir);
  if (!st) {
    return util::fail(util::make_error(util::ErrorCode::not_found, dir, "output directory does not exist"));
  }
  if (st->type != sys::FileType::directory) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, dir, "output path is not a directory"));
  }
  if (!force && (st->dev == ev.db_dev || st->dev == ev.staging_dev)) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, dir,
                                       "output directory is on the filesystem under pressure (the database's or "
                                       "the staging's); choose another or pass --force"));
  }
  return {};
}

}  // namespace

int run_evidence(const EvidenceArgs& args) {
  sys::RealFileSystem fs;
  sys::RealProcessTable procs;

  auto db_path = collect::check_database_path(fs, args.db_path);
  if (!db_path) return report_error(db_path.error());
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return report_error(loaded.error());
  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return report_error(policy.error());
  if (!args.out_dir.empty()) {
    auto st = fs.stat(args.out_dir);
    if (!st || st->type != sys::FileType::directory) {
      return report_error(util::make_error(util::ErrorCode::not_found, args.out_dir, "output directory does not exist"));
    }
  }

  collect::EvidenceOptions opts;
  opts.db_path = *db_path;
  opts.config = loaded->config;
  opts.log = args.log;
  opts.samples = args.samples;
  opts.interval_ms = static_cast<int>(args.interval_seconds * 1000.0);
  opts.litestream_bin = args.litestream_bin;
  const collect::Evidence ev = collect::collect_evidence(fs, procs, opts);

  output::VerdictContext ctx;
  ctx.app_runs_as_root = args.app_runs_as_root;
  if (const auto* f = ev.filesystem(ev.db_dev)) {
    const auto reserve = model::app_reserve(f->stats.total_bytes, ev.db.header ? ev.db.header->page_size_bytes : 0,
                                            policy->policy);
    ctx.reserve_bytes = reserve.bytes;
    ctx.reserve_detail = reserve.detail;
  } else {
    ctx.reserve_detail = "database filesystem not measured";
  }
  const model::EvidenceVerdict verdict = model::decide_evidence(output::evidence_input(ev, ctx));

  formats::RedactionOptions ropts;
  ropts.show_replica_paths = args.show_replica_paths;
  const formats::Redactor redactor = build_redactor(loaded->config, ev, ropts);
  const std::string json = output::evidence_json(ev, verdict, ctx, redactor).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  const std::string text = output::evidence_text(ev, verdict, ctx, redactor);
  std::string public_md;
  if (args.public_summary) {
    formats::RedactionOptions popts;
    popts.public_mode = true;
    public_md = output::evidence_public_markdown(ev, verdict, ctx, build_redactor(loaded->config, ev, popts));
  }

  if (!args.out_dir.empty()) {
    if (auto ok = check_out_dir(fs, args.out_dir, ev, args.force); !ok) return report_error(ok.error());
    const std::string stem = fmt::format("{}/ltxguard-evidence-{}", args.out_dir, ev.taken_at_ms / 1000);
    for (const auto& [suffix, content] :
         {std::pair<std::string, const std::string*>{".json", &json}, {".txt", &text}, {".md", &public_md}}) {
      if (content->empty()) continue;
      if (auto w = util::write_file_atomic(stem + suffix, *content, 0600); !w) return report_error(w.error());
      std::fprintf(stderr, "ltxguard: wrote %s%s\n", stem.c_str(), suffix.c_str());
    }
  }
  if (args.public_summary) {
    std::fputs(public_md.c_str(), stdout);
  } else if (args.json) {
    std::fputs(json.c_str(), stdout);
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace ltxguard::cmd
