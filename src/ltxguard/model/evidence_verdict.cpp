#include "ltxguard/model/evidence_verdict.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

using util::human_bytes;

// SQLite WAL: a 32-byte file header, then frames of a 24-byte header and one page.
constexpr uint64_t kWalHeaderBytes = 32;
constexpr uint64_t kWalFrameHeaderBytes = 24;

int64_t as_signed(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

uint64_t used_bytes(const VerdictFs& f) { return f.total_bytes - std::min(f.total_bytes, f.free_bytes); }

// What the application can still write on a filesystem: root sees the root reserve too.
uint64_t app_room_bytes(const VerdictFs& f, bool app_runs_as_root) {
  return app_runs_as_root ? f.free_bytes : f.avail_bytes;
}

uint64_t wal_need_bytes(const EvidenceInput& in) {
  return std::max<uint64_t>(kWalMinRoomBytes, uint64_t{in.page_size_bytes} * kWalMinRoomPages);
}

bool replicas_keep_up(const EvidenceInput& in) { return in.replica_stuck == false && !in.replica_behind; }

// Why a share threshold applies: the replicas' state, with the evidence when there is some.
std::string replica_state_text(const EvidenceInput& in) {
  if (replicas_keep_up(in)) return "while every replica keeps up";
  const std::string what = in.replica_stuck.value_or(false) ? "a replica is not advancing"
                           : in.replica_behind             ? "a replica is behind"
                                                           : "replica progress unknown";
  return in.replica_detail.empty() ? what : what + ": " + in.replica_detail;
}

std::string percent_rule(uint64_t share, uint64_t threshold) {
  return fmt::format("{}% {} {}%", share, share >= threshold ? "≥" : "<", threshold);
}

void decide_driver(const EvidenceInput& in, EvidenceVerdict& v) {
  const uint64_t pinned = wal_pinned_bytes(in);
  v.pinned_wal_bytes = pinned;
  if (!in.staging_found && pinned == 0) {
    v.staging_is_driver = Answer::no;
    v.reasons.push_back("staging_is_driver=false: no Litestream staging files found");
    return;
  }
  if (in.staging_found && !in.staging_fs.known) {
    v.reasons.push_back("staging_is_driver=unknown: the staging filesystem could not be measured");
    return;
  }
  // Replicas that keep up make staging transient (0.3 copies every WAL frame through the
  // shadow WAL): then only a dominant share counts, not growth.
  const bool keep_up = replicas_keep_up(in);
  const uint64_t threshold = keep_up ? kDriverShareWhenReplicatingPercent : kDriverSharePercent;
  const std::string replicas = replica_state_text(in);

  std::optional<uint64_t> share;  // staging's share of the staging filesystem
  std::string share_text;
  if (in.staging_found) {
    const uint64_t used = used_bytes(in.staging_fs);
    share = used == 0 ? 0 : in.staging_bytes * 100 / used;
    v.staging_share_percent = share;
    share_text = fmt::format("staging holds {} of {} used on its filesystem, {}",
                             human_bytes(as_signed(in.staging_bytes)), human_bytes(as_signed(used)),
                             percent_rule(*share, threshold));
  }
  // Litestream's share of the database filesystem: the WAL it pins, plus its staging there.
  std::optional<uint64_t> pinned_share;
  std::string pinned_text;
  if (pinned > 0) {
    const uint64_t mine = pinned + (in.same_filesystem && in.staging_found ? in.staging_bytes : 0);
    const uint64_t used = used_bytes(in.db_fs);
    pinned_share = used == 0 ? 0 : mine * 100 / used;
    pinned_text = fmt::format(
        "Litestream's read transaction pins the app's WAL: {} of it beyond the {} checkpoints keep it at "
        "(WAL {}){} is {} of {} used on the database filesystem, {}",
        human_bytes(as_signed(pinned)), human_bytes(as_signed(wal_checkpoint_bytes(in.page_size_bytes))),
        human_bytes(as_signed(in.wal_bytes)),
        in.same_filesystem ? fmt::format(", with {} staging,", human_bytes(as_signed(in.staging_bytes))) : "",
        human_bytes(as_signed(mine)), human_bytes(as_signed(used)), percent_rule(*pinned_share, threshold));
  }
  // Growth: staging's, plus the WAL growth Litestream pins, on the staging filesystem.
  const int64_t growth =
      in.staging_growth_bytes + (in.same_filesystem ? as_signed(wal_pinned_growth_bytes(in)) : 0);
  const bool growing = growth > 0;
  const int64_t consumed = in.staging_fs_consumed_bytes;
  const bool drives_growth = !keep_up && growing && consumed > 0 &&
                             growth * 100 >= consumed * static_cast<int64_t>(kDriverGrowthSharePercent);
  std::string growth_text;
  const std::string what_grew =
      in.staging_growth_bytes == growth ? "staging" : "staging and the WAL Litestream pins";
  if (!growing) {
    growth_text = "not growing while sampled";
  } else if (keep_up) {
    growth_text = fmt::format("{} grew by {} in {:.0f} s (growth not counted while every replica keeps up)",
                              what_grew, human_bytes(growth), in.window_seconds);
  } else if (consumed <= 0) {
    growth_text = fmt::format("{} grew by {} in {:.0f} s while the filesystem lost no free space", what_grew,
                              human_bytes(growth), in.window_seconds);
  } else {
    growth_text = fmt::format("{} grew by {} in {:.0f} s, {} of the {} consumed meanwhile", what_grew,
                              human_bytes(growth), in.window_seconds,
                              percent_rule(static_cast<uint64_t>(growth * 100 / consumed), kDriverGrowthSharePercent),
                              human_bytes(consumed));
  }

  const bool by_share = share && *share >= threshold;
  const bool by_pinned = pinned_share && *pinned_share >= threshold;
  v.staging_is_driver = by_share || by_pinned || drives_growth ? Answer::yes : Answer::no;
  v.driver_rule = by_share        ? DriverRule::staging_share
                  : by_pinned     ? DriverRule::pinned_wal
                  : drives_growth ? DriverRule::growth
                                  : DriverRule::none;
  // The rule that decided comes first; the others follow with their own numbers. Why the
  // share threshold is what it is (the replicas' state) is said once, after the first share.
  std::vector<const std::string*> parts;
  if (v.driver_rule == DriverRule::pinned_wal) {
    parts = {&pinned_text, &share_text, &growth_text};
  } else if (v.driver_rule == DriverRule::growth) {
    parts = {&growth_text, &share_text, &pinned_text};
  } else {
    parts = {&share_text, &pinned_text, &growth_text};
  }
  std::string text;
  bool replicas_said = false;
  for (const std::string* p : parts) {
    if (p->empty()) continue;
    text += (text.empty() ? "" : "; ") + *p;
    if (p != &growth_text && !replicas_said) {
      text += " (" + replicas + ")";
      replicas_said = true;
    }
  }
  v.reasons.push_back(
      fmt::format("staging_is_driver={}: {}", v.staging_is_driver == Answer::yes ? "true" : "false", text));
}

void decide_fits(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.staging_fs.known) {
    v.reasons.push_back("staging_fits=unknown: the staging filesystem could not be measured");
    return;
  }
  // Sharing the database's filesystem, staging fits only if the application keeps its reserve
  // in its own view (a non-root app cannot use the root reserve Litestream writes into). On a
  // filesystem of its own, Litestream as shipped runs as root: its limit is f_bfree.
  const bool app_view = in.same_filesystem && !in.app_runs_as_root &&
                        in.staging_fs.avail_bytes != in.staging_fs.free_bytes;
  const int64_t room = as_signed(in.same_filesystem ? app_room_bytes(in.staging_fs, in.app_runs_as_root)
                                                    : in.staging_fs.free_bytes);
  const std::string room_text =
      app_view ? fmt::format("{} (the non-root app's view; root sees {})", human_bytes(room),
                             human_bytes(as_signed(in.staging_fs.free_bytes)))
               : human_bytes(room);
  // The reserve belongs to the DB filesystem; it only constrains staging when both share it.
  const int64_t reserve = in.same_filesystem ? as_signed(in.reserve_bytes) : 0;
  if (in.in_flight && in.remaining_staging_bytes) {
    const int64_t remaining = as_signed(*in.remaining_staging_bytes);
    const int64_t left = room - remaining - reserve;
    v.staging_fits = left >= 0 ? Answer::yes : Answer::no;
    v.reasons.push_back(fmt::format(
        "staging_fits={}: free {} − remaining staging write {} − reserve {} = {}",
        left >= 0 ? "true" : "false", room_text, human_bytes(remaining), human_bytes(reserve),
        human_bytes(left)));
    return;
  }
  if (in.replica_stuck.value_or(false)) {
    v.staging_fits = Answer::no;
    v.reasons.push_back(fmt::format(
        "staging_fits=false: a replica is not advancing{}, so staging grows without bound ({} free)",
        in.replica_detail.empty() ? "" : " (" + in.replica_detail + ")", room_text));
    return;
  }
  if (in.in_flight) {
    v.reasons.push_back("staging_fits=unknown: a staging write is in flight but its final size is unknown");
    return;
  }
  if (room < reserve) {
    v.staging_fits = Answer::no;
    v.reasons.push_back(fmt::format("staging_fits=false: free {} is already below the reserve {}",
                                    room_text, human_bytes(reserve)));
    return;
  }
  if (replicas_keep_up(in)) {
    v.staging_fits = Answer::yes;
    v.reasons.push_back(fmt::format(
        "staging_fits=true: no staging write in flight, replicas advancing, {} free above the reserve {}",
        human_bytes(room - reserve), human_bytes(reserve)));
    return;
  }
  v.reasons.push_back(fmt::format("staging_fits=unknown: no staging write in flight and {} ({} free, reserve {})",
                                  in.replica_behind ? replica_state_text(in) + "; the next write's size is unknown"
                                                    : std::string("replica progress unknown"),
                                  room_text, human_bytes(reserve)));
}

void decide_wal(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.db_fs.known) {
    v.reasons.push_back("wal_blocked=unknown: the database filesystem could not be measured");
    return;
  }
  const uint64_t app_room = app_room_bytes(in.db_fs, in.app_runs_as_root);
  const uint64_t need = wal_need_bytes(in);
  const bool blocked = app_room < need;
  v.wal_blocked = blocked ? Answer::yes : Answer::no;
  std::string cause;
  if (blocked) {
    if (!in.same_filesystem) {
      cause = "; staging is not on this filesystem";
    } else if (in.staging_found) {
      cause = fmt::format("; staging shares this filesystem and holds {}", human_bytes(as_signed(in.staging_bytes)));
    } else {
      cause = "; the meta dir is on this filesystem but holds no staging files now";
    }
    if (const uint64_t pinned = wal_pinned_bytes(in); pinned > 0) {
      cause += fmt::format("; Litestream's read transaction pins {} of the {} WAL (checkpoints keep it at {})",
                           human_bytes(as_signed(pinned)), human_bytes(as_signed(in.wal_bytes)),
                           human_bytes(as_signed(wal_checkpoint_bytes(in.page_size_bytes))));
    }
  }
  v.reasons.push_back(fmt::format("wal_blocked={}: the application can still use {} on the database "
                                  "filesystem ({} view), a WAL commit needs about {}{}",
                                  blocked ? "true" : "false", human_bytes(as_signed(app_room)),
                                  in.app_runs_as_root ? "root" : "non-root", human_bytes(as_signed(need)),
                                  cause));
}

void decide_logs(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.log_disk_full_lines) {
    v.reasons.push_back("visible_in_logs=unknown: no Litestream log could be read");
    return;
  }
  const bool seen = *in.log_disk_full_lines > 0;
  v.visible_in_logs = seen ? Answer::yes : Answer::no;
  v.reasons.push_back(fmt::format("visible_in_logs={}: {} disk-full line(s), {} error line(s) in the Litestream log",
                                  seen ? "true" : "false", *in.log_disk_full_lines,
                                  in.log_error_lines.value_or(0)));
}

}  // namespace

uint64_t wal_checkpoint_bytes(uint32_t page_size_bytes) {
  if (page_size_bytes == 0) return 0;
  return kWalHeaderBytes + kWalCheckpointPages * (uint64_t{page_size_bytes} + kWalFrameHeaderBytes);
}

uint64_t wal_pinned_bytes(const EvidenceInput& in) {
  const uint64_t checkpointed = wal_checkpoint_bytes(in.page_size_bytes);
  if (!in.litestream_running_for_db.value_or(false) || checkpointed == 0 || !in.db_fs.known) return 0;
  if (app_room_bytes(in.db_fs, in.app_runs_as_root) >= wal_need_bytes(in)) return 0;
  return in.wal_bytes > checkpointed ? in.wal_bytes - checkpointed : 0;
}

uint64_t wal_pinned_growth_bytes(const EvidenceInput& in) {
  const uint64_t checkpointed = wal_checkpoint_bytes(in.page_size_bytes);
  if (!in.litestream_running_for_db.value_or(false) || checkpointed == 0 || in.wal_growth_bytes <= 0) return 0;
  const uint64_t first = in.wal_bytes - std::min(in.wal_bytes, static_cast<uint64_t>(in.wal_growth_bytes));
  const uint64_t from = std::max(first, checkpointed);
  return in.wal_bytes > from ? in.wal_bytes - from : 0;
}

const char* to_string(Answer a) {
  switch (a) {
    case Answer::yes:
      return "true";
    case Answer::no:
      return "false";
    case Answer::unknown:
      break;
  }
  return "unknown";
}

EvidenceVerdict decide_evidence(const EvidenceInput& in) {
  EvidenceVerdict v;
  decide_driver(in, v);
  decide_fits(in, v);
  decide_wal(in, v);
  decide_logs(in, v);
  return v;
}

}  // namespace ltxguard::model
