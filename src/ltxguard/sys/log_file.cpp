#include "ltxguard/sys/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ltxguard::sys {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// Opens a log for reading without following a final symlink; O_NONBLOCK so a FIFO planted at
// the path cannot block the open (it is then refused as not regular).
util::Result<util::UniqueFd> open_log(const std::string& path, struct stat* st) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    const int e = errno;
    if (e == ELOOP) {
      return util::fail(util::Error{util::ErrorCode::unsafe_path, e, path,
                                    "log file is a symlink; pass the path it points to"});
    }
    return util::fail(util::sys_error(e, path, "cannot open log file"));
  }
  if (::fstat(fd.get(), st) != 0)
    return util::fail(util::sys_error(errno, path, "cannot stat log file"));
  if (!S_ISREG(st->st_mode)) {
    return util::fail(
        util::make_error(util::ErrorCode::unsafe_path, path, "log file is not a regular file"));
  }
  return fd;
}

// pread until len bytes or EOF; returns bytes read or -1 with errno.
ssize_t pread_full(int fd, char* buf, size_t len, off_t offset) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd, buf + done, len - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

void strip_cr(std::string* line) {
  if (!line->empty() && line->back() == '\r') line->pop_back();
}

}  // namespace

util::Result<std::vector<std::string>> read_last_lines(const std::string& path, size_t max_lines) {
  struct stat st {};
  auto fd = open_log(path, &st);
  if (!fd) return util::fail(fd.error());
  std::vector<std::string> lines;
  if (max_lines == 0 || st.st_size <= 0) return lines;

  // Walk back from the end recording [start, end) of each line, newest first; then read the
  // head of each line. Only newline positions are kept while scanning.
  const off_t size = st.st_size;
  const off_t scan_floor =
      size > static_cast<off_t>(kMaxLogScanBytes) ? size - static_cast<off_t>(kMaxLogScanBytes) : 0;
  std::vector<std::pair<off_t, off_t>> spans;
  std::string chunk(kChunkBytes, '\0');
  off_t line_end = size;  // exclusive; the byte at line_end (if any) is its '\n'
  off_t pos = size;
  while (pos > scan_floor && spans.size() < max_lines) {
    const off_t want = std::min<off_t>(static_cast<off_t>(kChunkBytes), pos - scan_floor);
    const off_t chunk_start = pos - want;
    const ssize_t got = pread_full(fd->get(), chunk.data(), static_cast<size_t>(want), chunk_start);
    if (got < 0) return util::fail(util::sys_error(errno, path, "cannot read log file"));
    if (got < want) {
      // The file shrank under us: what is left no longer lines up; keep what we found.
      break;
    }
    for (off_t i = want - 1; i >= 0 && spans.size() < max_lines; --i) {
      if (chunk[static_cast<size_t>(i)] != '\n') continue;
      const off_t nl = chunk_start + i;
      if (nl == size - 1) {
        line_end = nl;  // the file's final "\n" ends the last line, it does not start a new one
      } else {
        spans.emplace_back(nl + 1, line_end);
        line_end = nl;
      }
    }
    pos = chunk_start;
  }
  // The first line of the file has no "\n" before it; a line cut by the scan floor is dropped.
  if (pos == 0 && spans.size() < max_lines) {
    spans.emplace_back(0, line_end);
  }

  lines.reserve(spans.size());
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    const auto [start, end] = *it;
    const size_t len = std::min(static_cast<size_t>(end - start), kMaxLogLineBytes);
    std::string line(len, '\0');
    const ssize_t got = pread_full(fd->get(), line.data(), len, start);
    if (got < 0) return util::fail(util::sys_error(errno, path, "cannot read log file"));
    line.resize(static_cast<size_t>(got));
    strip_cr(&line);
    lines.push_back(std::move(line));
  }
  return lines;
}

LogFollower::LogFollower(std::string path, bool from_end) : path_(std::move(path)) {
  // Errors here are not fatal: poll() reports them and retries the open.
  if (auto opened = open_current(); opened && *opened && from_end) {
    struct stat st {};
    if (::fstat(fd_.get(), &st) == 0) offset_ = st.st_size;
  }
}

util::Result<bool> LogFollower::open_current() {
  struct stat st {};
  auto fd = open_log(path_, &st);
  if (!fd) {
    if (fd.error().code == util::ErrorCode::not_found) return false;
    return util::fail(fd.error());
  }
  fd_ = std::move(*fd);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  offset_ = 0;
  return true;
}

void LogFollower::flush_pending(std::vector<std::string>* lines) {
  if (pending_.empty()) return;
  strip_cr(&pending_);
  lines->push_back(std::move(pending_));
  pending_.clear();
}

util::Result<bool> LogFollower::read_available(std::vector<std::string>* lines, size_t max_lines) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0)
    return util::fail(util::sys_error(errno, path_, "cannot stat log file"));
  if (st.st_size < offset_) {
    // Truncated in place (copytruncate, `> file`): what was pending was the old file's end.
    flush_pending(lines);
    offset_ = 0;
  }
  std::string chunk(kChunkBytes, '\0');
  for (;;) {
    if (lines->size() >= max_lines) return true;
    const ssize_t got = pread_full(fd_.get(), chunk.data(), chunk.size(), offset_);
    if (got < 0) return util::fail(util::sys_error(errno, path_, "cannot read log file"));
    if (got == 0) return false;
    const size_t n = static_cast<size_t>(got);
    size_t line_start = 0;
    for (;;) {
      const void* hit = std::memchr(chunk.data() + line_start, '\n', n - line_start);
      if (hit == nullptr) break;
      const size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - chunk.data());
      const size_t room = kMaxLogLineBytes - std::min(kMaxLogLineBytes, pending_.size());
      pending_.append(chunk.data() + line_start, std::min(nl - line_start, room));
      strip_cr(&pending_);
      lines->push_back(std::move(pending_));
      pending_.clear();
      line_start = nl + 1;
      if (lines->size() >= max_lines) {
        offset_ += static_cast<off_t>(line_start);
        return true;
      }
    }
    const size_t room = kMaxLogLineBytes - std::min(kMaxLogLineBytes, pending_.size());
    pending_.append(chunk.data() + line_start, std::min(n - line_start, room));
    offset_ += static_cast<off_t>(n);
  }
}

util::Result<std::vector<std::string>> LogFollower::poll(size_t max_lines) {
  std::vector<std::string> lines;
  if (max_lines == 0) return lines;
  if (!fd_.valid()) {
    auto opened = open_current();
    if (!opened) return util::fail(opened.error());
    if (!*opened) return lines;
  }
  // At most one rotation per call: a path that keeps changing gets read on the next call.
  for (int round = 0; round < 2; ++round) {
    auto full = read_available(&lines, max_lines);
    if (!full) return util::fail(full.error());
    if (*full) return lines;
    struct stat st {};
    if (::lstat(path_.c_str(), &st) != 0) {
      // Renamed away and not yet recreated: keep the old file, the writer may still use it.
      if (errno == ENOENT) return lines;
      return util::fail(util::sys_error(errno, path_, "cannot stat log file"));
    }
    if (st.st_dev == dev_ && st.st_ino == ino_) return lines;
    // Rotated: the old file was read to its end above, so its partial last line is final.
    flush_pending(&lines);
    auto opened = open_current();
    if (!opened) return util::fail(opened.error());
    if (!*opened) return lines;
  }
  return lines;
}

}  // namespace ltxguard::sys
