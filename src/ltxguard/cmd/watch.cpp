#include "ltxguard/cmd/watch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/version.hpp"
#include "ltxguard/cmd/watch_sampler.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/model/reserve.hpp"
#include "ltxguard/model/watch_model.hpp"
#include "ltxguard/output/http_server.hpp"
#include "ltxguard/output/logger.hpp"
#include "ltxguard/output/metrics.hpp"
#include "ltxguard/output/textfile.hpp"
#include "ltxguard/sys/notify.hpp"
#include "ltxguard/util/bytes.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::cmd {
namespace {

using output::Logger;
using nlohmann::ordered_json;

// The record file grows by one line a second; room for about a day is reserved up front so
// it keeps working when the disk it sits on is full.
constexpr off_t kRecordPreallocBytes = 16 << 20;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Logger::Sink sink_for(const std::string& format) {
  if (format == "journald") return Logger::Sink::journald;
  if (format == "json") return Logger::Sink::json;
  if (format == "text") return Logger::Sink::text;
  return output::auto_sink(Logger::Sink::text);
}

Logger::Level level_of(model::WatchEvent::Level l) {
  switch (l) {
    case model::WatchEvent::Level::error:
      return Logger::Level::error;
    case model::WatchEvent::Level::warning:
      return Logger::Level::warning;
    case model::WatchEvent::Level::info:
      break;
  }
  return Logger::Level::info;
}

std::string human(int64_t v) { return util::human_bytes(v); }

ordered_json record_line(const model::WatchSample& s, const model::WatchModel& m,
                         const std::vector<model::WatchEvent>& events) {
  ordered_json j;
  j["time_ms"] = s.time_ms;
  ordered_json fss = ordered_json::array();
  for (const auto& f : s.filesystems) {
    fss.push_back({{"mount", f.mount},
                   {"dev", f.dev},
                   {"total_bytes", f.total_bytes},
                   {"free_bytes", f.free_bytes},
                   {"avail_bytes", f.avail_bytes},
                   {"inodes_free", f.inodes_free},
                   {"reserve_bytes", m.reserve_bytes(f.dev)}});
  }
  j["filesystems"] = fss;
  ordered_json dbs = ordered_json::array();
  for (size_t i = 0; i < s.databases.size() && i < m.status().size(); ++i) {
    const auto& d = s.databases[i];
    const auto& st = m.status()[i];
    ordered_json in_flight = ordered_json::array();
    for (const auto& f : d.in_flight) {
      in_flight.push_back({{"rel_path", f.rel_path},
                           {"bytes", f.bytes},
                           {"expected_final_bytes",
                            f.expected_final_bytes ? ordered_json(*f.expected_final_bytes) : ordered_json(nullptr)}});
    }
    dbs.push_back({{"db", d.db_path},
                   {"db_fs_dev", d.db_fs_dev},
                   {"staging_fs_dev", d.staging_fs_dev},
                   {"wal_bytes", d.wal_bytes},
                   {"staging_bytes", d.staging_bytes},
                   {"in_flight", in_flight},
                   {"litestream_alive", d.litestream_alive ? ordered_json(*d.litestream_alive) : ordered_json(nullptr)},
                   {"new_log_lines", d.new_log_lines},
                   {"new_disk_full_lines", d.new_disk_full_lines},
                   {"state", model::to_string(st.state)},
                   {"reason", st.reason},
                   {"headroom_bytes", st.headroom_bytes},
                   {"seconds_to_reserve_breach",
                    st.seconds_to_reserve_breach ? ordered_json(*st.seconds_to_reserve_breach) : ordered_json(nullptr)},
                   {"remaining_staging_bytes", st.remaining_staging_bytes},
                   {"projected_staging_bytes", st.projected_staging_bytes},
                   {"staging_peak_bytes", st.staging_peak_bytes},
                   {"disk_full_events_total", st.disk_full_events_total},
                   {"stop_recommended", st.stop_recommended}});
  }
  j["databases"] = dbs;
  ordered_json evs = ordered_json::array();
  for (const auto& e : events) evs.push_back({{"kind", e.kind}, {"db", e.db_path}, {"message", e.message}});
  j["events"] = evs;
  return j;
}

// Appends to the record file; a failed write is reported once per failure streak and the
// watcher goes on.
class Recorder {
 public:
  util::Result<void> open(const std::string& path) {
    fd_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
    if (!fd_.valid()) return util::fail(util::sys_error(errno, path, "cannot open record file"));
    path_ = path;
    (void)::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, 0, kRecordPreallocBytes);  // best effort
    return {};
  }
  [[nodiscard]] bool enabled() const { return fd_.valid(); }
  std::optional<util::Error> append(const std::string& line) {
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return util::sys_error(errno, path_, "cannot append to the record file");
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return std::nullopt;
  }

 private:
  util::UniqueFd fd_;
  std::string path_;
};

std::string status_line(const model::WatchModel& m) {
  const auto& st = m.status();
  if (st.empty()) return "no database";
  const model::DbStatus* worst = &st[0];
  for (const auto& s : st) {
    if (static_cast<int>(s.state) > static_cast<int>(worst->state)) worst = &s;
  }
  return fmt::format("{}: headroom {} ({}){}", model::to_string(m.overall()), human(worst->headroom_bytes),
                     std::filesystem::path(worst->db_path).filename().string(),
                     worst->reason.empty() ? "" : "; " + worst->reason);
}

}  // namespace

int run_watch(const WatchArgs& args) {
  sys::RealFileSystem fs;
  sys::RealProcessTable procs;
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return report_error(loaded.error());
  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return report_error(policy.error());
  if (args.interval_seconds < 0.05) {
    return report_error(util::make_error(util::ErrorCode::invalid_input, "", "--interval must be at least 0.05 s"));
  }

  std::vector<std::string> paths = args.db_paths;
  if (paths.empty() && loaded->config) {
    for (const auto& d : loaded->config->dbs) paths.push_back(d.path);
  }
  if (paths.empty()) {
    return report_error(util::make_error(util::ErrorCode::invalid_input, "",
                                         "no database: pass --db or a Litestream config that lists one"));
  }
  std::vector<WatchTarget> targets;
  formats::Layout layout = formats::Layout::none;
  for (const auto& p : paths) {
    auto vetted = collect::check_database_path(fs, p);
    if (!vetted) return report_error(vetted.error());
    WatchTarget t;
    t.db_path = *vetted;
    const formats::DbConfig* found = loaded->config ? collect::find_db_config(*loaded->config, *vetted) : nullptr;
    if (found != nullptr) {
      t.db_config = *found;
    } else {
      t.db_config.path = *vetted;
      t.db_config.meta_path = formats::default_meta_path(*vetted);
    }
    collect::ScanOptions quick;
    quick.inspect_ltx = false;
    const auto scan = collect::scan_staging(fs, t.db_config.meta_path, quick);
    if (scan.layout != formats::Layout::none) layout = scan.layout;
    targets.push_back(std::move(t));
  }

  // The record file must not live on a filesystem being watched: it would add to the fill.
  Recorder recorder;
  if (!args.record_path.empty()) {
    const std::string dir = std::filesystem::path(args.record_path).parent_path().string();
    auto rec_fs = fs.fs_stats(dir.empty() ? "." : dir);
    if (!rec_fs) return report_error(rec_fs.error());
    for (const auto& t : targets) {
      for (const std::string& p : {std::filesystem::path(t.db_path).parent_path().string(), t.db_config.meta_path}) {
        auto w = fs.fs_stats(p);
        if (w && w->dev == rec_fs->dev && !args.force) {
          return report_error(util::make_error(util::ErrorCode::invalid_input, args.record_path,
                                               "record file is on a watched filesystem; choose another or pass --force"));
        }
      }
    }
    if (auto ok = recorder.open(args.record_path); !ok) return report_error(ok.error());
  }

  std::string ls_version = args.litestream_version;
  if (ls_version.empty()) {
    ls_version = collect::detect_version(args.litestream_bin, collect::LogEvidence{}, std::nullopt, layout).version;
  }
  std::string model_reason;
  const model::LitestreamModel lmodel = model_for(ls_version, layout, model_reason);

  Logger logger(sink_for(args.log_format), "ltxguard");
  output::Metrics metrics(version());
  std::mutex health_mu;
  output::HealthReply health{503, "starting: no sample yet\n"};
  output::HttpServer http;
  if (!args.listen.empty()) {
    auto started = http.start(args.listen, args.listen_any ? output::ListenScope::any_address : output::ListenScope::loopback_only,
                              [&metrics] { return metrics.serialize(); },
                              [&] {
                                std::lock_guard<std::mutex> lock(health_mu);
                                return health;
                              });
    if (!started) return report_error(started.error());
  }

  WatchSampler sampler(fs, procs, targets, args.log, loaded->config ? loaded->config->addr : "", lmodel);
  model::WatchSample first = sampler.sample(wall_ms());

  model::WatchConfig cfg;
  cfg.app_runs_as_root = args.app_runs_as_root;
  cfg.min_free_bytes = policy->policy.min_free_bytes;
  cfg.max_staging_bytes = policy->policy.max_staging_bytes;
  if (policy->policy.lead_time_seconds) cfg.lead_time_seconds = *policy->policy.lead_time_seconds;
  for (const auto& d : first.databases) {
    if (const auto* f = first.fs(d.db_fs_dev)) {
      const uint64_t r = model::app_reserve(f->total_bytes, d.page_size_bytes, policy->policy).bytes;
      cfg.reserve_bytes[d.db_fs_dev] = std::max(cfg.reserve_bytes[d.db_fs_dev], r);
    }
  }
  model::WatchModel model(cfg);

  logger.log(Logger::Level::info, "watch_started",
             fmt::format("watching {} database(s), Litestream model {} ({})", targets.size(), model::to_string(lmodel),
                         ls_version.empty() ? "version unknown" : ls_version),
             {{"interval_seconds", fmt::format("{:g}", args.interval_seconds)}, {"listen", args.listen}});

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(args.interval_seconds * 1000.0));
  const auto started_at = std::chrono::steady_clock::now();
  auto next_tick = started_at;
  const auto watchdog = sys::watchdog_usec();
  bool ready_sent = false;
  std::optional<model::WatchSample> pending = std::move(first);
  std::string last_textfile_error;
  bool record_failing = false;

  for (;;) {
    model::WatchSample s = pending ? std::move(*pending) : sampler.sample(wall_ms());
    pending.reset();
    const auto events = model.update(s);
    for (const auto& e : events) {
      auto fields = e.fields;
      fields["db"] = e.db_path;
      // The logger writes ERRNO itself (journald field, errno= on text lines).
      const bool enospc = e.kind == "disk_full" || fields.erase("ERRNO") > 0;
      logger.log(level_of(e.level), e.kind, e.message, fields, enospc ? std::optional<int>(ENOSPC) : std::nullopt);
    }
    if (!sampler.log_note().empty()) {
      logger.log(Logger::Level::warning, "log_unreadable", "cannot read the Litestream log: " + sampler.log_note());
    }

    for (const auto& f : s.filesystems) {
      metrics.set_filesystem(f.mount, output::FilesystemValues{f.total_bytes, f.free_bytes, f.avail_bytes,
                                                                f.inodes_free, model.reserve_bytes(f.dev)});
    }
    for (size_t i = 0; i < model.status().size() && i < s.databases.size(); ++i) {
      const auto& st = model.status()[i];
      metrics.set_db(st.db_path, output::DbValues{st.staging_bytes, st.projected_staging_bytes,
                                                  st.remaining_staging_bytes, st.staging_peak_bytes,
                                                  s.databases[i].wal_bytes, st.headroom_bytes,
                                                  st.seconds_to_reserve_breach, st.disk_full_events_total,
                                                  st.sawtooth_cycles, model::to_string(st.state)});
    }
    metrics.set_last_sample_time(static_cast<double>(s.time_ms) / 1000.0);
    metrics.set_up(true);
    {
      std::lock_guard<std::mutex> lock(health_mu);
      const model::WatchState overall = model.overall();
      const bool bad = overall == model::WatchState::critical || overall == model::WatchState::wedged;
      health = output::HealthReply{bad ? 503 : 200, status_line(model) + "\n"};
    }
    if (recorder.enabled()) {
      const std::string line =
          record_line(s, model, events).dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
      if (auto err = recorder.append(line)) {
        if (!record_failing) {
          logger.log(Logger::Level::error, "record_write_failed", err->to_string(), {{"path", args.record_path}},
                     err->errno_value != 0 ? std::optional<int>(err->errno_value) : std::nullopt);
        }
        record_failing = true;
      } else {
        record_failing = false;
      }
    }
    if (!args.textfile_dir.empty()) {
      auto w = output::write_textfile(args.textfile_dir, metrics.serialize());
      const std::string err = w ? "" : w.error().to_string();
      if (!err.empty() && err != last_textfile_error) {
        logger.log(Logger::Level::error, "textfile_write_failed", err, {{"path", args.textfile_dir}},
                   w.error().errno_value != 0 ? std::optional<int>(w.error().errno_value) : std::nullopt);
      }
      last_textfile_error = err;
    }
    if (!ready_sent) {
      sys::notify_ready();
      ready_sent = true;
    }
    sys::notify_status(sys::notify_status_line(status_line(model)));
    if (watchdog) sys::notify_watchdog();
    logger.flush_suppressed();

    next_tick += interval;
    const auto now = std::chrono::steady_clock::now();
    if (args.duration_seconds > 0 &&
        now - started_at >= std::chrono::milliseconds(static_cast<int64_t>(args.duration_seconds * 1000.0))) {
      break;
    }
    if (next_tick < now) next_tick = now;  // fell behind: do not burst to catch up
    const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick - now);
    timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
    const int sig = sigtimedwait(&stop_signals, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
      logger.log(Logger::Level::info, "watch_stopped", fmt::format("stopping on signal {}", sig));
      break;
    }
  }
  sys::notify_stopping();
  http.stop();
  return kExitOk;
}

}  // namespace ltxguard::cmd
