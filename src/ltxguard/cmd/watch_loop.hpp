// The watcher's machinery, shared by `ltxguard watch` and the supervisor `ltxguard run`: one
// tick samples the host, feeds the watch model, and makes the result impossible to miss
// (logger, /metrics + /healthz, textfile, sd_notify, the JSON-lines record).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/watch.hpp"
#include "ltxguard/cmd/watch_sampler.hpp"
#include "ltxguard/model/watch_model.hpp"
#include "ltxguard/output/http_server.hpp"
#include "ltxguard/output/logger.hpp"
#include "ltxguard/output/metrics.hpp"
#include "ltxguard/sys/proc.hpp"

namespace ltxguard::cmd {

// An event the caller adds to a tick's record line and log (the supervisor's stop, exit, ...).
struct LoopEvent {
  std::string kind;
  std::string db_path;
  std::string message;
};

class WatchLoop {
 public:
  // Vets the databases (args.db_paths, else every database of the config), opens the record
  // file (refused on a watched filesystem unless args.force), starts HTTP when args.listen is
  // set, detects the Litestream model. Errors carry the path and say what to change.
  [[nodiscard]] static util::Result<std::unique_ptr<WatchLoop>> create(const WatchArgs& args,
                                                                      const LoadedConfig& config,
                                                                      const formats::Policy& policy);
  ~WatchLoop();
  WatchLoop(const WatchLoop&) = delete;
  WatchLoop& operator=(const WatchLoop&) = delete;

  // One sample and everything that follows from it. `extra` joins this tick's record line.
  // Returns the model's events of this tick (already logged).
  std::vector<model::WatchEvent> tick(int64_t now_ms, const std::vector<LoopEvent>& extra = {});

  // The space guard, to call as often as convenient (it reads at most every
  // kSpaceGuardPollMs): true when free space on a watched filesystem is falling so fast that
  // the next sample should be taken now (model::sample_due).
  [[nodiscard]] bool space_guard_due();

  // From now on /healthz answers `status` with `body` whatever the model says (the supervisor's
  // failed state after a protective stop). The STATUS= line follows it too.
  void override_health(int status, std::string body);

  // Writes the metrics to --textfile now (after a change outside a tick).
  void write_textfile();

  [[nodiscard]] WatchSampler& sampler() { return *sampler_; }
  [[nodiscard]] const model::WatchModel& model() const { return *model_; }
  [[nodiscard]] const model::WatchSample& last_sample() const { return last_sample_; }
  [[nodiscard]] output::Logger& logger() { return *logger_; }
  [[nodiscard]] output::Metrics& metrics() { return *metrics_; }
  [[nodiscard]] const std::vector<WatchTarget>& targets() const { return targets_; }
  [[nodiscard]] const std::string& litestream_version() const { return ls_version_; }
  [[nodiscard]] std::string status_line() const;

 private:
  struct Private;
  WatchLoop();

  WatchArgs args_;
  std::vector<WatchTarget> targets_;
  std::string ls_version_;
  std::unique_ptr<sys::RealFileSystem> fs_;
  std::unique_ptr<sys::RealProcessTable> procs_;
  std::unique_ptr<output::Logger> logger_;
  std::unique_ptr<output::Metrics> metrics_;
  std::unique_ptr<output::HttpServer> http_;
  std::unique_ptr<WatchSampler> sampler_;
  std::unique_ptr<model::WatchModel> model_;
  std::unique_ptr<Private> p_;
  model::WatchSample last_sample_;
};

// Logger sink for --log-format (auto: journald when stderr is the journal's stream).
[[nodiscard]] output::Logger::Sink sink_for(const std::string& log_format);

}  // namespace ltxguard::cmd
