// The lazily loaded libsystemd, and what notify and journal do when it is not loaded or cannot
// be. Whether it is loaded is decided once per process, so those tests run in a fresh copy of
// this binary (run_self) with only them selected; run directly, they skip.
#include "ltxguard/sys/libsystemd.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ltxguard/sys/command.hpp"
#include "ltxguard/sys/journal.hpp"
#include "ltxguard/sys/notify.hpp"
#include "ltxguard/util/unique_fd.hpp"
#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

constexpr const char* kChildEnv = "LTXGUARD_TEST_CHILD";
constexpr const char* kMissingLibrary = "/nonexistent/libsystemd-missing.so.0";
const std::string kMissingError =
    std::string(kMissingLibrary) + ": cannot open shared object file: No such file or directory";

bool in_child() { return std::getenv(kChildEnv) != nullptr; }

// True when libsystemd is mapped into this process (RTLD_NOLOAD never loads it).
bool libsystemd_mapped() {
  void* h = ::dlopen(kLibSystemdName, RTLD_NOW | RTLD_NOLOAD);
  if (h != nullptr) ::dlclose(h);
  return h != nullptr;
}

// Runs the tests matching `filter` in a fresh copy of this binary. env_args go to env(1):
// "-u NAME" options first, then NAME=value assignments.
CommandResult run_self(const std::string& filter, const std::vector<std::string>& env_args) {
  std::vector<std::string> argv = {"env"};
  argv.insert(argv.end(), env_args.begin(), env_args.end());
  argv.push_back(std::string(kChildEnv) + "=1");
  argv.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  argv.push_back("--gtest_filter=" + filter);
  auto r = run_command(argv, 60'000);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? *r : CommandResult{};
}

TEST(LibSystemdTest, LoadsEveryEntryPointOfTheInstalledLibrary) {
  const LibSystemd* sd = libsystemd();
  ASSERT_NE(sd, nullptr) << libsystemd_error();
  EXPECT_EQ(libsystemd_error(), "");
  EXPECT_EQ(libsystemd(), sd);  // loaded once
  // The table is nothing but function pointers: none may be left unresolved.
  static_assert(sizeof(LibSystemd) % sizeof(void (*)()) == 0);
  std::array<void (*)(), sizeof(LibSystemd) / sizeof(void (*)())> entries{};
  std::memcpy(entries.data(), sd, sizeof(LibSystemd));
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_NE(entries[i], nullptr) << "entry " << i;
  // They are libsystemd's own, and libsystemd is now mapped.
  void* h = ::dlopen(kLibSystemdName, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(::dlsym(h, "sd_journal_sendv"), reinterpret_cast<void*>(sd->journal_sendv));
  EXPECT_EQ(::dlsym(h, "sd_notify"), reinterpret_cast<void*>(sd->notify));
  EXPECT_EQ(::dlsym(h, "sd_journal_get_data"), reinterpret_cast<void*>(sd->journal_get_data));
  ::dlclose(h);
}

TEST(LibSystemdTest, NothingLoadsItOutsideSystemd) {
  const auto r = run_self("LibSystemdLazyChild.*",
                          {"-u", "NOTIFY_SOCKET", "-u", "WATCHDOG_USEC", "-u", kLibSystemdEnv});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

TEST(LibSystemdTest, EmptySystemJournalIsReportedWithoutLoadingIt) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private /run and /var/log";
  const auto r = run_self("LibSystemdSystemJournalChild.*", {"-u", kLibSystemdEnv});
  if (r.exit_code == 0 && r.stdout_text.find("[  SKIPPED ] 1 test") != std::string::npos) {
    GTEST_SKIP() << "the child could not make a mount namespace";
  }
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

TEST(LibSystemdTest, NotifyAndJournalDegradeWhenItIsMissing) {
  const auto r =
      run_self("LibSystemdMissingChild.*", {std::string(kLibSystemdEnv) + "=" + kMissingLibrary});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 3 tests."), std::string::npos) << r.stdout_text;
}

TEST(LibSystemdTest, LibraryLackingASymbolIsNotUsed) {
  const auto r =
      run_self("LibSystemdWrongLibraryChild.*", {std::string(kLibSystemdEnv) + "=libz.so.1"});
  EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
  EXPECT_NE(r.stdout_text.find("[  PASSED  ] 1 test."), std::string::npos) << r.stdout_text;
}

// --- run by the tests above, in a fresh process ---

TEST(LibSystemdLazyChild, LoadedOnlyWhenAJournalIsOpened) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  ASSERT_FALSE(libsystemd_mapped());
  EXPECT_FALSE(notify_ready());
  EXPECT_FALSE(notify_status("ok"));
  EXPECT_FALSE(notify_watchdog());
  EXPECT_FALSE(notify_stopping());
  EXPECT_EQ(watchdog_usec(), std::nullopt);
  // A missing explicit source is reported before anything is loaded.
  auto missing = read_journal_tail({JournalSource::Kind::directory, "/nonexistent-journal", ""}, 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::ErrorCode::not_found);
  EXPECT_FALSE(libsystemd_mapped());

  testing::TempDir dir;
  auto empty = read_journal_tail({JournalSource::Kind::directory, dir.path(), "litestream"}, 1);
  ASSERT_TRUE(empty) << empty.error().to_string();
  EXPECT_FALSE(empty->available);
  EXPECT_TRUE(libsystemd_mapped());
}

// Hides the host's journal directories in a private mount namespace (this child only).
TEST(LibSystemdSystemJournalChild, LoadedOnlyWhenAJournalDirectoryHasEntries) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  if (::unshare(CLONE_NEWNS) != 0) {
    if (errno == EPERM) GTEST_SKIP() << "no mount namespace here (EPERM)";
    FAIL() << "unshare: " << std::strerror(errno);
  }
  ASSERT_EQ(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  for (const char* d : {"/run", "/var/log"}) {
    ASSERT_EQ(::mount("tmpfs", d, "tmpfs", 0, "size=1m,mode=0755"), 0) << d << std::strerror(errno);
  }
  const std::string why = "no readable journal files in /var/log/journal or /run/log/journal";
  std::filesystem::create_directories("/var/log/journal");  // present but empty, as in a container
  auto none = read_journal_since({JournalSource::Kind::system, "", "litestream"}, "c", 1);
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_FALSE(none->available);
  EXPECT_EQ(none->why_unavailable, why);
  EXPECT_EQ(none->last_cursor, "c");
  EXPECT_FALSE(libsystemd_mapped());

  std::filesystem::create_directories("/run/log/journal/0123456789abcdef0123456789abcdef");
  auto empty = read_journal_tail({JournalSource::Kind::system, "", "litestream"}, 1);
  ASSERT_TRUE(empty) << empty.error().to_string();
  EXPECT_FALSE(empty->available);
  EXPECT_EQ(empty->why_unavailable, why);
  EXPECT_TRUE(libsystemd_mapped());
}

TEST(LibSystemdMissingChild, TableIsNullWithDlerrorsReason) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  EXPECT_EQ(libsystemd(), nullptr);
  EXPECT_EQ(libsystemd_error(), kMissingError);
  EXPECT_FALSE(libsystemd_mapped());
}

TEST(LibSystemdMissingChild, NotifyIsANoOp) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  testing::TempDir dir;
  const std::string path = dir.file("notify.sock");
  util::UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock.valid());
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_FALSE(notify_ready());
  EXPECT_FALSE(notify_status("ok"));
  EXPECT_FALSE(notify_watchdog());
  EXPECT_EQ(watchdog_usec(), std::nullopt);
  char buf[64];
  EXPECT_EQ(::recv(sock.get(), buf, sizeof(buf), MSG_DONTWAIT), -1);  // nothing was sent
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");
}

TEST(LibSystemdMissingChild, JournalReadIsAnIoErrorSayingWhy) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  testing::TempDir dir;
  const std::string why = "libsystemd not available: " + kMissingError;
  auto tail = read_journal_tail({JournalSource::Kind::directory, dir.path(), "litestream"}, 10);
  ASSERT_FALSE(tail);
  EXPECT_EQ(tail.error().code, util::ErrorCode::io);
  EXPECT_EQ(tail.error().to_string(), why);
  const std::string file = dir.file("system.journal");
  testing::write_file(file, "not a journal");
  auto since = read_journal_since({JournalSource::Kind::file, file, "litestream"}, "", 10);
  ASSERT_FALSE(since);
  EXPECT_EQ(since.error().to_string(), why);
  // A missing source is still named as such.
  auto missing = read_journal_tail({JournalSource::Kind::file, dir.file("none.journal"), ""}, 1);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::ErrorCode::not_found);
}

TEST(LibSystemdWrongLibraryChild, TableIsNullWithTheMissingSymbol) {
  if (!in_child()) GTEST_SKIP() << "runs in a child of LibSystemdTest";
  EXPECT_EQ(libsystemd(), nullptr);
  EXPECT_NE(libsystemd_error().find("libz.so.1: undefined symbol: sd_notify"), std::string::npos)
      << libsystemd_error();
  testing::TempDir dir;
  auto tail = read_journal_tail({JournalSource::Kind::directory, dir.path(), ""}, 1);
  ASSERT_FALSE(tail);
  EXPECT_EQ(tail.error().message, "libsystemd not available: " + libsystemd_error());
}

}  // namespace
}  // namespace ltxguard::sys
