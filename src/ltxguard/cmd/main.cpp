// ltxguard entry point: parses the command line (the only file that sees CLI11) and
// dispatches to one verb. Exit codes are documented in docs/exit-codes.md.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "ltxguard/cmd/check.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/evidence.hpp"
#include "ltxguard/cmd/preflight.hpp"
#include "ltxguard/cmd/version.hpp"
#include "ltxguard/cmd/watch.hpp"
// [verb includes: one line per verb, keep sorted]

namespace {

using namespace ltxguard;

// --unit / --log / --journal-dir / --journal-file: one log source at most.
struct LogFlags {
  std::string unit;
  std::string log_file;
  std::string journal_dir;
  std::string journal_file;

  void add_to(CLI::App* app) {
    auto* u = app->add_option("--unit", unit, "systemd unit whose journal to read (default: litestream)");
    auto* l = app->add_option("--log", log_file, "read Litestream's log from this text file instead of journald");
    auto* d = app->add_option("--journal-dir", journal_dir, "read a journal directory copied off a host");
    auto* f = app->add_option("--journal-file", journal_file, "read one journal file copied off a host");
    l->excludes(u)->excludes(d)->excludes(f);
    d->excludes(f);
  }
  [[nodiscard]] collect::LogSource source() const {
    collect::LogSource s;
    if (!unit.empty()) s.unit = unit;
    if (!log_file.empty()) {
      s.kind = collect::LogSourceKind::file;
      s.path = log_file;
    } else if (!journal_dir.empty()) {
      s.kind = collect::LogSourceKind::journal_dir;
      s.path = journal_dir;
    } else if (!journal_file.empty()) {
      s.kind = collect::LogSourceKind::journal_file;
      s.path = journal_file;
    }
    return s;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ltxguard: keeps Litestream's local staging from filling the disk the application needs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ltxguard ") + cmd::version());

  cmd::EvidenceArgs ev;
  LogFlags ev_log;
  auto* evidence = app.add_subcommand("evidence", "read-only evidence bundle: is Litestream staging filling this disk?");
  evidence->add_option("--db", ev.db_path, "the SQLite database")->required();
  evidence->add_option("--config", ev.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  evidence->add_option("--policy", ev.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  ev_log.add_to(evidence);
  evidence->add_option("--samples", ev.samples, "samples of staging growth")->check(CLI::Range(1, 3600));
  evidence->add_option("--interval", ev.interval_seconds, "seconds between samples")->check(CLI::Range(0.0, 3600.0));
  evidence->add_option("--out", ev.out_dir, "also write the bundle (JSON, text) into this directory");
  evidence->add_flag("--force", ev.force, "allow --out on the filesystem under pressure");
  evidence->add_flag("--json", ev.json, "print one JSON document instead of the summary");
  evidence->add_flag("--public", ev.public_summary, "print a Markdown summary safe to paste into a public issue");
  evidence->add_flag("--show-replica-paths", ev.show_replica_paths, "do not redact bucket names and replica paths");
  evidence->add_flag("--app-as-root", ev.app_runs_as_root, "the application runs as root (it may use root-reserved blocks)");
  evidence->add_option("--litestream-bin", ev.litestream_bin, "Litestream binary to ask for its version (default: PATH)");

  cmd::PreflightArgs pf;
  auto* preflight = app.add_subcommand("preflight", "will the next initial sync's staging fit? exit 0 ok, 1 warning, 2 critical, 3 unknown");
  preflight->add_option("--db", pf.db_paths, "the SQLite database (repeatable; default: every database in the config)");
  preflight->add_option("--config", pf.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  preflight->add_option("--policy", pf.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  preflight->add_option("--litestream-version", pf.litestream_version, "model this Litestream version instead of detecting it");
  preflight->add_option("--litestream-bin", pf.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  preflight->add_option("--app-user", pf.app_user, "user the application runs as (root may use root-reserved blocks)");
  preflight->add_flag("--litestream-not-root", pf.litestream_not_root, "Litestream runs as a non-root user");
  preflight->add_flag("--json", pf.json, "print one JSON document");

  cmd::CheckArgs ck;
  auto* check = app.add_subcommand("check", "lint the Litestream setup: version, unit, metrics, meta dir, policy");
  check->add_option("--config", ck.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  check->add_option("--unit", ck.unit_path, "systemd unit file (default: litestream.service in /etc, /run, /lib, /usr/lib systemd dirs, with drop-ins)");
  check->add_option("--policy", ck.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  check->add_option("--litestream-bin", ck.litestream_bin, "Litestream binary to ask for its version (default: the unit's ExecStart, else PATH)");
  check->add_flag("--json", ck.json, "print one JSON document");

  cmd::WatchArgs wa;
  LogFlags wa_log;
  auto* watch = app.add_subcommand("watch", "sidecar: sample every interval, alert before staging eats the reserve");
  watch->add_option("--db", wa.db_paths, "the SQLite database (repeatable; default: every database in the config)");
  watch->add_option("--config", wa.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  watch->add_option("--policy", wa.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  wa_log.add_to(watch);
  watch->add_option("--listen", wa.listen, "serve /metrics and /healthz here (loopback only, e.g. 127.0.0.1:9097)");
  watch->add_flag("--listen-any", wa.listen_any, "allow a non-loopback --listen address");
  watch->add_option("--interval", wa.interval_seconds, "seconds between samples")->check(CLI::Range(0.05, 3600.0));
  watch->add_option("--record", wa.record_path, "append every sample as a JSON line to this file");
  watch->add_option("--textfile", wa.textfile_dir, "write ltxguard.prom here for node_exporter's textfile collector");
  watch->add_option("--log-format", wa.log_format, "auto, journald, text or json")
      ->check(CLI::IsMember({"auto", "journald", "text", "json"}));
  watch->add_option("--litestream-bin", wa.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  watch->add_option("--litestream-version", wa.litestream_version, "model this Litestream version instead of detecting it");
  watch->add_flag("--app-as-root", wa.app_runs_as_root, "the application runs as root (it may use root-reserved blocks)");
  watch->add_flag("--force", wa.force, "allow --record on a watched filesystem");
  watch->add_option("--duration", wa.duration_seconds, "stop after this many seconds (default: until SIGTERM)");

  // [verb subcommands: one block per verb above this line]

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : cmd::kExitUsage;
  }

  try {
    if (evidence->parsed()) {
      ev.log = ev_log.source();
      return cmd::run_evidence(ev);
    }
    if (preflight->parsed()) return cmd::run_preflight(pf);
    if (check->parsed()) return cmd::run_check(ck);
    if (watch->parsed()) {
      wa.log = wa_log.source();
      return cmd::run_watch(wa);
    }
    // [verb dispatch: one `if` per verb above this line]
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ltxguard: internal error: %s\n", e.what());
    return cmd::kExitSoftware;
  }
  return cmd::kExitUsage;
}
