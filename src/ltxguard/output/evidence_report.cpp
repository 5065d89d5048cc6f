#include "ltxguard/output/evidence_report.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/output/text_escape.hpp"
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::output {
namespace {

using nlohmann::ordered_json;
using util::human_bytes;

constexpr uint64_t kNoRoomBytes = 1 << 20;

int64_t as_signed(uint64_t v) { return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v); }

std::string iso_time(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ordered_json answer(model::Answer a) {
  if (a == model::Answer::unknown) return nullptr;
  return a == model::Answer::yes;
}

std::string file_state(const collect::StagingFile& f) {
  if (f.ltx) return formats::to_string(f.ltx->state);
  switch (f.name.kind) {
    case formats::StagingKind::shadow_wal:
    case formats::StagingKind::generation_name:
      return "complete";
    case formats::StagingKind::shadow_wal_tmp:
    case formats::StagingKind::ltx_tmp:
      return "incomplete";
    default:
      return "unknown";
  }
}

std::string file_kind(const collect::StagingFile& f) {
  // A symlink or fifo named like staging is reported as what it is, never as staging.
  if (f.stat.type != sys::FileType::regular) return std::string(sys::file_type_name(f.stat.type));
  return formats::to_string(f.name.kind);
}

// In-flight and LTX files always; large files always; then the largest others.
std::vector<const collect::StagingFile*> listed_files(const collect::StagingScan& scan) {
  std::vector<const collect::StagingFile*> must, rest;
  for (const auto& f : scan.files) {
    const bool important = f.name.in_flight() || f.name.kind == formats::StagingKind::ltx ||
                           f.name.kind == formats::StagingKind::unknown || f.stat.size_bytes >= kLargeFileBytes;
    (important ? must : rest).push_back(&f);
  }
  std::sort(rest.begin(), rest.end(),
            [](const auto* a, const auto* b) { return a->stat.size_bytes > b->stat.size_bytes; });
  rest.resize(std::min(rest.size(), kMaxListedOrdinaryFiles));
  must.insert(must.end(), rest.begin(), rest.end());
  if (must.size() > kMaxListedFiles) must.resize(kMaxListedFiles);
  std::sort(must.begin(), must.end(), [](const auto* a, const auto* b) { return a->rel_path < b->rel_path; });
  return must;
}

int64_t staging_growth(const collect::Evidence& ev) {
  if (ev.samples.size() < 2) return 0;
  return as_signed(ev.samples.back().staging_bytes) - as_signed(ev.samples.front().staging_bytes);
}

double window_seconds(const collect::Evidence& ev) {
  if (ev.samples.size() < 2) return 0;
  return static_cast<double>(ev.samples.back().time_ms - ev.samples.front().time_ms) / 1000.0;
}

const collect::ReplicaState* first_state(const collect::Evidence& ev, const std::string& name) {
  for (const auto& r : ev.replicas_first) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// Replica error lines for this database after the last finished upload, keyed by the line's
// `replica` attribute (0.3: the replica's name; 0.5: its client type; "" when it names none).
// Only 0.3 logs a finished upload (`wal segment written`).
std::map<std::string, uint64_t> replica_errors_since_upload(const collect::Evidence& ev) {
  std::map<std::string, uint64_t> errors;
  const std::string base = std::filesystem::path(ev.db.db_path).filename().string();
  for (const auto& raw : ev.log.lines) {
    const formats::LogLine line = formats::classify_log_line(raw);
    if (!line.db.empty() && line.db != ev.db.db_path && line.db != ev.db_config.path && line.db != base) continue;
    if (line.signature == formats::LogSignature::replica_error) {
      ++errors[line.replica];
    } else if (line.signature == formats::LogSignature::wal_segment_written) {
      errors.erase(line.replica);
      errors.erase("");
    }
  }
  return errors;
}

}  // namespace

ReplicaProgress replica_progress(const collect::Evidence& ev, const VerdictContext& ctx) {
  ReplicaProgress p;
  std::vector<std::string> details;
  const bool window = ev.samples.size() >= 2;
  const double secs = window_seconds(ev);
  // "No room" is the application's view: on ext4 a root Litestream may still see the root
  // reserve while the app already fails.
  const bool no_room =
      !ev.samples.empty() && (ctx.app_runs_as_root ? ev.samples.back().staging_fs_free_bytes
                                                   : ev.samples.back().staging_fs_avail_bytes) < kNoRoomBytes;
  const auto errors = replica_errors_since_upload(ev);
  const auto stuck = [&](std::string why) {
    p.stuck = true;
    details.push_back(std::move(why));
  };
  for (const auto& r : ev.replicas) {
    const auto* before = first_state(ev, r.name);
    const bool moved = before != nullptr && (before->wal_index != r.wal_index || before->wal_offset != r.wal_offset ||
                                             before->max_txid != r.max_txid || before->generation != r.generation);
    std::vector<std::string> keys = {r.name, ""};
    if (r.type != r.name) keys.push_back(r.type);
    uint64_t errs = 0;
    for (const auto& key : keys) {
      if (auto it = errors.find(key); it != errors.end()) errs += it->second;
    }
    const std::string errors_text = fmt::format("{} replica error line(s) in the log since its last upload", errs);

    if (r.known && r.source == "metrics" && r.wal_index && ev.shadow_wal_index) {
      const double gap = *ev.shadow_wal_index - static_cast<double>(*r.wal_index);
      std::optional<double> gap_first;
      if (before != nullptr && before->wal_index && ev.shadow_wal_index_first) {
        gap_first = *ev.shadow_wal_index_first - static_cast<double>(*before->wal_index);
      }
      const std::string gap_text = fmt::format("{}: shadow WAL index {:.0f}, replica WAL index {} (gap {:.0f})",
                                               r.name, *ev.shadow_wal_index, *r.wal_index, gap);
      if (gap > 0 && window && !moved && (!gap_first || gap >= *gap_first)) {
        stuck(fmt::format("{}, not closing in {:.0f} s", gap_text, secs));
      } else if (gap > 0 && errs > 0 && !moved) {
        stuck(gap_text + "; " + errors_text);
      } else if (gap > 0 && !window) {
        p.behind = true;
        details.push_back(gap_text);
        p.stuck = p.stuck.value_or(false);
      } else {
        p.stuck = p.stuck.value_or(false);
      }
      continue;
    }
    if (!r.known || !r.backlog_bytes) {
      // Position unknown: replica errors in the log are the only evidence there is.
      if (errs > 0) stuck(r.name + ": " + errors_text);
      continue;
    }
    // A file replica on a full filesystem cannot advance, whatever the window showed.
    const auto* replica_fs = r.fs_dev ? ev.filesystem(*r.fs_dev) : nullptr;
    const bool replica_full = replica_fs != nullptr && replica_fs->stats.free_bytes < kNoRoomBytes;
    const bool grew = before != nullptr && before->backlog_bytes && *r.backlog_bytes > *before->backlog_bytes;
    const uint64_t backlog = *r.backlog_bytes;
    // Nothing on the replica at all (a missing directory counts only when we looked for one).
    const bool nothing_uploaded =
        !r.wal_index && !r.max_txid && (r.source == "none" || ev.staging.layout != formats::Layout::none);
    const std::string backlog_text =
        fmt::format("{}: {}backlog {}", r.name, nothing_uploaded ? "nothing uploaded, " : "",
                    human_bytes(as_signed(backlog)));
    if (backlog > 0 && replica_full) {
      stuck(backlog_text + ", its filesystem is full");
    } else if (backlog > 0 && !moved && grew) {
      stuck(fmt::format("{}, grew from {} in {:.0f} s without an upload", backlog_text,
                        human_bytes(as_signed(*before->backlog_bytes)), secs));
    } else if (backlog > 0 && !moved && no_room) {
      stuck(backlog_text + ", no upload while the disk is full for the application");
    } else if (backlog > 0 && !moved && errs > 0) {
      stuck(backlog_text + "; " + errors_text);
    } else if (nothing_uploaded) {
      p.behind = true;
      details.push_back(backlog_text);
      p.stuck = p.stuck.value_or(false);
    } else {
      p.stuck = p.stuck.value_or(false);
    }
  }
  for (const auto& d : details) p.detail += (p.detail.empty() ? "" : "; ") + d;
  return p;
}

model::EvidenceInput evidence_input(const collect::Evidence& ev, const VerdictContext& ctx) {
  model::EvidenceInput in;
  auto fs_of = [&](uint64_t dev) {
    model::VerdictFs v;
    if (const auto* f = ev.filesystem(dev)) {
      v.known = true;
      v.total_bytes = f->stats.total_bytes;
      v.free_bytes = f->stats.free_bytes;
      v.avail_bytes = f->stats.avail_bytes;
    }
    return v;
  };
  in.db_fs = fs_of(ev.db_dev);
  in.staging_fs = fs_of(ev.staging_dev);
  in.same_filesystem = ev.db_dev == ev.staging_dev;
  in.app_runs_as_root = ctx.app_runs_as_root;
  in.page_size_bytes = ev.db.header ? ev.db.header->page_size_bytes : 0;
  in.db_bytes = ev.db.logical_bytes();
  in.wal_bytes = ev.samples.empty() ? ev.db.wal.bytes : ev.samples.back().wal_bytes;
  if (ev.samples.size() >= 2) {
    in.wal_growth_bytes = as_signed(ev.samples.back().wal_bytes) - as_signed(ev.samples.front().wal_bytes);
  }
  if (!ev.litestream.processes.empty()) {
    in.litestream_running_for_db = true;
  } else if (ev.litestream.proc_note.empty()) {
    in.litestream_running_for_db = false;
  }
  in.staging_found = ev.staging.exists && ev.staging.file_count > 0;
  in.staging_bytes = ev.staging.total_bytes;
  in.staging_growth_bytes = staging_growth(ev);
  if (ev.samples.size() >= 2) {
    in.staging_fs_consumed_bytes =
        as_signed(ev.samples.front().staging_fs_free_bytes) - as_signed(ev.samples.back().staging_fs_free_bytes);
  }
  in.window_seconds = window_seconds(ev);
  in.in_flight = ev.staging.in_flight_bytes > 0 ||
                 std::any_of(ev.staging.files.begin(), ev.staging.files.end(),
                             [](const auto& f) { return f.name.in_flight(); });
  in.remaining_staging_bytes = collect::remaining_staging_bytes(ev.staging);
  const ReplicaProgress progress = replica_progress(ev, ctx);
  in.replica_stuck = progress.stuck;
  in.replica_behind = progress.behind;
  in.replica_detail = progress.detail;
  in.reserve_bytes = ctx.reserve_bytes;
  if (ev.log.available) {
    in.log_disk_full_lines = ev.log.counts.disk_full_lines;
    in.log_error_lines = ev.log.counts.errors;
  }
  return in;
}

ordered_json evidence_json(const collect::Evidence& ev, const model::EvidenceVerdict& v, const VerdictContext& ctx,
                           const formats::Redactor& redactor) {
  const auto r = [&](const std::string& s) { return redactor.redact(s); };
  ordered_json j;
  j["tool"] = {{"name", "ltxguard"}, {"bundle_version", 1}};
  j["taken_at"] = iso_time(ev.taken_at_ms);

  ordered_json db = {{"path", r(ev.db.db_path)}, {"bytes", ev.db.db.bytes}, {"allocated_bytes", ev.db.db.allocated_bytes}};
  if (ev.db.header) {
    db["page_size_bytes"] = ev.db.header->page_size_bytes;
    db["page_count"] = ev.db.header->page_count_valid ? ordered_json(ev.db.header->page_count) : ordered_json(nullptr);
    db["wal_mode"] = ev.db.header->wal_mode;
  } else {
    db["header_error"] = r(ev.db.header_error);
  }
  db["logical_bytes"] = ev.db.logical_bytes();
  j["db"] = db;
  for (const auto* f : {&ev.db.wal, &ev.db.shm}) {
    j[f == &ev.db.wal ? "wal" : "shm"] = {{"path", r(f->path)}, {"exists", f->exists}, {"bytes", f->bytes},
                                          {"allocated_bytes", f->allocated_bytes}};
  }
  j["config"] = {{"db_in_config", ev.db_in_config},
                 {"meta_path", r(ev.db_config.meta_path)},
                 {"meta_path_explicit", ev.db_config.meta_path_explicit},
                 {"note", ev.config_note}};

  ordered_json fss = ordered_json::array();
  for (const auto& f : ev.filesystems) {
    fss.push_back({{"mount", r(f.stats.mount_point)},
                   {"fstype", f.stats.fstype},
                   {"roles", f.roles},
                   {"read_only", f.stats.read_only},
                   {"total_bytes", f.stats.total_bytes},
                   {"free_bytes", f.stats.free_bytes},
                   {"avail_bytes", f.stats.avail_bytes},
                   {"root_reserved_bytes", f.stats.free_bytes - std::min(f.stats.free_bytes, f.stats.avail_bytes)},
                   {"inodes_total", f.stats.inodes_total},
                   {"inodes_free", f.stats.inodes_free},
                   {"inodes_avail", f.stats.inodes_avail}});
  }
  j["filesystems"] = fss;

  ordered_json samples = ordered_json::array();
  for (const auto& s : ev.samples) {
    samples.push_back({{"time_ms", s.time_ms},
                       {"staging_bytes", s.staging_bytes},
                       {"wal_bytes", s.wal_bytes},
                       {"db_fs_free_bytes", s.db_fs_free_bytes},
                       {"db_fs_avail_bytes", s.db_fs_avail_bytes},
                       {"staging_fs_free_bytes", s.staging_fs_free_bytes},
                       {"staging_fs_avail_bytes", s.staging_fs_avail_bytes}});
  }
  j["samples"] = samples;

  const int64_t growth = staging_growth(ev);
  const double secs = window_seconds(ev);
  ordered_json files = ordered_json::array();
  ordered_json large = ordered_json::array();
  for (const auto* f : listed_files(ev.staging)) {
    ordered_json o = {{"path", r(f->path)}, {"bytes", f->stat.size_bytes}, {"allocated_bytes", f->stat.allocated_bytes},
                      {"kind", file_kind(*f)}, {"state", file_state(*f)}};
    if (f->name.level >= 0) o["level"] = f->name.level;
    if (!f->name.generation.empty()) o["generation"] = f->name.generation;
    if (f->ltx) {
      ordered_json l = {{"encoding", formats::to_string(f->ltx->encoding)}, {"reason", r(f->ltx->reason)},
                        // null: not counted (an in-flight file is only read at its ends)
                        {"pages_written", f->ltx->pages_counted ? ordered_json(f->ltx->pages_written) : ordered_json()},
                        {"expected_final_bytes", f->ltx->expected_final_bytes},
                        {"checksum_verified", f->ltx->checksum_verified}};
      if (f->ltx->header) {
        l["page_size_bytes"] = f->ltx->header->page_size_bytes;
        l["commit_pages"] = f->ltx->header->commit_pages;
        l["min_txid"] = f->ltx->header->min_txid;
        l["max_txid"] = f->ltx->header->max_txid;
        l["timestamp_ms"] = f->ltx->header->timestamp_ms;
      }
      o["ltx"] = l;
    }
    files.push_back(o);
  }
  for (const auto& f : ev.staging.files) {
    if (f.stat.size_bytes >= kLargeFileBytes) large.push_back(r(f.path));
  }
  ordered_json errors = ordered_json::array();
  for (const auto& e : ev.staging.errors) errors.push_back(r(e.to_string()));
  const auto remaining = collect::remaining_staging_bytes(ev.staging);
  j["staging"] = {{"meta_path", r(ev.staging.meta_path)},
                  {"exists", ev.staging.exists},
                  {"layout", formats::to_string(ev.staging.layout)},
                  {"mixed_layouts", ev.staging.mixed_layouts},
                  {"bytes", ev.staging.total_bytes},
                  {"allocated_bytes", ev.staging.allocated_bytes},
                  {"in_flight_bytes", ev.staging.in_flight_bytes},
                  {"remaining_bytes", remaining ? ordered_json(*remaining) : ordered_json(nullptr)},
                  {"growth_bytes", growth},
                  {"growth_bytes_per_second", secs > 0 ? static_cast<int64_t>(static_cast<double>(growth) / secs) : 0},
                  {"window_seconds", secs},
                  {"file_count", ev.staging.file_count},
                  {"unknown_count", ev.staging.unknown_count},
                  {"files_listed", files.size()},
                  {"truncated", ev.staging.truncated},
                  {"files", files},
                  {"large_files", large},
                  {"errors", errors}};

  ordered_json procs = ordered_json::array();
  for (const auto& p : ev.litestream.processes) {
    procs.push_back({{"pid", p.pid}, {"uid", p.uid}, {"comm", r(p.comm)}});
  }
  ordered_json others = ordered_json::array();
  for (const auto& p : ev.litestream.other_processes) {
    others.push_back({{"pid", p.pid}, {"uid", p.uid}, {"comm", r(p.comm)}});
  }
  ordered_json holders = ordered_json::array();
  for (const auto& h : ev.litestream.staging_holders) {
    holders.push_back({{"pid", h.pid}, {"comm", r(h.comm)}, {"fd", h.fd}, {"path", r(h.path)}});
  }
  j["litestream"] = {{"version", ev.litestream.version.empty() ? ordered_json(nullptr) : ordered_json(ev.litestream.version)},
                     {"version_source", ev.litestream.version_source},
                     {"version_note", r(ev.litestream.version_note)},
                     {"processes", procs},
                     {"other_processes", others},
                     {"staging_holders", holders},
                     {"proc_note", r(ev.litestream.proc_note)}};

  ordered_json lines = ordered_json::array();
  for (const auto& l : ev.log.lines) lines.push_back(r(l));
  j["log"] = {{"source", r(ev.log.source)},
              {"available", ev.log.available},
              {"why_unavailable", r(ev.log.why_unavailable)},
              {"lines_read", ev.log.counts.lines},
              {"disk_full_lines", ev.log.counts.disk_full_lines},
              {"error_lines", ev.log.counts.errors},
              {"sync_error_lines", ev.log.counts.sync_errors},
              {"temp_file_cleanup_lines", ev.log.counts.temp_file_cleanup},
              {"lines", lines}};

  ordered_json reps = ordered_json::array();
  for (const auto& rep : ev.replicas) {
    ordered_json o = {{"name", r(rep.name)}, {"type", rep.type}, {"source", rep.source}, {"known", rep.known},
                      {"reason", r(rep.reason)}};
    if (!rep.generation.empty()) o["generation"] = rep.generation;
    if (rep.wal_index) o["wal_index"] = *rep.wal_index;
    if (rep.max_txid) o["max_txid"] = *rep.max_txid;
    o["backlog_bytes"] = rep.backlog_bytes ? ordered_json(*rep.backlog_bytes) : ordered_json(nullptr);
    o["backlog_files"] = rep.backlog_files;
    if (rep.fs_dev) {
      o["same_filesystem_as_db"] = rep.same_fs_as_db;
      o["same_filesystem_as_meta"] = rep.same_fs_as_meta;
    }
    if (!rep.path.empty()) o["path"] = r(rep.path);
    reps.push_back(o);
  }
  j["replicas"] = reps;
  j["metrics"] = {{"note", r(ev.metrics_note)}};

  ordered_json reasons = ordered_json::array();
  for (const auto& s : v.reasons) reasons.push_back(r(s));
  j["verdict"] = {{"staging_is_driver", answer(v.staging_is_driver)},
                  {"staging_fits", answer(v.staging_fits)},
                  {"wal_blocked", answer(v.wal_blocked)},
                  {"visible_in_logs", answer(v.visible_in_logs)},
                  {"staging_share_percent",
                   v.staging_share_percent ? ordered_json(*v.staging_share_percent) : ordered_json(nullptr)},
                  {"pinned_wal_bytes", v.pinned_wal_bytes},
                  {"reserve_bytes", ctx.reserve_bytes},
                  {"reserve_detail", ctx.reserve_detail},
                  {"reasons", reasons}};
  return j;
}

namespace {

std::string verdict_lines(const model::EvidenceVerdict& v, const formats::Redactor& redactor,
                          const char* bullet) {
  std::string out;
  const model::Answer answers[] = {v.staging_is_driver, v.staging_fits, v.wal_blocked, v.visible_in_logs};
  const char* names[] = {"staging_is_driver", "staging_fits", "wal_blocked", "visible_in_logs"};
  for (size_t i = 0; i < 4; ++i) {
    std::string reason = i < v.reasons.size() ? v.reasons[i] : "";
    const size_t colon = reason.find(": ");
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    out += fmt::format("{}{:<18} {:<7} {}\n", bullet, names[i], model::to_string(answers[i]),
                       escape_text(redactor.redact(reason)));
  }
  return out;
}

std::string one_line_summary(const model::EvidenceVerdict& v) {
  if (v.staging_is_driver == model::Answer::yes && v.driver_rule == model::DriverRule::pinned_wal) {
    return fmt::format("Litestream is filling this disk: its read transaction pins the app's WAL, which "
                       "cannot be checkpointed and reused{}; stop Litestream before cleaning up.",
                       v.staging_fits == model::Answer::no ? ", and its staging will not fit" : "");
  }
  if (v.staging_is_driver == model::Answer::yes) {
    return v.staging_fits == model::Answer::no
               ? "Litestream staging is filling this disk and will not fit: stop Litestream before cleaning up."
               : "Litestream staging is the main consumer of this disk.";
  }
  if (v.staging_is_driver == model::Answer::no) return "Litestream staging is not what fills this disk.";
  return "Whether staging fills this disk could not be decided; see the reasons.";
}

}  // namespace

std::string evidence_text(const collect::Evidence& ev, const model::EvidenceVerdict& v, const VerdictContext& ctx,
                          const formats::Redactor& redactor) {
  // Every string from the host is redacted, then escaped: a path holding "\n" cannot start a
  // report line of its own.
  const auto r = [&](const std::string& s) { return escape_text(redactor.redact(s)); };
  std::string out;
  out += fmt::format("ltxguard evidence for {} at {}\n\n", r(ev.db.db_path), iso_time(ev.taken_at_ms));
  std::string header = ev.db.header
                           ? fmt::format("{} pages × {} B, {}", ev.db.header->page_count, ev.db.header->page_size_bytes,
                                         ev.db.header->wal_mode ? "WAL mode" : "rollback journal")
                           : "header unreadable: " + r(ev.db.header_error);
  out += fmt::format("database    {} ({})\n", human_bytes(as_signed(ev.db.db.bytes)), header);
  out += fmt::format("wal / shm   {} / {}\n", ev.db.wal.exists ? human_bytes(as_signed(ev.db.wal.bytes)) : "absent",
                     ev.db.shm.exists ? human_bytes(as_signed(ev.db.shm.bytes)) : "absent");
  for (const auto& f : ev.filesystems) {
    out += fmt::format("filesystem  {} ({}; {}): size {}, free {} (root), avail {} (users), inodes free {}\n",
                       r(f.stats.mount_point), escape_text(f.stats.fstype), fmt::join(f.roles, ", "),
                       human_bytes(as_signed(f.stats.total_bytes)), human_bytes(as_signed(f.stats.free_bytes)),
                       human_bytes(as_signed(f.stats.avail_bytes)), f.stats.inodes_free);
  }
  const int64_t growth = staging_growth(ev);
  out += fmt::format("staging     {} layout, {} in {} file(s) under {}, {} {} in {:.0f} s{}\n",
                     formats::to_string(ev.staging.layout), human_bytes(as_signed(ev.staging.total_bytes)),
                     ev.staging.file_count, r(ev.staging.meta_path), growth >= 0 ? "+" : "",
                     human_bytes(growth), window_seconds(ev), ev.staging.exists ? "" : " (meta dir absent)");
  for (const auto* f : listed_files(ev.staging)) {
    if (!f->name.in_flight() && f->stat.size_bytes < kLargeFileBytes && f->name.kind != formats::StagingKind::unknown) {
      continue;
    }
    out += fmt::format("  {}  {}  {}  {}{}\n", r(f->rel_path), human_bytes(as_signed(f->stat.size_bytes)),
                       file_kind(*f), file_state(*f), f->ltx && !f->ltx->reason.empty() ? " (" + r(f->ltx->reason) + ")" : "");
  }
  // An unreadable process list must not read as "nothing is running".
  std::string procs =
      ev.litestream.proc_note.empty()
          ? fmt::format("{} process(es) running for this database, {} open file(s) under the meta dir",
                        ev.litestream.processes.size(), ev.litestream.staging_holders.size())
          : "processes unknown (" + r(ev.litestream.proc_note) + ")";
  if (!ev.litestream.other_processes.empty()) {
    std::vector<std::string> pids;
    for (const auto& p : ev.litestream.other_processes) pids.push_back(fmt::format("pid {}", p.pid));
    procs += fmt::format("; other Litestream (not this database): {}", fmt::join(pids, ", "));
  }
  out += fmt::format("litestream  {}{}; {}\n",
                     ev.litestream.version.empty() ? "version unknown" : r(ev.litestream.version),
                     ev.litestream.version_source.empty() ? "" : " (from " + ev.litestream.version_source + ")",
                     procs);
  if (ev.log.available) {
    out += fmt::format("log         {}: {} line(s), {} disk-full, {} error(s)\n", r(ev.log.source), ev.log.counts.lines,
                       ev.log.counts.disk_full_lines, ev.log.counts.errors);
  } else {
    out += fmt::format("log         {}: unavailable ({})\n", r(ev.log.source), r(ev.log.why_unavailable));
  }
  for (const auto& rep : ev.replicas) {
    out += fmt::format("replica     {} ({}): {}{}\n", r(rep.name), r(rep.type), r(rep.reason),
                       rep.backlog_bytes ? fmt::format(", backlog {} in {} file(s)", human_bytes(as_signed(*rep.backlog_bytes)),
                                                       rep.backlog_files)
                                         : ", backlog unknown");
  }
  out += fmt::format("reserve     {} ({})\n\nverdict: {}\n", human_bytes(as_signed(ctx.reserve_bytes)), r(ctx.reserve_detail),
                     one_line_summary(v));
  out += verdict_lines(v, redactor, "  ");
  return out;
}

std::string evidence_public_markdown(const collect::Evidence& ev, const model::EvidenceVerdict& v,
                                     const VerdictContext& ctx, const formats::Redactor& redactor) {
  // Every string from the host is redacted, then escaped for where it lands: a code span, a
  // table cell (no '|' splits it) or a code block (no line closes it).
  const auto r = [&](const std::string& s) { return redactor.redact(s); };
  const auto cell = [&](const std::string& s) { return markdown_text(r(s), MarkdownPlace::table_cell); };
  const std::string db_name = std::filesystem::path(ev.db.db_path).filename().string();
  std::string out;
  out += fmt::format("## ltxguard evidence: {}\n\n", markdown_code(r(db_name), MarkdownPlace::text));
  out += fmt::format("**{}**\n\n", one_line_summary(v));
  out += "| question | answer | why |\n|---|---|---|\n";
  const model::Answer answers[] = {v.staging_is_driver, v.staging_fits, v.wal_blocked, v.visible_in_logs};
  const char* names[] = {"staging_is_driver", "staging_fits", "wal_blocked", "visible_in_logs"};
  for (size_t i = 0; i < 4; ++i) {
    std::string reason = i < v.reasons.size() ? v.reasons[i] : "";
    const size_t colon = reason.find(": ");
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    out += fmt::format("| {} | {} | {} |\n", names[i], model::to_string(answers[i]), cell(reason));
  }
  out += "\n| measurement | value |\n|---|---|\n";
  out += fmt::format("| database | {} |\n", human_bytes(as_signed(ev.db.db.bytes)));
  if (ev.db.header) out += fmt::format("| page size | {} B |\n", ev.db.header->page_size_bytes);
  out += fmt::format("| WAL | {} |\n| SHM | {} |\n", human_bytes(as_signed(ev.db.wal.bytes)),
                     human_bytes(as_signed(ev.db.shm.bytes)));
  for (const auto& f : ev.filesystems) {
    out += fmt::format("| filesystem ({}, {}) | size {}, free {}, avail {}, inodes free {} |\n", fmt::join(f.roles, ", "),
                       cell(f.stats.fstype), human_bytes(as_signed(f.stats.total_bytes)),
                       human_bytes(as_signed(f.stats.free_bytes)), human_bytes(as_signed(f.stats.avail_bytes)),
                       f.stats.inodes_free);
  }
  out += fmt::format("| staging | {} layout, {} in {} file(s), growth {} in {:.0f} s |\n",
                     formats::to_string(ev.staging.layout), human_bytes(as_signed(ev.staging.total_bytes)),
                     ev.staging.file_count, human_bytes(staging_growth(ev)), window_seconds(ev));
  for (const auto* f : listed_files(ev.staging)) {
    if (!f->name.in_flight()) continue;
    out += fmt::format("| in-flight file | {} {} ({}) |\n",
                       markdown_code(r(std::filesystem::path(f->rel_path).filename().string()), MarkdownPlace::table_cell),
                       human_bytes(as_signed(f->stat.size_bytes)), file_state(*f));
  }
  out += fmt::format("| Litestream | {} |\n", ev.litestream.version.empty() ? "unknown" : cell(ev.litestream.version));
  out += fmt::format("| log | {} disk-full line(s), {} error(s){} |\n", ev.log.counts.disk_full_lines, ev.log.counts.errors,
                     ev.log.available ? "" : " (log unavailable)");
  for (const auto& rep : ev.replicas) {
    out += fmt::format("| replica ({}) | {} |\n", cell(rep.type),
                       rep.backlog_bytes ? "backlog " + human_bytes(as_signed(*rep.backlog_bytes)) : "upload state unknown");
  }
  out += fmt::format("| reserve | {} |\n", human_bytes(as_signed(ctx.reserve_bytes)));
  std::vector<std::string> disk_full;
  for (const auto& l : ev.log.lines) {
    if (formats::is_disk_full(formats::classify_log_line(l))) disk_full.push_back(l);
  }
  if (!disk_full.empty()) {
    std::vector<std::string> last;
    const size_t from = disk_full.size() > 5 ? disk_full.size() - 5 : 0;
    for (size_t i = from; i < disk_full.size(); ++i) last.push_back(r(disk_full[i]));
    out += "\nLast disk-full log lines:\n\n" + markdown_code_block(last);
  }
  return out;
}

}  // namespace ltxguard::output
