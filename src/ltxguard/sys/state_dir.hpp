// ltxguard's own state directory (default /var/lib/ltxguard): checked before anything is
// written there, per-run subdirectories, and an append-only journal whose every line is on
// disk (fsync) before the next action starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

// Checks that `dir` exists, is a directory, is writable by this process, and (unless `force`)
// is not on one of `pressured_devs`: writing there would take space from the filesystem being
// rescued. Returns its canonical path. Errors: not_found "state directory does not exist";
// invalid_input "not a directory"; io with errno (EACCES, EROFS) "state directory is not
// writable"; invalid_input "state directory is on the filesystem under pressure (the
// database's or the staging's); choose another with --state-dir or pass --force".
[[nodiscard]] util::Result<std::string> check_state_dir(const std::string& dir,
                                                        const std::vector<uint64_t>& pressured_devs,
                                                        bool force);

// Creates `parent`/`name` with `mode` (the parent is created too when missing, one level).
// When the name is taken, "-2", "-3", … are appended (at most 100 tries). Returns the path.
[[nodiscard]] util::Result<std::string> make_unique_dir(const std::string& parent,
                                                        const std::string& name,
                                                        unsigned mode = 0700);

// An append-only file of lines (created 0600, never through a symlink). append_line writes the
// whole line plus '\n' with one write(2) and fsyncs before returning.
class AppendOnlyFile {
 public:
  [[nodiscard]] static util::Result<AppendOnlyFile> open(const std::string& path);
  [[nodiscard]] util::Result<void> append_line(std::string_view line) const;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  AppendOnlyFile() = default;
  std::string path_;
  util::UniqueFd fd_;
};

}  // namespace ltxguard::sys
