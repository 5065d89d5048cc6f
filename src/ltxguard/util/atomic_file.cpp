#include "ltxguard/util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::util {

Result<void> write_file_atomic(const std::string& path, std::string_view content, unsigned mode) {
  const std::filesystem::path target(path);
  std::string dir = target.parent_path().string();
  if (dir.empty()) dir = ".";
  // mkstemp replaces the six trailing X with random characters.
  std::string tmp = dir + "/." + target.filename().string() + ".tmp-" + std::string(6, 'X');

  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return fail(sys_error(errno, tmp, "cannot create temporary file"));
  auto abandon = [&](int err, const char* what) {
    ::unlink(tmp.c_str());
    return fail(sys_error(err, path, what));
  };
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return abandon(errno, "cannot set mode");
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return abandon(errno, "cannot write");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return abandon(errno, "cannot fsync");
  if (::close(fd.release()) != 0) return abandon(errno, "cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return abandon(errno, "cannot rename into place");
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) ::fsync(dfd.get());  // best effort: the rename itself already happened
  return {};
}

}  // namespace ltxguard::util
