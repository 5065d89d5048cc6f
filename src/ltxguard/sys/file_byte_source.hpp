// A regular file read with pread(2) as a ByteSource, so the pure parsers (LTX, SQLite header)
// can inspect files on disk. Opened read-only, never following a final symlink.
#pragma once

#include <memory>
#include <string>

#include "ltxguard/formats/byte_source.hpp"
#include "ltxguard/util/error.hpp"
#include "ltxguard/util/unique_fd.hpp"

namespace ltxguard::sys {

class FileByteSource final : public formats::ByteSource {
 public:
  // Opens with O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a FIFO cannot block the open) and
  // refuses anything fstat does not call a regular file. Fails with unsafe_path for a symlink
  // ("refusing to follow a symlink") or another file type ("not a regular file"), else with
  // the errno of open/fstat. size() is the size fstat reported at open.
  [[nodiscard]] static util::Result<std::unique_ptr<FileByteSource>> open(const std::string& path);

  [[nodiscard]] uint64_t size() const override { return size_bytes_; }
  // Short only at end of file; retries EINTR. Errors carry the path.
  [[nodiscard]] util::Result<size_t> read_at(uint64_t offset,
                                             std::span<uint8_t> out) const override;

 private:
  FileByteSource(util::UniqueFd fd, std::string path, uint64_t size_bytes)
      : fd_(std::move(fd)), path_(std::move(path)), size_bytes_(size_bytes) {}

  util::UniqueFd fd_;
  std::string path_;
  uint64_t size_bytes_;
};

}  // namespace ltxguard::sys
