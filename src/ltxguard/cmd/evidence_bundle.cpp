#include "ltxguard/cmd/evidence_bundle.hpp"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/model/reserve.hpp"
#include "ltxguard/util/atomic_file.hpp"

namespace ltxguard::cmd {
namespace {

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

}  // namespace

formats::Redactor bundle_redactor(const std::optional<formats::LitestreamConfig>& config, const collect::Evidence& ev,
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

Bundle build_bundle(const sys::FileSystem& fs, const sys::ProcessTable& procs,
                    const collect::EvidenceOptions& evidence_opts, const formats::Policy& policy,
                    const BundleOptions& opts) {
  Bundle b;
  b.evidence = collect::collect_evidence(fs, procs, evidence_opts);
  const collect::Evidence& ev = b.evidence;

  output::VerdictContext ctx;
  ctx.app_runs_as_root = opts.app_runs_as_root;
  if (const auto* f = ev.filesystem(ev.db_dev)) {
    const auto reserve =
        model::app_reserve(f->stats.total_bytes, ev.db.header ? ev.db.header->page_size_bytes : 0, policy);
    ctx.reserve_bytes = reserve.bytes;
    ctx.reserve_detail = reserve.detail;
  } else {
    ctx.reserve_detail = "database filesystem not measured";
  }
  b.verdict = model::decide_evidence(output::evidence_input(ev, ctx));

  formats::RedactionOptions ropts;
  ropts.show_replica_paths = opts.show_replica_paths;
  const formats::Redactor redactor = bundle_redactor(evidence_opts.config, ev, ropts);
  b.json = output::evidence_json(ev, b.verdict, ctx, redactor)
               .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
           "\n";
  b.text = output::evidence_text(ev, b.verdict, ctx, redactor);
  if (opts.public_summary) {
    formats::RedactionOptions popts;
    popts.public_mode = true;
    b.public_md = output::evidence_public_markdown(ev, b.verdict, ctx, bundle_redactor(evidence_opts.config, ev, popts));
  }
  return b;
}

util::Result<void> check_bundle_dir(const sys::FileSystem& fs, const std::string& dir, const collect::Evidence& ev,
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

util::Result<std::vector<std::string>> write_bundle(const Bundle& bundle, const std::string& dir) {
  std::vector<std::string> written;
  const std::string stem = fmt::format("{}/ltxguard-evidence-{}", dir, bundle.evidence.taken_at_ms / 1000);
  for (const auto& [suffix, content] : {std::pair<std::string, const std::string*>{".json", &bundle.json},
                                        {".txt", &bundle.text},
                                        {".md", &bundle.public_md}}) {
    if (content->empty()) continue;
    if (auto w = util::write_file_atomic(stem + suffix, *content, 0600); !w) return util::fail(w.error());
    written.push_back(stem + suffix);
  }
  return written;
}

}  // namespace ltxguard::cmd
