#include "ltxguard/output/runbook.hpp"

#include "ltxguard/output/report_html.hpp"  // html_escape
#include "ltxguard/output/text_escape.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::output {
namespace {

using Kind = RunbookBlock::Kind;
constexpr uint64_t kMiB = uint64_t{1} << 20;

std::string human(uint64_t bytes) {
  return util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX)));
}

RunbookBlock para(std::string text) { return {Kind::paragraph, std::move(text), {}, {}}; }
RunbookBlock code(std::string text) { return {Kind::code, std::move(text), {}, {}}; }
RunbookBlock list(std::vector<std::string> items) { return {Kind::list, {}, std::move(items), {}}; }
RunbookBlock table(std::vector<std::vector<std::string>> rows) {
  return {Kind::table, {}, {}, std::move(rows)};
}

// A string from the host (path, process, error) as it enters the document: escape_text keeps
// it on one line, and a backtick as \x60 cannot open or close a `code` span (both renderers
// split on backticks) nor a fenced block.
std::string from_host(std::string_view s) {
  std::string out;
  for (char c : escape_text(s)) {
    if (c == '`') {
      out += "\\x60";
    } else {
      out += c;
    }
  }
  return out;
}

// A policy size the parser reads back exactly and never below the amount: whole MiB, rounded up.
std::string policy_size(uint64_t bytes) { return fmt::format("{}MiB", (bytes + kMiB - 1) / kMiB); }

struct Names {
  std::string db, meta, cfg, out, state;
};

Names names(const RunbookInput& in) {
  Names n;
  n.db = in.generic ? "/path/to/app.db" : from_host(in.db_path);
  n.meta = in.generic ? "/path/to/.app.db-litestream" : from_host(in.meta_path);
  n.cfg = in.generic ? " --config /etc/litestream.yml"
                     : (in.config_path.empty() ? "" : " --config " + from_host(in.config_path));
  n.out = "/path/on/another/disk";
  n.state = "/path/on/another/disk/ltxguard-state";
  return n;
}

std::vector<RunbookBlock> intro(const RunbookInput& in, const Names& n) {
  std::vector<RunbookBlock> b;
  b.push_back(
      para("Use this when Litestream's local staging filled the disk it shares with the "
           "application: the app fails with "
           "`database or disk is full` (SQLITE_FULL) while Litestream may still look `active`. "
           "Work through the sections "
           "in order; each one says what to run and why."));
  if (in.generic) {
    b.push_back(
        para("`ltxguard runbook --db /path/to/app.db` prints this runbook filled with your host's "
             "paths, "
             "sizes, cleanup plan and budget (`--format html` for a page)."));
    return b;
  }
  b.push_back(
      para(fmt::format("Generated {} by `ltxguard runbook` for `{}`.", in.generated_at, n.db)));
  std::vector<std::string> facts = {
      fmt::format("database `{}`: {}, WAL {}", n.db, human(in.db_bytes), human(in.wal_bytes)),
      fmt::format("meta dir `{}`: {} staged (Litestream {} layout{})", n.meta,
                  human(in.staged_bytes), in.layout,
                  in.litestream_version.empty() ? "" : ", version " + from_host(in.litestream_version)),
  };
  for (const auto& f : in.filesystems) {
    facts.push_back(fmt::format("filesystem `{}` ({}): {} available of {}", from_host(f.mount), f.roles,
                                human(f.avail_bytes), human(f.total_bytes)));
  }
  b.push_back(list(std::move(facts)));
  return b;
}

RunbookSection capture(const RunbookInput& in, const Names& n) {
  RunbookSection s{kAnchorCaptureEvidence, "Capture evidence", {}};
  s.blocks.push_back(
      para("Before anything is stopped or deleted, record what the disk and Litestream look like "
           "now: database, WAL and "
           "staging sizes, free space, staging growth, the Litestream version and log, and how far "
           "each replica got. "
           "Write it to a directory on another filesystem: the full one has no room, and writing "
           "there adds to the fill."));
  s.blocks.push_back(code(fmt::format("ltxguard evidence --db {}{} --out {}", n.db, n.cfg, n.out)));
  std::string where =
      in.generic || in.filesystems.empty()
          ? ""
          : fmt::format(" (`--out` must not be on `{}`)", from_host(in.filesystems.front().mount));
  s.blocks.push_back(para(fmt::format(
      "It refuses a directory on the filesystem under pressure{}. For a public issue or a chat, "
      "`ltxguard evidence "
      "--db {} --public` prints a summary without secrets, bucket names, host names or paths.",
      where, n.db)));
  return s;
}

RunbookSection stop(const RunbookInput& in, const Names& n) {
  RunbookSection s{kAnchorStopLitestream, "Stop Litestream safely", {}};
  s.blocks.push_back(para(
      "Stop Litestream before touching anything under its meta dir: a running Litestream rewrites, "
      "deletes and holds "
      "its staging files, and a file removed while it is open frees nothing until it is closed."));
  s.blocks.push_back(list({
      "`systemctl stop litestream`, not `kill`: the shipped unit has `Restart=always`, so a killed "
      "Litestream is "
      "started again at once.",
      "Litestream 0.3.13 hangs on SIGTERM once a replica hit a full disk: if it still runs after "
      "10 s, `systemctl "
      "kill --signal=SIGKILL litestream` (the stop job then finishes).",
      "Keep it stopped while you clean up: `systemctl mask --runtime litestream` (undone by "
      "`systemctl unmask "
      "--runtime litestream`).",
      "Without systemd: `kill -TERM <pid>`, wait 10 s, then `kill -KILL <pid>`.",
      fmt::format("Confirm: `ltxguard cleanup --db {}{}` prints `Litestream: stopped for this "
                  "database`. It looks in "
                  "/proc for Litestream processes of this database and for any process holding a "
                  "file under the "
                  "meta dir.",
                  n.db, n.cfg),
  }));
  if (!in.generic) {
    if (in.litestream_running.empty()) {
      s.blocks.push_back(para("Now: no Litestream process runs for this database."));
    } else {
      std::vector<std::string> items;
      for (const auto& p : in.litestream_running) items.push_back("running: `" + from_host(p) + "`");
      s.blocks.push_back(para("Now:"));
      s.blocks.push_back(list(std::move(items)));
    }
  }
  return s;
}

RunbookSection cleanup(const RunbookInput& in, const Names& n) {
  RunbookSection s{kAnchorCleanup, "Cleanup", {}};
  s.blocks.push_back(
      para("`ltxguard cleanup` classes every file under the meta dir, and the database, `-wal` and "
           "`-shm`, as safe, "
           "review or do-not-touch, with the reason. `--apply` removes only safe files, and only "
           "after writing an "
           "evidence bundle (with each file's header) to the state directory; it journals every "
           "action there and "
           "re-runs the budget."));
  s.blocks.push_back(table({
      {"class", "what", "why"},
      {"safe",
       "incomplete staging of a stopped Litestream (`*.ltx.tmp`, `*.wal.tmp`, a truncated `.ltx`) "
       "once its header is "
       "recorded; 0.3 shadow WAL segments every replica already holds",
       "Litestream never resumes a temp file; a segment on every replica is a copy of a copy"},
      {"review",
       "complete LTX files, shadow WAL not proven on every replica, other generations, incomplete "
       "staging whose "
       "header cannot be read, `litestream reset`",
       "may be the only copy of transactions outside the database, or the only evidence of the "
       "failed sync; "
       "confirm retention, restore point and upload state first"},
      {"do-not-touch",
       "the database, `-wal`, `-shm`; names Litestream does not write; symlinks, hard links, other "
       "owners, open "
       "files; everything while Litestream runs",
       "deleting them loses data or frees nothing"},
  }));
  if (!in.generic && in.plan) {
    const model::CleanupPlan& p = *in.plan;
    std::vector<std::vector<std::string>> rows = {{"class", "bytes", "file", "reason"}};
    size_t listed = 0;
    for (const auto& i : p.items) {
      if (listed == kRunbookMaxListedFiles) break;
      ++listed;
      std::string cls = model::to_string(i.cls);
      if (i.class_if_stopped)
        cls += fmt::format(" ({} once stopped)", model::to_string(*i.class_if_stopped));
      rows.push_back({cls, i.kind == "action" ? "-" : human(i.allocated_bytes),
                      "`" + from_host(i.rel_path.empty() ? i.path : i.rel_path) + "`", from_host(i.reason)});
    }
    s.blocks.push_back(para("This host's plan now:"));
    s.blocks.push_back(table(std::move(rows)));
    if (p.items.size() > listed) {
      s.blocks.push_back(
          para(fmt::format("{} more entries: `ltxguard cleanup --db {}{}` lists them all.",
                           p.items.size() - listed, n.db, n.cfg)));
    }
    std::string free =
        p.avail_now_bytes
            ? fmt::format(
                  " Free space where the meta dir lives: now {}, after the safe files {}, after "
                  "safe and review {}.",
                  human(*p.avail_now_bytes), human(*p.avail_after_safe_bytes),
                  human(*p.avail_after_review_bytes))
            : "";
    s.blocks.push_back(para(
        fmt::format("Totals: safe {} ({} files), review {} ({} files), do-not-touch {} files.{}",
                    human(p.safe.allocated_bytes), p.safe.files, human(p.review.allocated_bytes),
                    p.review.files, p.do_not_touch.files, free)));
    if (p.litestream_running) {
      s.blocks.push_back(para(
          fmt::format("Litestream runs, so everything is do-not-touch now; {} would be safe once "
                      "it is stopped.",
                      human(p.safe_if_stopped.allocated_bytes))));
    }
  }
  s.blocks.push_back(code(fmt::format(
      "ltxguard cleanup --db {0}{1}\nltxguard cleanup --db {0}{1} --apply --state-dir {2}", n.db,
      n.cfg, n.state)));
  s.blocks.push_back(
      para("The state directory (default `/var/lib/ltxguard`) must exist and not be on the full "
           "filesystem (`--force` "
           "overrides). `--quarantine DIR` on another filesystem moves files there instead of "
           "removing them. "
           "`--include-review --reason TEXT` also removes review files: only after confirming "
           "retention, the restore "
           "point you need and that every replica holds them. `--apply` refuses while Litestream "
           "runs for this database "
           "or any process holds a file under the meta dir, and on a meta dir that is a mount "
           "point or bind mount."));
  return s;
}

void equations(std::string& out, const model::BudgetResult& b) {
  for (const auto& f : b.filesystems) out += fmt::format("  {}: {}\n", from_host(f.mount), from_host(f.equation));
  out += fmt::format("  verdict: {}\n", model::to_string(b.verdict));
}

RunbookSection budget(const RunbookInput& in, const Names& n) {
  RunbookSection s{kAnchorBudget, "Budget before restart", {}};
  s.blocks.push_back(
      para("Starting Litestream again starts a sync. Litestream 0.5 stages a full snapshot of "
           "about 1x the database "
           "before uploading it, and holds a read transaction meanwhile, so the app's WAL grows "
           "too; 0.3 starts a new "
           "generation and copies the WAL into a new shadow WAL. If that does not fit, the disk "
           "fills again: check "
           "first."));
  s.blocks.push_back(code(fmt::format("ltxguard preflight --db {}{}", n.db, n.cfg)));
  s.blocks.push_back(
      para("Exit 0 ok, 1 warning, 2 critical (it does not fit), 3 unknown. `cleanup --apply` runs "
           "the same budget after removing files and says whether restarting would fill the disk "
           "again."));
  if (!in.generic) {
    std::string text;
    if (in.budget_now) {
      text += "now:\n";
      equations(text, *in.budget_now);
    }
    if (in.budget_after_cleanup && in.plan) {
      text += fmt::format("after removing the safe files ({}):\n",
                          human(in.plan->safe_if_stopped.allocated_bytes));
      equations(text, *in.budget_after_cleanup);
    }
    if (!text.empty()) {
      s.blocks.push_back(para("This host:"));
      s.blocks.push_back(code(text.substr(0, text.size() - 1)));
    }
    if (!in.budget_error.empty())
      s.blocks.push_back(para("The budget could not be computed: " + from_host(in.budget_error)));
    const model::BudgetResult* advice_from = in.budget_after_cleanup
                                                 ? &*in.budget_after_cleanup
                                                 : (in.budget_now ? &*in.budget_now : nullptr);
    if (advice_from != nullptr && !advice_from->advice.empty()) {
      std::vector<std::string> a;
      for (const auto& x : advice_from->advice) a.push_back(from_host(x));
      s.blocks.push_back(list(std::move(a)));
    }
    if (advice_from != nullptr && !advice_from->unknowns.empty()) {
      std::vector<std::string> u;
      for (const auto& x : advice_from->unknowns) u.push_back("not measured: " + from_host(x));
      s.blocks.push_back(list(std::move(u)));
    }
  }
  s.blocks.push_back(
      para(fmt::format("Start Litestream only when it fits: `systemctl unmask --runtime litestream "
                       "&& systemctl start litestream`, "
                       "then confirm a replica advances: `ltxguard evidence --db {}{}`.",
                       n.db, n.cfg)));
  return s;
}

RunbookSection policy(const RunbookInput& in) {
  RunbookSection s{kAnchorPolicy, "Policy", {}};
  s.blocks.push_back(
      para("Turn the incident into a policy that `preflight`, `watch` and `run` enforce: "
           "`/etc/ltxguard/policy.yml` "
           "(every key in docs/policy.md)."));
  const std::string reserve = in.reserve_bytes ? policy_size(*in.reserve_bytes) : "2GiB";
  const std::string cap = in.staging_peak_bytes ? policy_size(*in.staging_peak_bytes) : "24GiB";
  const std::string from = in.generic ? "" : " from this host's budget";
  const std::vector<std::pair<std::string, std::string>> keys = {
      {"reserve_bytes: " + reserve,
       "free space only the app may use (default: max(5 %, app WAL headroom))"},
      {"min_free_bytes: " + reserve, "below this, watch alerts and run stops Litestream"},
      {"max_staging_bytes: " + cap, "cap on Litestream staging where it lands: the projected peak"},
      {"warn_at: 5%", "headroom after the reserve that warns"},
      {"critical_at: 0", "the reserve itself is the critical line"},
      {"lead_time_seconds: 300", "alert this long before the forecast reaches the reserve"},
  };
  std::string yaml = fmt::format("# /etc/ltxguard/policy.yml{}", from);
  for (const auto& [kv, why] : keys) yaml += fmt::format("\n{:<30}# {}", kv, why);
  s.blocks.push_back(code(yaml));
  s.blocks.push_back(list({
      "max staging bytes: if the projected peak does not fit next to the database, move "
      "`meta-path` to a "
      "filesystem sized for it and set the cap there; never lower the reserve to make it fit.",
      "minimum free bytes and reserve: the space the app's WAL needs while Litestream holds its "
      "read transaction.",
      "alert thresholds: `ltxguard watch` exports the headroom, the forecast and a wedge flag; the "
      "alert rules fire "
      "before the reserve is breached (warn_at, critical_at, lead_time_seconds), not after the "
      "disk is full.",
  }));
  return s;
}

RunbookSection what_not(const Names& n) {
  RunbookSection s{kAnchorWhatNotToDo, "What not to do", {}};
  s.blocks.push_back(list({
      fmt::format("Do not delete `{0}`, `{0}-wal` or `{0}-shm`: the WAL holds committed "
                  "transactions not yet in "
                  "the database, and deleting `-shm` under a running app breaks it. The fix is "
                  "never there.",
                  n.db),
      fmt::format("Do not delete the meta dir wholesale (`rm -rf {}`): on 0.5 the next start "
                  "stages a full snapshot "
                  "again and refills the disk, on 0.3 it forces a new generation, and the evidence "
                  "is gone.",
                  n.meta),
      "Do not delete staging files while Litestream runs, or before the evidence is captured: an "
      "incomplete "
      "staging file may be the only local evidence of the failed sync.",
      "Do not delete old snapshots, generations or LTX files without confirming retention, the "
      "restore point you "
      "need, and that every replica holds them.",
      "Do not run `litestream reset` before the budget says a full snapshot of about 1x the "
      "database fits.",
      "Do not restart Litestream in a loop: every failed 0.5 start writes and deletes another "
      "snapshot, the disk "
      "saw-tooths and the app fails at every peak.",
      "Do not paste credentials, replica URLs, bucket names or bucket listings into an issue or a "
      "chat: use "
      "`ltxguard evidence --public`.",
  }));
  return s;
}

// `code` spans: even pieces are text, odd pieces were between backticks.
std::vector<std::string> split_code(const std::string& s) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == '`') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  return parts;
}


std::string html_inline(const std::string& s) {
  const auto parts = split_code(s);
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    out += i % 2 == 1 ? "<code>" + html_escape(parts[i]) + "</code>" : html_escape(parts[i]);
  }
  return out;
}

std::string md_cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Runbook build_runbook(const RunbookInput& in) {
  const Names n = names(in);
  Runbook book;
  book.title = in.generic
                   ? "Runbook: aborted Litestream initial sync (disk full)"
                   : fmt::format("Runbook: aborted Litestream initial sync (disk full), {}", n.db);
  book.intro = intro(in, n);
  book.sections = {capture(in, n), stop(in, n), cleanup(in, n),
                   budget(in, n),  policy(in),  what_not(n)};
  return book;
}

std::string render_markdown(const Runbook& book, const formats::Redactor& red) {
  std::string out = "# " + red.redact(book.title) + "\n\n";
  auto blocks = [&](const std::vector<RunbookBlock>& bs) {
    for (const auto& b : bs) {
      switch (b.kind) {
        case Kind::paragraph:
          out += red.redact(b.text) + "\n\n";
          break;
        case Kind::code:
          out += "```\n" + red.redact(b.text) + "\n```\n\n";
          break;
        case Kind::list:
          for (const auto& i : b.items) out += "- " + red.redact(i) + "\n";
          out += "\n";
          break;
        case Kind::table:
          for (size_t r = 0; r < b.rows.size(); ++r) {
            out += "|";
            for (const auto& c : b.rows[r]) out += " " + md_cell(red.redact(c)) + " |";
            out += "\n";
            if (r == 0) {
              out += "|";
              for (size_t c = 0; c < b.rows[r].size(); ++c) out += "---|";
              out += "\n";
            }
          }
          out += "\n";
          break;
      }
    }
  };
  blocks(book.intro);
  for (const auto& s : book.sections) {
    // The explicit anchor keeps links working where headings get no generated ids.
    out += fmt::format("<a id=\"{}\"></a>\n\n## {}\n\n", s.anchor, red.redact(s.title));
    blocks(s.blocks);
  }
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n')
    out.pop_back();
  return out;
}

std::string render_html(const Runbook& book, const formats::Redactor& red) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      html_escape(red.redact(book.title)) +
      "</title>\n<style>\nbody{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 "
      "1em;line-height:1.45}\n"
      "code,pre{font-family:monospace;background:#f4f4f4}\npre{padding:.6em;overflow-x:auto}\n"
      "table{border-collapse:collapse}\ntd,th{border:1px solid #ccc;padding:.3em "
      ".5em;vertical-align:top;"
      "text-align:left}\n</style>\n</head>\n<body>\n<h1>" +
      html_escape(red.redact(book.title)) + "</h1>\n";
  auto blocks = [&](const std::vector<RunbookBlock>& bs) {
    for (const auto& b : bs) {
      switch (b.kind) {
        case Kind::paragraph:
          out += "<p>" + html_inline(red.redact(b.text)) + "</p>\n";
          break;
        case Kind::code:
          out += "<pre><code>" + html_escape(red.redact(b.text)) + "</code></pre>\n";
          break;
        case Kind::list:
          out += "<ul>\n";
          for (const auto& i : b.items) out += "<li>" + html_inline(red.redact(i)) + "</li>\n";
          out += "</ul>\n";
          break;
        case Kind::table:
          out += "<table>\n";
          for (size_t r = 0; r < b.rows.size(); ++r) {
            const char* cell = r == 0 ? "th" : "td";
            out += "<tr>";
            for (const auto& c : b.rows[r])
              out += fmt::format("<{0}>{1}</{0}>", cell, html_inline(red.redact(c)));
            out += "</tr>\n";
          }
          out += "</table>\n";
          break;
      }
    }
  };
  blocks(book.intro);
  for (const auto& s : book.sections) {
    out += fmt::format("<h2 id=\"{}\">{}</h2>\n", s.anchor, html_escape(red.redact(s.title)));
    blocks(s.blocks);
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace ltxguard::output
