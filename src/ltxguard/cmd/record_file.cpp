#include "ltxguard/cmd/record_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ltxguard::cmd {

util::Result<void> RecordFile::open(const std::string& path) {
  // O_RDWR: the last byte is read to know whether the file ends mid-line.
  fd_.reset(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd_.valid()) return util::fail(util::sys_error(errno, path, "cannot open record file"));
  path_ = path;
  struct stat st {};
  regular_ = ::fstat(fd_.get(), &st) == 0 && S_ISREG(st.st_mode);
  if (!regular_) return {};
  end_ = st.st_size;
  if (end_ > 0) {
    char last = 0;
    needs_newline_ = ::pread(fd_.get(), &last, 1, end_ - 1) != 1 || last != '\n';
  }
  (void)::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, 0, kRecordPreallocBytes);  // best effort
  return {};
}

std::optional<util::Error> RecordFile::append(std::string_view line) {
  // A piece of an earlier line that could not be cut away: one more try, else step past it.
  if (torn_ && regular_ && ::ftruncate(fd_.get(), end_) == 0) torn_ = false;
  std::string with_newline;
  if (torn_ || needs_newline_) {
    with_newline = "\n" + std::string(line);
    line = with_newline;
  }
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_.get(), line.data() + written, line.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int err = n < 0 ? errno : EIO;  // 0 bytes for a non-empty write: no progress
    if (written > 0) torn_ = !regular_ || ::ftruncate(fd_.get(), end_) != 0;
    return util::sys_error(err, path_, "cannot append to the record file");
  }
  torn_ = needs_newline_ = false;
  if (regular_) {
    // O_APPEND leaves the offset at the end of what was just written.
    const off_t pos = ::lseek(fd_.get(), 0, SEEK_CUR);
    end_ = pos >= 0 ? pos : end_ + static_cast<off_t>(line.size());
  }
  return std::nullopt;
}

}  // namespace ltxguard::cmd
