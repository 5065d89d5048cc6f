// In-memory sys::FileSystem for unit tests of the layers above sys/: a tree of files, dirs,
// symlinks and special files with injected sizes, statvfs numbers per mount and errors per
// path (ENOSPC, EACCES, ...). It refuses and fails with the same errors as RealFileSystem.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ltxguard/sys/filesystem.hpp"

namespace ltxguard::testing {

class FakeFileSystem final : public sys::FileSystem {
 public:
  // Starts with "/" as a directory on a default mount "/" (dev 1, ext4, all numbers 0).
  FakeFileSystem();

  // Adders take absolute paths, create missing parents as directories, replace an existing
  // node, and return its stat for the test to adjust (uid, mode, mtime, allocated_bytes...).
  // stat.dev is not kept: it always comes from the mount the node lies under.
  sys::FileStat& add_file(const std::string& path, std::string content = {});
  // A file whose size (say 20 GiB) is far beyond the bytes it can be read for.
  sys::FileStat& add_sized_file(const std::string& path, uint64_t size_bytes,
                                std::string content = {});
  sys::FileStat& add_dir(const std::string& path);
  sys::FileStat& add_symlink(const std::string& path, std::string target);
  sys::FileStat& add_special(const std::string& path, sys::FileType type);  // fifo, socket...
  void remove(const std::string& path);  // and everything below it

  // statvfs numbers for paths under stats.mount_point (the longest one wins); replaces a
  // mount with the same mount point. The reference stays valid until the next add_mount.
  sys::FsStats& add_mount(sys::FsStats stats);

  // Every call naming `path` (after lexical normalisation) fails with `error`.
  void fail_on(const std::string& path, util::Error error);
  void clear_failure(const std::string& path);

  struct Read {
    std::string path;
    size_t max_bytes = 0;
  };
  // Every read_prefix/read_text call, in order, for tests that prove what was (not) read.
  [[nodiscard]] const std::vector<Read>& reads() const { return reads_; }

  [[nodiscard]] util::Result<sys::FileStat> lstat(const std::string& path) const override;
  [[nodiscard]] util::Result<sys::FileStat> stat(const std::string& path) const override;
  [[nodiscard]] util::Result<sys::FsStats> fs_stats(const std::string& path) const override;
  [[nodiscard]] util::Result<std::vector<uint8_t>> read_prefix(const std::string& path,
                                                               size_t max_bytes) const override;
  [[nodiscard]] util::Result<std::string> read_text(const std::string& path,
                                                    size_t max_bytes) const override;
  [[nodiscard]] util::Result<std::vector<sys::DirEntry>> list_dir(
      const std::string& path, size_t max_entries) const override;
  [[nodiscard]] util::Result<std::string> read_link(const std::string& path) const override;
  [[nodiscard]] util::Result<std::string> real_path(const std::string& path) const override;

 private:
  struct Node {
    sys::FileStat stat;
    std::string content;
    std::string target;  // symlinks
  };
  sys::FileStat& put(const std::string& path, Node node);
  // Canonical path of an existing node, or the errno the kernel would give.
  [[nodiscard]] util::Result<std::string> resolve(const std::string& path, bool follow_last,
                                                  const char* what) const;
  [[nodiscard]] const sys::FsStats& mount_of(const std::string& canonical) const;
  [[nodiscard]] sys::FileStat stat_of(const std::string& canonical) const;
  [[nodiscard]] const util::Error* failure(const std::string& path) const;
  [[nodiscard]] util::Result<std::string> read_node(const std::string& path,
                                                    size_t max_bytes) const;

  std::map<std::string, Node> nodes_;  // canonical path -> node; "/" included
  std::vector<sys::FsStats> mounts_;
  std::map<std::string, util::Error> failures_;
  mutable std::vector<Read> reads_;
  uint64_t next_ino_ = 2;
};

}  // namespace ltxguard::testing
