// Reads real journal files built by systemd-journal-remote (see support/journal_builder.hpp).
#include "ltxguard/sys/journal.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/journal_builder.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

using testing::build_journal;
using testing::journal_entry;
using testing::JournalFields;
using testing::TempDir;

constexpr int64_t kT0 = 1'700'000'000'000'000;  // 2023-11-14, in microseconds
constexpr int64_t kSecond = 1'000'000;

std::vector<std::string> messages(const JournalTail& t) {
  std::vector<std::string> m;
  for (const auto& e : t.entries) m.push_back(e.message);
  return m;
}

// litestream.service entries ls-1..ls-5 interleaved with another unit, then systemd (pid 1)
// reporting the service's death.
std::vector<JournalFields> sample_entries() {
  std::vector<JournalFields> v;
  for (int i = 1; i <= 5; ++i) {
    v.push_back(journal_entry("litestream.service", "ls-" + std::to_string(i), kT0 + i * kSecond,
                              i == 4 ? 3 : 6, 700));
    v.push_back(journal_entry("app.service", "app-" + std::to_string(i),
                              kT0 + i * kSecond + 500'000, 6, 800));
  }
  v.push_back({{"__REALTIME_TIMESTAMP", std::to_string(kT0 + 6 * kSecond)},
               {"_SYSTEMD_UNIT", "init.scope"},
               {"_PID", "1"},
               {"PRIORITY", "5"},
               {"UNIT", "litestream.service"},
               {"MESSAGE", "litestream.service: Main process exited, code=killed, status=9/KILL"}});
  v.push_back(journal_entry("app.service", "app-last", kT0 + 7 * kSecond));
  return v;
}

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = build_journal(dir_.path(), sample_entries());
    ASSERT_TRUE(built) << built.error().to_string();
    file_ = *built;
  }
  JournalSource dir_source(const std::string& unit = "litestream") const {
    return {JournalSource::Kind::directory, dir_.path(), unit};
  }

  TempDir dir_;
  std::string file_;
};

TEST_F(JournalTest, TailOfDirectoryIsTheUnitsLastEntriesOldestFirst) {
  auto t = read_journal_tail(dir_source(), 3);
  ASSERT_TRUE(t) << t.error().to_string();
  ASSERT_TRUE(t->available);
  EXPECT_EQ(
      messages(*t),
      (std::vector<std::string>{
          "ls-4", "ls-5", "litestream.service: Main process exited, code=killed, status=9/KILL"}));
  const auto& e = t->entries[0];
  EXPECT_EQ(e.realtime_usec, kT0 + 4 * kSecond);
  EXPECT_EQ(e.priority, 3);
  EXPECT_EQ(e.pid, 700);
  EXPECT_EQ(e.unit, "litestream.service");
  // systemd's own message about the unit is attributed to the unit, from pid 1
  EXPECT_EQ(t->entries[2].pid, 1);
  EXPECT_EQ(t->entries[2].unit, "litestream.service");
  EXPECT_EQ(t->last_cursor, t->entries[2].cursor);
  EXPECT_FALSE(t->last_cursor.empty());
}

TEST_F(JournalTest, TailOfFileMatchesTailOfDirectory) {
  auto t = read_journal_tail({JournalSource::Kind::file, file_, "litestream"}, 100);
  ASSERT_TRUE(t) << t.error().to_string();
  ASSERT_TRUE(t->available);
  ASSERT_EQ(t->entries.size(), 6u);
  EXPECT_EQ(t->entries[0].message, "ls-1");
  EXPECT_EQ(t->entries[4].message, "ls-5");
}

TEST_F(JournalTest, UnitWithDotIsUsedAsIs) {
  auto t = read_journal_tail(dir_source("app.service"), 2);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(messages(*t), (std::vector<std::string>{"app-5", "app-last"}));
  auto none = read_journal_tail(dir_source("litestream.socket"), 10);
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_TRUE(none->available);
  EXPECT_TRUE(none->entries.empty());
}

TEST_F(JournalTest, SinceReturnsOnlyNewerEntries) {
  auto first = read_journal_tail(dir_source(), 100);
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_EQ(first->entries.size(), 6u);
  const std::string after_ls2 = first->entries[1].cursor;

  auto since = read_journal_since(dir_source(), after_ls2, 100);
  ASSERT_TRUE(since) << since.error().to_string();
  ASSERT_EQ(since->entries.size(), 4u);
  EXPECT_EQ(since->entries.front().message, "ls-3");
  EXPECT_EQ(since->last_cursor, first->last_cursor);

  auto limited = read_journal_since(dir_source(), after_ls2, 2);
  ASSERT_TRUE(limited) << limited.error().to_string();
  EXPECT_EQ(messages(*limited), (std::vector<std::string>{"ls-3", "ls-4"}));
  auto rest = read_journal_since(dir_source(), limited->last_cursor, 100);
  ASSERT_TRUE(rest) << rest.error().to_string();
  ASSERT_EQ(rest->entries.size(), 2u);
  EXPECT_EQ(rest->entries[0].message, "ls-5");

  auto nothing = read_journal_since(dir_source(), first->last_cursor, 100);
  ASSERT_TRUE(nothing) << nothing.error().to_string();
  EXPECT_TRUE(nothing->entries.empty());
  EXPECT_EQ(nothing->last_cursor, first->last_cursor);
}

TEST_F(JournalTest, EmptyCursorStartsAtTheEndAndSeesLaterFiles) {
  auto start = read_journal_since(dir_source(), "", 100);
  ASSERT_TRUE(start) << start.error().to_string();
  EXPECT_TRUE(start->entries.empty());
  ASSERT_FALSE(start->last_cursor.empty());

  // journald writes new entries into a new file after rotation; the directory source sees it.
  auto later = build_journal(dir_.path(),
                             {journal_entry("app.service", "app-new", kT0 + 8 * kSecond),
                              journal_entry("litestream.service", "ls-new", kT0 + 9 * kSecond)},
                             "later");
  ASSERT_TRUE(later) << later.error().to_string();
  auto next = read_journal_since(dir_source(), start->last_cursor, 100);
  ASSERT_TRUE(next) << next.error().to_string();
  EXPECT_EQ(messages(*next), (std::vector<std::string>{"ls-new"}));
}

TEST_F(JournalTest, MalformedCursorIsInvalidInput) {
  auto r = read_journal_since(dir_source(), "not-a-cursor", 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "invalid journal cursor \"not-a-cursor\"");
}

TEST(JournalSourceTest, DirectoryWithoutJournalFilesIsUnavailableNotAnError) {
  TempDir dir;
  auto t = read_journal_tail({JournalSource::Kind::directory, dir.path(), "litestream"}, 10);
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_FALSE(t->available);
  EXPECT_EQ(t->why_unavailable, "no readable journal files in " + dir.path());
  EXPECT_TRUE(t->entries.empty());
  auto s = read_journal_since({JournalSource::Kind::directory, dir.path(), "litestream"}, "", 10);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_FALSE(s->available);
}

TEST(JournalSourceTest, SystemJournalIsReadOrExplainedNeverAnError) {
  // Hosts (and containers) without journald must get a reason, not a failure.
  auto t = read_journal_tail({JournalSource::Kind::system, "", "litestream"}, 5);
  ASSERT_TRUE(t) << t.error().to_string();
  if (!t->available) {
    const std::string& why = t->why_unavailable;
    EXPECT_TRUE(why == "no readable journal files in /var/log/journal or /run/log/journal" ||
                why.rfind("cannot open the system journal: ", 0) == 0)
        << why;
  }
  EXPECT_LE(t->entries.size(), 5u);
}

TEST(JournalSourceTest, MissingExplicitPathsAreNotFound) {
  TempDir dir;
  auto d = read_journal_tail({JournalSource::Kind::directory, dir.file("nope"), "litestream"}, 10);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(d.error().path, dir.file("nope"));
  EXPECT_EQ(d.error().message, "journal directory not found");

  auto f = read_journal_tail({JournalSource::Kind::file, dir.file("x.journal"), "litestream"}, 10);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(f.error().to_string(),
            dir.file("x.journal") + ": journal file not found (No such file or directory)");
}

TEST(JournalSourceTest, WrongFileTypesAreInvalidInput) {
  TempDir dir;
  testing::write_file(dir.file("plain.txt"), "hello\n");
  auto d = read_journal_tail({JournalSource::Kind::directory, dir.file("plain.txt"), ""}, 10);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(d.error().message, "not a directory");

  auto f = read_journal_tail({JournalSource::Kind::file, dir.path(), ""}, 10);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(f.error().message, "not a regular file");
}

TEST(JournalSourceTest, FileThatIsNotAJournalIsRejected) {
  TempDir dir;
  testing::write_file(dir.file("fake.journal"), std::string(4096, 'x'));
  auto r = read_journal_tail({JournalSource::Kind::file, dir.file("fake.journal"), ""}, 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(r.error().message, "not a journal file");
}

TEST(JournalMessageTest, BinaryAndHugeMessagesAreCappedRawBytes) {
  TempDir dir;
  std::string big;
  for (int i = 0; big.size() < 100'000; ++i) big += static_cast<char>(i % 256);  // NUL, \n, 0xff
  auto built = build_journal(dir.path(), {journal_entry("litestream.service", big, kT0),
                                          journal_entry("litestream.service", "a\nb", kT0 + 1)});
  ASSERT_TRUE(built) << built.error().to_string();
  auto t = read_journal_tail({JournalSource::Kind::file, *built, "litestream"}, 10);
  ASSERT_TRUE(t) << t.error().to_string();
  ASSERT_EQ(t->entries.size(), 2u);
  EXPECT_EQ(t->entries[0].message.size(), kMaxJournalMessageBytes);
  EXPECT_EQ(t->entries[0].message, big.substr(0, kMaxJournalMessageBytes));
  EXPECT_EQ(t->entries[1].message, "a\nb");
}

TEST(JournalMessageTest, MissingOrBadPriorityIsMinusOne) {
  TempDir dir;
  auto built = build_journal(dir.path(), {{{"__REALTIME_TIMESTAMP", std::to_string(kT0)},
                                           {"_SYSTEMD_UNIT", "litestream.service"},
                                           {"PRIORITY", "12"},
                                           {"MESSAGE", "odd"}},
                                          {{"__REALTIME_TIMESTAMP", std::to_string(kT0 + 1)},
                                           {"_SYSTEMD_UNIT", "litestream.service"},
                                           {"MESSAGE", "plain"}}});
  ASSERT_TRUE(built) << built.error().to_string();
  auto t = read_journal_tail({JournalSource::Kind::file, *built, "litestream"}, 10);
  ASSERT_TRUE(t) << t.error().to_string();
  ASSERT_EQ(t->entries.size(), 2u);
  EXPECT_EQ(t->entries[0].priority, -1);
  EXPECT_EQ(t->entries[1].priority, -1);
  EXPECT_EQ(t->entries[1].pid, 0);
}

}  // namespace
}  // namespace ltxguard::sys
