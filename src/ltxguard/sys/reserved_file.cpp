#include "ltxguard/sys/reserved_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

util::Result<ReservedFile> ReservedFile::create(const std::string& path, uint64_t bytes) {
  util::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
  if (!fd.valid()) {
    if (errno == ELOOP) return util::fail(util::make_error(util::ErrorCode::unsafe_path, path, "is a symlink"));
    return util::fail(util::sys_error(errno, path, "cannot create reserved file"));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return util::fail(util::sys_error(errno, path, "cannot stat reserved file"));
  if (!S_ISREG(st.st_mode)) {
    return util::fail(util::make_error(util::ErrorCode::unsafe_path, path, "is not a regular file"));
  }
  if (bytes > 0 && ::fallocate(fd.get(), 0, 0, static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    ::unlink(path.c_str());  // half a reservation is worse than none: it only takes room
    return util::fail(util::sys_error(err, path, "cannot allocate reserved file"));
  }
  // A reused, larger file keeps only what was asked for.
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    return util::fail(util::sys_error(errno, path, "cannot size reserved file"));
  }
  (void)::fsync(fd.get());
  ReservedFile r;
  r.path_ = path;
  r.bytes_ = bytes;
  r.dev_ = st.st_dev;
  r.ino_ = st.st_ino;
  r.held_ = true;
  return r;
}

util::Result<uint64_t> ReservedFile::release() {
  if (!held_) return uint64_t{0};
  held_ = false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return uint64_t{0};
    return util::fail(util::sys_error(errno, path_, "cannot stat reserved file"));
  }
  // Inode numbers are reused at once after an unlink, so the size must match too.
  if (st.st_dev != dev_ || st.st_ino != ino_ || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) != bytes_) {
    return util::fail(util::make_error(util::ErrorCode::unsafe_path, path_,
                                       "reserved file was replaced; not removing what ltxguard did not create"));
  }
  if (::unlink(path_.c_str()) != 0) return util::fail(util::sys_error(errno, path_, "cannot remove reserved file"));
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace ltxguard::sys
