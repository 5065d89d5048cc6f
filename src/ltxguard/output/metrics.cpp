#include "ltxguard/output/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <limits>

#include "ltxguard/output/text_escape.hpp"

namespace ltxguard::output {
namespace {

using prometheus::Labels;

prometheus::Family<prometheus::Gauge>* gauge(prometheus::Registry& r, const char* name,
                                             const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Counter>* counter(prometheus::Registry& r, const char* name,
                                                 const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

double as_double(uint64_t v) { return static_cast<double>(v); }

// Raises a counter to `total`; never lowers it.
void raise_to(prometheus::Counter& c, uint64_t total) {
  const double delta = as_double(total) - c.Value();
  if (delta > 0) c.Increment(delta);
}

// Prometheus refuses a whole scrape for one label value that is not UTF-8, and paths are bytes:
// every label value goes through valid_utf8 (the serializer then escapes \\, " and newline).
Labels label(const char* name, const std::string& value) { return {{name, valid_utf8(value)}}; }

template <typename T>
void remove_if_present(prometheus::Family<T>* family, const Labels& labels) {
  if (family->Has(labels)) family->Remove(&family->Add(labels));
}

}  // namespace

Metrics::Metrics(const std::string& version) : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  fs_total_ = gauge(r, "ltxguard_filesystem_total_bytes", "Size of the filesystem in bytes.");
  fs_free_ =
      gauge(r, "ltxguard_filesystem_free_bytes",
            "Free bytes including the root reserve (f_bfree): what Litestream as root can use.");
  fs_avail_ =
      gauge(r, "ltxguard_filesystem_avail_bytes",
            "Bytes available to unprivileged users (f_bavail): what the application can use.");
  fs_inodes_free_ = gauge(r, "ltxguard_filesystem_inodes_free", "Free inodes on the filesystem.");
  reserve_ = gauge(r, "ltxguard_reserve_bytes",
                   "Free space ltxguard keeps for the application's WAL on this filesystem.");
  staging_ =
      gauge(r, "ltxguard_staging_bytes", "Bytes under Litestream's meta dir for the database.");
  projected_ = gauge(r, "ltxguard_projected_staging_bytes",
                     "Worst-case bytes the staging reaches (full snapshot plus WAL growth).");
  remaining_ = gauge(r, "ltxguard_remaining_staging_bytes",
                     "Bytes the staging may still write before it reaches its projection.");
  peak_ = gauge(r, "ltxguard_staging_peak_bytes", "Largest staging size seen since start.");
  wal_ = gauge(r, "ltxguard_wal_bytes", "Size of the database's -wal file.");
  headroom_ = gauge(r, "ltxguard_headroom_bytes",
                    "Available bytes minus reserve minus remaining staging; alert when below 0.");
  seconds_to_breach_ = gauge(r, "ltxguard_seconds_to_reserve_breach",
                             "Forecast seconds until available space falls below the reserve; "
                             "+Inf when no breach is forecast.");
  disk_full_events_ = counter(r, "ltxguard_disk_full_events_total",
                              "Disk-full errors seen from Litestream for the database.");
  sawtooth_cycles_ = counter(r, "ltxguard_sawtooth_cycles_total",
                             "Fill, fail, free cycles of the staging seen for the database.");
  state_ = gauge(r, "ltxguard_state",
                 "1 for the database's current state (ok, warning, critical, wedged), else 0.");
  last_sample_ =
      gauge(r, "ltxguard_last_sample_timestamp_seconds", "Unix time of the last completed sample.");
  up_ = gauge(r, "ltxguard_up", "1 while sampling works, 0 when the last sample failed.");
  build_info_ = gauge(r, "ltxguard_build_info", "Always 1; the version is in the label.");
  build_info_->Add(label("version", version)).Set(1);
  up_->Add({}).Set(0);
}

Metrics::~Metrics() = default;

void Metrics::set_filesystem(const std::string& mount, const FilesystemValues& v) {
  const Labels l = label("mount", mount);
  std::lock_guard<std::mutex> lock(mutex_);
  fs_total_->Add(l).Set(as_double(v.total_bytes));
  fs_free_->Add(l).Set(as_double(v.free_bytes));
  fs_avail_->Add(l).Set(as_double(v.avail_bytes));
  fs_inodes_free_->Add(l).Set(as_double(v.inodes_free));
  reserve_->Add(l).Set(as_double(v.reserve_bytes));
}

void Metrics::set_db(const std::string& db, const DbValues& v) {
  const Labels l = label("db", db);
  std::lock_guard<std::mutex> lock(mutex_);
  staging_->Add(l).Set(as_double(v.staging_bytes));
  projected_->Add(l).Set(as_double(v.projected_staging_bytes));
  remaining_->Add(l).Set(as_double(v.remaining_staging_bytes));
  peak_->Add(l).Set(as_double(v.staging_peak_bytes));
  wal_->Add(l).Set(as_double(v.wal_bytes));
  headroom_->Add(l).Set(static_cast<double>(v.headroom_bytes));
  seconds_to_breach_->Add(l).Set(
      v.seconds_to_reserve_breach.value_or(std::numeric_limits<double>::infinity()));
  raise_to(disk_full_events_->Add(l), v.disk_full_events_total);
  raise_to(sawtooth_cycles_->Add(l), v.sawtooth_cycles_total);
  for (std::string_view s : kDbStates) {
    state_->Add({{"db", valid_utf8(db)}, {"state", std::string(s)}}).Set(s == v.state ? 1 : 0);
  }
}

void Metrics::remove_filesystem(const std::string& mount) {
  const Labels l = label("mount", mount);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto* f : {fs_total_, fs_free_, fs_avail_, fs_inodes_free_, reserve_}) {
    remove_if_present(f, l);
  }
}

void Metrics::remove_db(const std::string& db) {
  const Labels l = label("db", db);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto* f : {staging_, projected_, remaining_, peak_, wal_, headroom_, seconds_to_breach_}) {
    remove_if_present(f, l);
  }
  remove_if_present(disk_full_events_, l);
  remove_if_present(sawtooth_cycles_, l);
  for (std::string_view s : kDbStates) {
    remove_if_present(state_, {{"db", valid_utf8(db)}, {"state", std::string(s)}});
  }
}

void Metrics::set_last_sample_time(double unix_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  last_sample_->Add({}).Set(unix_seconds);
}

void Metrics::set_up(bool sampling_works) {
  std::lock_guard<std::mutex> lock(mutex_);
  up_->Add({}).Set(sampling_works ? 1 : 0);
}

void Metrics::enable_supervisor() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (litestream_up_ != nullptr) return;
  auto& r = *registry_;
  litestream_up_ = gauge(r, "ltxguard_litestream_up", "1 while the Litestream ltxguard supervises is running.");
  alarm_latched_ = gauge(r, "ltxguard_alarm_latched",
                         "1 after a protective stop until a person runs `ltxguard alarm clear`.");
  protective_stops_ = counter(r, "ltxguard_protective_stops_total",
                              "Times ltxguard stopped Litestream to protect the application's reserve.");
  litestream_up_->Add({}).Set(0);
  alarm_latched_->Add({}).Set(0);
}

void Metrics::set_supervisor(bool litestream_running, bool alarm_latched) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (litestream_up_ == nullptr) return;
  litestream_up_->Add({}).Set(litestream_running ? 1 : 0);
  alarm_latched_->Add({}).Set(alarm_latched ? 1 : 0);
}

void Metrics::count_protective_stop(const std::string& db, const std::string& condition) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (protective_stops_ == nullptr) return;
  protective_stops_->Add({{"db", valid_utf8(db)}, {"condition", valid_utf8(condition)}}).Increment();
}

std::string Metrics::serialize() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace ltxguard::output
