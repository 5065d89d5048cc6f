#include "support/fake_process_table.hpp"

#include <algorithm>

#include "ltxguard/formats/path_prefix.hpp"

namespace ltxguard::testing {

sys::ProcessInfo& FakeProcessTable::add_process(sys::ProcessInfo info) {
  std::erase_if(processes_, [&](const sys::ProcessInfo& p) { return p.pid == info.pid; });
  auto at = std::lower_bound(processes_.begin(), processes_.end(), info.pid,
                             [](const sys::ProcessInfo& p, int pid) { return p.pid < pid; });
  return *processes_.insert(at, std::move(info));
}

void FakeProcessTable::add_open_file(sys::OpenFile file) { open_files_.push_back(std::move(file)); }

void FakeProcessTable::kill(int pid) {
  std::erase_if(processes_, [&](const sys::ProcessInfo& p) { return p.pid == pid; });
  std::erase_if(open_files_, [&](const sys::OpenFile& f) { return f.pid == pid; });
}

util::Result<std::vector<sys::ProcessInfo>> FakeProcessTable::processes() const {
  if (failure_) return util::fail(*failure_);
  return processes_;
}

util::Result<std::vector<sys::OpenFile>> FakeProcessTable::open_files_under(
    const std::vector<std::string>& prefixes) const {
  if (failure_) return util::fail(*failure_);
  std::vector<sys::OpenFile> out;
  for (const auto& f : open_files_) {
    if (!alive(f.pid)) continue;
    const bool wanted = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
      return formats::path_within(f.path, p);
    });
    if (!wanted) continue;
    sys::OpenFile copy = f;
    if (copy.comm.empty()) {
      for (const auto& p : processes_) {
        if (p.pid == f.pid) copy.comm = p.comm;
      }
    }
    out.push_back(std::move(copy));
  }
  std::sort(out.begin(), out.end(), [](const sys::OpenFile& a, const sys::OpenFile& b) {
    return a.pid != b.pid ? a.pid < b.pid : a.fd < b.fd;
  });
  return out;
}

bool FakeProcessTable::alive(int pid) const {
  return std::any_of(processes_.begin(), processes_.end(),
                     [&](const sys::ProcessInfo& p) { return p.pid == pid; });
}

}  // namespace ltxguard::testing
