// ltxguard entry point: parses the command line (the only file that sees CLI11) and
// dispatches to one verb. Exit codes are documented in docs/exit-codes.md.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "ltxguard/cmd/check.hpp"
#include "ltxguard/cmd/cleanup.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/evidence.hpp"
#include "ltxguard/cmd/preflight.hpp"
#include "ltxguard/cmd/report.hpp"
#include "ltxguard/cmd/runbook.hpp"
#include "ltxguard/cmd/version.hpp"
#include "ltxguard/cmd/watch.hpp"
#include "ltxguard/cmd/alarm.hpp"
#include "ltxguard/cmd/run.hpp"
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

// The flags `watch` and `run` share: what to watch and where to say it.
void add_watch_flags(CLI::App* app, cmd::WatchArgs& wa) {
  app->add_option("--db", wa.db_paths, "the SQLite database (repeatable; default: every database in the config)");
  app->add_option("--config", wa.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  app->add_option("--policy", wa.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  app->add_option("--listen", wa.listen, "serve /metrics and /healthz here (loopback only, e.g. 127.0.0.1:9097)");
  app->add_flag("--listen-any", wa.listen_any, "allow a non-loopback --listen address");
  app->add_option("--interval", wa.interval_seconds, "seconds between samples")->check(CLI::Range(0.05, 3600.0));
  app->add_option("--record", wa.record_path, "append every sample as a JSON line to this file");
  app->add_option("--textfile", wa.textfile_dir, "write ltxguard.prom here for node_exporter's textfile collector");
  app->add_option("--log-format", wa.log_format, "auto, journald, text or json")
      ->check(CLI::IsMember({"auto", "journald", "text", "json"}));
  app->add_option("--litestream-bin", wa.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  app->add_option("--litestream-version", wa.litestream_version, "model this Litestream version instead of detecting it");
  app->add_flag("--app-as-root", wa.app_runs_as_root, "the application runs as root (it may use root-reserved blocks)");
  app->add_flag("--force", wa.force, "allow --record on a watched filesystem");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ltxguard: keeps Litestream's local staging from filling the disk the application needs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", cmd::version_text());

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
  add_watch_flags(watch, wa);
  wa_log.add_to(watch);
  watch->add_option("--duration", wa.duration_seconds, "stop after this many seconds (default: until SIGTERM)");

  cmd::ReportArgs rp;
  auto* report = app.add_subcommand("report", "self-contained HTML page (timeline, budget equation, verdict) from a watch --record file");
  report->add_option("--record", rp.record_path, "the record file written by watch --record")->required();
  report->add_option("--out", rp.out_path, "write the page here (replaced atomically; default: standard output)");

  cmd::CleanupArgs cl;
  auto* cleanup = app.add_subcommand("cleanup", "plan (default) or apply: which staging files are safe / review / do-not-touch after a disk-full sync");
  cleanup->add_option("--db", cl.db_path, "the SQLite database")->required();
  cleanup->add_option("--config", cl.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  cleanup->add_option("--policy", cl.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  cleanup->add_flag("--apply", cl.apply, "remove the safe files (after writing an evidence bundle and journaling each action)");
  cleanup->add_flag("--include-review", cl.include_review, "with --apply: also remove review files (needs --reason)");
  cleanup->add_option("--reason", cl.reason, "why review files may go (journaled)");
  cleanup->add_option("--quarantine", cl.quarantine_dir, "move files into this directory on another filesystem instead of removing them");
  cleanup->add_option("--state-dir", cl.state_dir, "evidence bundle and journal go here (default: /var/lib/ltxguard)");
  cleanup->add_flag("--force", cl.force, "allow --state-dir on the filesystem under pressure");
  cleanup->add_flag("--json", cl.json, "print one JSON document");
  cleanup->add_flag("--show-replica-paths", cl.show_replica_paths, "do not redact bucket names and replica paths");
  cleanup->add_option("--litestream-bin", cl.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  cleanup->add_option("--litestream-version", cl.litestream_version, "model this Litestream version in the budget");

  cmd::RunbookArgs rb;
  auto* runbook = app.add_subcommand("runbook", "operator runbook for an aborted initial sync, with this host's numbers");
  runbook->add_option("--db", rb.db_path, "the SQLite database");
  runbook->add_option("--config", rb.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  runbook->add_option("--policy", rb.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  runbook->add_option("--format", rb.format, "md or html")->check(CLI::IsMember({"md", "html"}));
  runbook->add_flag("--generic", rb.generic, "the runbook with placeholders (docs/runbook.md)");
  runbook->add_flag("--show-replica-paths", rb.show_replica_paths, "do not redact bucket names and replica paths");
  runbook->add_option("--litestream-bin", rb.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  runbook->add_option("--litestream-version", rb.litestream_version, "model this Litestream version in the budget");

  cmd::RunArgs ra;
  auto* run = app.add_subcommand("run", "supervise Litestream: preflight, watch, stop it before staging eats the app's reserve, latch the alarm");
  add_watch_flags(run, ra.watch);
  run->add_option("--state-dir", ra.state_dir, "latched alarm, evidence bundles (default: /var/lib/ltxguard)");
  run->add_option("command", ra.child_argv, "after --: the Litestream command line, e.g. -- litestream replicate -config /etc/litestream.yml")
      ->required();
  run->footer("Exit: the child's status when it ends on its own; 0 after SIGTERM; 10 preflight critical (not started); "
              "11 alarm latched (not started); 12 protective stop (alarm latched); 64-73 cannot run.");

  cmd::AlarmArgs al;
  auto* alarm = app.add_subcommand("alarm", "show or clear the supervisor's latched alarm");
  alarm->require_subcommand(1);
  auto* alarm_status = alarm->add_subcommand("status", "exit 0 when no alarm is latched, 2 when one is");
  alarm_status->add_option("--state-dir", al.state_dir, "default: /var/lib/ltxguard");
  alarm_status->add_flag("--json", al.json, "print one JSON document");
  auto* alarm_clear = alarm->add_subcommand("clear", "lift the alarm after a fresh preflight passes (or --force --reason)");
  alarm_clear->add_option("--state-dir", al.state_dir, "default: /var/lib/ltxguard");
  alarm_clear->add_option("--db", al.preflight.db_paths, "the SQLite database (repeatable; default: every database in the config)");
  alarm_clear->add_option("--config", al.preflight.config_path, "Litestream config (default: $LITESTREAM_CONFIG or /etc/litestream.yml)");
  alarm_clear->add_option("--policy", al.preflight.policy_path, "ltxguard policy (default: /etc/ltxguard/policy.yml if present)");
  alarm_clear->add_option("--litestream-bin", al.preflight.litestream_bin, "Litestream binary to ask for its version (default: PATH)");
  alarm_clear->add_option("--litestream-version", al.preflight.litestream_version, "model this Litestream version");
  alarm_clear->add_flag("--force", al.force, "clear without a passing preflight (needs --reason)");
  alarm_clear->add_option("--reason", al.reason, "why the alarm may be lifted (logged, kept in the state file)");

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
    if (report->parsed()) return cmd::run_report(rp);
    if (cleanup->parsed()) return cmd::run_cleanup(cl);
    if (runbook->parsed()) return cmd::run_runbook(rb);
    if (run->parsed()) return cmd::run_supervisor(ra);
    if (alarm_status->parsed()) return cmd::run_alarm_status(al);
    if (alarm_clear->parsed()) return cmd::run_alarm_clear(al);
    // [verb dispatch: one `if` per verb above this line]
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ltxguard: internal error: %s\n", e.what());
    return cmd::kExitSoftware;
  }
  return cmd::kExitUsage;
}
