#include "support/fake_filesystem.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace ltxguard::testing {
namespace {

constexpr int kMaxSymlinkHops = 40;  // the kernel's limit

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    const size_t slash = path.find('/', i);
    const size_t end = slash == std::string::npos ? path.size() : slash;
    if (end > i) parts.push_back(path.substr(i, end - i));
    i = end + 1;
  }
  return parts;
}

std::string parent_of(const std::string& canonical) {
  const size_t slash = canonical.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : canonical.substr(0, slash);
}

std::string child_of(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// Lexical: collapses "//", "." and ".." without looking at symlinks.
std::string normalize(const std::string& path) {
  std::string out = "/";
  for (const auto& part : split(path)) {
    if (part == ".") continue;
    if (part == "..") {
      out = parent_of(out);
      continue;
    }
    out = child_of(out, part);
  }
  return out;
}

[[noreturn]] void misuse(const std::string& what) {
  std::fprintf(stderr, "FakeFileSystem misuse: %s\n", what.c_str());
  std::abort();
}

}  // namespace

FakeFileSystem::FakeFileSystem() {
  Node root;
  root.stat.type = sys::FileType::directory;
  root.stat.mode = 0755;
  root.stat.nlink = 2;
  root.stat.ino = next_ino_++;
  nodes_.emplace("/", std::move(root));
  sys::FsStats fs;
  fs.dev = 1;
  fs.mount_point = "/";
  fs.fstype = "ext4";
  fs.source = "/dev/fake";
  fs.options = "rw";
  mounts_.push_back(fs);
}

sys::FileStat& FakeFileSystem::put(const std::string& path, Node node) {
  const std::string p = normalize(path);
  if (p == "/") misuse("cannot replace /");
  const std::string parent = parent_of(p);
  auto it = nodes_.find(parent);
  if (it == nodes_.end()) {
    add_dir(parent);
  } else if (it->second.stat.type != sys::FileType::directory) {
    misuse(parent + " is not a directory");
  }
  remove(p);
  node.stat.ino = next_ino_++;
  auto& slot = nodes_[p];
  slot = std::move(node);
  return slot.stat;
}

sys::FileStat& FakeFileSystem::add_file(const std::string& path, std::string content) {
  const uint64_t size = content.size();
  return add_sized_file(path, size, std::move(content));
}

sys::FileStat& FakeFileSystem::add_sized_file(const std::string& path, uint64_t size_bytes,
                                              std::string content) {
  Node n;
  n.stat.type = sys::FileType::regular;
  n.stat.mode = 0644;
  n.stat.nlink = 1;
  n.stat.size_bytes = size_bytes;
  n.stat.allocated_bytes = (size_bytes + 4095) / 4096 * 4096;
  n.content = std::move(content);
  return put(path, std::move(n));
}

sys::FileStat& FakeFileSystem::add_dir(const std::string& path) {
  const std::string p = normalize(path);
  auto it = nodes_.find(p);
  if (it != nodes_.end() && it->second.stat.type == sys::FileType::directory) {
    return it->second.stat;
  }
  Node n;
  n.stat.type = sys::FileType::directory;
  n.stat.mode = 0755;
  n.stat.nlink = 2;
  n.stat.size_bytes = 4096;
  n.stat.allocated_bytes = 4096;
  return put(p, std::move(n));
}

sys::FileStat& FakeFileSystem::add_symlink(const std::string& path, std::string target) {
  Node n;
  n.stat.type = sys::FileType::symlink;
  n.stat.mode = 0777;
  n.stat.nlink = 1;
  n.stat.size_bytes = target.size();
  n.target = std::move(target);
  return put(path, std::move(n));
}

sys::FileStat& FakeFileSystem::add_special(const std::string& path, sys::FileType type) {
  Node n;
  n.stat.type = type;
  n.stat.mode = 0644;
  n.stat.nlink = 1;
  return put(path, std::move(n));
}

void FakeFileSystem::remove(const std::string& path) {
  const std::string p = normalize(path);
  if (p == "/") misuse("cannot remove /");
  nodes_.erase(p);
  const std::string below = p + "/";
  auto it = nodes_.lower_bound(below);
  while (it != nodes_.end() && it->first.compare(0, below.size(), below) == 0) {
    it = nodes_.erase(it);
  }
}

sys::FsStats& FakeFileSystem::add_mount(sys::FsStats stats) {
  stats.mount_point = normalize(stats.mount_point);
  for (auto& m : mounts_) {
    if (m.mount_point == stats.mount_point) {
      m = std::move(stats);
      return m;
    }
  }
  mounts_.push_back(std::move(stats));
  return mounts_.back();
}

void FakeFileSystem::fail_on(const std::string& path, util::Error error) {
  failures_[normalize(path)] = std::move(error);
}

void FakeFileSystem::clear_failure(const std::string& path) { failures_.erase(normalize(path)); }

const util::Error* FakeFileSystem::failure(const std::string& path) const {
  auto it = failures_.find(normalize(path));
  return it == failures_.end() ? nullptr : &it->second;
}

util::Result<std::string> FakeFileSystem::resolve(const std::string& path, bool follow_last,
                                                  const char* what) const {
  std::deque<std::string> pending;
  for (auto& part : split(path)) pending.push_back(std::move(part));
  std::string cur = "/";
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      cur = parent_of(cur);
      continue;
    }
    const std::string next = child_of(cur, part);
    auto it = nodes_.find(next);
    if (it == nodes_.end()) return util::fail(util::sys_error(ENOENT, path, what));
    const Node& n = it->second;
    if (n.stat.type == sys::FileType::symlink && (!pending.empty() || follow_last)) {
      if (++hops > kMaxSymlinkHops) return util::fail(util::sys_error(ELOOP, path, what));
      auto target = split(n.target);
      for (auto t = target.rbegin(); t != target.rend(); ++t) pending.push_front(*t);
      if (!n.target.empty() && n.target.front() == '/') cur = "/";
      continue;
    }
    if (!pending.empty() && n.stat.type != sys::FileType::directory) {
      return util::fail(util::sys_error(ENOTDIR, path, what));
    }
    cur = next;
  }
  return cur;
}

const sys::FsStats& FakeFileSystem::mount_of(const std::string& canonical) const {
  const sys::FsStats* best = &mounts_.front();
  for (const auto& m : mounts_) {
    const bool within = m.mount_point == "/" || canonical == m.mount_point ||
                        canonical.compare(0, m.mount_point.size() + 1, m.mount_point + "/") == 0;
    if (within && m.mount_point.size() >= best->mount_point.size()) best = &m;
  }
  return *best;
}

sys::FileStat FakeFileSystem::stat_of(const std::string& canonical) const {
  sys::FileStat s = nodes_.at(canonical).stat;
  s.dev = mount_of(canonical).dev;
  return s;
}

util::Result<sys::FileStat> FakeFileSystem::lstat(const std::string& path) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, false, "cannot lstat");
  if (!p) return util::fail(p.error());
  return stat_of(*p);
}

util::Result<sys::FileStat> FakeFileSystem::stat(const std::string& path) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, true, "cannot stat");
  if (!p) return util::fail(p.error());
  return stat_of(*p);
}

util::Result<sys::FsStats> FakeFileSystem::fs_stats(const std::string& path) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, true, "cannot open");
  if (!p) return util::fail(p.error());
  return mount_of(*p);
}

util::Result<std::string> FakeFileSystem::read_node(const std::string& path,
                                                    size_t max_bytes) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, false, "cannot open");
  if (!p) return util::fail(p.error());
  const Node& n = nodes_.at(*p);
  if (n.stat.type == sys::FileType::symlink) return util::fail(sys::symlink_refused(path));
  if (n.stat.type != sys::FileType::regular) {
    return util::fail(sys::not_regular_refused(path, n.stat.type));
  }
  reads_.push_back(Read{path, max_bytes});
  return n.content.substr(0, max_bytes);
}

util::Result<std::vector<uint8_t>> FakeFileSystem::read_prefix(const std::string& path,
                                                               size_t max_bytes) const {
  auto text = read_node(path, max_bytes);
  if (!text) return util::fail(text.error());
  return std::vector<uint8_t>(text->begin(), text->end());
}

util::Result<std::string> FakeFileSystem::read_text(const std::string& path,
                                                    size_t max_bytes) const {
  return read_node(path, max_bytes);
}

util::Result<std::vector<sys::DirEntry>> FakeFileSystem::list_dir(const std::string& path,
                                                                  size_t max_entries) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, false, "cannot open directory");
  if (!p) return util::fail(p.error());
  const Node& n = nodes_.at(*p);
  if (n.stat.type == sys::FileType::symlink) return util::fail(sys::symlink_refused(path));
  if (n.stat.type != sys::FileType::directory) {
    return util::fail(util::sys_error(ENOTDIR, path, "cannot open directory"));
  }
  const std::string below = *p == "/" ? "/" : *p + "/";
  std::vector<sys::DirEntry> out;
  for (auto it = nodes_.lower_bound(below);
       it != nodes_.end() && it->first.compare(0, below.size(), below) == 0; ++it) {
    const std::string name = it->first.substr(below.size());
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (out.size() == max_entries) return util::fail(sys::too_many_entries(path, max_entries));
    out.push_back(sys::DirEntry{name, stat_of(it->first)});
  }
  return out;
}

util::Result<std::string> FakeFileSystem::read_link(const std::string& path) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  auto p = resolve(path, false, "cannot read symlink");
  if (!p) return util::fail(p.error());
  const Node& n = nodes_.at(*p);
  if (n.stat.type != sys::FileType::symlink) {
    return util::fail(util::sys_error(EINVAL, path, "cannot read symlink"));
  }
  return n.target;
}

util::Result<std::string> FakeFileSystem::real_path(const std::string& path) const {
  if (const auto* e = failure(path)) return util::fail(*e);
  return resolve(path, true, "cannot resolve path");
}

}  // namespace ltxguard::testing
