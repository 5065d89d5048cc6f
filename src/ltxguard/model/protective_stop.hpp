// When the supervisor (`ltxguard run`) stops Litestream. Stopping it never frees a byte of
// staging already written; it stops the growth and releases the read transaction that keeps
// the app's WAL from being checkpointed. So it is worth it only when Litestream is what eats
// the room: always for Litestream's own failures, and for a space condition only when
// Litestream's staging and the WAL it pins account for most of the bytes consumed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ltxguard/model/watch_model.hpp"

namespace ltxguard::model {

// A space condition (full, below_reserve, forecast) stops Litestream when its staging growth
// plus the app WAL's growth is at least this share of the bytes consumed over the window: the
// same "driver" threshold the evidence verdict uses.
inline constexpr int64_t kStopSharePercent = 50;
// ... and when the replica has not advanced for this long (or its position is not observable,
// or a file replica's filesystem is full so it cannot advance).
// A healthy 0.3 Litestream copies every commit into its shadow WAL and trims it only after a
// checkpoint, so over a 30 s window it can account for most of the growth while its replica
// advances every second; a stuck one stops advancing. Three one-second syncs missed is a
// stall, not jitter.
inline constexpr int64_t kReplicaStallForStopMs = 3'000;
// A forecast extrapolates, so it stops Litestream only when it rests on this many seconds of
// samples: right after a start, 0.3 copies the WAL into its shadow WAL at several times the
// app's rate until the first checkpoint, and five seconds of that is no trend (field test: a
// healthy S3 replica was stopped 5 s after the start).
inline constexpr int64_t kForecastSpanForStopMs = 20'000;

struct StopDecision {
  std::string db_path;
  Condition condition = Condition::wedge;
  std::string reason;      // the database's reason line, with the numbers
  int64_t headroom_bytes = 0;
  std::optional<double> seconds_to_reserve_breach;
  // Litestream's share of the consumption over the window, percent; nullopt when nothing was
  // consumed or the window is empty.
  std::optional<int64_t> litestream_share_percent;
};

// Litestream's staging growth + WAL growth as a percent of the bytes consumed on the
// database's filesystem over the window; nullopt when nothing was consumed.
[[nodiscard]] std::optional<int64_t> litestream_share_percent(const Attribution& a);

// A forecast is no reason to stop while the remaining staging write is known and fits above
// the reserve (headroom_bytes >= 0): a healthy first sync's own rate would otherwise be
// extrapolated past its end. Nor is it without evidence that the replica is not keeping up:
// a file replica whose filesystem is full (then at once, whatever the span), or, over
// kForecastSpanForStopMs, an observed position stalled for kReplicaStallForStopMs or
// Litestream ERROR lines in the window; an unobservable position (a remote replica without
// `addr:`) is no such evidence. A breach that is happening (full, below_reserve) counts an unobservable position
// as stalled: the reserve is being eaten now.
// The first database (in `status` order) whose conditions call for a stop, with its most
// severe such condition (Condition order); nullopt to keep Litestream running. Uses only
// DbStatus::conditions of the latest sample, never the hysteresis state: a state held from
// an earlier peak is not a reason to stop now.
//
// min_free_bytes is the policy's explicit floor: app-visible free under it on a filesystem of
// a database stops Litestream whatever the attribution (condition below_reserve), since the
// operator named that number as the line Litestream must not push the app across.
[[nodiscard]] std::optional<StopDecision> decide_protective_stop(const std::vector<DbStatus>& status);
[[nodiscard]] std::optional<StopDecision> decide_protective_stop(const std::vector<DbStatus>& status,
                                                                 const WatchSample& sample,
                                                                 std::optional<uint64_t> min_free_bytes,
                                                                 bool app_runs_as_root);

}  // namespace ltxguard::model
