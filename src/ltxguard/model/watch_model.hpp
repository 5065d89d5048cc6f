// The watch model: per database, who consumes the disk, when the reserve will be breached,
// whether the staging write in flight can still fit, wedges and saw-tooths, and a hysteresis
// state machine ok < warning < critical < wedged. Pure: time is WatchSample::time_ms.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ltxguard/model/watch_sample.hpp"

namespace ltxguard::model {

// Every default is documented in docs/watch-model.md with its reason.
struct WatchConfig {
  // Rates and attribution compare the newest sample with the oldest one at most this old. 30
  // one-second samples smooth out a single commit or checkpoint while a 12 MB/s staging fill
  // moves the estimate within seconds.
  uint64_t window_ms = 30'000;
  // Policy lead_time_seconds: warn when the reserve is forecast to be breached within it. 5 min
  // leaves time to stop Litestream (SIGTERM, then SIGKILL after a timeout: a wedged 0.3 ignores
  // SIGTERM) and to page a person before the app's WAL loses its room.
  uint64_t lead_time_seconds = 300;
  // Policy min_free_bytes: a floor on app-visible free space on every filesystem a database
  // uses. Like the preflight, it replaces the reserve where it is larger.
  std::optional<uint64_t> min_free_bytes;
  // Policy max_staging_bytes: cap on the staging of all databases staging on one filesystem.
  std::optional<uint64_t> max_staging_bytes;
  // The app reserve per filesystem (st_dev), computed by the caller with model::app_reserve.
  // A filesystem without an entry has reserve 0 (only "full" and min_free apply there).
  std::map<uint64_t, uint64_t> reserve_bytes;
  // The app sees f_bfree when it runs as root, else f_bavail.
  bool app_runs_as_root = false;
  // A staging .tmp unchanged this long on a full disk (or after ENOSPC), with no replica
  // progress and Litestream alive, is a wedge. 0.5 writes a snapshot continuously; five
  // one-second samples without a byte on a full disk is a stop, not a slow write.
  uint64_t wedge_stall_ms = 5'000;
  // 0.3 stuck replica: no replica progress this long while committed staging grows. 0.3 syncs
  // replicas every second, so a minute is 60 missed syncs; shorter would call a slow upload of
  // a big segment a deadlock.
  uint64_t replica_stall_ms = 60'000;
  // Hysteresis: conditions must stay below the state this long before it steps down one level.
  // One window: 0.5.6+ logs a persisting error at most once per 30 s.
  uint64_t recover_ms = 30'000;
  // A fill/free cycle that reached critical keeps the state critical this long after its peak.
  // 0.5.6+ backs off up to 5 min between retries; twice that bridges one missed peak.
  uint64_t sawtooth_memory_ms = 600'000;
};

enum class WatchState { ok, warning, critical, wedged };  // ordered by severity

// What raised a database above ok in one sample. The supervisor acts on these: the first
// five are Litestream's by nature, the last three are about space and need attribution.
enum class Condition {
  wedge,          // staging stalled on a full disk, or a stuck replica while staging grows
  disk_full,      // ENOSPC logged, litestream_disk_full, or a .tmp stalled on a full disk
  cannot_fit,     // the remaining staging write cannot fit above the reserve
  staging_cap,    // max_staging_bytes exceeded, or would be by the remaining write
  sawtooth,       // a failed snapshot freed and retried (held after its peak)
  full,           // a filesystem of the database is full
  below_reserve,  // app-visible free is under the reserve (or min_free_bytes)
  forecast,       // the reserve is breached within the lead time at the recent rate
};
[[nodiscard]] const char* to_string(Condition c);
[[nodiscard]] const char* to_string(WatchState s);        // "ok", "warning", "critical", "wedged"

// Bytes consumed on the database's filesystem over the window (newest minus oldest sample),
// split by who grew. Negative values are bytes freed.
struct Attribution {
  int64_t window_ms = 0;       // span actually covered; 0 on the first sample
  int64_t consumed_bytes = 0;  // drop of f_bfree (the physical view: f_bavail clamps at 0)
  int64_t staging_bytes = 0;   // this database's staging growth; 0 when it stages elsewhere
  int64_t wal_bytes = 0;       // growth of <db>-wal
  int64_t other_bytes = 0;     // consumed − staging − wal (other databases' staging included)
  // This database's staging growth wherever it lands (staging_bytes counts it only on the
  // database's filesystem).
  int64_t staging_growth_bytes = 0;
  // staging grew and accounts for ≥ kDriverGrowthSharePercent (50 %) of the consumed bytes.
  bool staging_is_driver = false;
};

struct DbStatus {
  std::string db_path;
  WatchState state = WatchState::ok;  // after hysteresis
  std::string reason;                 // one line with the numbers that decided `state`
  // min over the database's filesystems of app-visible free − reserve − the remaining staging
  // writes of every database staging there; < 0 means the staging write in flight (or a
  // pending snapshot) cannot finish without breaching the reserve.
  int64_t headroom_bytes = 0;
  // From the app-visible consumption rate over the window; 0 when breached already; nullopt
  // when nothing is being consumed or the window spans less than 5 s.
  std::optional<double> seconds_to_reserve_breach;
  uint64_t staging_bytes = 0;            // under the meta dir now
  uint64_t projected_staging_bytes = 0;  // staging_bytes + remaining_staging_bytes
  uint64_t remaining_staging_bytes = 0;  // what in-flight writes (or a pending snapshot) still add
  uint64_t staging_peak_bytes = 0;       // highest staging_bytes since the state was last ok
  uint64_t disk_full_events_total = 0;   // see WatchModel::update
  uint64_t sawtooth_cycles = 0;          // fill/free cycles that reached critical, total
  Attribution attribution;
  bool remaining_write_cannot_fit = false;  // headroom < 0 with a write to come, or over the cap
  // For the supervisor: any condition of warning or worse holds in this very sample (not
  // through hysteresis): a forecast breach within lead time, app-visible free below the reserve
  // or min_free, a full disk or ENOSPC, a saw-tooth, a wedge, or a write that cannot fit.
  bool stop_recommended = false;
  // How long the replica position has not changed; nullopt when no position is observable
  // (a remote replica without Litestream's metrics).
  std::optional<int64_t> replica_stalled_ms;
  // A file replica's filesystem is full: the replica cannot advance, whatever it did so far.
  bool replica_blocked = false;
  // The span of samples seconds_to_reserve_breach was extrapolated from; 0 without a forecast.
  int64_t forecast_span_ms = 0;
  // Litestream ERROR lines for this database over the window (sync errors, replica errors).
  uint64_t error_lines_in_window = 0;
  // The 0.5 model: staging is a snapshot of known size plus small L0 files, never an
  // unbounded copy like 0.3's shadow WAL behind a stuck replica.
  bool staging_bounded = false;
  // The conditions behind stop_recommended, each once, in finding order.
  std::vector<Condition> conditions;
};

struct WatchEvent {
  enum class Level { info, warning, error };
  Level level = Level::info;
  // "state_change", "disk_full", "wedge", "sawtooth", "remaining_write_cannot_fit",
  // "litestream_errors": the log's event= name, from which the journal's MESSAGE_ID derives.
  std::string kind;
  std::string db_path;
  std::string message;                        // "<db>: <what>" with the numbers
  std::map<std::string, std::string> fields;  // journald-style: ERRNO, PATH, BYTES, STATE, ...
};


// A filesystem with at most this much f_bavail is full: tmpfs and ext4 report 0 or a few
// blocks once writes fail (ext4 keeps its last clusters out of f_bavail, not out of f_bfree).
inline constexpr uint64_t kNearlyFullBytes = 1 << 20;
// Forecasts need a window at least this long: one sample's burst is not a trend.
inline constexpr int64_t kMinForecastSpanMs = 5'000;
// Disk-full signals closer together than this are one episode (one log event); 0.5.6+ repeats
// its error at most every 30 s while the disk stays full.
inline constexpr int64_t kDiskFullQuietMs = 30'000;

class WatchModel {
 public:
  explicit WatchModel(WatchConfig cfg);

  // Feeds one sample; samples must come in time order (an older one is ignored and returns no
  // events). Returns what this sample caused, detections before the state change:
  // - disk_full (error) when a disk-full episode opens. disk_full_events_total counts events
  //   inside episodes too: a sample with new disk-full log lines, or the 0.5.15 gauge or "full
  //   while the .tmp stopped growing" turning on while neither was on (a line and the gauge
  //   together are one event).
  // - wedge (error), sawtooth (error), remaining_write_cannot_fit (warning) when they start.
  // - state_change, once per transition; level from the new state (critical, wedged: error).
  [[nodiscard]] std::vector<WatchEvent> update(const WatchSample& s);

  // One entry per database of the last sample, in its order.
  [[nodiscard]] const std::vector<DbStatus>& status() const { return status_; }
  [[nodiscard]] WatchState overall() const;  // worst over status(); ok when empty
  // The reserve in force on a filesystem: max(config reserve, min_free_bytes).
  [[nodiscard]] uint64_t reserve_bytes(uint64_t dev) const;

 private:
  struct DbTrack {
    bool seen = false;
    WatchState state = WatchState::ok;
    std::optional<int64_t> clear_since_ms;  // raw level below `state` since
    uint64_t peak_since_ok_bytes = 0;
    // in-flight files (rel_path, bytes), sorted; unchanged since inflight_since_ms
    std::vector<std::pair<std::string, uint64_t>> inflight;
    int64_t inflight_since_ms = 0;
    uint64_t prev_inflight_bytes = 0;
    uint64_t prev_staging_bytes = 0;
    // replica progress
    std::optional<std::string> position;
    int64_t position_since_ms = 0;
    uint64_t committed_at_position = 0;
    std::optional<uint64_t> backlog_at_position;
    // disk-full episodes
    bool gauge_prev = false;
    bool stall_full_prev = false;
    bool disk_full_open = false;
    int64_t disk_full_last_ms = 0;
    uint64_t disk_full_events = 0;
    // saw-tooth: the cycle in progress, and the remembered one
    bool cycle_critical = false;
    uint64_t cycle_peak_bytes = 0;
    int64_t cycle_peak_ms = 0;
    uint64_t cycle_min_free_bytes = UINT64_MAX;
    uint64_t sawtooth_cycles = 0;
    std::optional<int64_t> hold_until_ms;
    int64_t hold_peak_ms = 0;
    uint64_t hold_peak_bytes = 0;
    uint64_t hold_min_free_bytes = 0;
    // edges
    bool cannot_fit_prev = false;
    bool wedge_prev = false;
    bool errors_open = false;  // ERROR lines (besides disk-full) in the window
  };

  DbStatus evaluate(const WatchSample& s, const DbSample& db, uint64_t remaining_bytes,
                    const std::map<uint64_t, uint64_t>& remaining_on,
                    const std::map<uint64_t, uint64_t>& staging_on,
                    std::vector<WatchEvent>& events);
  [[nodiscard]] uint64_t app_free(const FsSample& fs) const;

  WatchConfig cfg_;
  std::deque<WatchSample> window_;         // oldest first, spans at most window_ms
  std::map<std::string, DbTrack> tracks_;  // by db_path; one per database ever configured
  std::vector<DbStatus> status_;
};

}  // namespace ltxguard::model
