#include "ltxguard/sys/file_byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>

namespace ltxguard::sys {

util::Result<std::unique_ptr<FileByteSource>> FileByteSource::open(const std::string& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ELOOP)
      return util::fail(util::sys_error(ELOOP, path, "refusing to follow a symlink"));
    return util::fail(util::sys_error(errno, path, "cannot open"));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return util::fail(util::sys_error(errno, path, "cannot stat"));
  if (!S_ISREG(st.st_mode))
    return util::fail(util::make_error(util::ErrorCode::unsafe_path, path, "not a regular file"));
  return std::unique_ptr<FileByteSource>(
      new FileByteSource(std::move(fd), path, static_cast<uint64_t>(st.st_size)));
}

util::Result<size_t> FileByteSource::read_at(uint64_t offset, std::span<uint8_t> out) const {
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) return size_t{0};
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return util::fail(util::sys_error(errno, path_, "cannot read"));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace ltxguard::sys
