// The application's side of the disk: the database, its -wal and -shm, measured by stat
// and the 100-byte SQLite header only. Nothing past byte 100 is ever read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ltxguard/formats/sqlite_header.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::collect {

struct FileSize {
  std::string path;
  bool exists = false;
  uint64_t bytes = 0;            // st_size
  uint64_t allocated_bytes = 0;  // st_blocks * 512
  uint64_t dev = 0;
};

struct DatabaseFiles {
  std::string db_path;      // as given (absolute): Litestream's meta dir goes next to it
  std::string sqlite_path;  // the file SQLite opens, symlinks followed (see collect_database)
  FileSize db, wal, shm;    // wal and shm next to sqlite_path
  std::optional<formats::SqliteHeader> header;
  std::string header_error;  // why the header could not be used
  // page_size × page_count when the header is valid, else the file size
  [[nodiscard]] uint64_t logical_bytes() const;
};

// Checks the database path itself before anything else reads near it: it must exist, be a
// regular file, and not be a symlink into another directory (Litestream would put its meta
// dir next to the link, not the target, and a link out of the tree is how an attacker
// points a root tool at someone else's file). Returns the absolute path to use.
[[nodiscard]] util::Result<std::string> check_database_path(const sys::FileSystem& fs, const std::string& path);

// The path SQLite opens for db_path. SQLite's unix VFS follows every symlink of the path
// and keeps -wal and -shm next to the file it reaches (3.40 measured: a connection through
// link.db -> app.db writes app.db-wal, never link.db-wal). Litestream does not resolve
// (0.3.13 and 0.5 look for <given>-wal and put the meta dir next to the link). When the
// file is in the given directory the given directory's spelling is kept, so a symlinked
// parent (/data -> /mnt/data) changes no path shown. Bounded like realpath(3): a symlink loop
// or a dangling link is a failure, returned as such.
[[nodiscard]] util::Result<std::string> sqlite_path(const sys::FileSystem& fs, const std::string& db_path);

// Stats the three files and parses the header. Missing -wal/-shm are normal (exists=false).
// -wal and -shm are looked up next to sqlite_path(db_path); when that fails (a loop or a
// link changed since check_database_path) next to db_path, where nothing is then found.
[[nodiscard]] DatabaseFiles collect_database(const sys::FileSystem& fs, const std::string& db_path);

}  // namespace ltxguard::collect
