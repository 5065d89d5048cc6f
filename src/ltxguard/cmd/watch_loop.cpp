#include "ltxguard/cmd/watch_loop.hpp"

#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ltxguard/cmd/budget_inputs.hpp"
#include "ltxguard/cmd/record_file.hpp"
#include "ltxguard/cmd/version.hpp"
#include "ltxguard/collect/database.hpp"
#include "ltxguard/model/reserve.hpp"
#include "ltxguard/model/space_guard.hpp"
#include "ltxguard/output/textfile.hpp"
#include "ltxguard/sys/notify.hpp"
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::cmd {
namespace {

using output::Logger;
using nlohmann::ordered_json;


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
                         const std::vector<model::WatchEvent>& events, const std::vector<LoopEvent>& extra) {
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
                   {"replica_backlog_bytes",
                    d.replica_backlog_bytes ? ordered_json(*d.replica_backlog_bytes) : ordered_json(nullptr)},
                   {"replica_blocked", d.replica_blocked},
                   {"replica_stalled_ms",
                    st.replica_stalled_ms ? ordered_json(*st.replica_stalled_ms) : ordered_json(nullptr)},
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
  for (const auto& e : extra) evs.push_back({{"kind", e.kind}, {"db", e.db_path}, {"message", e.message}});
  j["events"] = evs;
  return j;
}

}  // namespace

output::Logger::Sink sink_for(const std::string& format) {
  if (format == "journald") return output::Logger::Sink::journald;
  if (format == "json") return output::Logger::Sink::json;
  if (format == "text") return output::Logger::Sink::text;
  return output::auto_sink(output::Logger::Sink::text);
}


struct WatchLoop::Private {
  RecordFile recorder;  // a failed append is logged once per failure streak; the watch goes on
  std::mutex health_mu;
  output::HealthReply health{503, "starting: no sample yet\n"};
  bool health_overridden = false;
  std::optional<model::WatchSample> pending;  // the first sample, taken to size the reserves
  std::string last_textfile_error;
  bool record_failing = false;
  bool ready_sent = false;
  bool watchdog = false;
  std::vector<model::FsRoom> rooms_at_sample;  // the space guard's baseline
  std::chrono::steady_clock::time_point guard_polled_at{};
};

WatchLoop::WatchLoop() = default;

WatchLoop::~WatchLoop() {
  if (http_) http_->stop();
}

util::Result<std::unique_ptr<WatchLoop>> WatchLoop::create(const WatchArgs& args, const LoadedConfig& loaded,
                                                           const formats::Policy& policy) {
  std::unique_ptr<WatchLoop> loop(new WatchLoop());
  loop->args_ = args;
  loop->fs_ = std::make_unique<sys::RealFileSystem>();
  loop->procs_ = std::make_unique<sys::RealProcessTable>();
  loop->p_ = std::make_unique<Private>();
  const sys::FileSystem& fs = *loop->fs_;
  if (args.interval_seconds < 0.05) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "", "--interval must be at least 0.05 s"));
  }

  std::vector<std::string> paths = args.db_paths;
  if (paths.empty() && loaded.config) {
    for (const auto& d : loaded.config->dbs) paths.push_back(d.path);
  }
  if (paths.empty()) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, "",
                                       "no database: pass --db or a Litestream config that lists one"));
  }
  formats::Layout layout = formats::Layout::none;
  for (const auto& p : paths) {
    auto vetted = collect::check_database_path(fs, p);
    if (!vetted) return util::fail(vetted.error());
    WatchTarget t;
    t.db_path = *vetted;
    const formats::DbConfig* found = loaded.config ? collect::find_db_config(*loaded.config, *vetted) : nullptr;
    if (found != nullptr) {
      t.db_config = *found;
    } else {
      t.db_config.path = *vetted;
      t.db_config.meta_path = formats::default_meta_path(*vetted);
    }
    // Only the layout: a full scan here would build a record per file before the first tick.
    if (const auto l = collect::staging_layout(fs, t.db_config.meta_path); l != formats::Layout::none) layout = l;
    loop->targets_.push_back(std::move(t));
  }

  // The record file must not live on a filesystem being watched: it would add to the fill.
  if (!args.record_path.empty()) {
    const std::string dir = std::filesystem::path(args.record_path).parent_path().string();
    auto rec_fs = fs.fs_stats(dir.empty() ? "." : dir);
    if (!rec_fs) return util::fail(rec_fs.error());
    for (const auto& t : loop->targets_) {
      for (const std::string& p : {std::filesystem::path(t.db_path).parent_path().string(), t.db_config.meta_path}) {
        auto w = fs.fs_stats(p);
        if (w && w->dev == rec_fs->dev && !args.force) {
          return util::fail(util::make_error(util::ErrorCode::invalid_input, args.record_path,
                                             "record file is on a watched filesystem; choose another or pass --force"));
        }
      }
    }
    if (auto ok = loop->p_->recorder.open(args.record_path); !ok) return util::fail(ok.error());
  }

  loop->ls_version_ = args.litestream_version;
  if (loop->ls_version_.empty()) {
    loop->ls_version_ = collect::detect_version(args.litestream_bin, collect::LogEvidence{}, std::nullopt, layout).version;
  }
  std::string model_reason;
  const model::LitestreamModel lmodel = model_for(loop->ls_version_, layout, model_reason);

  loop->logger_ = std::make_unique<Logger>(sink_for(args.log_format), "ltxguard");
  loop->metrics_ = std::make_unique<output::Metrics>(version());
  loop->http_ = std::make_unique<output::HttpServer>();
  if (!args.listen.empty()) {
    Private* p = loop->p_.get();
    output::Metrics* metrics = loop->metrics_.get();
    auto started = loop->http_->start(
        args.listen, args.listen_any ? output::ListenScope::any_address : output::ListenScope::loopback_only,
        [metrics] { return metrics->serialize(); },
        [p] {
          std::lock_guard<std::mutex> lock(p->health_mu);
          return p->health;
        });
    if (!started) return util::fail(started.error());
  }

  loop->sampler_ = std::make_unique<WatchSampler>(fs, *loop->procs_, loop->targets_, args.log,
                                                  loaded.config ? loaded.config->addr : "", lmodel);
  if (!loaded.path.empty()) {
    std::vector<std::string> paths{loaded.path};
    if (auto canonical = fs.real_path(loaded.path); canonical && *canonical != loaded.path) paths.push_back(*canonical);
    loop->sampler_->set_config_paths(std::move(paths));
  }
  model::WatchSample first = loop->sampler_->sample(wall_ms());

  model::WatchConfig cfg;
  cfg.app_runs_as_root = args.app_runs_as_root;
  cfg.min_free_bytes = policy.min_free_bytes;
  cfg.max_staging_bytes = policy.max_staging_bytes;
  if (policy.lead_time_seconds) cfg.lead_time_seconds = *policy.lead_time_seconds;
  for (const auto& d : first.databases) {
    if (const auto* f = first.fs(d.db_fs_dev)) {
      const uint64_t r = model::app_reserve(f->total_bytes, d.page_size_bytes, policy).bytes;
      cfg.reserve_bytes[d.db_fs_dev] = std::max(cfg.reserve_bytes[d.db_fs_dev], r);
    }
  }
  loop->model_ = std::make_unique<model::WatchModel>(cfg);
  loop->p_->pending = std::move(first);
  loop->p_->watchdog = sys::watchdog_usec().has_value();

  loop->logger_->log(Logger::Level::info, "watch_started",
                     fmt::format("watching {} database(s), Litestream model {} ({})", loop->targets_.size(),
                                 model::to_string(lmodel),
                                 loop->ls_version_.empty() ? "version unknown" : loop->ls_version_),
                     {{"interval_seconds", fmt::format("{:g}", args.interval_seconds)}, {"listen", args.listen}});
  return loop;
}

std::string WatchLoop::status_line() const {
  {
    std::lock_guard<std::mutex> lock(p_->health_mu);
    if (p_->health_overridden) {
      std::string body = p_->health.body;
      while (!body.empty() && body.back() == '\n') body.pop_back();
      return body;
    }
  }
  const model::WatchModel& m = *model_;
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

void WatchLoop::override_health(int status, std::string body) {
  {
    std::lock_guard<std::mutex> lock(p_->health_mu);
    p_->health = output::HealthReply{status, std::move(body)};
    p_->health_overridden = true;
  }
  sys::notify_status(sys::notify_status_line(status_line()));
}

void WatchLoop::write_textfile() {
  if (args_.textfile_dir.empty()) return;
  auto w = output::write_textfile(args_.textfile_dir, metrics_->serialize());
  const std::string err = w ? "" : w.error().to_string();
  if (!err.empty() && err != p_->last_textfile_error) {
    logger_->log(Logger::Level::error, "textfile_write_failed", err, {{"path", args_.textfile_dir}},
                 w.error().errno_value != 0 ? std::optional<int>(w.error().errno_value) : std::nullopt);
  }
  p_->last_textfile_error = err;
}

std::vector<model::WatchEvent> WatchLoop::tick(int64_t now_ms, const std::vector<LoopEvent>& extra) {
  Private& p = *p_;
  model::WatchSample s = p.pending ? std::move(*p.pending) : sampler_->sample(now_ms);
  p.pending.reset();
  const auto events = model_->update(s);
  for (const auto& e : events) {
    auto fields = e.fields;
    fields["db"] = e.db_path;
    // The logger writes ERRNO itself (journald field, errno= on text lines).
    const bool enospc = e.kind == "disk_full" || fields.erase("ERRNO") > 0;
    logger_->log(level_of(e.level), e.kind, e.message, fields, enospc ? std::optional<int>(ENOSPC) : std::nullopt);
  }
  if (!sampler_->log_note().empty()) {
    logger_->log(Logger::Level::warning, "log_unreadable", "cannot read the Litestream log: " + sampler_->log_note());
  }

  for (const auto& f : s.filesystems) {
    metrics_->set_filesystem(f.mount, output::FilesystemValues{f.total_bytes, f.free_bytes, f.avail_bytes,
                                                               f.inodes_free, model_->reserve_bytes(f.dev)});
  }
  for (size_t i = 0; i < model_->status().size() && i < s.databases.size(); ++i) {
    const auto& st = model_->status()[i];
    metrics_->set_db(st.db_path, output::DbValues{st.staging_bytes, st.projected_staging_bytes,
                                                  st.remaining_staging_bytes, st.staging_peak_bytes,
                                                  s.databases[i].wal_bytes, st.headroom_bytes,
                                                  st.seconds_to_reserve_breach, st.disk_full_events_total,
                                                  st.sawtooth_cycles, model::to_string(st.state)});
  }
  metrics_->set_last_sample_time(static_cast<double>(s.time_ms) / 1000.0);
  metrics_->set_up(true);
  {
    const model::WatchState overall = model_->overall();
    const bool bad = overall == model::WatchState::critical || overall == model::WatchState::wedged;
    const std::string line = status_line() + "\n";  // takes health_mu itself
    std::lock_guard<std::mutex> lock(p.health_mu);
    if (!p.health_overridden) p.health = output::HealthReply{bad ? 503 : 200, line};
  }
  if (p.recorder.enabled()) {
    const std::string line =
        record_line(s, *model_, events, extra).dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
    if (auto err = p.recorder.append(line)) {
      if (!p.record_failing) {
        logger_->log(Logger::Level::error, "record_write_failed", err->to_string(), {{"path", args_.record_path}},
                     err->errno_value != 0 ? std::optional<int>(err->errno_value) : std::nullopt);
      }
      p.record_failing = true;
    } else {
      p.record_failing = false;
    }
  }
  write_textfile();
  if (!p.ready_sent) {
    sys::notify_ready();
    p.ready_sent = true;
  }
  sys::notify_status(sys::notify_status_line(status_line()));
  if (p.watchdog) sys::notify_watchdog();
  logger_->flush_suppressed();
  p.rooms_at_sample.clear();
  for (const auto& f : s.filesystems) {
    p.rooms_at_sample.push_back(
        {f.dev, model::room_bytes(args_.app_runs_as_root ? f.free_bytes : f.avail_bytes, model_->reserve_bytes(f.dev))});
  }
  last_sample_ = std::move(s);
  return events;
}

bool WatchLoop::space_guard_due() {
  Private& p = *p_;
  const auto now = std::chrono::steady_clock::now();
  if (p.rooms_at_sample.empty() || now - p.guard_polled_at < std::chrono::milliseconds(model::kSpaceGuardPollMs)) {
    return false;
  }
  p.guard_polled_at = now;
  std::vector<model::FsRoom> rooms;
  auto add = [&](const std::string& path) {
    auto st = sys::fs_space(path);
    if (!st) return;  // a meta dir not created yet; the next sample says why
    for (const auto& r : rooms) {
      if (r.dev == st->dev) return;
    }
    rooms.push_back({st->dev, model::room_bytes(args_.app_runs_as_root ? st->free_bytes : st->avail_bytes,
                                                model_->reserve_bytes(st->dev))});
  };
  for (const auto& t : targets_) {
    add(std::filesystem::path(t.db_path).parent_path().string());
    add(t.db_config.meta_path);
  }
  return model::sample_due(p.rooms_at_sample, rooms);
}

}  // namespace ltxguard::cmd
