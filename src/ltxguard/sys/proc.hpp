// Processes as /proc shows them: which ones are Litestream, and which hold files open under
// a directory (an unlinked but still open staging file keeps its space). RealProcessTable
// reads /proc; tests use testing::FakeProcessTable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

struct ProcessInfo {
  int pid = 0;
  uint32_t uid = 0;  // effective uid (the one permissions and the ext4 reserve go by)
  std::string comm;  // kernel name, at most 15 characters
  std::string exe;   // /proc/<pid>/exe target without " (deleted)"; empty when unreadable
  std::vector<std::string> cmdline;  // argv; empty for kernel threads
};

struct OpenFile {
  int pid = 0;
  int fd = 0;
  std::string comm;
  std::string path;      // without the kernel's " (deleted)" suffix
  bool deleted = false;  // unlinked while open: its space is freed only when it is closed
};

class ProcessTable {
 public:
  virtual ~ProcessTable() = default;
  // All processes; ones that vanish or cannot be read mid-scan are skipped. Fails when the
  // process list itself cannot be read or cannot be this system's: not a procfs (a tmpfs or
  // a planted tree over /proc), or one that does not show our own process. An empty list is
  // therefore a real "nothing runs", never "nothing could be seen".
  [[nodiscard]] virtual util::Result<std::vector<ProcessInfo>> processes() const = 0;
  // Open files whose path lies under any of `prefixes` (path-component aware, canonical
  // paths: the kernel reports resolved ones). Processes whose fds cannot be read (other
  // users' when not root) are skipped. Ordered by pid, then fd. Fails as processes() does.
  [[nodiscard]] virtual util::Result<std::vector<OpenFile>> open_files_under(
      const std::vector<std::string>& prefixes) const = 0;
  // True while the process exists and is not a zombie.
  [[nodiscard]] virtual bool alive(int pid) const = 0;
};

class RealProcessTable final : public ProcessTable {
 public:
  explicit RealProcessTable(std::string proc_root = "/proc") : proc_root_(std::move(proc_root)) {}
  [[nodiscard]] util::Result<std::vector<ProcessInfo>> processes() const override;
  [[nodiscard]] util::Result<std::vector<OpenFile>> open_files_under(
      const std::vector<std::string>& prefixes) const override;
  [[nodiscard]] bool alive(int pid) const override;

 private:
  std::string proc_root_;
};

// Litestream's default config file, used when its command line names none.
inline constexpr std::string_view kDefaultLitestreamConfig = "/etc/litestream.yml";

// Some process of process group pgid is alive: a zombie (not yet reaped by its new parent,
// often init) does not count. true when /proc cannot be read: the caller then waits, and
// signals, rather than leave a process behind.
[[nodiscard]] bool live_process_in_group(int pgid);

// The value of a process's -config/--config argument (either form); nullopt when it names
// none (Litestream then reads kDefaultLitestreamConfig).
[[nodiscard]] std::optional<std::string> config_argument(const ProcessInfo& p);

// Processes that are Litestream: comm or exe basename "litestream", or an argv[0] basename
// containing "litestream" (wrappers, test doubles). With a non-empty config_path, only those
// whose "-config"/"--config" argument equals it literally (relative paths are not resolved),
// or that name no config when config_path is kDefaultLitestreamConfig. Input order is kept.
[[nodiscard]] std::vector<ProcessInfo> find_litestream(const std::vector<ProcessInfo>& processes,
                                                       std::string_view config_path = {});

}  // namespace ltxguard::sys
