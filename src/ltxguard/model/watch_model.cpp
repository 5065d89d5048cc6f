#include "ltxguard/model/watch_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ltxguard/model/evidence_verdict.hpp"  // kDriverGrowthSharePercent
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

int64_t as_signed(uint64_t v) {
  return v > static_cast<uint64_t>(kInt64Max) ? kInt64Max : static_cast<int64_t>(v);
}

int64_t sub_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::min() : kInt64Max;
  return r;
}

uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

std::string hb(uint64_t v) { return util::human_bytes(as_signed(v)); }
std::string hs(int64_t v) { return util::human_bytes(v); }
int64_t whole_seconds(int64_t ms) { return ms / 1000; }

WatchState step_down(WatchState s) {
  return s == WatchState::ok ? s : static_cast<WatchState>(static_cast<int>(s) - 1);
}

WatchEvent::Level level_of(WatchState s) {
  switch (s) {
    case WatchState::ok:
      return WatchEvent::Level::info;
    case WatchState::warning:
      return WatchEvent::Level::warning;
    case WatchState::critical:
    case WatchState::wedged:
      break;
  }
  return WatchEvent::Level::error;
}

const DbSample* find_db(const WatchSample& s, const std::string& path) {
  for (const auto& d : s.databases) {
    if (d.db_path == path) return &d;
  }
  return nullptr;
}

// What in-flight writes still add: each file's expected final size less what it holds. A
// pending snapshot (projected_snapshot_bytes) stands for a .tmp whose header is not readable
// yet, or not started: charged less the largest in-flight file, once.
uint64_t remaining_write(const DbSample& db) {
  uint64_t remaining = 0, largest = 0;
  bool any_expected = false;
  for (const auto& f : db.in_flight) {
    largest = std::max(largest, f.bytes);
    if (f.expected_final_bytes) {
      any_expected = true;
      if (*f.expected_final_bytes > f.bytes)
        remaining = add_sat(remaining, *f.expected_final_bytes - f.bytes);
    }
  }
  if (!any_expected && db.projected_snapshot_bytes && *db.projected_snapshot_bytes > largest) {
    remaining = add_sat(remaining, *db.projected_snapshot_bytes - largest);
  }
  return remaining;
}

std::string largest_in_flight(const DbSample& db) {
  const InFlightFile* best = nullptr;
  for (const auto& f : db.in_flight) {
    if (best == nullptr || f.bytes > best->bytes) best = &f;
  }
  return best != nullptr ? best->rel_path : std::string{};
}

// journald fields without the empty ones (a 0.3 wedge has no in-flight path).
std::map<std::string, std::string> fields_of(std::map<std::string, std::string> fields) {
  std::erase_if(fields, [](const auto& kv) { return kv.second.empty(); });
  return fields;
}

struct Finding {
  WatchState level;
  std::string text;
  Condition condition;
};

}  // namespace

const char* to_string(WatchState s) {
  switch (s) {
    case WatchState::ok:
      return "ok";
    case WatchState::warning:
      return "warning";
    case WatchState::critical:
      return "critical";
    case WatchState::wedged:
      break;
  }
  return "wedged";
}

const char* to_string(Condition c) {
  switch (c) {
    case Condition::wedge:
      return "wedge";
    case Condition::disk_full:
      return "disk_full";
    case Condition::cannot_fit:
      return "cannot_fit";
    case Condition::staging_cap:
      return "staging_cap";
    case Condition::sawtooth:
      return "sawtooth";
    case Condition::full:
      return "full";
    case Condition::below_reserve:
      return "below_reserve";
    case Condition::forecast:
      break;
  }
  return "forecast";
}

WatchModel::WatchModel(WatchConfig cfg) : cfg_(std::move(cfg)) {}

uint64_t WatchModel::reserve_bytes(uint64_t dev) const {
  const auto it = cfg_.reserve_bytes.find(dev);
  const uint64_t reserve = it != cfg_.reserve_bytes.end() ? it->second : 0;
  return std::max(reserve, cfg_.min_free_bytes.value_or(0));
}

uint64_t WatchModel::app_free(const FsSample& fs) const {
  return cfg_.app_runs_as_root ? fs.free_bytes : fs.avail_bytes;
}

WatchState WatchModel::overall() const {
  WatchState worst = WatchState::ok;
  for (const auto& st : status_) worst = std::max(worst, st.state);
  return worst;
}

std::vector<WatchEvent> WatchModel::update(const WatchSample& s) {
  std::vector<WatchEvent> events;
  if (!window_.empty() && s.time_ms < window_.back().time_ms) return events;
  window_.push_back(s);
  while (window_.size() > 1 &&
         static_cast<uint64_t>(s.time_ms - window_.front().time_ms) > cfg_.window_ms) {
    window_.pop_front();
  }
  // Staging of several databases on one filesystem adds up, for the headroom and the cap.
  std::map<uint64_t, uint64_t> remaining_on, staging_on;
  std::vector<uint64_t> remaining(s.databases.size());
  for (size_t i = 0; i < s.databases.size(); ++i) {
    const DbSample& db = s.databases[i];
    remaining[i] = remaining_write(db);
    remaining_on[db.staging_fs_dev] = add_sat(remaining_on[db.staging_fs_dev], remaining[i]);
    staging_on[db.staging_fs_dev] = add_sat(staging_on[db.staging_fs_dev], db.staging_bytes);
  }
  status_.clear();
  for (size_t i = 0; i < s.databases.size(); ++i) {
    status_.push_back(evaluate(s, s.databases[i], remaining[i], remaining_on, staging_on, events));
  }
  return events;
}

DbStatus WatchModel::evaluate(const WatchSample& s, const DbSample& db, uint64_t remaining_bytes,
                              const std::map<uint64_t, uint64_t>& remaining_on,
                              const std::map<uint64_t, uint64_t>& staging_on,
                              std::vector<WatchEvent>& events) {
  DbTrack& tr = tracks_[db.db_path];
  const int64_t now = s.time_ms;
  DbStatus st;
  st.db_path = db.db_path;
  st.staging_bytes = db.staging_bytes;
  st.remaining_staging_bytes = remaining_bytes;
  st.projected_staging_bytes = add_sat(db.staging_bytes, remaining_bytes);

  const FsSample* db_fs = s.fs(db.db_fs_dev);
  const FsSample* staging_fs = s.fs(db.staging_fs_dev);
  std::vector<const FsSample*> mine;
  if (db_fs != nullptr) mine.push_back(db_fs);
  if (staging_fs != nullptr && db.staging_fs_dev != db.db_fs_dev) mine.push_back(staging_fs);
  const auto charge_on = [&](uint64_t dev) {
    const auto it = remaining_on.find(dev);
    return it != remaining_on.end() ? it->second : uint64_t{0};
  };
  const auto headroom_of = [&](const FsSample& fs) {
    return sub_sat(sub_sat(as_signed(app_free(fs)), as_signed(reserve_bytes(fs.dev))),
                   as_signed(charge_on(fs.dev)));
  };

  std::vector<Finding> findings;  // in priority order within a level
  const FsSample* tightest = nullptr;
  for (const FsSample* fs : mine) {
    if (tightest == nullptr || headroom_of(*fs) < headroom_of(*tightest)) tightest = fs;
  }
  st.headroom_bytes = tightest != nullptr ? headroom_of(*tightest) : 0;

  // Full, then the reserve breached: the app is failing (or about to) now.
  for (const FsSample* fs : mine) {
    const uint64_t reserve = reserve_bytes(fs->dev);
    if (fs->avail_bytes <= kNearlyFullBytes) {
      findings.push_back({WatchState::critical,
                          fmt::format("{} is full: {} available", fs->mount, hb(fs->avail_bytes)),
                          Condition::full});
    } else if (app_free(*fs) < reserve) {
      findings.push_back(
          {WatchState::critical,
           fmt::format("app-visible free {} on {} is below the reserve {}", hb(app_free(*fs)),
                       fs->mount, hb(reserve)),
           Condition::below_reserve});
    }
  }

  // The staging cap, per filesystem the staging lands on.
  std::string cannot_fit_text;  // set when the remaining write cannot fit
  if (cfg_.max_staging_bytes) {
    const uint64_t cap = *cfg_.max_staging_bytes;
    const uint64_t staged = staging_on.at(db.staging_fs_dev);
    const uint64_t projected = add_sat(staged, charge_on(db.staging_fs_dev));
    const std::string where =
        staging_fs != nullptr ? staging_fs->mount : fmt::format("dev {}", db.staging_fs_dev);
    if (staged > cap) {
      findings.push_back(
          {WatchState::critical,
           fmt::format("staging {} exceeds max_staging_bytes {} on {}", hb(staged), hb(cap), where),
           Condition::staging_cap});
    } else if (projected > cap) {
      cannot_fit_text = fmt::format("projected staging {} would exceed max_staging_bytes {} on {}",
                                    hb(projected), hb(cap), where);
      findings.push_back({WatchState::warning, cannot_fit_text, Condition::staging_cap});
    }
  }

  // The remaining write cannot fit: known as soon as the .tmp's final size is, long before the
  // disk is full (staging fills at the rate free space drops, so this headroom stays put).
  if (remaining_bytes > 0 && staging_fs != nullptr && headroom_of(*staging_fs) < 0) {
    cannot_fit_text = fmt::format(
        "remaining staging write {} cannot fit on {}: app-visible free {} − "
        "reserve {} − remaining staging {} = {}",
        hb(remaining_bytes), staging_fs->mount, hb(app_free(*staging_fs)),
        hb(reserve_bytes(staging_fs->dev)), hb(charge_on(staging_fs->dev)),
        hs(headroom_of(*staging_fs)));
    findings.push_back({WatchState::warning, cannot_fit_text, Condition::cannot_fit});
  }
  const bool cannot_fit = !cannot_fit_text.empty();

  // Forecast from the app-visible consumption rate over the window: the least-squares slope
  // of free space against time over every sample, not two end points, so a saw-tooth with no
  // net loss (0.3's WAL and shadow WAL filling and being reused between checkpoints) forecasts
  // nothing whatever its phase (field test: a healthy replica held `warning` for minutes).
  for (const FsSample* fs : mine) {
    // A 0.5 snapshot is bounded and its rest is charged in the headroom already: while that
    // fits, its own growth is no trend to extrapolate (a healthy first sync would otherwise
    // forecast a breach, and page, until the window forgot it). The app's growth, and the
    // WAL Litestream pins meanwhile, still are: the fit is over free space plus this
    // database's staging.
    const bool add_staging = db.litestream_model == LitestreamModel::v0_5 && db.staging_fs_dev == fs->dev &&
                             headroom_of(*fs) >= 0;
    long double n = 0, sum_t = 0, sum_y = 0;
    int64_t first_ms = now;
    std::vector<std::pair<long double, long double>> points;
    for (const auto& w : window_) {
      const FsSample* f = w.fs(fs->dev);
      if (f == nullptr) continue;
      long double y = static_cast<long double>(app_free(*f));
      if (add_staging) {
        if (const DbSample* d = find_db(w, db.db_path)) y += static_cast<long double>(d->staging_bytes);
      }
      first_ms = std::min(first_ms, w.time_ms);
      points.emplace_back(static_cast<long double>(w.time_ms - now), y);
      n += 1;
      sum_t += points.back().first;
      sum_y += points.back().second;
    }
    const int64_t span_ms = now - first_ms;
    long double rate_per_ms = 0;  // consumption: minus the slope, bytes per ms
    if (n >= 2) {
      const long double mean_t = sum_t / n, mean_y = sum_y / n;
      long double stt = 0, sty = 0;
      for (const auto& [t, y] : points) {
        stt += (t - mean_t) * (t - mean_t);
        sty += (t - mean_t) * (y - mean_y);
      }
      if (stt > 0) rate_per_ms = -sty / stt;
    }
    const uint64_t free_now = app_free(*fs), reserve = reserve_bytes(fs->dev);
    std::optional<double> secs;
    bool within = false;
    std::string rate;
    if (free_now < reserve) {
      secs = 0.0;
    } else if (span_ms >= kMinForecastSpanMs && rate_per_ms > 0) {
      const long double left = static_cast<long double>(free_now - reserve);
      const long double s_left = left / rate_per_ms / 1000.0L;
      secs = static_cast<double>(s_left);
      // A relative epsilon: an exactly linear fill must not miss its lead time by a rounding.
      within = s_left <= static_cast<long double>(cfg_.lead_time_seconds) * (1.0L + 1e-12L);
      rate = hb(static_cast<uint64_t>(std::llround(static_cast<double>(rate_per_ms * 1000.0L))));
    }
    if (secs && (!st.seconds_to_reserve_breach || *secs < *st.seconds_to_reserve_breach)) {
      st.seconds_to_reserve_breach = secs;
      st.forecast_span_ms = span_ms;
    }
    if (within) {
      findings.push_back(
          {WatchState::warning,
           fmt::format("reserve {} on {} breached in {:.0f} s at {}/s (lead time {} s)",
                       hb(reserve), fs->mount, *secs, rate, cfg_.lead_time_seconds),
           Condition::forecast});
    }
  }

  // Litestream's own ERROR lines other than disk-full ones (those are disk_full events): 0.3's
  // `monitor error` of an unreachable replica, sync errors. Logged once per episode: the
  // first such line in a window that had none.
  uint64_t other_errors = 0;
  for (const auto& w : window_) {
    if (const DbSample* d = find_db(w, db.db_path)) {
      st.error_lines_in_window = add_sat(st.error_lines_in_window, d->new_error_lines);
      other_errors = add_sat(other_errors, d->new_error_lines - std::min(d->new_error_lines, d->new_disk_full_lines));
    }
  }
  if (other_errors > 0 && !tr.errors_open) {
    events.push_back({WatchEvent::Level::warning, "litestream_errors", db.db_path,
                      fmt::format("{}: Litestream logged {} error line(s) in the last {} s besides disk-full "
                                  "ones (sync or replica errors): its replica may not be keeping up, and what it "
                                  "has not uploaded stays on this disk",
                                  db.db_path, other_errors, whole_seconds(as_signed(cfg_.window_ms))),
                      {{"ERROR_LINES", std::to_string(other_errors)}}});
  }
  tr.errors_open = other_errors > 0;

  // Attribution on the database's filesystem: the one the app's WAL needs.
  for (const auto& w : window_) {
    const DbSample* old_db = find_db(w, db.db_path);
    const FsSample* old_fs = w.fs(db.db_fs_dev);
    if (old_db == nullptr || old_fs == nullptr || db_fs == nullptr) continue;
    Attribution& a = st.attribution;
    a.window_ms = now - w.time_ms;
    a.consumed_bytes = sub_sat(as_signed(old_fs->free_bytes), as_signed(db_fs->free_bytes));
    if (db.staging_fs_dev == db.db_fs_dev && old_db->staging_fs_dev == db.db_fs_dev) {
      a.staging_bytes = sub_sat(as_signed(db.staging_bytes), as_signed(old_db->staging_bytes));
    }
    a.wal_bytes = sub_sat(as_signed(db.wal_bytes), as_signed(old_db->wal_bytes));
    a.staging_growth_bytes = sub_sat(as_signed(db.staging_bytes), as_signed(old_db->staging_bytes));
    a.other_bytes = sub_sat(sub_sat(a.consumed_bytes, a.staging_bytes), a.wal_bytes);
    a.staging_is_driver =
        a.staging_bytes > 0 && a.consumed_bytes > 0 &&
        mul_sat(static_cast<uint64_t>(a.staging_bytes), 100) >=
            mul_sat(static_cast<uint64_t>(a.consumed_bytes), kDriverGrowthSharePercent);
    break;
  }

  // In-flight files unchanged since when, and replica progress since when.
  std::vector<std::pair<std::string, uint64_t>> inflight;
  uint64_t inflight_bytes = 0;
  for (const auto& f : db.in_flight) {
    inflight.emplace_back(f.rel_path, f.bytes);
    inflight_bytes = add_sat(inflight_bytes, f.bytes);
  }
  std::sort(inflight.begin(), inflight.end());
  const bool inflight_unchanged = tr.seen && !inflight.empty() && inflight == tr.inflight;
  if (!inflight_unchanged) {
    tr.inflight = std::move(inflight);
    tr.inflight_since_ms = now;
  }
  const uint64_t committed = db.staging_bytes - std::min(db.staging_bytes, inflight_bytes);
  if (!tr.seen || db.replica_position != tr.position) {
    tr.position = db.replica_position;
    tr.position_since_ms = now;
    tr.committed_at_position = committed;
    tr.backlog_at_position = db.replica_backlog_bytes;
  }

  // Disk-full signals and episodes.
  const bool staging_full = staging_fs != nullptr && staging_fs->avail_bytes <= kNearlyFullBytes;
  const bool stall_full = staging_full && inflight_unchanged;
  const bool gauge = db.litestream_disk_full_gauge.value_or(false);
  const bool lines = db.new_disk_full_lines > 0;
  const bool state_signal_prev = tr.gauge_prev || tr.stall_full_prev;
  if (lines || ((gauge || stall_full) && !state_signal_prev)) ++tr.disk_full_events;
  std::vector<std::string> sources;
  if (lines)
    sources.push_back(
        fmt::format("Litestream logged {} disk-full error(s)", db.new_disk_full_lines));
  if (gauge) sources.push_back("litestream_disk_full is 1");
  if (stall_full) {
    sources.push_back(fmt::format("{} has {} available and {} stopped growing at {}",
                                  staging_fs->mount, hb(staging_fs->avail_bytes),
                                  largest_in_flight(db), hb(inflight_bytes)));
  }
  if (!sources.empty()) {
    tr.disk_full_last_ms = now;
    if (!tr.disk_full_open) {
      tr.disk_full_open = true;
      const std::string path = largest_in_flight(db);
      events.push_back(
          {WatchEvent::Level::error,
           "disk_full",
           db.db_path,
           fmt::format("{}: disk full: {}", db.db_path, fmt::join(sources, "; ")),
           {{"ERRNO", "28"},
            {"PATH", path.empty() ? (staging_fs != nullptr ? staging_fs->mount : "") : path},
            {"BYTES", std::to_string(db.staging_bytes)},
            {"DISK_FULL_EVENTS", std::to_string(tr.disk_full_events)}}});
    }
  } else if (tr.disk_full_open && now - tr.disk_full_last_ms >= kDiskFullQuietMs) {
    tr.disk_full_open = false;
  }
  // Between signals an open episode still counts, but explains less than a saw-tooth peak.
  std::optional<Finding> disk_full_residue;
  if (tr.disk_full_open && !sources.empty()) {
    findings.push_back(
        {WatchState::critical, fmt::format("disk full: {}", fmt::join(sources, "; ")),
         Condition::disk_full});
  } else if (tr.disk_full_open) {
    disk_full_residue =
        Finding{WatchState::critical,
                fmt::format("disk full {} s ago", whole_seconds(now - tr.disk_full_last_ms)),
                Condition::disk_full};
  }

  // Wedges. "No replica progress" means none observed: an unobservable position counts as none.
  // A process writing a staging file is Litestream whatever its name (a wrapper, an
  // interpreter running a stand-in, a renamed binary the name scan does not know).
  const bool alive = db.litestream_alive.value_or(false) || db.litestream_holds_staging;
  std::string wedge;
  std::string wedge_path;
  const int64_t stalled_ms = now - tr.inflight_since_ms;
  if (!tr.inflight.empty() && alive && stalled_ms >= as_signed(cfg_.wedge_stall_ms) &&
      (staging_full || tr.disk_full_open) && tr.position_since_ms <= tr.inflight_since_ms) {
    wedge_path = largest_in_flight(db);
    wedge = fmt::format(
        "{} has not grown for {} s at {}, {} has {} available, no replica progress, Litestream "
        "alive",
        wedge_path, whole_seconds(stalled_ms), hb(inflight_bytes),
        staging_fs != nullptr ? staging_fs->mount : "",
        hb(staging_fs != nullptr ? staging_fs->avail_bytes : 0));
  } else if (db.litestream_model != LitestreamModel::v0_5 && tr.position && alive &&
             now - tr.position_since_ms >=
                 as_signed(db.replica_blocked ? cfg_.wedge_stall_ms : cfg_.replica_stall_ms)) {
    const bool backlog_known = db.replica_backlog_bytes && tr.backlog_at_position;
    const uint64_t before = backlog_known ? *tr.backlog_at_position : tr.committed_at_position;
    const uint64_t after = backlog_known ? *db.replica_backlog_bytes : committed;
    if (after > before) {
      wedge = fmt::format(
          "no replica progress for {} s (position {}{}) while {} grew by {} to {}, Litestream alive",
          whole_seconds(now - tr.position_since_ms), *tr.position,
          db.replica_blocked ? ", its filesystem is full" : "",
          backlog_known ? "the replica backlog" : "staging", hb(after - before), hb(after));
    }
  }
  if (!wedge.empty()) {
    findings.push_back({WatchState::wedged, "wedged: " + wedge, Condition::wedge});
    if (!tr.wedge_prev) {
      events.push_back(
          {WatchEvent::Level::error, "wedge", db.db_path,
           fmt::format("{}: wedged: {}", db.db_path, wedge),
           fields_of({{"PATH", wedge_path}, {"BYTES", std::to_string(db.staging_bytes)}})});
    }
  }

  WatchState condition = disk_full_residue ? disk_full_residue->level : WatchState::ok;
  for (const auto& f : findings) condition = std::max(condition, f.level);

  // Saw-tooth: a drop of the in-flight bytes by more than half that also freed the bytes (a
  // rename to .ltx frees nothing) ends a cycle; it counts when the cycle reached critical.
  // Judged on the conditions alone, so the hold below does not feed itself.
  if (condition >= WatchState::critical) tr.cycle_critical = true;
  if (db.staging_bytes > tr.cycle_peak_bytes) {
    tr.cycle_peak_bytes = db.staging_bytes;
    tr.cycle_peak_ms = now;
  }
  if (staging_fs != nullptr)
    tr.cycle_min_free_bytes = std::min(tr.cycle_min_free_bytes, app_free(*staging_fs));
  const bool dropped = tr.seen && mul_sat(inflight_bytes, 2) < tr.prev_inflight_bytes &&
                       tr.prev_staging_bytes > db.staging_bytes &&
                       mul_sat(tr.prev_staging_bytes - db.staging_bytes, 2) >=
                           tr.prev_inflight_bytes - inflight_bytes;
  if (dropped) {
    if (tr.cycle_critical) {
      ++tr.sawtooth_cycles;
      const bool was_holding = tr.hold_until_ms && now < *tr.hold_until_ms;
      tr.hold_until_ms = now + as_signed(cfg_.sawtooth_memory_ms);
      tr.hold_peak_ms = tr.cycle_peak_ms;
      tr.hold_peak_bytes = tr.cycle_peak_bytes;
      tr.hold_min_free_bytes = tr.cycle_min_free_bytes == UINT64_MAX ? 0 : tr.cycle_min_free_bytes;
      if (!was_holding) {
        events.push_back(
            {WatchEvent::Level::error,
             "sawtooth",
             db.db_path,
             fmt::format(
                 "{}: saw-tooth: staging filled to {} with {} app-visible free, then was freed: "
                 "Litestream retries the whole snapshot; critical held for {} s after each peak",
                 db.db_path, hb(tr.hold_peak_bytes), hb(tr.hold_min_free_bytes),
                 whole_seconds(as_signed(cfg_.sawtooth_memory_ms))),
             {{"BYTES", std::to_string(tr.hold_peak_bytes)},
              {"CYCLES", std::to_string(tr.sawtooth_cycles)}}});
      }
    }
    tr.cycle_critical = false;
    tr.cycle_peak_bytes = db.staging_bytes;
    tr.cycle_peak_ms = now;
    tr.cycle_min_free_bytes = staging_fs != nullptr ? app_free(*staging_fs) : UINT64_MAX;
  }
  WatchState raw = condition;
  if (tr.hold_until_ms && now < *tr.hold_until_ms) {
    raw = std::max(raw, WatchState::critical);
    findings.push_back(
        {WatchState::critical,
         fmt::format("saw-tooth (cycle {}): staging peaked at {} with {} app-visible free "
                     "{} s ago: Litestream retries the whole snapshot",
                     tr.sawtooth_cycles, hb(tr.hold_peak_bytes), hb(tr.hold_min_free_bytes),
                     whole_seconds(now - tr.hold_peak_ms)),
         Condition::sawtooth});
  }
  if (disk_full_residue) findings.push_back(*disk_full_residue);

  if (cannot_fit && !tr.cannot_fit_prev) {
    const std::string path = largest_in_flight(db);
    events.push_back({WatchEvent::Level::warning, "remaining_write_cannot_fit", db.db_path,
                      fmt::format("{}: {}", db.db_path, cannot_fit_text),
                      fields_of({{"PATH", path},
                                 {"BYTES", std::to_string(remaining_bytes)},
                                 {"HEADROOM_BYTES", std::to_string(st.headroom_bytes)}})});
  }

  std::string raw_reason;
  for (const auto& f : findings) {
    if (f.level == raw) {
      raw_reason = f.text;
      break;
    }
  }
  if (raw == WatchState::ok) {
    raw_reason =
        tightest == nullptr
            ? fmt::format("no filesystem sample for dev {}", db.db_fs_dev)
            : fmt::format(
                  "headroom {} on {}: app-visible free {} − reserve {} − remaining staging {}",
                  hs(st.headroom_bytes), tightest->mount, hb(app_free(*tightest)),
                  hb(reserve_bytes(tightest->dev)), hb(charge_on(tightest->dev)));
  }

  // Hysteresis: up at once, down one level after recover_ms below.
  const WatchState before = tr.state;
  if (raw >= tr.state) {
    tr.state = raw;
    tr.clear_since_ms.reset();
  } else {
    if (!tr.clear_since_ms) tr.clear_since_ms = now;
    if (now - *tr.clear_since_ms >= as_signed(cfg_.recover_ms)) {
      tr.state = std::max(raw, step_down(tr.state));
      tr.clear_since_ms = raw < tr.state ? std::optional<int64_t>(now) : std::nullopt;
    }
  }
  st.state = tr.state;
  st.reason =
      tr.state == raw
          ? raw_reason
          : fmt::format("{} held until conditions stay below it for {} s ({} s so far); now {}: {}",
                        to_string(tr.state), whole_seconds(as_signed(cfg_.recover_ms)),
                        whole_seconds(now - *tr.clear_since_ms), to_string(raw), raw_reason);
  if (tr.state != before) {
    std::map<std::string, std::string> fields{{"STATE", to_string(tr.state)},
                                              {"PREVIOUS_STATE", to_string(before)},
                                              {"HEADROOM_BYTES", std::to_string(st.headroom_bytes)},
                                              {"STAGING_BYTES", std::to_string(st.staging_bytes)}};
    if (st.seconds_to_reserve_breach) {
      fields["SECONDS_TO_RESERVE_BREACH"] = fmt::format("{:.0f}", *st.seconds_to_reserve_breach);
    }
    events.push_back({level_of(tr.state), "state_change",
                      db.db_path,
                      fmt::format("{}: {} -> {}: {}", db.db_path, to_string(before),
                                  to_string(tr.state), st.reason),
                      std::move(fields)});
  }

  tr.peak_since_ok_bytes = tr.state == WatchState::ok
                               ? db.staging_bytes
                               : std::max(tr.peak_since_ok_bytes, db.staging_bytes);
  st.staging_peak_bytes = tr.peak_since_ok_bytes;
  st.disk_full_events_total = tr.disk_full_events;
  st.sawtooth_cycles = tr.sawtooth_cycles;
  st.remaining_write_cannot_fit = cannot_fit;
  st.stop_recommended = raw >= WatchState::warning;
  if (db.replica_position) st.replica_stalled_ms = now - tr.position_since_ms;
  st.replica_blocked = db.replica_blocked;
  st.staging_bounded = db.litestream_model == LitestreamModel::v0_5;
  for (const auto& f : findings) {
    if (std::find(st.conditions.begin(), st.conditions.end(), f.condition) == st.conditions.end()) {
      st.conditions.push_back(f.condition);
    }
  }

  tr.seen = true;
  tr.prev_inflight_bytes = inflight_bytes;
  tr.prev_staging_bytes = db.staging_bytes;
  tr.gauge_prev = gauge;
  tr.stall_full_prev = stall_full;
  tr.cannot_fit_prev = cannot_fit;
  tr.wedge_prev = !wedge.empty();
  return st;
}

}  // namespace ltxguard::model
