#include "ltxguard/output/logger.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "ltxguard/formats/logfmt.hpp"
#include "ltxguard/util/unique_fd.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::output {
namespace {

using namespace std::chrono_literals;
using Level = Logger::Level;

// 2025-01-02T03:04:05.678Z
const auto kWallStart = std::chrono::system_clock::time_point(1735787045678ms);

// A Logger writing to a file, with clocks the test moves by hand.
class LoggerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_.reset(::open(dir_.file("log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd_.valid());
  }
  LoggerOptions options() {
    LoggerOptions o;
    o.fd = fd_.get();
    o.wall_clock = [this] { return kWallStart + elapsed_; };
    o.monotonic_clock = [this] { return std::chrono::steady_clock::time_point(elapsed_); };
    return o;
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    const std::string all = testing::read_file(dir_.file("log"));
    size_t start = 0;
    for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
      out.push_back(all.substr(start, nl - start));
    }
    EXPECT_EQ(start, all.size()) << "last line not terminated";
    return out;
  }

  testing::TempDir dir_;
  util::UniqueFd fd_;
  std::chrono::milliseconds elapsed_{0};
};

TEST_F(LoggerTest, TextLineIsLogfmtWithFieldsAndErrno) {
  Logger log(Logger::Sink::text, "ltxguard", options());
  log.log(Level::error, "reserve_breach", "disk nearly full",
          {{"db", "/d/app.db"}, {"avail_bytes", "1024"}}, 28);
  log.log(Level::info, "started", "watching", {});
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "time=2025-01-02T03:04:05.678Z level=ERROR msg=\"disk nearly full\" "
                         "event=reserve_breach avail_bytes=1024 db=/d/app.db errno=28",
                         "time=2025-01-02T03:04:05.678Z level=INFO msg=watching event=started",
                     }));
}

TEST_F(LoggerTest, JsonLineIsOneObjectWithStringFields) {
  Logger log(Logger::Sink::json, "ltxguard", options());
  log.log(Level::warning, "reserve_breach", "disk \"nearly\" full",
          {{"db", "/d/app.db"}, {"avail_bytes", "1024"}}, 28);
  EXPECT_EQ(lines(),
            (std::vector<std::string>{R"({"time":"2025-01-02T03:04:05.678Z","level":"WARN",)"
                                      R"("msg":"disk \"nearly\" full","event":"reserve_breach",)"
                                      R"("avail_bytes":"1024","db":"/d/app.db","errno":28})"}));
}

TEST_F(LoggerTest, JsonReplacesInvalidUtf8AndEscapesControls) {
  Logger log(Logger::Sink::json, "ltxguard", options());
  log.log(Level::info, "e", "a\xff\nb", {});
  // U+FFFD as UTF-8 bytes, the newline escaped.
  EXPECT_EQ(lines(),
            (std::vector<std::string>{"{\"time\":\"2025-01-02T03:04:05.678Z\",\"level\":\"INFO\","
                                      "\"msg\":\"a\xef\xbf\xbd\\nb\",\"event\":\"e\"}"}));
}

TEST_F(LoggerTest, HostileValuesAreQuotedAndParseBackUnchanged) {
  Logger log(Logger::Sink::text, "ltxguard", options());
  const std::string path = "/d/a b=\"c\\d\ne\x1b\xff\xe2\x80\xae.db";  // ends with U+202E
  log.log(Level::error, "x", "m", {{"path", path}, {"empty", ""}, {"utf8", "d\xc3\xa9j\xc3\xa0"}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "time=2025-01-02T03:04:05.678Z level=ERROR msg=m event=x empty=\"\" "
            "path=\"/d/a b=\\\"c\\\\d\\ne\\x1b\\xff\\u202e.db\" utf8=d\xc3\xa9j\xc3\xa0");
  const auto fields = formats::parse_logfmt(got[0]);
  ASSERT_EQ(fields.size(), 7u);
  EXPECT_EQ(fields[5].key, "path");
  EXPECT_EQ(fields[5].value, path);
  EXPECT_EQ(fields[4].value, "");
}

TEST(LogfmtValueTest, BareOnlyWhenNothingNeedsQuoting) {
  EXPECT_EQ(logfmt_value("/var/lib/app.db"), "/var/lib/app.db");
  EXPECT_EQ(logfmt_value(""), "\"\"");
  EXPECT_EQ(logfmt_value("a=b"), "\"a=b\"");
  EXPECT_EQ(logfmt_value("tab\there"), "\"tab\\there\"");
  EXPECT_EQ(logfmt_value("nel\xc2\x85"), "\"nel\\u0085\"");
  EXPECT_EQ(logfmt_value("overlong\xc0\xaf"), "\"overlong\\xc0\\xaf\"");
  EXPECT_EQ(logfmt_value("del\x7f"), "\"del\\x7f\"");
}

TEST_F(LoggerTest, ReservedFieldNamesArePrefixedAndOddKeysSanitized) {
  Logger log(Logger::Sink::text, "ltxguard", options());
  log.log(Level::info, "e", "m", {{"msg", "spoof"}, {"level", "DEBUG"}, {"a key=x", "1"}});
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "time=2025-01-02T03:04:05.678Z level=INFO msg=m event=e a_key_x=1 "
                         "field_level=DEBUG field_msg=spoof"}));
}

TEST_F(LoggerTest, LongValuesAreCutOnACharacterBoundary) {
  Logger log(Logger::Sink::text, "ltxguard", options());
  const std::string value = std::string(kMaxLogValueBytes - 1, 'a') + "\xc3\xa9" + "tail";
  log.log(Level::info, "e", "m", {{"v", value}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 1u);
  const auto fields = formats::parse_logfmt(got[0]);
  ASSERT_EQ(fields.size(), 5u);
  EXPECT_EQ(fields[4].value, std::string(kMaxLogValueBytes - 1, 'a') + "...");
}

TEST_F(LoggerTest, RepeatsWithinTheIntervalAreCountedThenReported) {
  LoggerOptions o = options();
  o.repeat_interval = 60s;
  Logger log(Logger::Sink::text, "ltxguard", o);
  for (int i = 0; i < 5; ++i) {
    elapsed_ = std::chrono::seconds(i);
    log.log(Level::error, "sync_error", "no space", {{"db", "/a.db"}}, 28);
  }
  elapsed_ = 10s;
  log.log(Level::error, "sync_error", "no space", {{"db", "/b.db"}}, 28);  // another db: own key
  elapsed_ = 60s;
  log.log(Level::error, "sync_error", "no space again", {{"db", "/a.db"}}, 28);
  elapsed_ = 61s;
  log.log(Level::error, "sync_error", "no space", {{"db", "/a.db"}}, 28);  // suppressed again
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "time=2025-01-02T03:04:05.678Z level=ERROR msg=\"no space\" "
                         "event=sync_error db=/a.db errno=28",
                         "time=2025-01-02T03:04:15.678Z level=ERROR msg=\"no space\" "
                         "event=sync_error db=/b.db errno=28",
                         "time=2025-01-02T03:05:05.678Z level=ERROR msg=\"no space again\" "
                         "event=sync_error db=/a.db errno=28 suppressed=4",
                     }));
  EXPECT_EQ(log.suppressed_total(), 5u);
}

TEST_F(LoggerTest, FlushReportsTheLastRepeatOnceTheIntervalPassed) {
  LoggerOptions o = options();
  o.repeat_interval = 60s;
  Logger log(Logger::Sink::text, "ltxguard", o);
  log.log(Level::warning, "staging_growing", "first", {{"db", "/a.db"}});
  for (int i = 1; i <= 3; ++i) {
    elapsed_ = std::chrono::seconds(i);
    log.log(Level::warning, "staging_growing", "repeat " + std::to_string(i), {{"db", "/a.db"}});
  }
  elapsed_ = 30s;
  log.flush_suppressed();  // too early: nothing
  elapsed_ = 61s;
  log.flush_suppressed();
  log.flush_suppressed();  // nothing left to report
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "time=2025-01-02T03:04:05.678Z level=WARN msg=first "
                         "event=staging_growing db=/a.db",
                         "time=2025-01-02T03:05:06.678Z level=WARN msg=\"repeat 3\" "
                         "event=staging_growing db=/a.db suppressed=2",
                     }));
  // The flush restarted the interval for the key.
  elapsed_ = 62s;
  log.log(Level::warning, "staging_growing", "again", {{"db", "/a.db"}});
  EXPECT_EQ(lines().size(), 2u);
}

TEST_F(LoggerTest, JournaldEntryCarriesPriorityMessageIdErrnoAndUpperCaseFields) {
  std::vector<std::vector<std::string>> sent;
  LoggerOptions o = options();
  o.journal_send = [&](const struct iovec* iov, int n) {
    std::vector<std::string> entry;
    for (int i = 0; i < n; ++i)
      entry.emplace_back(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    sent.push_back(entry);
    return 0;
  };
  Logger log(Logger::Sink::journald, "ltxguard", o);
  log.log(Level::critical, "reserve_breach", "line one\nline two",
          {{"db", "/d/app.db"}, {"staging-bytes", "4096"}, {"message", "spoof"}, {"9x", "n"}}, 28);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], (std::vector<std::string>{
                         "MESSAGE=line one\nline two",
                         "PRIORITY=2",
                         "MESSAGE_ID=" + message_id_for("reserve_breach"),
                         "SYSLOG_IDENTIFIER=ltxguard",
                         "LTXGUARD_EVENT=reserve_breach",
                         "LTXGUARD_9X=n",
                         "DB=/d/app.db",
                         "LTXGUARD_MESSAGE=spoof",
                         "STAGING_BYTES=4096",
                         "ERRNO=28",
                     }));
  EXPECT_EQ(lines().size(), 0u);  // nothing on stderr
  EXPECT_EQ(log.write_failures(), 0u);
}

TEST_F(LoggerTest, JournaldRefusalFallsBackToTextOnTheFd) {
  LoggerOptions o = options();
  o.journal_send = [](const struct iovec*, int) { return -ENOENT; };
  Logger log(Logger::Sink::journald, "ltxguard", o);
  log.log(Level::error, "e", "m", {}, 28);
  EXPECT_EQ(lines(), (std::vector<std::string>{
                         "time=2025-01-02T03:04:05.678Z level=ERROR msg=m event=e errno=28"}));
  EXPECT_EQ(log.write_failures(), 1u);
}

TEST(MessageIdTest, StableAcrossVersionsAndDistinctPerEvent) {
  // Pinned: changing the derivation would break every saved journalctl MESSAGE_ID= query.
  EXPECT_EQ(message_id_for("reserve_breach"), "8c59ec4693c153ac0ddd4b86bfeebe3b");
  EXPECT_EQ(message_id_for(""), message_id_for(""));
  EXPECT_EQ(message_id_for("x").find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(message_id_for("x").size(), 32u);
  EXPECT_NE(message_id_for("reserve_breach"), message_id_for("reserve_breaches"));
  EXPECT_NE(message_id_for("a"), message_id_for("b"));
}

TEST(LoggerWriteTest, ClosedPipeIsCountedNotFatalEvenWithDefaultSigpipe) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  util::UniqueFd w(p[1]);
  struct sigaction dfl {
  }, old{};
  dfl.sa_handler = SIG_DFL;
  ASSERT_EQ(::sigaction(SIGPIPE, &dfl, &old), 0);
  LoggerOptions o;
  o.fd = w.get();
  Logger log(Logger::Sink::text, "ltxguard", o);
  log.log(Level::error, "e", "m");
  log.log(Level::error, "f", "m");
  EXPECT_EQ(log.write_failures(), 2u);  // and the process is still alive
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  ::sigaction(SIGPIPE, &old, nullptr);
}

TEST(LoggerWriteTest, FullDeviceIsCounted) {
  util::UniqueFd full(::open("/dev/full", O_WRONLY | O_CLOEXEC));
  if (!full.valid()) GTEST_SKIP() << "no /dev/full";
  LoggerOptions o;
  o.fd = full.get();
  Logger log(Logger::Sink::json, "ltxguard", o);
  log.log(Level::error, "e", "m", {}, 28);
  EXPECT_EQ(log.write_failures(), 1u);
}

TEST(LoggerWriteTest, StuckPipeDropsTheLineInsteadOfBlocking) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  util::UniqueFd r(p[0]), w(p[1]);
  const std::string chunk(4096, 'x');
  while (::write(w.get(), chunk.data(), chunk.size()) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_EQ(::fcntl(w.get(), F_SETFL, 0), 0);  // blocking again, like a real stderr
  LoggerOptions o;
  o.fd = w.get();
  Logger log(Logger::Sink::text, "ltxguard", o);
  const auto t0 = std::chrono::steady_clock::now();
  log.log(Level::error, "e", "m");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(log.write_failures(), 1u);
}

TEST(JournalStreamTest, MatchesOnlyTheDeviceAndInodeOfTheFd) {
  testing::TempDir dir;
  util::UniqueFd fd(::open(dir.file("f").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  EXPECT_TRUE(fd_is_journal_stream(mine, fd.get()));
  EXPECT_FALSE(fd_is_journal_stream(std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1),
                                    fd.get()));
  for (const char* bad : {"", ":", "12", "12:", ":34", "a:b", "12:34x", "-1:2", "1:2:3"}) {
    EXPECT_FALSE(fd_is_journal_stream(bad, fd.get())) << bad;
  }
  EXPECT_FALSE(fd_is_journal_stream(mine, -1));
}

TEST(JournalStreamTest, AutoSinkPicksJournaldOnlyWhenStderrIsTheStream) {
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_EQ(auto_sink(Logger::Sink::json), Logger::Sink::journald);
  ::setenv("JOURNAL_STREAM", "1:1", 1);  // inherited from a parent: stderr was redirected
  EXPECT_EQ(auto_sink(Logger::Sink::json), Logger::Sink::json);
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(auto_sink(), Logger::Sink::text);
}

}  // namespace
}  // namespace ltxguard::output
