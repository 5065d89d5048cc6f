#include "ltxguard/cmd/evidence.hpp"

#include <cstdio>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/evidence_bundle.hpp"

namespace ltxguard::cmd {

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
  opts.config_path = loaded->path;
  opts.log = args.log;
  opts.samples = args.samples;
  opts.interval_ms = static_cast<int>(args.interval_seconds * 1000.0);
  opts.litestream_bin = args.litestream_bin;
  BundleOptions bopts;
  bopts.public_summary = args.public_summary;
  bopts.show_replica_paths = args.show_replica_paths;
  bopts.app_runs_as_root = args.app_runs_as_root;
  const Bundle bundle = build_bundle(fs, procs, opts, policy->policy, bopts);

  if (!args.out_dir.empty()) {
    if (auto ok = check_bundle_dir(fs, args.out_dir, bundle.evidence, args.force); !ok) return report_error(ok.error());
    auto written = write_bundle(bundle, args.out_dir);
    if (!written) return report_output_error(written.error());
    for (const auto& p : *written) std::fprintf(stderr, "ltxguard: wrote %s\n", p.c_str());
  }
  if (args.public_summary) {
    std::fputs(bundle.public_md.c_str(), stdout);
  } else if (args.json) {
    std::fputs(bundle.json.c_str(), stdout);
  } else {
    std::fputs(bundle.text.c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace ltxguard::cmd
