// The watcher's JSON-lines record (`watch --record FILE`, `run --record FILE`), appended one
// whole line at a time: a full or failing disk never leaves half a sample in it, and the next
// sample that fits starts on a line of its own.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::cmd {

// The record grows by about one line a second; room for about a day is reserved when it is
// opened, so it keeps working while the disk it sits on fills.
inline constexpr off_t kRecordPreallocBytes = 16 << 20;

class RecordFile {
 public:
  // Opens `path` for appending (created 0640, never through a symlink) and reserves
  // kRecordPreallocBytes past the start, best effort. A file that ends in a cut line (a crash
  // mid-write) gets its next line on a fresh line. Errors: the open's, with the path.
  [[nodiscard]] util::Result<void> open(const std::string& path);
  [[nodiscard]] bool enabled() const { return fd_.valid(); }

  // Appends `line` (which ends in "\n") whole or not at all: after a short write or an error
  // the file is cut back to where the line began (ftruncate) and the error is returned
  // (no_space for ENOSPC/EDQUOT, else io). If even the cut fails, the next line that is
  // written starts with "\n", so the cut piece stays a line of its own that readers skip.
  // On a file that cannot be truncated (a FIFO, a device) bytes written stay written.
  [[nodiscard]] std::optional<util::Error> append(std::string_view line);

 private:
  util::UniqueFd fd_;
  std::string path_;
  bool regular_ = false;
  off_t end_ = 0;               // where the last whole line ends: the offset to cut back to
  bool torn_ = false;           // a piece of a failed line lies past end_
  bool needs_newline_ = false;  // the file ended in a cut line when it was opened
};

}  // namespace ltxguard::cmd
