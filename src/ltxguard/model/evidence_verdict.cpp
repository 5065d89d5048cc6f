#include "ltxguard/model/evidence_verdict.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

using util::human_bytes;

int64_t as_signed(uint64_t v) {
  return v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
}

void decide_driver(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.staging_found) {
    v.staging_is_driver = Answer::no;
    v.reasons.push_back("staging_is_driver=false: no Litestream staging files found");
    return;
  }
  if (!in.staging_fs.known) {
    v.reasons.push_back("staging_is_driver=unknown: the staging filesystem could not be measured");
    return;
  }
  const uint64_t used = in.staging_fs.total_bytes - std::min(in.staging_fs.total_bytes, in.staging_fs.free_bytes);
  const uint64_t share = used == 0 ? 0 : in.staging_bytes * 100 / used;
  v.staging_share_percent = share;
  const bool growing = in.staging_growth_bytes > 0;
  std::string growth = growing ? fmt::format("growing by {} in {:.0f} s", human_bytes(in.staging_growth_bytes),
                                             in.window_seconds)
                               : "not growing while sampled";
  // Replicas that keep up make staging transient (0.3 copies every WAL frame through the
  // shadow WAL): then only a dominant share counts, not growth.
  const bool replicas_keep_up = in.replica_stuck.has_value() && !*in.replica_stuck;
  const bool drives_growth = !replicas_keep_up && growing && in.staging_fs_consumed_bytes > 0 &&
                             in.staging_growth_bytes * 100 >=
                                 in.staging_fs_consumed_bytes * static_cast<int64_t>(kDriverGrowthSharePercent);
  const uint64_t share_threshold = replicas_keep_up ? kDriverShareWhenReplicatingPercent : kDriverSharePercent;
  if (share >= share_threshold || drives_growth) {
    v.staging_is_driver = Answer::yes;
  } else {
    v.staging_is_driver = Answer::no;
  }
  v.reasons.push_back(fmt::format(
      "staging_is_driver={}: staging holds {} of {} used on its filesystem ({}%, threshold {}%{}), {}{}",
      v.staging_is_driver == Answer::yes ? "true" : "false", human_bytes(as_signed(in.staging_bytes)),
      human_bytes(as_signed(used)), share, share_threshold, replicas_keep_up ? " while replicas keep up" : "",
      growth,
      drives_growth ? fmt::format(", {}% of the {} consumed meanwhile",
                                  in.staging_growth_bytes * 100 / in.staging_fs_consumed_bytes,
                                  human_bytes(in.staging_fs_consumed_bytes))
                    : ""));
}

void decide_fits(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.staging_fs.known) {
    v.reasons.push_back("staging_fits=unknown: the staging filesystem could not be measured");
    return;
  }
  // Litestream as shipped runs as root and writes into the root reserve: its limit is f_bfree.
  const int64_t room = as_signed(in.staging_fs.free_bytes);
  // The reserve belongs to the DB filesystem; it only constrains staging when both share it.
  const int64_t reserve = in.same_filesystem ? as_signed(in.reserve_bytes) : 0;
  if (in.in_flight && in.remaining_staging_bytes) {
    const int64_t remaining = as_signed(*in.remaining_staging_bytes);
    const int64_t left = room - remaining - reserve;
    v.staging_fits = left >= 0 ? Answer::yes : Answer::no;
    v.reasons.push_back(fmt::format(
        "staging_fits={}: free {} − remaining staging write {} − reserve {} = {}",
        left >= 0 ? "true" : "false", human_bytes(room), human_bytes(remaining), human_bytes(reserve),
        human_bytes(left)));
    return;
  }
  if (in.replica_stuck.value_or(false)) {
    v.staging_fits = Answer::no;
    v.reasons.push_back(fmt::format(
        "staging_fits=false: a replica is not advancing, so staging grows without bound ({} free)",
        human_bytes(room)));
    return;
  }
  if (in.in_flight) {
    v.reasons.push_back("staging_fits=unknown: a staging write is in flight but its final size is unknown");
    return;
  }
  if (room < reserve) {
    v.staging_fits = Answer::no;
    v.reasons.push_back(fmt::format("staging_fits=false: free {} is already below the reserve {}",
                                    human_bytes(room), human_bytes(reserve)));
    return;
  }
  if (in.replica_stuck.has_value()) {
    v.staging_fits = Answer::yes;
    v.reasons.push_back(fmt::format(
        "staging_fits=true: no staging write in flight, replicas advancing, {} free above the reserve {}",
        human_bytes(room - reserve), human_bytes(reserve)));
    return;
  }
  v.reasons.push_back(fmt::format(
      "staging_fits=unknown: no staging write in flight and replica progress unknown ({} free, reserve {})",
      human_bytes(room), human_bytes(reserve)));
}

void decide_wal(const EvidenceInput& in, EvidenceVerdict& v) {
  if (!in.db_fs.known) {
    v.reasons.push_back("wal_blocked=unknown: the database filesystem could not be measured");
    return;
  }
  const uint64_t app_room = in.app_runs_as_root ? in.db_fs.free_bytes : in.db_fs.avail_bytes;
  const uint64_t need = std::max<uint64_t>(kWalMinRoomBytes, uint64_t{in.page_size_bytes} * kWalMinRoomPages);
  const bool blocked = app_room < need;
  v.wal_blocked = blocked ? Answer::yes : Answer::no;
  std::string cause;
  if (blocked) {
    cause = in.same_filesystem && in.staging_found
                ? fmt::format("; staging shares this filesystem and holds {}",
                              human_bytes(as_signed(in.staging_bytes)))
                : "; staging is not on this filesystem";
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
