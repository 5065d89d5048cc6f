#include "ltxguard/sys/state_dir.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>

namespace ltxguard::sys {

using util::fail;

util::Result<std::string> check_state_dir(const std::string& dir,
                                          const std::vector<uint64_t>& pressured_devs, bool force) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return fail(util::make_error(
          util::ErrorCode::not_found, dir,
          "state directory does not exist: create it (mkdir -m 0700) or choose another "
          "with --state-dir"));
    }
    return fail(util::sys_error(errno, dir, "cannot stat state directory"));
  }
  if (!S_ISDIR(st.st_mode))
    return fail(util::make_error(util::ErrorCode::invalid_input, dir, "not a directory"));
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return fail(util::sys_error(errno, dir, "state directory is not writable"));
  }
  if (!force && std::find(pressured_devs.begin(), pressured_devs.end(), uint64_t{st.st_dev}) !=
                    pressured_devs.end()) {
    return fail(util::make_error(
        util::ErrorCode::invalid_input, dir,
        "state directory is on the filesystem under pressure (the database's or the "
        "staging's); choose another with --state-dir or pass --force"));
  }
  std::unique_ptr<char, void (*)(void*)> real(::realpath(dir.c_str(), nullptr), &std::free);
  if (!real) return fail(util::sys_error(errno, dir, "cannot resolve state directory"));
  return std::string(real.get());
}

util::Result<std::string> make_unique_dir(const std::string& parent, const std::string& name,
                                          unsigned mode) {
  if (::mkdir(parent.c_str(), mode) != 0 && errno != EEXIST) {
    return fail(util::sys_error(errno, parent, "cannot create directory"));
  }
  for (int i = 1; i <= 100; ++i) {
    std::string path =
        i == 1 ? fmt::format("{}/{}", parent, name) : fmt::format("{}/{}-{}", parent, name, i);
    if (::mkdir(path.c_str(), mode) == 0) return path;
    if (errno != EEXIST) return fail(util::sys_error(errno, path, "cannot create directory"));
  }
  return fail(util::make_error(util::ErrorCode::io, parent + "/" + name,
                               "cannot create directory: name taken"));
}

util::Result<AppendOnlyFile> AppendOnlyFile::open(const std::string& path) {
  AppendOnlyFile f;
  f.path_ = path;
  f.fd_.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!f.fd_.valid()) {
    if (errno == ELOOP) {
      return fail(
          util::Error{util::ErrorCode::unsafe_path, ELOOP, path, "refusing to follow a symlink"});
    }
    return fail(util::sys_error(errno, path, "cannot open journal"));
  }
  struct stat st {};
  if (::fstat(f.fd_.get(), &st) != 0)
    return fail(util::sys_error(errno, path, "cannot stat journal"));
  if (!S_ISREG(st.st_mode)) {
    return fail(
        util::make_error(util::ErrorCode::unsafe_path, path, "journal is not a regular file"));
  }
  return f;
}

util::Result<void> AppendOnlyFile::append_line(std::string_view line) const {
  std::string buf(line);
  buf.push_back('\n');
  // O_APPEND: one write(2) lands as one piece; a short write (a full disk) is an error, and the
  // torn line is the last one in the file.
  const ssize_t n = ::write(fd_.get(), buf.data(), buf.size());
  if (n < 0) return fail(util::sys_error(errno, path_, "cannot write journal"));
  if (static_cast<size_t>(n) != buf.size()) {
    return fail(
        util::make_error(util::ErrorCode::no_space, path_, "journal line written only in part"));
  }
  if (::fsync(fd_.get()) != 0) return fail(util::sys_error(errno, path_, "cannot fsync journal"));
  return {};
}

}  // namespace ltxguard::sys
