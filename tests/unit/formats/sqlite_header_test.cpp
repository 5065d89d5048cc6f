#include "ltxguard/formats/sqlite_header.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ltxguard/util/bytes.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::formats {
namespace {

enum class Journal { wal, rollback };

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << err << " in " << sql;
}

int64_t query_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
  const int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

// A real database: page size set before the first write, ~200 KB of rows. Returns the page
// count SQLite itself reports.
int64_t make_db(const std::string& path, uint32_t page_size, Journal journal) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, "PRAGMA page_size=" + std::to_string(page_size));
  exec(db, journal == Journal::wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
  exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  exec(db,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<200) "
       "INSERT INTO t(v) SELECT randomblob(1000) FROM n");
  const int64_t pages = query_int(db, "PRAGMA page_count");
  EXPECT_EQ(query_int(db, "PRAGMA page_size"), page_size);
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);  // last connection: checkpoints the WAL
  return pages;
}

// Exactly the first 100 bytes, as the tool reads them.
std::vector<uint8_t> read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> b(kSqliteHeaderBytes);
  in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
  b.resize(static_cast<size_t>(in.gcount()));
  return b;
}

// A valid header for synthetic cases: 4096-byte pages, 10 pages, WAL, counter 7.
std::vector<uint8_t> synthetic_header() {
  std::vector<uint8_t> b(kSqliteHeaderBytes, 0);
  const char magic[] = "SQLite format 3";
  std::copy(magic, magic + 16, b.begin());
  util::put_be16(&b[16], 4096);
  b[18] = 2;
  b[19] = 2;
  util::put_be32(&b[24], 7);
  util::put_be32(&b[28], 10);
  util::put_be32(&b[92], 7);
  return b;
}

std::string error_of(const std::vector<uint8_t>& b) {
  auto h = parse_sqlite_header(b);
  EXPECT_FALSE(h.has_value());
  if (h) return "";
  EXPECT_EQ(h.error().code, util::ErrorCode::invalid_input);
  return h.error().message;
}

TEST(SqliteHeaderTest, RealDatabasesAtEveryPageSizeInBothJournalModes) {
  testing::TempDir dir;
  for (uint32_t page_size = 512; page_size <= 65536; page_size *= 2) {
    for (Journal journal : {Journal::wal, Journal::rollback}) {
      SCOPED_TRACE(std::to_string(page_size) + (journal == Journal::wal ? " wal" : " rollback"));
      const std::string path =
          dir.file(std::to_string(page_size) + (journal == Journal::wal ? "-wal.db" : ".db"));
      const int64_t pages = make_db(path, page_size, journal);
      auto h = parse_sqlite_header(read_header(path));
      ASSERT_TRUE(h.has_value()) << h.error().message;
      EXPECT_EQ(h->page_size_bytes, page_size);
      EXPECT_TRUE(h->page_count_valid);
      EXPECT_EQ(h->page_count, pages);
      EXPECT_EQ(h->db_bytes(), std::filesystem::file_size(path));
      EXPECT_EQ(h->wal_mode, journal == Journal::wal);
      EXPECT_EQ(h->write_version, journal == Journal::wal ? 2 : 1);
      EXPECT_EQ(h->read_version, journal == Journal::wal ? 2 : 1);
      EXPECT_GT(h->change_counter, 0U);
    }
  }
}

// While a writer holds pages in the -wal, the main file's header still shows the last
// checkpointed size: callers must not take it for the size a snapshot would stage.
TEST(SqliteHeaderTest, HeaderLagsBehindPagesStillInTheWal) {
  testing::TempDir dir;
  const std::string path = dir.file("live.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, "PRAGMA journal_mode=WAL");
  exec(db, "PRAGMA wal_autocheckpoint=0");
  exec(db, "CREATE TABLE t(v BLOB)");
  exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  const auto before = parse_sqlite_header(read_header(path));
  ASSERT_TRUE(before.has_value());
  exec(db,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<100) "
       "INSERT INTO t SELECT randomblob(4000) FROM n");
  const int64_t live_pages = query_int(db, "PRAGMA page_count");
  const auto during = parse_sqlite_header(read_header(path));
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->page_count, before->page_count);
  EXPECT_LT(int64_t{during->page_count}, live_pages);
  exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  const auto after = parse_sqlite_header(read_header(path));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(int64_t{after->page_count}, live_pages);
  sqlite3_close(db);
}

TEST(SqliteHeaderTest, SyntheticHeaderParses) {
  auto h = parse_sqlite_header(synthetic_header());
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->page_size_bytes, 4096U);
  EXPECT_EQ(h->page_count, 10U);
  EXPECT_TRUE(h->page_count_valid);
  EXPECT_TRUE(h->wal_mode);
  EXPECT_EQ(h->change_counter, 7U);
  EXPECT_EQ(h->db_bytes(), 40960U);
}

TEST(SqliteHeaderTest, BytesAfterTheHeaderAreIgnored) {
  auto b = synthetic_header();
  b.resize(4096, 0xAB);
  auto h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->page_count, 10U);
}

TEST(SqliteHeaderTest, TruncatedHeaderIsRejected) {
  auto b = synthetic_header();
  b.resize(99);
  EXPECT_EQ(error_of(b), "SQLite header truncated: 99 of 100 bytes");
  EXPECT_EQ(error_of({}), "SQLite header truncated: 0 of 100 bytes");
}

TEST(SqliteHeaderTest, BadMagicIsRejected) {
  auto b = synthetic_header();
  b[15] = ' ';  // the magic includes its NUL
  EXPECT_EQ(error_of(b), "not a SQLite database (bad magic)");
  auto ltx = synthetic_header();
  std::copy_n("LTX1", 4, ltx.begin());
  EXPECT_EQ(error_of(ltx), "not a SQLite database (bad magic)");
}

TEST(SqliteHeaderTest, PageSizeOneMeans65536) {
  auto b = synthetic_header();
  util::put_be16(&b[16], 1);
  auto h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->page_size_bytes, 65536U);
  EXPECT_EQ(h->db_bytes(), 655360U);
}

TEST(SqliteHeaderTest, InvalidPageSizesAreRejected) {
  for (uint16_t bad : std::initializer_list<uint16_t>{0, 2, 256, 511, 1000, 4097, 0x8001, 0xFFFF}) {
    auto b = synthetic_header();
    util::put_be16(&b[16], bad);
    EXPECT_EQ(error_of(b), "invalid SQLite page size " + std::to_string(bad));
  }
  auto b = synthetic_header();
  util::put_be16(&b[16], 32768);
  EXPECT_TRUE(parse_sqlite_header(b).has_value());
}

TEST(SqliteHeaderTest, StalePageCountIsNotTrusted) {
  auto b = synthetic_header();
  util::put_be32(&b[92], 6);  // written by a pre-3.7.0 SQLite since the last valid count
  auto h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->page_count_valid);
  EXPECT_EQ(h->page_count, 0U);
  EXPECT_EQ(h->db_bytes(), 0U);
}

TEST(SqliteHeaderTest, ZeroPageCountIsNotValid) {
  auto b = synthetic_header();
  util::put_be32(&b[28], 0);
  auto h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->page_count_valid);
}

TEST(SqliteHeaderTest, WalModeNeedsBothVersionBytes) {
  auto b = synthetic_header();
  b[18] = 1;
  b[19] = 1;
  auto h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->wal_mode);
  b[18] = 2;
  h = parse_sqlite_header(b);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->wal_mode);
  EXPECT_EQ(h->write_version, 2);
  EXPECT_EQ(h->read_version, 1);
}

}  // namespace
}  // namespace ltxguard::formats
