#include "ltxguard/collect/database.hpp"

#include <filesystem>

namespace ltxguard::collect {
namespace {

FileSize size_of(const sys::FileSystem& fs, const std::string& path) {
  FileSize f;
  f.path = path;
  // stat, not lstat: sizes only, never content, and a vetted same-directory symlink counts.
  auto st = fs.stat(path);
  if (!st || st->type != sys::FileType::regular) return f;
  f.exists = true;
  f.bytes = st->size_bytes;
  f.allocated_bytes = st->allocated_bytes;
  f.dev = st->dev;
  return f;
}

std::string parent_of(const std::string& path) {
  return std::filesystem::path(path).parent_path().lexically_normal().string();
}

}  // namespace

uint64_t DatabaseFiles::logical_bytes() const {
  if (header && header->page_count_valid && header->page_count > 0) return header->db_bytes();
  return db.bytes;
}

util::Result<std::string> check_database_path(const sys::FileSystem& fs, const std::string& path) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec || path.empty()) return util::fail(util::make_error(util::ErrorCode::invalid_input, path, "not a usable path"));
  auto st = fs.lstat(abs);
  if (!st) {
    if (st.error().code == util::ErrorCode::not_found) {
      return util::fail(util::make_error(util::ErrorCode::not_found, abs, "database not found"));
    }
    return util::fail(st.error());
  }
  if (st->type == sys::FileType::symlink) {
    auto real = fs.real_path(abs);
    if (!real) return util::fail(util::make_error(util::ErrorCode::unsafe_path, abs, "database path is a dangling symlink"));
    if (parent_of(*real) != parent_of(abs)) {
      return util::fail(util::make_error(util::ErrorCode::unsafe_path, abs,
                                         "database path is a symlink into another directory (" + *real +
                                             "); pass the real path"));
    }
    st = fs.stat(abs);
    if (!st) return util::fail(st.error());
  }
  if (st->type != sys::FileType::regular) {
    return util::fail(util::make_error(util::ErrorCode::invalid_input, abs, "database path is not a regular file"));
  }
  return abs;
}

util::Result<std::string> sqlite_path(const sys::FileSystem& fs, const std::string& db_path) {
  auto real = fs.real_path(db_path);
  if (!real) return util::fail(real.error());
  const std::filesystem::path given_dir = std::filesystem::path(db_path).parent_path();
  const std::filesystem::path real_file(*real);
  auto real_dir = fs.real_path(given_dir.string());
  if (real_dir && *real_dir == real_file.parent_path().string()) {
    return (given_dir / real_file.filename()).string();
  }
  return *real;
}

DatabaseFiles collect_database(const sys::FileSystem& fs, const std::string& db_path) {
  DatabaseFiles d;
  d.db_path = db_path;
  d.sqlite_path = sqlite_path(fs, db_path).value_or(db_path);
  d.db = size_of(fs, db_path);
  d.wal = size_of(fs, d.sqlite_path + "-wal");
  d.shm = size_of(fs, d.sqlite_path + "-shm");
  // read_prefix refuses symlinks (O_NOFOLLOW): read the file the link leads to.
  auto bytes = fs.read_prefix(d.sqlite_path, formats::kSqliteHeaderBytes);
  if (!bytes) {
    d.header_error = bytes.error().to_string();
    return d;
  }
  auto header = formats::parse_sqlite_header(*bytes);
  if (!header) {
    d.header_error = header.error().to_string();
    return d;
  }
  d.header = *header;
  return d;
}

}  // namespace ltxguard::collect
