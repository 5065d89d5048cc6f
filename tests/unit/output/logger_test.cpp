#include "ltxguard/output/logger.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ltxguard/formats/logfmt.hpp"
#include "ltxguard/sys/command.hpp"
#include "ltxguard/sys/libsystemd.hpp"
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
  EXPECT_EQ(logfmt_value("say \"hi\" \\ x"), "\"say \\\"hi\\\" \\\\ x\"");
  EXPECT_EQ(logfmt_value("rlo\xe2\x80\xae\nx"), "\"rlo\\u202e\\nx\"");
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

// Seen in the field: ok -> warning, then warning -> critical 20 s later was swallowed as a
// repeat of the same (event, db), so the ERROR an operator alerts on never reached the log.
TEST_F(LoggerTest, AChangeToAnotherStateOrLevelIsNeverARepeat) {
  LoggerOptions o = options();
  o.repeat_interval = 60s;
  Logger log(Logger::Sink::text, "ltxguard", o);
  log.log(Level::warning, "state_change", "ok -> warning", {{"db", "/a.db"}, {"STATE", "warning"}});
  elapsed_ = 20s;
  log.log(Level::error, "state_change", "warning -> critical", {{"db", "/a.db"}, {"STATE", "critical"}});
  elapsed_ = 25s;
  log.log(Level::error, "state_change", "critical -> wedged", {{"db", "/a.db"}, {"STATE", "wedged"}});
  elapsed_ = 30s;
  log.log(Level::error, "protective_stop", "stopping", {{"db", "/a.db"}});
  log.log(Level::warning, "protective_stop", "a warning about it", {{"db", "/a.db"}});
  elapsed_ = 40s;  // the same state again within the interval: a repeat
  log.log(Level::error, "state_change", "again critical", {{"db", "/a.db"}, {"STATE", "critical"}});
  const auto got = lines();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_NE(got[1].find("msg=\"warning -> critical\""), std::string::npos) << got[1];
  EXPECT_NE(got[2].find("msg=\"critical -> wedged\""), std::string::npos) << got[2];
  EXPECT_NE(got[4].find("level=WARN msg=\"a warning about it\""), std::string::npos) << got[4];
  EXPECT_EQ(log.suppressed_total(), 1u);
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

// Whether libsystemd is loaded is decided once per process, so the tests below run the
// *Child tests in a fresh copy of this binary (run_self); run directly, those skip.
constexpr const char* kChildEnv = "LTXGUARD_TEST_CHILD";
constexpr const char* kMissingLibrary = "/nonexistent/libsystemd-missing.so.0";

bool in_child() { return std::getenv(kChildEnv) != nullptr; }

// True when libsystemd is mapped into this process (RTLD_NOLOAD never loads it).
bool libsystemd_mapped() {
  void* h = ::dlopen(sys::kLibSystemdName, RTLD_NOW | RTLD_NOLOAD);
  if (h != nullptr) ::dlclose(h);
  return h != nullptr;
}

// Runs the tests matching `filter` in a fresh copy of this binary, with env(1) arguments.
sys::CommandResult run_self(const std::string& filter, const std::vector<std::string>& env_args) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env_args.begin(), env_args.end());
  argv.push_back(std::string(kChildEnv) + "=1");
  argv.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  argv.push_back("--gtest_filter=" + filter);
  auto r = sys::run_command(argv, 60'000);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : sys::CommandResult{};
}

TEST(LoggerLibsystemdTest, OnlyAJournaldSinkLoadsIt) {
  const auto r = run_self("LoggerLazyChild.*", {"-u", sys::kLibSystemdEnv});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

TEST(LoggerLibsystemdTest, JournaldSinkFallsBackToStderrLinesWithoutIt) {
  const auto r =
      run_self("LoggerMissingChild.*", {std::string(sys::kLibSystemdEnv) + "=" + kMissingLibrary});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

TEST(LoggerLibsystemdTest, JournaldSinkSendsTheEntryToJournaldsSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private /run";
  const auto r = run_self("LoggerJournaldChild.*", {"-u", sys::kLibSystemdEnv});
  if (r.exit_code == 0 && r.stdout_text.find("[  SKIPPED ] 1 test") != std::string::npos) {
    GTEST_SKIP() << "the child could not make a mount namespace";
  }
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

class LoggerChild : public LoggerTest {
 protected:
  void SetUp() override {
    if (!in_child()) GTEST_SKIP() << "runs in a child of LoggerLibsystemdTest";
    LoggerTest::SetUp();
  }
};
using LoggerLazyChild = LoggerChild;
using LoggerMissingChild = LoggerChild;
using LoggerJournaldChild = LoggerChild;

TEST_F(LoggerLazyChild, OnlyAJournaldSinkLoadsLibsystemd) {
  ASSERT_FALSE(libsystemd_mapped());
  Logger text(Logger::Sink::text, "ltxguard", options());
  text.log(Level::error, "e", "m");
  Logger json(Logger::Sink::json, "ltxguard", options());
  json.log(Level::error, "e", "m");
  EXPECT_EQ(lines().size(), 2u);
  EXPECT_FALSE(libsystemd_mapped());
  Logger journald(Logger::Sink::journald, "ltxguard", options());
  EXPECT_EQ(journald.sink(), Logger::Sink::journald);
  EXPECT_TRUE(libsystemd_mapped());
}

TEST_F(LoggerMissingChild, JournaldSinkFallsBackToStderrLines) {
  Logger log(Logger::Sink::journald, "ltxguard", options());
  EXPECT_EQ(log.sink(), Logger::Sink::text);
  log.log(Level::error, "reserve_breach", "disk nearly full", {{"db", "/d/app.db"}}, 28);
  EXPECT_EQ(lines(),
            (std::vector<std::string>{
                "time=2025-01-02T03:04:05.678Z level=WARN msg=\"libsystemd not available: " +
                    std::string(kMissingLibrary) +
                    ": cannot open shared object file: No such file or directory; logging to "
                    "stderr\" event=journald_unavailable",
                "time=2025-01-02T03:04:05.678Z level=ERROR msg=\"disk nearly full\" "
                "event=reserve_breach db=/d/app.db errno=28"}));
  EXPECT_EQ(log.write_failures(), 0u);
}

// Plays journald in a private mount namespace (this child only): a datagram socket at
// /run/systemd/journal/socket, where sd_journal_sendv writes.
TEST_F(LoggerJournaldChild, EntryReachesJournaldsSocketWithoutCodeLocation) {
  if (::unshare(CLONE_NEWNS) != 0) {
    if (errno == EPERM) GTEST_SKIP() << "no mount namespace here (EPERM)";
    FAIL() << "unshare: " << std::strerror(errno);
  }
  ASSERT_EQ(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  ASSERT_EQ(::mount("tmpfs", "/run", "tmpfs", 0, "size=1m,mode=0755"), 0) << std::strerror(errno);
  std::filesystem::create_directories("/run/systemd/journal");
  util::UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, "/run/systemd/journal/socket");
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  Logger log(Logger::Sink::journald, "ltxguard", options());
  ASSERT_EQ(log.sink(), Logger::Sink::journald);
  log.log(Level::error, "reserve_breach", "disk nearly full", {{"db", "/d/app.db"}}, 28);
  char buf[4096];
  const ssize_t n = ::recv(sock.get(), buf, sizeof(buf), MSG_DONTWAIT);
  ASSERT_GT(n, 0) << std::strerror(errno);
  // journald's native protocol: one KEY=value line per field.
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)),
            "MESSAGE=disk nearly full\nPRIORITY=3\nMESSAGE_ID=" + message_id_for("reserve_breach") +
                "\nSYSLOG_IDENTIFIER=ltxguard\nLTXGUARD_EVENT=reserve_breach\nDB=/d/app.db\n"
                "ERRNO=28\n");
  EXPECT_EQ(lines().size(), 0u);
  EXPECT_EQ(log.write_failures(), 0u);
}

}  // namespace
}  // namespace ltxguard::output
