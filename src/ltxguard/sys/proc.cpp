#include "ltxguard/sys/proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <charconv>
#include <climits>
#include <memory>
#include <optional>

#include "ltxguard/formats/path_prefix.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {
namespace {

// Bounds on what one process can make us read.
constexpr size_t kMaxSmallFileBytes = 64 << 10;  // comm, status, stat
constexpr size_t kMaxCmdlineBytes = 256 << 10;
constexpr std::string_view kDeletedSuffix = " (deleted)";

// A pid or fd number: decimal digits only.
std::optional<int> parse_number(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<std::string> read_at(int dir_fd, const char* name, size_t max_bytes) {
  util::UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  std::string out;
  size_t used = 0;
  while (used < max_bytes) {
    out.resize(std::min(max_bytes, used + 4096));
    const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

std::optional<std::string> read_link_at(int dir_fd, const char* name) {
  std::string buf(PATH_MAX + 1, '\0');
  const ssize_t n = ::readlinkat(dir_fd, name, buf.data(), buf.size());
  if (n < 0 || static_cast<size_t>(n) == buf.size()) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

// Strips the suffix the kernel appends to a link whose target was unlinked.
bool strip_deleted(std::string& path) {
  if (path.size() <= kDeletedSuffix.size() || !path.ends_with(kDeletedSuffix)) return false;
  path.resize(path.size() - kDeletedSuffix.size());
  return true;
}

// Names of the numeric entries of a directory (pids in /proc, fds in /proc/<pid>/fd).
std::vector<int> numeric_entries(int dir_fd) {
  std::vector<int> out;
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup_fd), &::closedir);
  if (!dir) {
    ::close(dup_fd);
    return out;
  }
  while (const dirent* d = ::readdir(dir.get())) {
    if (auto n = parse_number(d->d_name)) out.push_back(*n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

util::UniqueFd open_pid_dir(int proc_fd, int pid) {
  return util::UniqueFd(
      ::openat(proc_fd, std::to_string(pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

// Opens the process list and checks it is this system's. An empty directory, a tmpfs or a
// planted tree over /proc, or a procfs of another PID namespace, lists no Litestream without
// any error: "not running" would then be said where nothing can be known.
util::Result<util::UniqueFd> open_proc_root(const std::string& root) {
  util::UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return util::fail(util::sys_error(errno, root, "cannot open process list"));
  struct statfs fs_info {};
  if (::fstatfs(fd.get(), &fs_info) != 0) {
    return util::fail(util::sys_error(errno, root, "cannot open process list"));
  }
  if (fs_info.f_type != PROC_SUPER_MAGIC) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, root,
                                       "not a proc filesystem, so which processes run is unknown"));
  }
  // "self" names our pid as this procfs counts it, and is dangling when we are not in it.
  const auto self = read_link_at(fd.get(), "self");
  const auto self_pid = self ? parse_number(*self) : std::nullopt;
  if (!self_pid || !open_pid_dir(fd.get(), *self_pid).valid()) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, root,
                                       "does not list ltxguard's own process (a /proc of another PID "
                                       "namespace?), so which processes run is unknown"));
  }
  return fd;
}

std::optional<std::string> read_comm(int pid_fd) {
  auto comm = read_at(pid_fd, "comm", kMaxSmallFileBytes);
  if (comm && !comm->empty() && comm->back() == '\n') comm->pop_back();
  return comm;
}

// "Uid:\t<real>\t<effective>\t<saved>\t<fs>" in /proc/<pid>/status.
std::optional<uint32_t> effective_uid(std::string_view status) {
  const size_t at = status.find("\nUid:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = status.substr(at + 5);
  rest = rest.substr(0, rest.find('\n'));
  uint32_t ids[2] = {0, 0};
  for (uint32_t& id : ids) {
    const size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), id);
    if (ec != std::errc()) return std::nullopt;
    rest.remove_prefix(static_cast<size_t>(p - rest.data()));
  }
  return ids[1];
}

std::vector<std::string> split_cmdline(std::string_view raw) {
  std::vector<std::string> args;
  while (!raw.empty()) {
    const size_t nul = raw.find('\0');
    args.emplace_back(raw.substr(0, nul));
    if (nul == std::string_view::npos) break;
    raw.remove_prefix(nul + 1);
  }
  return args;
}

std::string_view basename(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool uses_config(const ProcessInfo& p, std::string_view config_path) {
  const auto arg = config_argument(p);
  return arg ? *arg == config_path : config_path == kDefaultLitestreamConfig;
}

}  // namespace

std::optional<std::string> config_argument(const ProcessInfo& p) {
  const auto& args = p.cmdline;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "-config" || a == "--config") return i + 1 < args.size() ? args[i + 1] : std::string();
    for (std::string_view flag : {"-config=", "--config="}) {
      if (a.starts_with(flag)) return std::string(a.substr(flag.size()));
    }
  }
  return std::nullopt;
}

util::Result<std::vector<ProcessInfo>> RealProcessTable::processes() const {
  auto proc_fd = open_proc_root(proc_root_);
  if (!proc_fd) return util::fail(proc_fd.error());
  std::vector<ProcessInfo> out;
  for (int pid : numeric_entries(proc_fd->get())) {
    // Everything is read relative to this fd, so a recycled pid cannot mix two processes.
    const util::UniqueFd pid_fd = open_pid_dir(proc_fd->get(), pid);
    if (!pid_fd.valid()) continue;
    auto comm = read_comm(pid_fd.get());
    auto status = read_at(pid_fd.get(), "status", kMaxSmallFileBytes);
    if (!comm || !status) continue;
    auto uid = effective_uid(*status);
    if (!uid) continue;
    ProcessInfo p;
    p.pid = pid;
    p.uid = *uid;
    p.comm = std::move(*comm);
    if (auto exe = read_link_at(pid_fd.get(), "exe")) {  // EACCES for others' unless root
      strip_deleted(*exe);
      p.exe = std::move(*exe);
    }
    if (auto raw = read_at(pid_fd.get(), "cmdline", kMaxCmdlineBytes)) {
      p.cmdline = split_cmdline(*raw);
    }
    out.push_back(std::move(p));
  }
  return out;
}

util::Result<std::vector<OpenFile>> RealProcessTable::open_files_under(
    const std::vector<std::string>& prefixes) const {
  auto proc_fd = open_proc_root(proc_root_);
  if (!proc_fd) return util::fail(proc_fd.error());
  std::vector<OpenFile> out;
  if (prefixes.empty()) return out;
  for (int pid : numeric_entries(proc_fd->get())) {
    const util::UniqueFd pid_fd = open_pid_dir(proc_fd->get(), pid);
    if (!pid_fd.valid()) continue;
    const util::UniqueFd fd_dir(::openat(pid_fd.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd_dir.valid()) continue;
    std::optional<std::string> comm;
    for (int fd : numeric_entries(fd_dir.get())) {
      auto target = read_link_at(fd_dir.get(), std::to_string(fd).c_str());
      if (!target || target->empty() || target->front() != '/') continue;  // pipes, sockets
      const bool deleted = strip_deleted(*target);
      const bool wanted = std::any_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
        return formats::path_within(*target, p);
      });
      if (!wanted) continue;
      if (!comm) comm = read_comm(pid_fd.get()).value_or("");
      out.push_back(OpenFile{pid, fd, *comm, std::move(*target), deleted});
    }
  }
  return out;
}

bool RealProcessTable::alive(int pid) const {
  if (pid <= 0) return false;
  const std::string dir = proc_root_ + "/" + std::to_string(pid);
  util::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return false;
  // "<pid> (<comm>) <state> ...": comm may hold ')' itself, so take the last one.
  auto stat = read_at(fd.get(), "stat", kMaxSmallFileBytes);
  if (!stat) return false;
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  const char state = (*stat)[paren + 2];
  return state != 'Z' && state != 'X' && state != 'x';
}

bool live_process_in_group(int pgid) {
  auto proc = open_proc_root("/proc");
  if (!proc) return true;
  for (int pid : numeric_entries(proc->get())) {
    const util::UniqueFd pid_fd = open_pid_dir(proc->get(), pid);
    if (!pid_fd.valid()) continue;
    const auto stat = read_at(pid_fd.get(), "stat", 1024);
    if (!stat) continue;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const size_t paren = stat->rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (std::sscanf(stat->c_str() + paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') return true;
  }
  return false;
}

std::vector<ProcessInfo> find_litestream(const std::vector<ProcessInfo>& processes,
                                         std::string_view config_path) {
  std::vector<ProcessInfo> out;
  for (const ProcessInfo& p : processes) {
    const bool is_litestream =
        p.comm == "litestream" || basename(p.exe) == "litestream" ||
        (!p.cmdline.empty() && basename(p.cmdline[0]).find("litestream") != std::string_view::npos);
    if (!is_litestream) continue;
    if (!config_path.empty() && !uses_config(p, config_path)) continue;
    out.push_back(p);
  }
  return out;
}

}  // namespace ltxguard::sys
