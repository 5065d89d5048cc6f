#include "ltxguard/cmd/watch.hpp"

#include <signal.h>

#include <chrono>

#include <fmt/format.h>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/watch_loop.hpp"
#include "ltxguard/sys/notify.hpp"

namespace ltxguard::cmd {

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int run_watch(const WatchArgs& args) {
  sys::RealFileSystem fs;
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return report_error(loaded.error());
  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return report_error(policy.error());

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before HTTP threads start: they inherit it

  auto loop = WatchLoop::create(args, *loaded, policy->policy);
  if (!loop) return report_error_with_outputs(loop.error(), {args.record_path});

  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(args.interval_seconds * 1000.0));
  const auto started_at = std::chrono::steady_clock::now();
  auto next_tick = started_at;
  for (;;) {
    (void)(*loop)->tick(wall_ms());
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
      (*loop)->logger().log(output::Logger::Level::info, "watch_stopped", fmt::format("stopping on signal {}", sig));
      break;
    }
  }
  sys::notify_stopping();
  return kExitOk;
}

}  // namespace ltxguard::cmd
