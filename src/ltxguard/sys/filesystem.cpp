#include "ltxguard/sys/filesystem.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "ltxguard/formats/mountinfo.hpp"
#include "ltxguard/formats/path_prefix.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {
namespace {

using util::fail;
using util::sys_error;

// mountinfo of a busy container host runs to a few hundred KiB; this bounds a hostile one.
constexpr size_t kMaxMountinfoBytes = 16 << 20;
constexpr size_t kReadChunkBytes = 64 << 10;

FileType type_of(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG:
      return FileType::regular;
    case S_IFDIR:
      return FileType::directory;
    case S_IFLNK:
      return FileType::symlink;
    case S_IFIFO:
      return FileType::fifo;
    case S_IFSOCK:
      return FileType::socket;
    case S_IFCHR:
      return FileType::char_device;
    case S_IFBLK:
      return FileType::block_device;
    default:
      return FileType::unknown;
  }
}

FileStat from_stat(const struct stat& st) {
  FileStat s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.type = type_of(st.st_mode);
  s.mode = st.st_mode & 07777;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.nlink = st.st_nlink;
  s.size_bytes = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  s.allocated_bytes = st.st_blocks > 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  return s;
}

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Opens a regular file for reading without following a final symlink, without blocking on a
// FIFO and, where permitted, without touching atime. The lstat first keeps us from ever
// opening a device node; the fstat after closes the race with a swap in between.
util::Result<util::UniqueFd> open_regular(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(sys_error(errno, path, "cannot open"));
  if (S_ISLNK(st.st_mode)) return fail(symlink_refused(path));
  if (!S_ISREG(st.st_mode)) return fail(not_regular_refused(path, type_of(st.st_mode)));
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  util::UniqueFd fd(::open(path.c_str(), flags | O_NOATIME));
  if (!fd.valid() && errno == EPERM) fd.reset(::open(path.c_str(), flags));  // not our file
  if (!fd.valid()) {
    if (errno == ELOOP) return fail(symlink_refused(path));
    return fail(sys_error(errno, path, "cannot open"));
  }
  if (::fstat(fd.get(), &st) != 0) return fail(sys_error(errno, path, "cannot stat"));
  if (!S_ISREG(st.st_mode)) return fail(not_regular_refused(path, type_of(st.st_mode)));
  return fd;
}

template <typename Buffer>
util::Result<Buffer> read_bounded(const std::string& path, size_t max_bytes) {
  auto fd = open_regular(path);
  if (!fd) return fail(fd.error());
  Buffer out;
  size_t used = 0;
  while (used < max_bytes) {
    // Grow by chunks: max_bytes is a bound, not a size to allocate up front.
    out.resize(used + std::min(kReadChunkBytes, max_bytes - used));
    const ssize_t n = ::read(fd->get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(sys_error(errno, path, "cannot read"));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

// Reads the names (not "." or "..") of a directory fd, sorted. Past `cap` names it keeps only
// the `cap` smallest and sets *more: memory stays bounded in a huge directory while a
// truncated listing is still the same deterministic prefix. The fd stays open (the stream
// works on a duplicate).
util::Result<std::vector<std::string>> read_names(int dir_fd, const std::string& path, size_t cap,
                                                  bool* more) {
  *more = false;
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return fail(sys_error(errno, path, "cannot read directory"));
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup_fd), &::closedir);
  if (!dir) {
    const int err = errno;
    ::close(dup_fd);
    return fail(sys_error(err, path, "cannot read directory"));
  }
  std::vector<std::string> names;  // a max-heap once it holds `cap` names
  for (;;) {
    errno = 0;
    const dirent* d = ::readdir(dir.get());
    if (d == nullptr) {
      if (errno != 0) return fail(sys_error(errno, path, "cannot read directory"));
      break;
    }
    const std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    if (names.size() < cap) {
      names.emplace_back(name);
      if (names.size() == cap) std::make_heap(names.begin(), names.end());
      continue;
    }
    *more = true;
    if (cap == 0 || name >= names.front()) continue;
    std::pop_heap(names.begin(), names.end());
    names.back() = name;
    std::push_heap(names.begin(), names.end());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Opens a directory without following a final symlink.
util::Result<util::UniqueFd> open_dir_at(int at_fd, const std::string& name,
                                         const std::string& path) {
  util::UniqueFd fd(::openat(at_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  const int err = errno;
  struct stat st {};
  if (err == ELOOP ||
      (err == ENOTDIR && ::fstatat(at_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
       S_ISLNK(st.st_mode))) {
    return fail(symlink_refused(path));
  }
  return fail(sys_error(err, path, "cannot open directory"));
}

// Called with each directory's relative path ("" for root) and open fd just before its names
// are read: where a TreeWatch arms its watch.
using BeforeList = std::function<void(const std::string& rel, int dir_fd)>;

// The walk over directory fds behind RealFileSystem::for_each_entry and its TreeWatch.
WalkResult walk_fds(const std::string& root, size_t max_entries, int max_depth,
                    const WalkVisitor& visit, const BeforeList& before_list) {
  WalkResult r;
  auto root_fd = open_dir_at(AT_FDCWD, root, root);
  if (!root_fd) {
    r.errors.push_back(root_fd.error());
    return r;
  }
  struct Frame {
    util::UniqueFd fd;
    std::string rel;
    int depth;
    std::vector<std::string> names;  // sorted; stat'ed only when visited
    size_t next = 0;
  };
  // Past max_entries + 1 names a directory only proves truncation: don't hold the rest.
  const size_t cap = max_entries == SIZE_MAX ? SIZE_MAX : max_entries + 1;
  auto load = [&](util::UniqueFd fd, std::string rel, int depth) {
    if (before_list) before_list(rel, fd.get());
    bool more = false;
    auto names = read_names(fd.get(), join(root, rel), cap, &more);
    if (!names) {
      r.errors.push_back(names.error());
      return std::optional<Frame>();
    }
    if (more) r.truncated = true;
    return std::optional<Frame>(Frame{std::move(fd), std::move(rel), depth, std::move(*names)});
  };

  std::vector<Frame> stack;
  auto first = load(std::move(*root_fd), "", 0);
  if (!first) return r;
  if (max_depth <= 0) {
    r.depth_limited = !first->names.empty();
    r.truncated = false;
    return r;
  }
  stack.push_back(std::move(*first));
  size_t visited = 0;
  std::string rel;  // reused: a walk allocates per directory, not per entry
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.names.size()) {
      stack.pop_back();
      continue;
    }
    const std::string& name = f.names[f.next++];
    struct stat st {};
    if (::fstatat(f.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT)
        r.errors.push_back(sys_error(errno, join(root, join(f.rel, name)), "cannot lstat"));
      continue;
    }
    if (visited >= max_entries) {
      r.truncated = true;
      break;
    }
    ++visited;
    rel.assign(f.rel);
    if (!rel.empty()) rel += '/';
    rel += name;
    const FileStat fs = from_stat(st);
    visit(rel, fs);
    if (fs.type != FileType::directory) continue;
    if (f.depth + 1 >= max_depth) {
      r.depth_limited = true;
      continue;
    }
    const std::string full = join(root, rel);
    auto child = open_dir_at(f.fd.get(), name, full);
    if (!child) {
      if (child.error().code != util::ErrorCode::not_found) r.errors.push_back(child.error());
      continue;
    }
    // The name may now be a different directory (renamed over since fstatat): skip it rather
    // than report entries under a stat that is not theirs.
    struct stat opened {};
    if (::fstat(child->get(), &opened) != 0 || opened.st_dev != st.st_dev ||
        opened.st_ino != st.st_ino) {
      r.errors.push_back(
          util::make_error(util::ErrorCode::unsafe_path, full, "directory replaced during walk"));
      continue;
    }
    const int depth = f.depth + 1;
    auto frame = load(std::move(*child), rel, depth);
    if (frame) stack.push_back(std::move(*frame));  // invalidates f
  }
  return r;
}

// Entry events of every directory, and the events that mean the listing can no longer be
// trusted. IN_EXCL_UNLINK: writes to a file that is already unlinked change nothing listed.
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY |
                                IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |
                                IN_EXCL_UNLINK;
constexpr uint32_t kLostTrack =
    IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT;
constexpr uint32_t kEntryMoved = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;
// A flood of distinct names between two polls is cheaper to resolve by one walk.
constexpr size_t kMaxPendingChanges = 65536;

class InotifyTreeWatch final : public TreeWatch {
 public:
  explicit InotifyTreeWatch(std::string root) : root_(std::move(root)) { reopen(); }
  [[nodiscard]] bool ok() const { return fd_.valid(); }

  WalkResult rewalk(size_t max_entries, int max_depth, const WalkVisitor& visit) override {
    reopen();  // a fresh instance drops every old watch and pending event at once
    lost_ = !fd_.valid();
    WalkResult r = walk_fds(root_, max_entries, max_depth, visit,
                            [this](const std::string& rel, int dir_fd) { arm(rel, dir_fd); });
    if (dirs_.empty()) lost_ = true;  // the root itself could not be opened: nothing watches it
    return r;
  }

  TreeChanges poll() override {
    TreeChanges c;
    alignas(inotify_event) char buf[16384];
    while (!lost_) {
      const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        lost_ = true;
        break;
      }
      for (size_t off = 0; off + sizeof(inotify_event) <= static_cast<size_t>(n);) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        off += sizeof(inotify_event) + ev->len;
        if ((ev->mask & kLostTrack) != 0 ||
            ((ev->mask & IN_ISDIR) != 0 && (ev->mask & kEntryMoved) != 0)) {
          lost_ = true;
          break;
        }
        if ((ev->mask & IN_ISDIR) != 0 || ev->len == 0) continue;  // a directory's own attributes
        const auto dir = dirs_.find(ev->wd);
        if (dir == dirs_.end()) continue;
        c.rel_paths.push_back(join(dir->second, ev->name));
        if (c.rel_paths.size() > kMaxPendingChanges) lost_ = true;
      }
    }
    if (lost_) {
      c.rel_paths.clear();
      c.resync = true;
      return c;
    }
    std::sort(c.rel_paths.begin(), c.rel_paths.end());
    c.rel_paths.erase(std::unique(c.rel_paths.begin(), c.rel_paths.end()), c.rel_paths.end());
    return c;
  }

 private:
  void reopen() {
    dirs_.clear();
    fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  }

  // Through /proc/self/fd the watch lands on the directory the walk opened, whatever its path
  // names by now. A directory that cannot be watched leaves the feed lost: every poll then
  // asks for a walk, which is what a caller without a feed does anyway.
  void arm(const std::string& rel, int dir_fd) {
    if (lost_) return;
    if (dirs_.size() >= kMaxWatchedDirs) {
      lost_ = true;
      return;
    }
    const std::string via = "/proc/self/fd/" + std::to_string(dir_fd);
    const int wd = ::inotify_add_watch(fd_.get(), via.c_str(), kWatchMask);
    if (wd < 0) {
      lost_ = true;
      return;
    }
    // The same directory under two names (a bind mount inside the tree): events would be
    // ambiguous.
    const auto [it, inserted] = dirs_.emplace(wd, rel);
    if (!inserted && it->second != rel) lost_ = true;
  }

  std::string root_;
  util::UniqueFd fd_;
  std::map<int, std::string> dirs_;  // watch descriptor -> directory relative to root
  bool lost_ = true;                 // until the first rewalk
};

}  // namespace

std::string_view file_type_name(FileType type) {
  switch (type) {
    case FileType::regular:
      return "regular";
    case FileType::directory:
      return "directory";
    case FileType::symlink:
      return "symlink";
    case FileType::fifo:
      return "fifo";
    case FileType::socket:
      return "socket";
    case FileType::char_device:
      return "char device";
    case FileType::block_device:
      return "block device";
    case FileType::unknown:
      break;
  }
  return "unknown";
}

util::Error symlink_refused(std::string path) {
  return util::Error{util::ErrorCode::unsafe_path, ELOOP, std::move(path),
                     "refusing to follow a symlink"};
}

util::Error not_regular_refused(std::string path, FileType type) {
  return util::make_error(
      util::ErrorCode::unsafe_path, std::move(path),
      "refusing to read a non-regular file (" + std::string(file_type_name(type)) + ")");
}

util::Error too_many_entries(std::string path, size_t max_entries) {
  return util::make_error(util::ErrorCode::invalid_input, std::move(path),
                          "too many entries (more than " + std::to_string(max_entries) + ")");
}

bool same_filesystem(const FileStat& a, const FileStat& b) { return a.dev == b.dev; }

// ---- default walk, by path over list_dir (fakes) ----

WalkResult FileSystem::walk(const std::string& root, size_t max_entries, int max_depth) const {
  std::vector<WalkEntry> entries;
  WalkResult r = for_each_entry(root, max_entries, max_depth,
                                [&entries](std::string_view rel, const FileStat& st) {
                                  entries.push_back(WalkEntry{std::string(rel), st});
                                });
  r.entries = std::move(entries);
  return r;
}

WalkResult FileSystem::for_each_entry(const std::string& root, size_t max_entries, int max_depth,
                                      const WalkVisitor& visit) const {
  WalkResult r;
  auto top = list_dir(root, SIZE_MAX);
  if (!top) {
    r.errors.push_back(top.error());
    return r;
  }
  if (max_depth <= 0) {
    r.depth_limited = !top->empty();
    return r;
  }
  struct Frame {
    std::string rel;
    int depth;
    std::vector<DirEntry> entries;
    size_t next = 0;
  };
  std::vector<Frame> stack;
  stack.push_back(Frame{"", 0, std::move(*top)});
  size_t visited = 0;
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.entries.size()) {
      stack.pop_back();
      continue;
    }
    DirEntry& e = f.entries[f.next++];
    if (visited >= max_entries) {
      r.truncated = true;
      break;
    }
    ++visited;
    std::string rel = join(f.rel, e.name);
    visit(rel, e.stat);
    if (e.stat.type != FileType::directory) continue;
    if (f.depth + 1 >= max_depth) {
      r.depth_limited = true;
      continue;
    }
    const int depth = f.depth + 1;
    auto children = list_dir(join(root, rel), SIZE_MAX);
    if (!children) {
      if (children.error().code != util::ErrorCode::not_found) r.errors.push_back(children.error());
      continue;
    }
    stack.push_back(Frame{std::move(rel), depth, std::move(*children)});  // invalidates f
  }
  return r;
}

std::unique_ptr<TreeWatch> FileSystem::watch_tree(const std::string& /*root*/) const {
  return nullptr;
}

WalkResult walk_tree(const FileSystem& fs, const std::string& root, size_t max_entries,
                     int max_depth) {
  return fs.walk(root, max_entries, max_depth);
}

WalkResult visit_tree(const FileSystem& fs, const std::string& root, size_t max_entries,
                      int max_depth, const WalkVisitor& visit) {
  return fs.for_each_entry(root, max_entries, max_depth, visit);
}

// ---- RealFileSystem ----

util::Result<FileStat> RealFileSystem::lstat(const std::string& path) const {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(sys_error(errno, path, "cannot lstat"));
  return from_stat(st);
}

util::Result<FileStat> RealFileSystem::stat(const std::string& path) const {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(sys_error(errno, path, "cannot stat"));
  return from_stat(st);
}

util::Result<FsStats> fs_space(const std::string& path) {
  // One O_PATH fd for both calls, so st_dev and statvfs describe the same filesystem.
  util::UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd.valid()) return fail(sys_error(errno, path, "cannot open"));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(sys_error(errno, path, "cannot stat"));
  struct statvfs vfs {};
  if (::fstatvfs(fd.get(), &vfs) != 0) return fail(sys_error(errno, path, "cannot statvfs"));

  FsStats s;
  s.dev = st.st_dev;
  s.read_only = (vfs.f_flag & ST_RDONLY) != 0;
  s.block_bytes = vfs.f_frsize;
  s.total_bytes = uint64_t{vfs.f_blocks} * vfs.f_frsize;
  s.free_bytes = uint64_t{vfs.f_bfree} * vfs.f_frsize;
  s.avail_bytes = uint64_t{vfs.f_bavail} * vfs.f_frsize;
  s.inodes_total = vfs.f_files;
  s.inodes_free = vfs.f_ffree;
  s.inodes_avail = vfs.f_favail;
  return s;
}

util::Result<FsStats> RealFileSystem::fs_stats(const std::string& path) const {
  auto space = fs_space(path);
  if (!space) return space;
  FsStats s = std::move(*space);

  // The mount is a description, not a number we decide on: failing to find it is not fatal.
  auto text = read_text(mountinfo_path_, kMaxMountinfoBytes);
  auto canonical = real_path(path);
  if (!text || !canonical) return s;
  const auto mounts = formats::parse_mountinfo(*text);
  const formats::MountEntry* m =
      formats::find_mount(mounts, major(s.dev), minor(s.dev), *canonical);
  if (m == nullptr) {
    // btrfs subvolumes and overlayfs report an st_dev that mountinfo does not list: fall back
    // to the innermost mount point above the path.
    for (const auto& e : mounts) {
      if (formats::path_within(*canonical, e.mount_point) &&
          (m == nullptr || e.mount_point.size() >= m->mount_point.size())) {
        m = &e;
      }
    }
  }
  if (m != nullptr) {
    s.mount_point = m->mount_point;
    s.fstype = m->fstype;
    s.source = m->source;
    s.options = m->options;
    s.bind_mount = formats::is_bind_mount(*m);
  }
  return s;
}

util::Result<std::vector<uint8_t>> RealFileSystem::read_prefix(const std::string& path,
                                                               size_t max_bytes) const {
  return read_bounded<std::vector<uint8_t>>(path, max_bytes);
}

util::Result<std::string> RealFileSystem::read_text(const std::string& path,
                                                    size_t max_bytes) const {
  return read_bounded<std::string>(path, max_bytes);
}

util::Result<std::vector<DirEntry>> RealFileSystem::list_dir(const std::string& path,
                                                             size_t max_entries) const {
  auto fd = open_dir_at(AT_FDCWD, path, path);
  if (!fd) return fail(fd.error());
  bool more = false;
  auto names = read_names(fd->get(), path, max_entries, &more);
  if (!names) return fail(names.error());
  if (more) return fail(too_many_entries(path, max_entries));
  std::vector<DirEntry> out;
  out.reserve(names->size());
  for (auto& name : *names) {
    struct stat st {};
    if (::fstatat(fd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed since readdir
      return fail(sys_error(errno, join(path, name), "cannot lstat"));
    }
    out.push_back(DirEntry{std::move(name), from_stat(st)});
  }
  return out;
}

util::Result<std::string> RealFileSystem::read_link(const std::string& path) const {
  std::string buf(PATH_MAX + 1, '\0');
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return fail(sys_error(errno, path, "cannot read symlink"));
  if (static_cast<size_t>(n) == buf.size()) {
    return fail(util::make_error(util::ErrorCode::invalid_input, path, "symlink target too long"));
  }
  buf.resize(static_cast<size_t>(n));
  return buf;
}

util::Result<std::string> RealFileSystem::real_path(const std::string& path) const {
  std::unique_ptr<char, void (*)(void*)> p(::realpath(path.c_str(), nullptr), &std::free);
  if (!p) return fail(sys_error(errno, path, "cannot resolve path"));
  return std::string(p.get());
}

WalkResult RealFileSystem::for_each_entry(const std::string& root, size_t max_entries,
                                          int max_depth, const WalkVisitor& visit) const {
  return walk_fds(root, max_entries, max_depth, visit, nullptr);
}

std::unique_ptr<TreeWatch> RealFileSystem::watch_tree(const std::string& root) const {
  auto w = std::make_unique<InotifyTreeWatch>(root);
  if (!w->ok()) return nullptr;
  return w;
}

util::Result<FsStats> fs_stats_nearest(const FileSystem& fs, const std::string& path) {
  std::string p = path;
  while (!p.empty() && p != "/") {
    if (fs.stat(p)) return fs.fs_stats(p);
    const size_t slash = p.rfind('/');
    p = slash == std::string::npos || slash == 0 ? "/" : p.substr(0, slash);
  }
  return fs.fs_stats("/");
}

}  // namespace ltxguard::sys
