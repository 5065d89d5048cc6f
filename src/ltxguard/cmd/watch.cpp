#include "ltxguard/cmd/watch.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "ltxguard/cmd/common.hpp"
#include "ltxguard/cmd/watch_loop.hpp"
#include "ltxguard/model/space_guard.hpp"
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
  const auto duration = std::chrono::milliseconds(static_cast<int64_t>(args.duration_seconds * 1000.0));
  for (;;) {
    (void)(*loop)->tick(wall_ms());
    next_tick += interval;
    if (args.duration_seconds > 0 && std::chrono::steady_clock::now() - started_at >= duration) break;
    if (next_tick < std::chrono::steady_clock::now()) next_tick = std::chrono::steady_clock::now();  // no burst
    // Wait for the next tick in space-guard polls: free space falling fast brings it forward.
    int sig = -1;
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_tick || (*loop)->space_guard_due()) break;
      const auto wait = std::min<std::chrono::nanoseconds>(next_tick - now,
                                                           std::chrono::milliseconds(model::kSpaceGuardPollMs));
      timespec ts{static_cast<time_t>(wait.count() / 1'000'000'000), static_cast<long>(wait.count() % 1'000'000'000)};
      sig = sigtimedwait(&stop_signals, nullptr, &ts);
      if (sig == SIGTERM || sig == SIGINT) break;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      (*loop)->logger().log(output::Logger::Level::info, "watch_stopped", fmt::format("stopping on signal {}", sig));
      break;
    }
    next_tick = std::min(next_tick, std::chrono::steady_clock::now());
  }
  sys::notify_stopping();
  return kExitOk;
}

}  // namespace ltxguard::cmd
