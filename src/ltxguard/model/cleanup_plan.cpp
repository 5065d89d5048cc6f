#include "ltxguard/model/cleanup_plan.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

using formats::Layout;
using formats::StagingKind;

constexpr size_t kWalHeaderBytes = 32;       // SQLite WAL header
constexpr size_t kWalFrameHeaderBytes = 24;  // SQLite WAL frame header

std::string human(uint64_t bytes) {
  return util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(bytes, INT64_MAX)));
}

struct Decision {
  CleanupClass cls = CleanupClass::do_not_touch;
  std::string reason;
  bool removable = false;  // a Litestream file apply may act on once its class allows
};

Decision keep(std::string reason) { return {CleanupClass::do_not_touch, std::move(reason), false}; }
Decision review(std::string reason) { return {CleanupClass::review, std::move(reason), true}; }
Decision safe(std::string reason) { return {CleanupClass::safe, std::move(reason), true}; }

// Incomplete staging is safe once its header is in the evidence bundle; without it the file is
// the only local evidence of the failed sync.
Decision incomplete_staging(const CleanupFileInput& f, std::string what) {
  if (!f.header_recorded) {
    return review(what +
                  ", but its header could not be read: it is the only local evidence of the failed "
                  "sync; keep "
                  "it until that evidence is captured");
  }
  return safe(what + "; its header goes into the evidence bundle before removal");
}

// Why every replica holds a 0.3 shadow WAL segment, or the first replica that does not.
Decision shadow_segment(const CleanupInput& in, const CleanupFileInput& f) {
  const auto& n = f.name;
  if (in.layout == Layout::v0_5) {
    return review(fmt::format(
        "Litestream 0.3 shadow WAL left next to the 0.5 ltx/ tree (an upgrade): generation {} "
        "belongs to the "
        "old version's backups; confirm their retention and restore point before removing it",
        n.generation));
  }
  if (in.current_generation.empty()) {
    return review(
        "shadow WAL segment, but the current generation is unknown: nothing proves it is uploaded");
  }
  if (n.generation != in.current_generation) {
    return review(fmt::format(
        "generation {} is not the current one ({}): Litestream deletes old generations itself "
        "after a "
        "successful sync; confirm the replicas' retention and restore point before removing it",
        n.generation, in.current_generation));
  }
  if (in.replicas.empty()) {
    return review(
        "no replica is configured for this database: nothing proves these WAL frames are backed "
        "up");
  }
  std::vector<std::string> holders;
  const CleanupReplica* lowest = nullptr;
  for (const auto& r : in.replicas) {
    if (!r.known) {
      return review(
          fmt::format("replica {}: position unknown ({}): upload not proven", r.name, r.reason));
    }
    if (r.generation != n.generation || !r.wal_index) {
      return review(
          fmt::format("replica {} holds no WAL segment of generation {}: not uploaded; removing it "
                      "loses these frames from "
                      "the restore history and forces a new generation",
                      r.name, n.generation));
    }
    if (lowest == nullptr || *r.wal_index < *lowest->wal_index) lowest = &r;
    holders.push_back(fmt::format("{} at index {}", r.name, *r.wal_index));
  }
  // A replica moves to the next index only once it holds the whole segment before it.
  if (*lowest->wal_index <= n.wal_index) {
    return review(
        fmt::format("replica {} is at WAL index {} of generation {}: segment {} is {}; removing it "
                    "loses frames not yet on "
                    "every replica and forces a new generation",
                    lowest->name, *lowest->wal_index, n.generation, n.wal_index,
                    *lowest->wal_index == n.wal_index ? "only partly uploaded" : "not uploaded"));
  }
  return safe(
      fmt::format("shadow WAL segment {} of generation {}, which every replica already holds ({})",
                  n.wal_index, n.generation, fmt::join(holders, ", ")));
}

Decision ltx_file(const CleanupInput& in, const CleanupFileInput& f) {
  const auto& n = f.name;
  if (!f.ltx_state) return review("LTX file that was not inspected: its state is unknown");
  if (*f.ltx_state == formats::LtxState::incomplete) {
    return incomplete_staging(
        f,
        fmt::format(
            "truncated LTX ({}): Litestream renames only complete files, so this one was cut short "
            "and cannot be uploaded",
            f.ltx_reason));
  }
  if (*f.ltx_state == formats::LtxState::corrupt) {
    return review(fmt::format("corrupt LTX ({}): Litestream cannot upload it; keep it as evidence",
                              f.ltx_reason));
  }
  std::optional<uint64_t> mark;
  std::string unproven;
  for (const auto& r : in.replicas) {
    if (!r.known || !r.max_txid) {
      unproven =
          fmt::format("replica {}: {}", r.name, r.known ? "holds no LTX file yet" : r.reason);
      break;
    }
    mark = std::min(mark.value_or(*r.max_txid), *r.max_txid);
  }
  if (in.replicas.empty()) unproven = "no replica is configured";
  if (unproven.empty() && mark && n.max_txid <= *mark) {
    return review(
        fmt::format("complete LTX (TXID {}-{}) that every replica holds (lowest replica TXID {}): "
                    "Litestream deletes level-0 "
                    "files itself after compaction and l0-retention; removing it by hand gains "
                    "nothing the next compaction "
                    "would not",
                    n.min_txid, n.max_txid, *mark));
  }
  return review(fmt::format(
      "complete LTX (TXID {}-{}) whose upload is not proven ({}): it may be the only copy of these "
      "transactions "
      "outside the database",
      n.min_txid, n.max_txid,
      unproven.empty() ? fmt::format("lowest replica TXID {}", mark.value_or(0)) : unproven));
}

Decision classify(const CleanupInput& in, const CleanupFileInput& f) {
  for (const auto& d : in.db_files) {
    if (d.exists && ((d.dev == f.dev && d.ino == f.ino) || d.path == f.path)) {
      return keep(fmt::format("this is the {} file itself: never touched", d.role));
    }
  }
  if (!f.regular) {
    return keep(fmt::format("a {}, not a file Litestream writes: never followed, never removed",
                            f.type_name));
  }
  if (f.dev != in.meta_dev) {
    return keep("on another filesystem mounted inside the meta dir: not Litestream's staging");
  }
  const auto kind = f.name.kind;
  if (kind == StagingKind::unknown)
    return keep("not a name Litestream writes: not identified as Litestream's");
  if (f.nlink > 1) {
    return keep(
        fmt::format("has {} hard links: another name keeps its data (removing this one frees "
                    "nothing) and Litestream "
                    "never links its files",
                    f.nlink));
  }
  if (f.uid != in.meta_uid && f.uid != 0) {
    return keep(fmt::format("owned by uid {}, neither the meta dir's owner (uid {}) nor root",
                            f.uid, in.meta_uid));
  }
  if (!f.holders.empty()) {
    return keep(fmt::format("open in {}: removing an open file frees nothing until it is closed",
                            fmt::join(f.holders, ", ")));
  }
  switch (kind) {
    case StagingKind::generation_name:
      return keep(
          "Litestream 0.3's pointer to the current generation: a few bytes, nothing to reclaim");
    case StagingKind::replica_wal:
    case StagingKind::replica_snapshot:
      return keep(
          "a replica's file (this directory looks like a file replica): backups are not staging");
    case StagingKind::shadow_wal_tmp:
      return incomplete_staging(f,
                                "temporary shadow WAL copy (.wal.tmp) of a stopped Litestream: the "
                                "next sync copies these frames "
                                "from the -wal again, or starts a new generation");
    case StagingKind::ltx_tmp:
      return incomplete_staging(f,
                                "in-flight LTX staging (.ltx.tmp) of a stopped Litestream: it "
                                "never resumes a .tmp, the next sync "
                                "rewrites it from the database");
    case StagingKind::shadow_wal:
      return shadow_segment(in, f);
    case StagingKind::ltx:
      return ltx_file(in, f);
    case StagingKind::unknown:
      break;
  }
  return keep("not identified as Litestream's");
}

void add(ClassTotals& t, const CleanupItem& i) {
  ++t.files;
  t.size_bytes += i.size_bytes;
  t.allocated_bytes += i.allocated_bytes;
}

std::string role_reason(const std::string& role) {
  if (role == "database")
    return "the database: only its size and 100-byte header are read; never modified or removed";
  if (role == "wal") {
    return "the database's WAL: holds committed transactions not yet in the database file; "
           "deleting it loses them";
  }
  return "SQLite's shared-memory WAL index: deleting it under a running app breaks its readers and "
         "writers";
}

}  // namespace

const char* to_string(CleanupClass c) {
  switch (c) {
    case CleanupClass::safe:
      return "safe";
    case CleanupClass::review:
      return "review";
    case CleanupClass::do_not_touch:
      return "do-not-touch";
  }
  return "do-not-touch";
}

size_t header_record_bytes(StagingKind kind) {
  switch (kind) {
    case StagingKind::ltx:
    case StagingKind::ltx_tmp:
      return formats::kLtxHeaderBytes;
    case StagingKind::shadow_wal:
      return kWalHeaderBytes;
    case StagingKind::shadow_wal_tmp:
      return kWalFrameHeaderBytes;
    default:
      return 0;
  }
}

CleanupPlan plan_cleanup(const CleanupInput& in) {
  CleanupPlan plan;
  plan.litestream_running = !in.litestream_running.empty();
  const std::string running =
      fmt::format("Litestream is running ({})", fmt::join(in.litestream_running, ", "));

  for (const auto& d : in.db_files) {
    CleanupItem i;
    i.path = d.path;
    i.kind = d.role;
    i.size_bytes = d.size_bytes;
    i.allocated_bytes = d.allocated_bytes;
    i.dev = d.dev;
    i.ino = d.ino;
    i.reason = d.exists ? role_reason(d.role) : role_reason(d.role) + " (does not exist now)";
    plan.items.push_back(std::move(i));
  }

  uint64_t ltx_allocated = 0;
  for (const auto& f : in.files) {
    const Decision d = classify(in, f);
    CleanupItem i;
    i.path = f.path;
    i.rel_path = f.rel_path;
    i.kind = formats::to_string(f.name.kind);
    i.size_bytes = f.size_bytes;
    i.allocated_bytes = f.allocated_bytes;
    i.dev = f.dev;
    i.ino = f.ino;
    i.removable = d.removable;
    i.header_bytes = d.removable ? header_record_bytes(f.name.kind) : 0;
    i.cls = d.cls;
    i.reason = d.reason;
    if (plan.litestream_running && d.removable) {
      i.class_if_stopped = d.cls;
      i.cls = CleanupClass::do_not_touch;
      i.reason =
          fmt::format("{}: nothing under the meta dir is touched until it stops; then {}: {}",
                      running, to_string(d.cls), d.reason);
    }
    if (f.regular && (f.name.kind == StagingKind::ltx || f.name.kind == StagingKind::ltx_tmp)) {
      ltx_allocated += f.allocated_bytes;
    }
    plan.items.push_back(std::move(i));
  }

  for (const auto& i : plan.items) {
    switch (i.cls) {
      case CleanupClass::safe:
        add(plan.safe, i);
        break;
      case CleanupClass::review:
        add(plan.review, i);
        break;
      case CleanupClass::do_not_touch:
        add(plan.do_not_touch, i);
        break;
    }
    if (i.cls == CleanupClass::safe || i.class_if_stopped == CleanupClass::safe)
      add(plan.safe_if_stopped, i);
  }

  if (in.layout == Layout::v0_5) {
    CleanupItem r;
    r.path = "litestream reset " + in.db_path;
    r.kind = "action";
    r.cls = CleanupClass::review;
    r.allocated_bytes = ltx_allocated;
    std::string budget = "budget after reset not computed";
    if (in.reset) {
      budget = fmt::format("budget after reset: {}{}{}", to_string(in.reset->verdict),
                           in.reset->equations.empty() ? "" : ": ",
                           fmt::join(in.reset->equations, "; "));
    }
    r.reason = fmt::format(
        "a command, not a file (cleanup never runs it): deletes every local LTX file ({}) and "
        "forces a new full "
        "snapshot of about 1x the database ({}), staged here whole before upload; {}",
        human(ltx_allocated), in.reset ? human(in.reset->snapshot_bytes) : "size unknown", budget);
    if (plan.litestream_running) r.reason += "; stop Litestream first";
    plan.items.push_back(std::move(r));
  }

  if (in.meta_fs_avail_bytes) {
    plan.avail_now_bytes = *in.meta_fs_avail_bytes;
    plan.avail_after_safe_bytes = *plan.avail_now_bytes + plan.safe.allocated_bytes;
    plan.avail_after_review_bytes = *plan.avail_after_safe_bytes + plan.review.allocated_bytes;
  }
  if (!in.meta_exists)
    plan.notes.push_back(fmt::format("no meta dir at {}: nothing is staged", in.meta_path));
  if (!in.scan_complete) {
    plan.notes.push_back(
        "the meta dir walk was incomplete (errors or too many entries): files it did not see are "
        "not in this plan");
  }
  if (plan.litestream_running) {
    plan.notes.push_back(fmt::format(
        "{}: every file under the meta dir is do-not-touch; {} in {} file(s) would be "
        "safe once it is stopped",
        running, human(plan.safe_if_stopped.allocated_bytes), plan.safe_if_stopped.files));
  }
  if (in.meta_exists && !in.meta_on_db_fs) {
    plan.notes.push_back(
        fmt::format("the meta dir is on {}, not on the database's filesystem: removing staging "
                    "frees space there only",
                    in.meta_fs_mount.empty() ? "another filesystem" : in.meta_fs_mount));
  }
  if (in.mixed_layouts) {
    plan.notes.push_back(
        "0.3 generations sit next to a 0.5 ltx/ tree: leftovers of an upgrade, classed review");
  }
  return plan;
}

BudgetInput budget_input_after_removal(const BudgetInput& in, const std::string& db_path,
                                       const StagingRemoval& removal) {
  BudgetInput out = in;
  for (auto& d : out.databases) {
    if (d.db_path != db_path) continue;
    for (auto& f : out.filesystems) {
      if (f.dev != d.meta_fs_dev) continue;
      f.avail_bytes += removal.freed_bytes;
      f.free_bytes += removal.freed_bytes;
    }
    if (removal.reset) {
      d.staged_bytes_now = 0;
      d.snapshot_in_flight_bytes = 0;
      d.replica_backlog_bytes = 0;
      d.model = LitestreamModel::v0_5;
      d.model_reason = "litestream reset (a 0.5 command) forces a full snapshot";
      continue;
    }
    d.staged_bytes_now -= std::min(d.staged_bytes_now, removal.staged_bytes);
    if (removal.in_flight_snapshot_removed) d.snapshot_in_flight_bytes = 0;
    if (d.replica_backlog_bytes) {
      d.replica_backlog_bytes = std::min(*d.replica_backlog_bytes, d.staged_bytes_now);
    }
  }
  return out;
}

}  // namespace ltxguard::model
