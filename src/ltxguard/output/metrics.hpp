// The watcher's Prometheus metrics: one registry (prometheus-cpp core) holding every family
// `ltxguard watch` exports, set from plain values after each sample and serialized in the
// text format 0.0.4 for /metrics and the node_exporter textfile.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace ltxguard::output {

// The values of ltxguard_state{db,state}: exactly one is 1 for a db, the others 0.
inline constexpr std::string_view kDbStates[] = {"ok", "warning", "critical", "wedged"};

// One filesystem a watched database or its staging lives on, labelled {mount}.
struct FilesystemValues {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;   // f_bfree: what root (Litestream) can still use
  uint64_t avail_bytes = 0;  // f_bavail: what the application can still use
  uint64_t inodes_free = 0;
  uint64_t reserve_bytes = 0;  // the headroom ltxguard keeps for the application's WAL
};

// One watched database, labelled {db}.
struct DbValues {
  uint64_t staging_bytes = 0;            // everything under the meta dir now
  uint64_t projected_staging_bytes = 0;  // worst case the staging reaches (full snapshot + WAL)
  uint64_t remaining_staging_bytes = 0;  // how much more staging may still write
  uint64_t staging_peak_bytes = 0;
  uint64_t wal_bytes = 0;
  int64_t headroom_bytes = 0;  // avail - reserve - remaining staging; < 0 means alert
  // Forecast seconds until avail drops below the reserve. nullopt (no breach forecast) is
  // exported as +Inf: the series stays present, so `absent()` keeps meaning "not scraped"
  // and `ltxguard_seconds_to_reserve_breach < 600` is false without special cases.
  std::optional<double> seconds_to_reserve_breach;
  // Totals since the watcher started. Exported as counters: a smaller value than the last
  // one set (a model restart) is ignored, since a Prometheus counter never goes down.
  uint64_t disk_full_events_total = 0;
  uint64_t sawtooth_cycles_total = 0;
  // One of kDbStates. Any other value exports 0 for all four (and is not added as a label).
  std::string state;
};

// Thread-safe: setters and serialize() take one mutex, so a scrape never sees half of an
// update (the HTTP thread serializes while the sampler sets). Serializing a few dozen
// series takes microseconds, so the sampler never waits long.
class Metrics {
 public:
  // Sets ltxguard_build_info{version} = 1 and ltxguard_up = 0 (until set_up(true)).
  explicit Metrics(const std::string& version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Label values (mount, db, condition) are paths and names in bytes: each is exported through
  // valid_utf8 (output/text_escape.hpp), its invalid bytes as U+FFFD, since Prometheus refuses
  // the whole scrape for one label value that is not UTF-8.
  void set_filesystem(const std::string& mount, const FilesystemValues& values);
  void set_db(const std::string& db, const DbValues& values);
  // Drops every series of the mount / db (a database removed from the watch set).
  void remove_filesystem(const std::string& mount);
  void remove_db(const std::string& db);
  // ltxguard_last_sample_timestamp_seconds: Unix time of the last completed sample.
  void set_last_sample_time(double unix_seconds);
  // ltxguard_up: 1 while sampling works, 0 when the last sample failed.
  void set_up(bool sampling_works);

  // The supervisor's families (`ltxguard run` only; `watch` never registers them):
  // ltxguard_litestream_up (1 while the supervised Litestream runs),
  // ltxguard_alarm_latched (1 from a protective stop until `ltxguard alarm clear`),
  // ltxguard_protective_stops_total{db,condition}.
  void enable_supervisor();
  void set_supervisor(bool litestream_running, bool alarm_latched);
  void count_protective_stop(const std::string& db, const std::string& condition);

  // The whole registry in the Prometheus text format 0.0.4 (HELP and TYPE lines, no
  // timestamps, so node_exporter's textfile collector accepts it as is).
  [[nodiscard]] std::string serialize() const;

 private:
  using GaugeFamily = prometheus::Family<prometheus::Gauge>;
  using CounterFamily = prometheus::Family<prometheus::Counter>;

  mutable std::mutex mutex_;
  std::shared_ptr<prometheus::Registry> registry_;
  GaugeFamily* fs_total_;
  GaugeFamily* fs_free_;
  GaugeFamily* fs_avail_;
  GaugeFamily* fs_inodes_free_;
  GaugeFamily* reserve_;
  GaugeFamily* staging_;
  GaugeFamily* projected_;
  GaugeFamily* remaining_;
  GaugeFamily* peak_;
  GaugeFamily* wal_;
  GaugeFamily* headroom_;
  GaugeFamily* seconds_to_breach_;
  CounterFamily* disk_full_events_;
  CounterFamily* sawtooth_cycles_;
  GaugeFamily* state_;
  GaugeFamily* last_sample_;
  GaugeFamily* up_;
  GaugeFamily* build_info_;
  GaugeFamily* litestream_up_ = nullptr;
  GaugeFamily* alarm_latched_ = nullptr;
  CounterFamily* protective_stops_ = nullptr;
};

}  // namespace ltxguard::output
