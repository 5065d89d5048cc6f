#include "ltxguard/model/protective_stop.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

bool is_litestream_failure(Condition c) {
  switch (c) {
    case Condition::wedge:
    case Condition::disk_full:
    case Condition::cannot_fit:
    case Condition::staging_cap:
    case Condition::sawtooth:
      return true;
    case Condition::full:
    case Condition::below_reserve:
    case Condition::forecast:
      break;
  }
  return false;
}

}  // namespace

std::optional<int64_t> litestream_share_percent(const Attribution& a) {
  if (a.window_ms <= 0 || a.consumed_bytes <= 0) return std::nullopt;
  const int64_t mine = std::max<int64_t>(0, a.staging_growth_bytes) + std::max<int64_t>(0, a.wal_bytes);
  // consumed_bytes is at most a filesystem's size, so the product cannot overflow in practice;
  // clamp anyway: the inputs are measurements of a hostile host.
  const int64_t capped = std::min<int64_t>(mine, a.consumed_bytes * 2);
  return capped * 100 / a.consumed_bytes;
}

std::optional<StopDecision> decide_protective_stop(const std::vector<DbStatus>& status) {
  for (const auto& st : status) {
    std::optional<Condition> chosen;
    // A forecast extrapolates the current rate; when the rest of the staging write is known
    // and fits above the reserve (a 0.5 snapshot with its final size in the header), the
    // growth ends before the breach it predicts.
    // The same holds once a 0.5 snapshot is complete: its growth is over, though the window's
    // rate still remembers it.
    const bool bounded_write_fits =
        st.headroom_bytes >= 0 && (st.remaining_staging_bytes > 0 || st.staging_bounded);
    const bool seen_stalled = st.replica_stalled_ms && *st.replica_stalled_ms >= kReplicaStallForStopMs;
    for (Condition c : st.conditions) {
      bool replica_stalled = st.replica_blocked || seen_stalled || !st.replica_stalled_ms;
      if (c == Condition::forecast) {
        if (bounded_write_fits) continue;
        // A file replica on a full filesystem cannot advance: that is proof, and any
        // forecast is worth acting on at once (0.3.13 then fills the disk in seconds).
        if (!st.replica_blocked) {
          if (st.forecast_span_ms < kForecastSpanForStopMs) continue;
          replica_stalled = seen_stalled || st.error_lines_in_window > 0;
        }
      }
      const bool stop = is_litestream_failure(c) ||
                        (litestream_share_percent(st.attribution).value_or(0) >= kStopSharePercent && replica_stalled);
      if (stop && (!chosen || static_cast<int>(c) < static_cast<int>(*chosen))) chosen = c;
    }
    if (!chosen) continue;
    StopDecision d;
    d.db_path = st.db_path;
    d.condition = *chosen;
    d.reason = st.reason;
    d.headroom_bytes = st.headroom_bytes;
    d.seconds_to_reserve_breach = st.seconds_to_reserve_breach;
    d.litestream_share_percent = litestream_share_percent(st.attribution);
    return d;
  }
  return std::nullopt;
}

std::optional<StopDecision> decide_protective_stop(const std::vector<DbStatus>& status, const WatchSample& sample,
                                                   std::optional<uint64_t> min_free_bytes, bool app_runs_as_root) {
  if (auto d = decide_protective_stop(status)) return d;
  if (!min_free_bytes) return std::nullopt;
  for (size_t i = 0; i < sample.databases.size() && i < status.size(); ++i) {
    const DbSample& db = sample.databases[i];
    for (uint64_t dev : {db.db_fs_dev, db.staging_fs_dev}) {
      const FsSample* fs = sample.fs(dev);
      if (fs == nullptr) continue;
      const uint64_t app_free = app_runs_as_root ? fs->free_bytes : fs->avail_bytes;
      if (app_free >= *min_free_bytes) continue;
      StopDecision d;
      d.db_path = db.db_path;
      d.condition = Condition::below_reserve;
      d.reason = fmt::format("app-visible free {} on {} is below min_free_bytes {}", util::human_bytes(static_cast<int64_t>(app_free)),
                             fs->mount, util::human_bytes(static_cast<int64_t>(*min_free_bytes)));
      d.headroom_bytes = status[i].headroom_bytes;
      d.seconds_to_reserve_breach = status[i].seconds_to_reserve_breach;
      d.litestream_share_percent = litestream_share_percent(status[i].attribution);
      return d;
    }
  }
  return std::nullopt;
}

}  // namespace ltxguard::model
