// In-memory sys::ProcessTable for unit tests: processes and open files the test declares,
// processes that die on demand, and a whole-table failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ltxguard/sys/proc.hpp"

namespace ltxguard::testing {

class FakeProcessTable final : public sys::ProcessTable {
 public:
  // Alive until kill(pid). Replaces a process with the same pid.
  sys::ProcessInfo& add_process(sys::ProcessInfo info);
  // Reported by open_files_under while its pid is alive (comm filled from the process).
  void add_open_file(sys::OpenFile file);
  // Stops reporting the process and its open files; alive(pid) turns false.
  void kill(int pid);
  // processes() and open_files_under() fail with `error` until cleared (nullopt).
  void fail_with(std::optional<util::Error> error) { failure_ = std::move(error); }

  [[nodiscard]] util::Result<std::vector<sys::ProcessInfo>> processes() const override;
  [[nodiscard]] util::Result<std::vector<sys::OpenFile>> open_files_under(
      const std::vector<std::string>& prefixes) const override;
  [[nodiscard]] bool alive(int pid) const override;

 private:
  std::vector<sys::ProcessInfo> processes_;  // sorted by pid
  std::vector<sys::OpenFile> open_files_;
  std::optional<util::Error> failure_;
};

}  // namespace ltxguard::testing
