#include "ltxguard/sys/safe_remove.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <memory>
#include <optional>

#include "ltxguard/formats/mountinfo.hpp"
#include "ltxguard/formats/path_prefix.hpp"
#include "ltxguard/sys/filesystem.hpp"

namespace ltxguard::sys {
namespace {

using util::fail;

constexpr size_t kMaxMountinfoBytes = 16 << 20;
constexpr size_t kCopyChunkBytes = 1 << 20;

util::Error unsafe(const std::string& path, std::string message) {
  return util::make_error(util::ErrorCode::unsafe_path, path, std::move(message));
}

// Splits a relative path into its components; nullopt for anything that is not a plain path
// below the directory (absolute, empty components, "." or "..").
std::optional<std::vector<std::string>> split_rel(const std::string& rel) {
  if (rel.empty() || rel.front() == '/' || rel.find('\0') != std::string::npos) return std::nullopt;
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    const size_t slash = rel.find('/', start);
    std::string part =
        rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return std::nullopt;
    parts.push_back(std::move(part));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return parts;
}

std::string type_name_of(mode_t m) {
  if (S_ISLNK(m)) return "symlink";
  if (S_ISDIR(m)) return "directory";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  if (S_ISCHR(m)) return "char device";
  if (S_ISBLK(m)) return "block device";
  return "unknown";
}

util::Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(util::sys_error(errno, path, "cannot open"));
  std::string out;
  char buf[64 << 10];
  while (out.size() < max_bytes) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(util::sys_error(errno, path, "cannot read"));
    }
    if (n == 0) break;
    out.append(
        buf, static_cast<size_t>(std::min<size_t>(static_cast<size_t>(n), max_bytes - out.size())));
  }
  return out;
}

util::Result<void> write_all(int fd, const uint8_t* data, size_t len, const std::string& path) {
  while (len > 0) {
    const ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(util::sys_error(errno, path, "cannot write"));
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

struct MetaDir::Step {
  util::UniqueFd fd;  // the directory itself
  std::string name;   // its name in the previous step's directory
  std::string path;   // for messages
  uint64_t dev = 0, ino = 0;
};

struct MetaDir::Walk {
  std::vector<Step> dirs;  // below the meta dir, outermost first; the leaf's parent is last
  std::string leaf;
  std::string leaf_path;
  [[nodiscard]] int parent_fd(int meta_fd) const {
    return dirs.empty() ? meta_fd : dirs.back().fd.get();
  }
};

util::Result<MetaDir> MetaDir::open(const std::string& path, MetaDirOptions opts) {
  struct stat lst {};
  if (::lstat(path.c_str(), &lst) != 0)
    return fail(util::sys_error(errno, path, "cannot open meta dir"));
  if (S_ISLNK(lst.st_mode)) return fail(symlink_refused(path));
  std::unique_ptr<char, void (*)(void*)> real(::realpath(path.c_str(), nullptr), &std::free);
  if (!real) return fail(util::sys_error(errno, path, "cannot resolve meta dir"));

  MetaDir m;
  m.path_ = real.get();
  m.opts_ = std::move(opts);
  m.fd_.reset(::open(m.path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!m.fd_.valid()) {
    if (errno == ELOOP) return fail(symlink_refused(m.path_));
    if (errno == ENOTDIR)
      return fail(util::make_error(util::ErrorCode::invalid_input, m.path_, "not a directory"));
    return fail(util::sys_error(errno, m.path_, "cannot open meta dir"));
  }
  struct stat st {};
  if (::fstat(m.fd_.get(), &st) != 0)
    return fail(util::sys_error(errno, m.path_, "cannot stat meta dir"));
  m.dev_ = st.st_dev;
  m.ino_ = st.st_ino;
  m.uid_ = st.st_uid;

  struct stat parent {};
  const bool own_filesystem =
      ::fstatat(m.fd_.get(), "..", &parent, 0) == 0 && parent.st_dev != st.st_dev;
  if (own_filesystem) {
    m.refusals_.push_back(
        unsafe(m.path_,
               "is a mount point (its filesystem is not its parent's): refusing to "
               "remove anything in it"));
  }
  if (auto text = read_small_file(m.opts_.mountinfo_path, kMaxMountinfoBytes); !text) {
    m.refusals_.push_back(
        unsafe(m.path_, fmt::format("cannot read {} to rule out a bind mount: refusing to "
                                    "remove anything in it",
                                    m.opts_.mountinfo_path)));
  } else {
    for (const auto& e : formats::parse_mountinfo(*text)) {
      if (e.mount_point == m.path_) {
        // A bind of a directory of the same filesystem keeps st_dev: only mountinfo shows it.
        if (formats::is_bind_mount(e)) {
          m.refusals_.push_back(
              unsafe(m.path_, fmt::format("is a bind mount of {} ({}): refusing to remove "
                                          "anything in it",
                                          e.root, e.source)));
        } else if (!own_filesystem) {
          m.refusals_.push_back(
              unsafe(m.path_, fmt::format("is a mount point ({} {}): refusing to remove "
                                          "anything in it",
                                          e.fstype, e.source)));
        }
      } else if (formats::path_within(e.mount_point, m.path_)) {
        m.refusals_.push_back(
            unsafe(m.path_, fmt::format("a filesystem is mounted below it at {}: refusing to "
                                        "remove anything in it",
                                        e.mount_point)));
      }
    }
  }
  if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
    m.refusals_.push_back(
        unsafe(m.path_,
               "is writable by every user without the sticky bit: anyone could have "
               "planted its files; refusing to remove anything in it"));
  }
  return m;
}

void MetaDir::hook(std::string_view stage) const {
  if (opts_.hook) opts_.hook(stage);
}

util::Result<MetaDir::Walk> MetaDir::walk_to(const std::string& rel_path) const {
  const auto parts = split_rel(rel_path);
  if (!parts) {
    return fail(util::make_error(util::ErrorCode::invalid_input, rel_path,
                                 "not a plain relative path inside the meta dir"));
  }
  Walk w;
  std::string path = path_;
  for (size_t i = 0; i + 1 < parts->size(); ++i) {
    const std::string& name = (*parts)[i];
    path += "/" + name;
    const int at = w.parent_fd(fd_.get());
    Step s;
    s.name = name;
    s.path = path;
    s.fd.reset(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!s.fd.valid()) {
      const int err = errno;
      struct stat lst {};
      if (err == ELOOP ||
          (err == ENOTDIR && ::fstatat(at, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISLNK(lst.st_mode))) {
        return fail(symlink_refused(path));
      }
      if (err == ENOTDIR) return fail(unsafe(path, "not a directory"));
      if (err == ENOENT) return fail(util::sys_error(err, path, "no longer exists"));
      return fail(util::sys_error(err, path, "cannot open directory"));
    }
    struct stat st {};
    if (::fstat(s.fd.get(), &st) != 0) return fail(util::sys_error(errno, path, "cannot stat"));
    if (st.st_dev != dev_) return fail(unsafe(path, "on another filesystem than the meta dir"));
    if (st.st_uid != uid_ && st.st_uid != 0) {
      return fail(unsafe(
          path, fmt::format("owned by uid {}, neither the meta dir's owner (uid {}) nor root",
                            st.st_uid, uid_)));
    }
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    w.dirs.push_back(std::move(s));
  }
  w.leaf = parts->back();
  w.leaf_path = path + "/" + w.leaf;
  return w;
}

util::Result<void> MetaDir::check_leaf(const Walk& w, const FileIdentity& expected,
                                       bool exact) const {
  struct stat st {};
  if (::fstatat(w.parent_fd(fd_.get()), w.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return fail(util::sys_error(errno, w.leaf_path, "no longer exists"));
    return fail(util::sys_error(errno, w.leaf_path, "cannot stat"));
  }
  if (S_ISLNK(st.st_mode)) return fail(symlink_refused(w.leaf_path));
  if (!S_ISREG(st.st_mode)) {
    return fail(unsafe(w.leaf_path, fmt::format("not a regular file ({}): not removed",
                                                type_name_of(st.st_mode))));
  }
  const uint64_t size = st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (st.st_dev != expected.dev || st.st_ino != expected.ino ||
      (exact && size != expected.size_bytes)) {
    return fail(unsafe(
        w.leaf_path, fmt::format("changed since the plan (expected inode {}, {} bytes; found inode "
                                 "{}, {} bytes): not removed",
                                 expected.ino, expected.size_bytes, st.st_ino, size)));
  }
  if (!exact) return {};
  if (st.st_nlink != 1) {
    return fail(unsafe(w.leaf_path, fmt::format("has {} hard links: not removed", st.st_nlink)));
  }
  if (st.st_uid != uid_ && st.st_uid != 0) {
    return fail(unsafe(w.leaf_path,
                       fmt::format("owned by uid {}, neither the meta dir's owner (uid {}) nor "
                                   "root: not removed",
                                   st.st_uid, uid_)));
  }
  return {};
}

// Every directory of the walk must still be the entry it was found as, and the meta dir must
// still be at its path: otherwise the parent fd may now sit outside the meta dir.
util::Result<void> MetaDir::recheck(const Walk& w, const FileIdentity& expected) const {
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0 || st.st_dev != dev_ || st.st_ino != ino_) {
    return fail(unsafe(path_, "meta dir moved or replaced during removal: nothing removed"));
  }
  int at = fd_.get();
  for (const Step& s : w.dirs) {
    if (::fstatat(at, s.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_dev != s.dev ||
        st.st_ino != s.ino) {
      return fail(unsafe(s.path, "directory moved or replaced during removal: not removed"));
    }
    at = s.fd.get();
  }
  return check_leaf(w, expected, true);
}

util::Result<std::vector<uint8_t>> MetaDir::read_prefix(const std::string& rel_path,
                                                        const FileIdentity& expected,
                                                        size_t max_bytes) const {
  auto w = walk_to(rel_path);
  if (!w) return fail(w.error());
  if (auto ok = check_leaf(*w, expected, false); !ok) return fail(ok.error());
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  util::UniqueFd fd(::openat(w->parent_fd(fd_.get()), w->leaf.c_str(), flags | O_NOATIME));
  if (!fd.valid() && errno == EPERM)
    fd.reset(::openat(w->parent_fd(fd_.get()), w->leaf.c_str(), flags));
  if (!fd.valid()) {
    if (errno == ELOOP) return fail(symlink_refused(w->leaf_path));
    return fail(util::sys_error(errno, w->leaf_path, "cannot open"));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(util::sys_error(errno, w->leaf_path, "cannot stat"));
  if (!S_ISREG(st.st_mode) || st.st_dev != expected.dev || st.st_ino != expected.ino) {
    return fail(unsafe(w->leaf_path, "changed since the plan: not read"));
  }
  std::vector<uint8_t> out(std::min<size_t>(max_bytes, 1 << 20));
  size_t used = 0;
  while (used < out.size()) {
    const ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(util::sys_error(errno, w->leaf_path, "cannot read"));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

util::Result<void> MetaDir::remove(const std::string& rel_path,
                                   const FileIdentity& expected) const {
  if (!refusals_.empty()) return fail(refusals_.front());
  auto w = walk_to(rel_path);
  if (!w) return fail(w.error());
  if (auto ok = check_leaf(*w, expected, true); !ok) return fail(ok.error());
  hook("checked");
  if (auto ok = recheck(*w, expected); !ok) return fail(ok.error());
  if (::unlinkat(w->parent_fd(fd_.get()), w->leaf.c_str(), 0) != 0) {
    return fail(util::sys_error(errno, w->leaf_path, "cannot remove"));
  }
  return {};
}

util::Result<std::string> MetaDir::move_to(const std::string& rel_path,
                                           const FileIdentity& expected,
                                           const Quarantine& quarantine) const {
  if (!refusals_.empty()) return fail(refusals_.front());
  auto w = walk_to(rel_path);
  if (!w) return fail(w.error());
  if (auto ok = check_leaf(*w, expected, true); !ok) return fail(ok.error());
  const int parent = w->parent_fd(fd_.get());
  util::UniqueFd src(
      ::openat(parent, w->leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!src.valid()) {
    if (errno == ELOOP) return fail(symlink_refused(w->leaf_path));
    return fail(util::sys_error(errno, w->leaf_path, "cannot open"));
  }
  struct stat st {};
  if (::fstat(src.get(), &st) != 0)
    return fail(util::sys_error(errno, w->leaf_path, "cannot stat"));
  if (!S_ISREG(st.st_mode) || st.st_dev != expected.dev || st.st_ino != expected.ino) {
    return fail(unsafe(w->leaf_path, "changed since the plan: not moved"));
  }

  // The copy keeps the relative layout, so putting a file back is one `cp`.
  std::vector<util::UniqueFd> qdirs;
  std::string qpath = quarantine.path();
  int qat = quarantine.fd();
  for (const Step& s : w->dirs) {
    qpath += "/" + s.name;
    if (::mkdirat(qat, s.name.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(util::sys_error(errno, qpath, "cannot create quarantine directory"));
    }
    util::UniqueFd d(
        ::openat(qat, s.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.valid()) return fail(util::sys_error(errno, qpath, "cannot open quarantine directory"));
    qat = d.get();
    qdirs.push_back(std::move(d));
  }
  const std::string dest_path = qpath + "/" + w->leaf;
  util::UniqueFd dest(
      ::openat(qat, w->leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dest.valid())
    return fail(util::sys_error(errno, dest_path, "cannot create quarantine copy"));
  auto discard = [&](util::Error e) {
    ::unlinkat(qat, w->leaf.c_str(), 0);
    return fail(std::move(e));
  };

  std::vector<uint8_t> buf(kCopyChunkBytes);
  uint64_t copied = 0;
  for (;;) {
    const ssize_t n = ::read(src.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return discard(util::sys_error(errno, w->leaf_path, "cannot read"));
    }
    if (n == 0) break;
    copied += static_cast<uint64_t>(n);
    if (copied > expected.size_bytes) {
      return discard(unsafe(w->leaf_path, "grew while being copied: not moved"));
    }
    if (auto ok = write_all(dest.get(), buf.data(), static_cast<size_t>(n), dest_path); !ok) {
      return discard(ok.error());
    }
  }
  if (copied != expected.size_bytes)
    return discard(unsafe(w->leaf_path, "shrank while being copied: not moved"));
  if (::fsync(dest.get()) != 0) return discard(util::sys_error(errno, dest_path, "cannot fsync"));
  if (::fsync(qat) != 0) return discard(util::sys_error(errno, qpath, "cannot fsync"));
  for (const auto& d : qdirs) (void)::fsync(d.get());
  (void)::fsync(quarantine.fd());
  hook("copied");
  if (auto ok = recheck(*w, expected); !ok) return discard(ok.error());
  if (::unlinkat(parent, w->leaf.c_str(), 0) != 0) {
    return discard(util::sys_error(errno, w->leaf_path, "cannot remove after copying"));
  }
  return dest_path;
}

util::Result<Quarantine> Quarantine::create(const std::string& dir, const std::string& run_name,
                                            const std::vector<uint64_t>& forbidden_devs) {
  std::unique_ptr<char, void (*)(void*)> real(::realpath(dir.c_str(), nullptr), &std::free);
  if (!real) return fail(util::sys_error(errno, dir, "quarantine directory does not exist"));
  util::UniqueFd parent(::open(real.get(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!parent.valid()) return fail(util::sys_error(errno, dir, "cannot open quarantine directory"));
  struct stat st {};
  if (::fstat(parent.get(), &st) != 0) return fail(util::sys_error(errno, dir, "cannot stat"));
  if (std::find(forbidden_devs.begin(), forbidden_devs.end(), uint64_t{st.st_dev}) !=
      forbidden_devs.end()) {
    return fail(util::make_error(
        util::ErrorCode::invalid_input, dir,
        "is on the filesystem under pressure: moving files there frees nothing; choose a "
        "directory on another filesystem"));
  }
  if (run_name.empty() || run_name.find('/') != std::string::npos || run_name == "." ||
      run_name == "..") {
    return fail(
        util::make_error(util::ErrorCode::invalid_input, run_name, "not a plain directory name"));
  }
  Quarantine q;
  q.path_ = std::string(real.get()) + "/" + run_name;
  if (::mkdirat(parent.get(), run_name.c_str(), 0700) != 0) {
    return fail(util::sys_error(errno, q.path_, "cannot create quarantine directory"));
  }
  q.fd_.reset(
      ::openat(parent.get(), run_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!q.fd_.valid())
    return fail(util::sys_error(errno, q.path_, "cannot open quarantine directory"));
  (void)::fsync(parent.get());
  return q;
}

}  // namespace ltxguard::sys
