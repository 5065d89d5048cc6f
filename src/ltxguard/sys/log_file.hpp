// Plain-text log files (Litestream's stderr redirected to a file): the last lines of one, and
// a follower that reads a growing one the way `tail -F` does.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

// A longer line keeps its first kMaxLogLineBytes bytes; the rest is dropped.
inline constexpr size_t kMaxLogLineBytes = 16 * 1024;
// read_last_lines stops walking back after this many bytes: a file of one endless line
// costs this much reading, not the whole file.
inline constexpr size_t kMaxLogScanBytes = 256 * 1024 * 1024;

// The last max_lines lines of the file, oldest first, without their "\n" (and "\r"). A last
// line without "\n" is included as it stands. Reads backwards from the end in bounded chunks,
// never the whole file. Lines are raw bytes (may be invalid UTF-8).
// Errors: not_found; unsafe_path when the path is a symlink (O_NOFOLLOW) or not a regular
// file; io otherwise.
[[nodiscard]] util::Result<std::vector<std::string>> read_last_lines(const std::string& path,
                                                                     size_t max_lines);

// Follows a log file across rotation (the path names a new inode: the old file is read to
// its end first) and truncation (the size drops below what was read: restart at 0). A line
// is returned only once its "\n" is written; a partial line is held back, except that the
// last line of a rotated or truncated file is returned as it stands. A missing file is not an
// error: it is read from its start once it appears.
class LogFollower {
 public:
  // from_end: skip what the file holds now and return only what is written later.
  explicit LogFollower(std::string path, bool from_end = true);

  // Complete lines written since the last call, oldest first, at most max_lines (the rest
  // comes with the next call). Errors: unsafe_path when the path becomes a symlink or a
  // non-regular file; io when reading fails.
  [[nodiscard]] util::Result<std::vector<std::string>> poll(size_t max_lines = 10000);

 private:
  // Opens path_; false with no error when it does not exist.
  util::Result<bool> open_current();
  // Reads fd_ from offset_ to its end or until max_lines; returns true if stopped by max_lines.
  util::Result<bool> read_available(std::vector<std::string>* lines, size_t max_lines);
  void flush_pending(std::vector<std::string>* lines);

  std::string path_;
  util::UniqueFd fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t offset_ = 0;
  std::string pending_;  // the partial last line, at most kMaxLogLineBytes
};

}  // namespace ltxguard::sys
