// Removal that cannot leave a Litestream meta dir: every path is walked down from the meta
// dir's own fd with openat(O_NOFOLLOW), the file's identity (device, inode, size) is checked
// against the plan before unlinkat on its parent's fd, and a meta dir that is a mount point or
// bind mount is refused. Moving to a quarantine on another filesystem is copy + fsync + unlink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

// What the plan saw of a file; a removal goes ahead only when the file still is this one.
struct FileIdentity {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size_bytes = 0;
};

struct MetaDirOptions {
  std::string mountinfo_path = "/proc/self/mountinfo";
  // Called at fixed points of a removal so tests can race it deterministically: "checked"
  // (the file and every directory above it were checked; the re-check and unlinkat follow)
  // and "copied" (quarantine copy written and synced; the re-check and unlinkat follow).
  std::function<void(std::string_view stage)> hook;
};

class Quarantine;

// An open, vetted meta dir. Every method takes a path relative to it ("ltx/0/x.ltx.tmp"):
// no "", ".", "..", leading or doubled '/'. Directories on the way must be real directories
// (a symlink is refused, never followed) on the meta dir's filesystem, owned by its owner or
// root. Nothing is ever removed through a path string: only unlinkat on a directory fd that
// was reached from the meta dir's fd and re-checked to still sit where it was found.
// Hard links: a file with more than one link is refused (its other name keeps the data, so
// removal frees nothing, and Litestream never links its files); the other name is never
// touched. What is left: a directory renamed out of the meta dir in the microseconds between
// the re-check and unlinkat carries the planned file along; the name then unlinked is still
// the planned inode (same device, inode, size, one link), never another file.
class MetaDir {
 public:
  // Resolves `path` once (realpath: a symlinked parent like /var -> /data is fine), opens the
  // result with O_DIRECTORY|O_NOFOLLOW and checks what would make removal unsafe (refusals()).
  // Fails: unsafe_path "refusing to follow a symlink" when the meta dir itself is a symlink,
  // invalid_input "not a directory", not_found when missing.
  [[nodiscard]] static util::Result<MetaDir> open(const std::string& path,
                                                  MetaDirOptions opts = {});

  [[nodiscard]] const std::string& path() const { return path_; }  // canonical
  [[nodiscard]] uint64_t dev() const { return dev_; }
  [[nodiscard]] uint64_t ino() const { return ino_; }
  [[nodiscard]] uint32_t owner_uid() const { return uid_; }

  // Why nothing may be removed here (unsafe_path errors on path()); empty when removal is
  // fine: "is a mount point: ...", "is a bind mount of <root> (<source>): ...", "a filesystem is
  // mounted below it at <dir>: ...", "is writable by every user without the sticky bit: ...",
  // "cannot read <mountinfo> to rule out a bind mount". remove() and move_to() refuse while
  // any is present; read_prefix() does not (reading the header is harmless).
  [[nodiscard]] const std::vector<util::Error>& refusals() const { return refusals_; }

  // At most max_bytes from the start of the file, when it still has the expected device and
  // inode (its size may differ: Litestream may be writing it).
  [[nodiscard]] util::Result<std::vector<uint8_t>> read_prefix(const std::string& rel_path,
                                                               const FileIdentity& expected,
                                                               size_t max_bytes) const;

  // Unlinks the file when it still is `expected`: regular, same device, inode and size, one
  // link, owned by the meta dir's owner or root. Errors (the file is left in place):
  // unsafe_path "changed since the plan (…): not removed", "has N hard links: not removed",
  // "refusing to follow a symlink", "not a regular file (fifo): not removed", "directory moved
  // or replaced during removal: not removed"; not_found "no longer exists".
  [[nodiscard]] util::Result<void> remove(const std::string& rel_path,
                                          const FileIdentity& expected) const;

  // Copies the file into the quarantine (O_EXCL, same relative path), fsyncs the copy and its
  // directory, re-checks the source and unlinks it. Returns the copy's path. On failure the
  // source stays and a partial copy is removed; no_space when the quarantine is full.
  [[nodiscard]] util::Result<std::string> move_to(const std::string& rel_path,
                                                  const FileIdentity& expected,
                                                  const Quarantine& quarantine) const;

 private:
  struct Step;
  struct Walk;
  MetaDir() = default;
  [[nodiscard]] util::Result<Walk> walk_to(const std::string& rel_path) const;
  [[nodiscard]] util::Result<void> check_leaf(const Walk& w, const FileIdentity& expected,
                                              bool exact) const;
  [[nodiscard]] util::Result<void> recheck(const Walk& w, const FileIdentity& expected) const;
  void hook(std::string_view stage) const;

  std::string path_;
  util::UniqueFd fd_;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
  uint32_t uid_ = 0;
  std::vector<util::Error> refusals_;
  MetaDirOptions opts_;
};

// A directory on another filesystem that removed files are copied into. create() makes
// `dir`/`run_name` (mode 0700); `dir` must exist and sit on none of `forbidden_devs` (the
// filesystems under pressure: moving a file within one frees nothing). Errors: not_found,
// invalid_input "is on the filesystem under pressure: moving files there frees nothing; choose
// a directory on another filesystem", io (errno) when run_name cannot be created.
class Quarantine {
 public:
  [[nodiscard]] static util::Result<Quarantine> create(const std::string& dir,
                                                       const std::string& run_name,
                                                       const std::vector<uint64_t>& forbidden_devs);
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  Quarantine() = default;
  std::string path_;
  util::UniqueFd fd_;
};

}  // namespace ltxguard::sys
