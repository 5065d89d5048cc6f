#include "ltxguard/output/cleanup_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ltxguard/output/text_escape.hpp"
#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/crc64.hpp"

namespace ltxguard::output {
namespace {

using model::CleanupClass;
using nlohmann::ordered_json;

std::string human(uint64_t bytes) {
  return util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX)));
}

ordered_json opt(const std::optional<uint64_t>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

ordered_json totals_json(const model::ClassTotals& t) {
  return {{"files", t.files}, {"size_bytes", t.size_bytes}, {"allocated_bytes", t.allocated_bytes}};
}

std::string display_path(const model::CleanupItem& i) {
  return i.rel_path.empty() ? i.path : i.rel_path;
}

std::string files(uint64_t n) { return fmt::format("{} file{}", n, n == 1 ? "" : "s"); }

ordered_json budget_json(const model::BudgetResult& b, const formats::Redactor& red) {
  ordered_json fss = ordered_json::array();
  for (const auto& f : b.filesystems) {
    fss.push_back({{"mount", red.redact(f.mount)},
                   {"verdict", model::to_string(f.verdict)},
                   {"headroom_bytes", f.headroom_bytes},
                   {"equation", red.redact(f.equation)}});
  }
  ordered_json advice = ordered_json::array();
  for (const auto& a : b.advice) advice.push_back(red.redact(a));
  ordered_json unknowns = ordered_json::array();
  for (const auto& u : b.unknowns) unknowns.push_back(red.redact(u));
  return {{"verdict", model::to_string(b.verdict)},
          {"exit_code", model::exit_code(b.verdict)},
          {"filesystems", fss},
          {"advice", advice},
          {"unknowns", unknowns}};
}

ordered_json strings(const std::vector<std::string>& v, const formats::Redactor& red) {
  ordered_json a = ordered_json::array();
  for (const auto& s : v) a.push_back(red.redact(s));
  return a;
}

}  // namespace

std::string hex(const std::vector<uint8_t>& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::string header_crc64_hex(const std::vector<uint8_t>& bytes) {
  return fmt::format("{:016x}", util::crc64_iso(bytes));
}

ordered_json cleanup_json(const CleanupContext& ctx, const model::CleanupPlan& plan,
                          const CleanupApplyReport* applied, const formats::Redactor& red) {
  ordered_json j;
  j["db"] = red.redact(ctx.db_path);
  j["meta_dir"] = red.redact(ctx.meta_path);
  j["layout"] = ctx.layout;
  j["litestream"] = {{"running", plan.litestream_running},
                     {"processes", strings(ctx.litestream_running, red)},
                     {"other_processes", strings(ctx.litestream_other, red)}};
  j["replicas"] = strings(ctx.replicas, red);
  j["refusals"] = strings(ctx.refusals, red);
  ordered_json items = ordered_json::array();
  for (const auto& i : plan.items) {
    ordered_json it;
    it["path"] = red.redact(i.path);
    it["rel_path"] = red.redact(i.rel_path);
    it["kind"] = i.kind;
    it["class"] = model::to_string(i.cls);
    it["class_if_stopped"] =
        i.class_if_stopped ? ordered_json(model::to_string(*i.class_if_stopped)) : nullptr;
    it["size_bytes"] = i.size_bytes;
    it["allocated_bytes"] = i.allocated_bytes;
    it["removable"] = i.removable;
    it["reason"] = red.redact(i.reason);
    const auto h = ctx.headers.find(i.rel_path);
    if (i.removable && h != ctx.headers.end()) {
      // Header fields only (TXIDs, page size, WAL salts): no page contents, nothing to redact.
      it["header"] = {{"bytes", h->second.size()},
                      {"crc64", header_crc64_hex(h->second)},
                      {"hex", hex(h->second)}};
    } else {
      it["header"] = nullptr;
    }
    items.push_back(std::move(it));
  }
  j["items"] = items;
  j["totals"] = {{"safe", totals_json(plan.safe)},
                 {"review", totals_json(plan.review)},
                 {"do_not_touch", totals_json(plan.do_not_touch)},
                 {"safe_if_stopped", totals_json(plan.safe_if_stopped)}};
  j["free_space"] = {{"filesystem", red.redact(ctx.meta_fs_mount)},
                     {"avail_now_bytes", opt(plan.avail_now_bytes)},
                     {"avail_after_safe_bytes", opt(plan.avail_after_safe_bytes)},
                     {"avail_after_review_bytes", opt(plan.avail_after_review_bytes)}};
  j["notes"] = strings(plan.notes, red);
  j["next_step"] = red.redact(ctx.next_step);
  if (applied != nullptr) {
    ordered_json actions = ordered_json::array();
    for (const auto& a : applied->actions) {
      actions.push_back({{"rel_path", red.redact(a.rel_path)},
                         {"class", model::to_string(a.cls)},
                         {"size_bytes", a.size_bytes},
                         {"allocated_bytes", a.allocated_bytes},
                         {"action", a.action},
                         {"destination", red.redact(a.destination)},
                         {"error", red.redact(a.error)}});
    }
    ordered_json ap;
    ap["evidence_dir"] = red.redact(applied->evidence_dir);
    ap["evidence_files"] = strings(applied->evidence_files, red);
    ap["journal"] = red.redact(applied->journal_path);
    ap["quarantine_dir"] = red.redact(applied->quarantine_dir);
    ap["actions"] = actions;
    ap["done_files"] = applied->done_files;
    ap["done_allocated_bytes"] = applied->done_allocated_bytes;
    ap["skipped_files"] = applied->skipped_files;
    ap["avail_after_bytes"] = opt(applied->avail_after_bytes);
    ap["budget"] = applied->budget ? budget_json(*applied->budget, red) : ordered_json(nullptr);
    ap["budget_error"] = red.redact(applied->budget_error);
    ap["restart_would_fill"] = applied->restart_would_fill;
    ap["verdict_line"] = red.redact(applied->verdict_line);
    ap["next_step"] = red.redact(applied->next_step);
    j["apply"] = ap;
  }
  return j;
}

std::string cleanup_text(const CleanupContext& ctx, const model::CleanupPlan& plan,
                         const CleanupApplyReport* applied, const formats::Redactor& red) {
  // Paths, process command lines and error texts come from the host: each is redacted, then
  // escaped, so a file named "x\nremoved ..." cannot forge a line of the plan.
  const auto e = [&](const std::string& s) { return escape_text(red.redact(s)); };
  std::string out = fmt::format("cleanup plan for {}\n", e(ctx.db_path));
  out += fmt::format("  meta dir {} (layout {}{}{})\n", e(ctx.meta_path), e(ctx.layout),
                     ctx.meta_fs_mount.empty() ? "" : ", on ", e(ctx.meta_fs_mount));
  if (ctx.litestream_running.empty()) {
    out += "  Litestream: stopped for this database\n";
  } else {
    for (const auto& p : ctx.litestream_running) {
      out += fmt::format("  Litestream: {}{}\n",
                         p.rfind("state unknown", 0) == 0 ? "" : "running: ", e(p));
    }
  }
  for (const auto& p : ctx.litestream_other)
    out += fmt::format("  other Litestream (not this database): {}\n", e(p));
  for (const auto& r : ctx.replicas) out += fmt::format("  replica {}\n", e(r));

  struct Group {
    CleanupClass cls;
    const model::ClassTotals* totals;
    const char* what;
  };
  const Group groups[] = {
      {CleanupClass::safe, &plan.safe, "removed by --apply"},
      {CleanupClass::review, &plan.review,
       "removed only with --apply --include-review --reason TEXT"},
      {CleanupClass::do_not_touch, &plan.do_not_touch, "never removed"},
  };
  for (const auto& g : groups) {
    out += fmt::format("\n{} ({}, {}): {}\n", model::to_string(g.cls), files(g.totals->files),
                       human(g.totals->allocated_bytes), g.what);
    for (const auto& i : plan.items) {
      if (i.cls != g.cls) continue;
      const std::string size = i.kind == "action" ? "-" : human(i.allocated_bytes);
      out += fmt::format("  {:>10}  {}\n  {:>10}  {}\n", size, e(display_path(i)), "", e(i.reason));
    }
  }
  out += "\n";
  if (plan.avail_now_bytes) {
    out += fmt::format("free space on {}: now {}; after safe {}; after safe and review {}\n",
                       ctx.meta_fs_mount.empty() ? "the meta dir's filesystem" : e(ctx.meta_fs_mount),
                       human(*plan.avail_now_bytes), human(*plan.avail_after_safe_bytes),
                       human(*plan.avail_after_review_bytes));
  }
  for (const auto& n : plan.notes) out += fmt::format("note: {}\n", e(n));
  for (const auto& r : ctx.refusals) out += fmt::format("--apply would refuse: {}\n", e(r));

  if (applied != nullptr) {
    out += fmt::format("\napplied: {} {} ({}), {} skipped\n", applied->done_files,
                       applied->quarantine_dir.empty() ? "removed" : "moved to quarantine",
                       human(applied->done_allocated_bytes), applied->skipped_files);
    for (const auto& a : applied->actions) {
      out += fmt::format("  {:<11} {:>10}  {}{}{}\n", a.action, human(a.allocated_bytes),
                         e(a.rel_path), a.destination.empty() ? "" : " -> " + e(a.destination),
                         a.error.empty() ? "" : ": " + e(a.error));
    }
    out += fmt::format("evidence bundle: {}\njournal: {}\n", e(applied->evidence_dir),
                       e(applied->journal_path));
    if (applied->avail_after_bytes) {
      out += fmt::format("free space now: {}\n", human(*applied->avail_after_bytes));
    }
    if (applied->budget) {
      for (const auto& f : applied->budget->filesystems)
        out += fmt::format("budget {}: {}\n", e(f.mount), e(f.equation));
      for (const auto& u : applied->budget->unknowns) out += fmt::format("  not measured: {}\n", e(u));
    } else if (!applied->budget_error.empty()) {
      out += fmt::format("budget: {}\n", e(applied->budget_error));
    }
    out += e(applied->verdict_line) + "\n";
    out += fmt::format("next: {}\n", e(applied->next_step));
  } else if (!ctx.next_step.empty()) {
    out += fmt::format("next: {}\n", e(ctx.next_step));
  }
  return red.redact(out);
}

}  // namespace ltxguard::output
