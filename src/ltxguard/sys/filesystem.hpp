// Read-only access to files, directories and filesystems: the one door to the disk for
// everything above sys/. RealFileSystem uses the kernel; tests inject a fake (sizes, ENOSPC,
// symlinks, other users' files) through the same interface. Nothing here writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

enum class FileType {
  regular,
  directory,
  symlink,
  fifo,
  socket,
  char_device,
  block_device,
  unknown
};

// "regular", "directory", "symlink", "fifo", "socket", "char device", "block device", "unknown"
[[nodiscard]] std::string_view file_type_name(FileType type);

struct FileStat {
  uint64_t dev = 0;
  uint64_t ino = 0;
  FileType type = FileType::unknown;
  uint32_t mode = 0;  // permission bits only (st_mode & 07777); the type is in `type`
  uint32_t uid = 0, gid = 0;
  uint64_t nlink = 0;
  uint64_t size_bytes = 0;
  uint64_t allocated_bytes = 0;  // st_blocks * 512: what the file really takes on disk
  int64_t mtime_ns = 0;          // since the epoch
};

struct FsStats {
  uint64_t dev = 0;  // st_dev of the path asked about
  // From mountinfo; empty when the mount could not be identified (the numbers stay valid).
  std::string mount_point, fstype, source, options;
  bool read_only = false;
  bool bind_mount = false;
  uint64_t block_bytes = 0;  // f_frsize
  uint64_t total_bytes = 0;  // f_blocks * f_frsize
  uint64_t free_bytes = 0;   // f_bfree * f_frsize: what root can still write (ext4 reserve)
  uint64_t avail_bytes = 0;  // f_bavail * f_frsize: what an unprivileged user can write
  uint64_t inodes_total = 0, inodes_free = 0, inodes_avail = 0;
};

struct DirEntry {
  std::string name;
  FileStat stat;  // lstat of the entry: a symlink is reported as a symlink
};

// One entry of a tree walk; rel_path is relative to the walk root ("ltx/0/x.ltx").
struct WalkEntry {
  std::string rel_path;
  FileStat stat;
};

struct WalkResult {
  std::vector<WalkEntry> entries;   // depth-first, each directory's entries sorted by name
  bool truncated = false;           // more entries existed than max_entries
  bool depth_limited = false;       // some directory at max_depth was not entered
  std::vector<util::Error> errors;  // directories that could not be read; the walk went on
};

// Called once per entry of a walk, in walk order. rel_path is valid only during the call.
using WalkVisitor = std::function<void(std::string_view rel_path, const FileStat& stat)>;

class TreeWatch;

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Never follows the last component.
  [[nodiscard]] virtual util::Result<FileStat> lstat(const std::string& path) const = 0;
  [[nodiscard]] virtual util::Result<FileStat> stat(const std::string& path) const = 0;
  // statvfs of the filesystem holding `path` (symlinks followed), with its st_dev and, when
  // mountinfo identifies it, mount point, type, source and options.
  [[nodiscard]] virtual util::Result<FsStats> fs_stats(const std::string& path) const = 0;

  // At most max_bytes from the start of a regular file. Refuses (unsafe_path) a symlink as
  // last component ("refusing to follow a symlink") and anything not regular ("refusing to
  // read a non-regular file (fifo)") without blocking on it. Does not update atime when
  // permitted. Reads nothing beyond max_bytes.
  [[nodiscard]] virtual util::Result<std::vector<uint8_t>> read_prefix(const std::string& path,
                                                                       size_t max_bytes) const = 0;
  // read_prefix as text: configs, /proc files.
  [[nodiscard]] virtual util::Result<std::string> read_text(const std::string& path,
                                                            size_t max_bytes) const = 0;

  // Entries of a directory (not "." or ".."), sorted by name, each lstat'ed; entries that
  // vanish while listing are left out. A symlink as `path` is refused ("refusing to follow a
  // symlink"). More than max_entries fails with invalid_input "too many entries (more than N)".
  [[nodiscard]] virtual util::Result<std::vector<DirEntry>> list_dir(const std::string& path,
                                                                     size_t max_entries) const = 0;

  [[nodiscard]] virtual util::Result<std::string> read_link(const std::string& path) const = 0;
  // realpath(3): absolute, no symlinks, no "." or "..".
  [[nodiscard]] virtual util::Result<std::string> real_path(const std::string& path) const = 0;

  // See walk_tree. This default collects what for_each_entry visits.
  [[nodiscard]] virtual WalkResult walk(const std::string& root, size_t max_entries,
                                        int max_depth) const;
  // See visit_tree. This default walks by path over list_dir, so it is only as race-free as
  // list_dir; RealFileSystem overrides it with a walk over directory fds.
  [[nodiscard]] virtual WalkResult for_each_entry(const std::string& root, size_t max_entries,
                                                  int max_depth, const WalkVisitor& visit) const;
  // A change feed for the tree under root (see TreeWatch), or nullptr when this filesystem
  // has none: the caller then has to walk again to see changes. This default has none;
  // RealFileSystem's is inotify, and nullptr when no inotify instance can be had.
  [[nodiscard]] virtual std::unique_ptr<TreeWatch> watch_tree(const std::string& root) const;
};

// What changed under a watched tree since the last walk or poll.
struct TreeChanges {
  // The feed lost track: queue overflow, a directory created, removed, moved or replaced (the
  // root included), an unmount, a directory it could not watch. Walk the tree again
  // (TreeWatch::rewalk) before trusting anything known about it; rel_paths is then empty.
  bool resync = false;
  // Entries that may have been created, removed, renamed, written, truncated or re-attributed,
  // relative to the root, sorted and unique. Nothing says which: lstat each to find out.
  std::vector<std::string> rel_paths;
};

// Keeps track of changes under one directory tree so that a caller can keep a listing of it
// current by stat'ing only what changed. Only directories the last rewalk entered are
// watched. Writes through a shared mmap are not seen (they cannot change a size).
class TreeWatch {
 public:
  virtual ~TreeWatch() = default;
  // visit_tree over the root that also re-arms the feed: each directory is watched before its
  // names are read, so a change made after an entry was visited shows in a later poll().
  // Forgets whatever was pending from before.
  [[nodiscard]] virtual WalkResult rewalk(size_t max_entries, int max_depth,
                                          const WalkVisitor& visit) = 0;
  // Changes since the last rewalk or poll. Never blocks.
  [[nodiscard]] virtual TreeChanges poll() = 0;
};

class RealFileSystem final : public FileSystem {
 public:
  explicit RealFileSystem(std::string mountinfo_path = "/proc/self/mountinfo")
      : mountinfo_path_(std::move(mountinfo_path)) {}

  [[nodiscard]] util::Result<FileStat> lstat(const std::string& path) const override;
  [[nodiscard]] util::Result<FileStat> stat(const std::string& path) const override;
  [[nodiscard]] util::Result<FsStats> fs_stats(const std::string& path) const override;
  [[nodiscard]] util::Result<std::vector<uint8_t>> read_prefix(const std::string& path,
                                                               size_t max_bytes) const override;
  [[nodiscard]] util::Result<std::string> read_text(const std::string& path,
                                                    size_t max_bytes) const override;
  [[nodiscard]] util::Result<std::vector<DirEntry>> list_dir(const std::string& path,
                                                             size_t max_entries) const override;
  [[nodiscard]] util::Result<std::string> read_link(const std::string& path) const override;
  [[nodiscard]] util::Result<std::string> real_path(const std::string& path) const override;
  // openat/fstatat on directory fds opened O_NOFOLLOW: a directory swapped for a symlink
  // mid-walk is refused, so the walk never leaves root.
  [[nodiscard]] WalkResult for_each_entry(const std::string& root, size_t max_entries,
                                          int max_depth, const WalkVisitor& visit) const override;
  // inotify on each directory the walk opens (through the open fd, so a swapped path cannot
  // redirect it); at most kMaxWatchedDirs directories, beyond that every poll asks for a
  // resync.
  [[nodiscard]] std::unique_ptr<TreeWatch> watch_tree(const std::string& root) const override;

 private:
  std::string mountinfo_path_;
};

// Depth-first walk under root that never follows symlinks (they are reported as entries) and
// never leaves root; it does descend into other filesystems mounted below root (compare
// stat.dev to tell). Entries have paths relative to root, at most max_depth components deep
// (1 = root's own entries; <= 0 = none). Stops after max_entries with truncated = true.
// A root that is missing, a symlink or not a directory gives no entries and one error.
[[nodiscard]] WalkResult walk_tree(const FileSystem& fs, const std::string& root,
                                   size_t max_entries, int max_depth);

// walk_tree without the entry list: the same entries in the same order go to `visit` as they
// are found, and the result's entries stay empty. Memory stays bounded by one directory's
// names, not by the tree.
[[nodiscard]] WalkResult visit_tree(const FileSystem& fs, const std::string& root,
                                    size_t max_entries, int max_depth, const WalkVisitor& visit);

// RealFileSystem's TreeWatch gives up (every poll asks for a resync) past this many directories.
inline constexpr size_t kMaxWatchedDirs = 4096;

[[nodiscard]] bool same_filesystem(const FileStat& a, const FileStat& b);

// statvfs and st_dev of the filesystem holding `path`, without the mount lookup fs_stats does:
// cheap enough to poll ten times a second (the mount fields stay empty).
[[nodiscard]] util::Result<FsStats> fs_space(const std::string& path);

// statvfs of the filesystem `path` is on, or will be on once created: a meta dir or replica
// dir that does not exist yet lands on its nearest existing parent's filesystem.
[[nodiscard]] util::Result<FsStats> fs_stats_nearest(const FileSystem& fs, const std::string& path);

// The refusals every FileSystem returns, shared so that fakes fail exactly like the real one.
// unsafe_path, errno ELOOP: "refusing to follow a symlink"
[[nodiscard]] util::Error symlink_refused(std::string path);
// unsafe_path: "refusing to read a non-regular file (<type name>)"
[[nodiscard]] util::Error not_regular_refused(std::string path, FileType type);
// invalid_input: "too many entries (more than N)"
[[nodiscard]] util::Error too_many_entries(std::string path, size_t max_entries);

}  // namespace ltxguard::sys
