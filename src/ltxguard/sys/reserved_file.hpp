// A file that holds disk space for later: fallocate'd blocks that a release gives back at
// once. The supervisor uses one as the policy's ballast on the app's filesystem (released at
// a protective stop, so the app can write again before anything else is done) and one in
// its state dir (released just before the evidence bundle and the alarm are written there).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "ltxguard/util/error.hpp"

namespace ltxguard::sys {

class ReservedFile {
 public:
  ReservedFile() = default;
  // Creates path (mode 0600, O_NOFOLLOW) or reuses a regular file ltxguard left there, and
  // allocates `bytes` of real blocks. Errors: unsafe_path when path is a symlink or not a
  // regular file; no_space when the filesystem cannot hold it (the file is then removed).
  [[nodiscard]] static util::Result<ReservedFile> create(const std::string& path, uint64_t bytes);

  // Unlinks the file if it is still the one created (same device, inode and size): a file put in
  // its place since is left alone. Returns the bytes given back; 0 when nothing was held.
  util::Result<uint64_t> release();

  [[nodiscard]] bool held() const { return held_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  std::string path_;
  uint64_t bytes_ = 0;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool held_ = false;
};

}  // namespace ltxguard::sys
