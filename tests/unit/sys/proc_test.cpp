#include "ltxguard/sys/proc.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_process_table.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace ltxguard::sys {
namespace {

using testing::TempDir;
using testing::write_file;

// A child running `program argv...` with `open_path` open read-only as fd 7. Killed and
// reaped at scope exit.
class Child {
 public:
  Child(const std::string& program, std::vector<std::string> argv, const std::string& open_path) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (!open_path.empty())
      posix_spawn_file_actions_addopen(&fa, 7, open_path.c_str(), O_RDONLY, 0);
    if (::posix_spawn(&pid_, program.c_str(), &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  [[nodiscard]] int pid() const { return pid_; }
  void kill_without_reaping() { ::kill(pid_, SIGKILL); }
  void reap() {
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

std::string sleep_binary() {
  for (const char* p : {"/bin/sleep", "/usr/bin/sleep"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "";
}

// /proc shows the child's fds and argv only after exec: wait until its comm is the program's.
void wait_for_exec(const ProcessTable& table, int pid, const std::string& comm) {
  for (int i = 0; i < 500; ++i) {
    auto ps = table.processes();
    if (ps) {
      for (const auto& p : *ps) {
        if (p.pid == pid && p.comm == comm) return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "child " << pid << " never became " << comm;
}

const ProcessInfo* by_pid(const std::vector<ProcessInfo>& ps, int pid) {
  for (const auto& p : ps) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

ProcessInfo proc(int pid, std::string comm, std::string exe, std::vector<std::string> cmdline) {
  return ProcessInfo{pid, 0, std::move(comm), std::move(exe), std::move(cmdline)};
}

std::vector<int> pids(const std::vector<ProcessInfo>& ps) {
  std::vector<int> out;
  for (const auto& p : ps) out.push_back(p.pid);
  return out;
}

TEST(ProcTest, ProcessesIncludeOurselves) {
  RealProcessTable table;
  auto ps = table.processes();
  ASSERT_TRUE(ps.has_value());
  const ProcessInfo* self = by_pid(*ps, ::getpid());
  ASSERT_NE(self, nullptr);
  EXPECT_EQ(self->uid, ::geteuid());
  EXPECT_EQ(self->exe, std::filesystem::read_symlink("/proc/self/exe").string());
  std::string comm = testing::read_file("/proc/self/comm");
  comm.pop_back();  // newline
  EXPECT_EQ(self->comm, comm);
  const std::string raw = testing::read_file("/proc/self/cmdline");
  ASSERT_FALSE(self->cmdline.empty());
  EXPECT_EQ(self->cmdline[0], raw.substr(0, raw.find('\0')));
  EXPECT_TRUE(std::is_sorted(ps->begin(), ps->end(),
                             [](const auto& a, const auto& b) { return a.pid < b.pid; }));
}

TEST(ProcTest, ChildHoldingAFileUnderADirectoryIsFound) {
  const std::string sleep = sleep_binary();
  if (sleep.empty()) GTEST_SKIP() << "no sleep binary";
  TempDir dir;
  write_file(dir.file("meta/ltx/0/a.ltx.tmp"), "x");
  write_file(dir.file("metaX/other"), "x");
  const std::string canonical = std::filesystem::canonical(dir.path()).string();
  Child holder(sleep, {"sleep", "30"}, dir.file("meta/ltx/0/a.ltx.tmp"));
  Child other(sleep, {"sleep", "30"}, dir.file("metaX/other"));
  ASSERT_GT(holder.pid(), 0);
  ASSERT_GT(other.pid(), 0);
  RealProcessTable table;
  wait_for_exec(table, holder.pid(), "sleep");
  wait_for_exec(table, other.pid(), "sleep");

  auto files = table.open_files_under({canonical + "/meta"});
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 1U);
  EXPECT_EQ((*files)[0].pid, holder.pid());
  EXPECT_EQ((*files)[0].fd, 7);
  EXPECT_EQ((*files)[0].comm, "sleep");
  EXPECT_EQ((*files)[0].path, canonical + "/meta/ltx/0/a.ltx.tmp");
  EXPECT_FALSE((*files)[0].deleted);

  auto both = table.open_files_under({canonical + "/meta/", canonical + "/metaX"});
  ASSERT_TRUE(both.has_value());
  std::vector<int> found;
  for (const auto& f : *both) found.push_back(f.pid);
  std::sort(found.begin(), found.end());
  std::vector<int> expected{holder.pid(), other.pid()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(found, expected);

  EXPECT_TRUE(table.open_files_under({})->empty());
}

TEST(ProcTest, DeletedButOpenFileIsFlaggedAndNamedWithoutTheSuffix) {
  const std::string sleep = sleep_binary();
  if (sleep.empty()) GTEST_SKIP() << "no sleep binary";
  TempDir dir;
  write_file(dir.file("big.ltx.tmp"), std::string(4096, 'x'));
  const std::string canonical = std::filesystem::canonical(dir.path()).string();
  Child holder(sleep, {"sleep", "30"}, dir.file("big.ltx.tmp"));
  RealProcessTable table;
  wait_for_exec(table, holder.pid(), "sleep");
  ASSERT_EQ(::unlink(dir.file("big.ltx.tmp").c_str()), 0);
  auto files = table.open_files_under({canonical});
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 1U);
  EXPECT_EQ((*files)[0].path, canonical + "/big.ltx.tmp");
  EXPECT_TRUE((*files)[0].deleted);
}

TEST(ProcTest, AliveUntilKilledAndZombiesAreNotAlive) {
  const std::string sleep = sleep_binary();
  if (sleep.empty()) GTEST_SKIP() << "no sleep binary";
  Child child(sleep, {"sleep", "30"}, "");
  RealProcessTable table;
  EXPECT_TRUE(table.alive(child.pid()));
  EXPECT_TRUE(table.alive(::getpid()));
  child.kill_without_reaping();
  bool dead = false;
  for (int i = 0; i < 500 && !dead; ++i) {
    dead = !table.alive(child.pid());  // a zombie until reaped: must count as dead
    if (!dead) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(dead);
  child.reap();
  EXPECT_FALSE(table.alive(child.pid()));
  EXPECT_FALSE(table.alive(0));
  EXPECT_FALSE(table.alive(-1));
}

TEST(ProcTest, RealLitestreamNamedBinaryIsFound) {
  const std::string sleep = sleep_binary();
  if (sleep.empty()) GTEST_SKIP() << "no sleep binary";
  TempDir dir;
  const std::string fake = dir.file("litestream");
  std::filesystem::copy_file(sleep, fake);
  ::chmod(fake.c_str(), 0755);
  Child ls(fake, {"litestream", "30"}, "");
  RealProcessTable table;
  wait_for_exec(table, ls.pid(), "litestream");
  auto ps = table.processes();
  ASSERT_TRUE(ps.has_value());
  const auto found = find_litestream(*ps);
  const ProcessInfo* p = by_pid(found, ls.pid());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->comm, "litestream");
  EXPECT_EQ(p->exe, std::filesystem::canonical(fake).string());
  EXPECT_EQ(p->cmdline, (std::vector<std::string>{"litestream", "30"}));
  EXPECT_EQ(by_pid(found, ::getpid()), nullptr);
}

TEST(ProcTest, MissingProcRootIsAnError) {
  TempDir dir;
  RealProcessTable table(dir.file("no-proc"));
  auto ps = table.processes();
  ASSERT_FALSE(ps.has_value());
  EXPECT_EQ(ps.error().to_string(),
            dir.file("no-proc") + ": cannot open process list (No such file or directory)");
  EXPECT_FALSE(table.open_files_under({"/"}).has_value());
  EXPECT_FALSE(table.alive(1));
}

// A tree planted where /proc should be (a tmpfs over /proc, a fake root): it lists a
// Litestream and ourselves, yet none of it may be believed.
TEST(ProcTest, ProcRootThatIsNotProcfsIsAnError) {
  TempDir dir;
  const std::string self = std::to_string(::getpid());
  write_file(dir.file("proc/" + self + "/comm"), "litestream\n");
  write_file(dir.file("proc/" + self + "/status"), "Name:\tlitestream\nUid:\t0\t0\t0\t0\n");
  write_file(dir.file("proc/" + self + "/cmdline"), std::string("litestream\0replicate\0", 21));
  std::filesystem::create_directory_symlink(self, dir.file("proc/self"));
  RealProcessTable table(dir.file("proc"));
  auto ps = table.processes();
  ASSERT_FALSE(ps.has_value());
  EXPECT_EQ(ps.error().to_string(),
            dir.file("proc") + ": not a proc filesystem, so which processes run is unknown");
  auto files = table.open_files_under({"/"});
  ASSERT_FALSE(files.has_value());
  EXPECT_EQ(files.error().to_string(), ps.error().to_string());
}

// A procfs mounted by the init of a PID namespace we are not in: procfs, but it does not
// show this process. Done in a child with its own mount namespace, so nothing leaks out.
TEST(ProcTest, ProcfsThatDoesNotShowUsIsAnError) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (unshare, mount)";
  TempDir dir;
  const std::string mnt = dir.file("proc");
  std::filesystem::create_directory(mnt);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(out[0]);
    std::string said = "skip: unshare or mount refused";
    if (::unshare(CLONE_NEWNS | CLONE_NEWPID) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0) {
      const pid_t init = ::fork();
      if (init == 0) _exit(::mount("proc", mnt.c_str(), "proc", 0, nullptr) == 0 ? 0 : 1);
      int status = 1;
      if (init > 0) ::waitpid(init, &status, 0);
      if (init > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        auto ps = RealProcessTable(mnt).processes();
        said = ps ? "listed " + std::to_string(ps->size()) + " processes" : ps.error().to_string();
      }
    }
    const ssize_t n = ::write(out[1], said.data(), said.size());
    _exit(n == static_cast<ssize_t>(said.size()) ? 0 : 1);
  }
  ::close(out[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  if (got.starts_with("skip: ")) GTEST_SKIP() << got;
  EXPECT_EQ(got, mnt + ": does not list ltxguard's own process (a /proc of another PID namespace?), "
                       "so which processes run is unknown");
}

TEST(FindLitestreamTest, MatchesByCommExeOrArgv0) {
  const std::vector<ProcessInfo> ps{
      proc(1, "systemd", "/usr/lib/systemd/systemd", {"/sbin/init"}),
      proc(2, "litestream", "", {}),  // exe unreadable
      proc(3, "ls-renamed", "/usr/local/bin/litestream", {"x"}),
      proc(4, "litestream05_do", "/opt/t/litestream05_double",
           {"/opt/t/litestream05_double", "replicate"}),
      proc(5, "ltxguard", "/usr/bin/ltxguard",
           {"ltxguard", "run", "--", "litestream", "replicate"}),
      proc(6, "vim", "/usr/bin/vim", {"vim", "/etc/litestream.yml"}),
      proc(7, "python3", "/usr/bin/python3.11", {"/usr/bin/python3", "/srv/litestream/x.py"}),
  };
  EXPECT_EQ(pids(find_litestream(ps)), (std::vector<int>{2, 3, 4}));
}

TEST(FindLitestreamTest, FiltersByConfigPath) {
  const std::vector<ProcessInfo> ps{
      proc(10, "litestream", "/usr/bin/litestream", {"litestream", "replicate"}),
      proc(11, "litestream", "/usr/bin/litestream",
           {"litestream", "replicate", "-config", "/a.yml"}),
      proc(12, "litestream", "/usr/bin/litestream", {"litestream", "replicate", "--config=/a.yml"}),
      proc(13, "litestream", "/usr/bin/litestream", {"litestream", "replicate", "-config=/b.yml"}),
      proc(14, "litestream", "/usr/bin/litestream",
           {"litestream", "replicate", "--config", "/b.yml"}),
      proc(15, "litestream", "/usr/bin/litestream", {"litestream", "replicate", "-config"}),
  };
  EXPECT_EQ(pids(find_litestream(ps, "/a.yml")), (std::vector<int>{11, 12}));
  EXPECT_EQ(pids(find_litestream(ps, "/b.yml")), (std::vector<int>{13, 14}));
  EXPECT_EQ(pids(find_litestream(ps, "/etc/litestream.yml")), (std::vector<int>{10}));
  EXPECT_EQ(pids(find_litestream(ps)), (std::vector<int>{10, 11, 12, 13, 14, 15}));
}

TEST(LiveProcessInGroupTest, ALiveMemberCountsAZombieDoesNot) {
  EXPECT_TRUE(live_process_in_group(::getpgrp()));  // this test itself
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setpgid(0, 0);
    ::_exit(0);
  }
  // Not reaped yet: a zombie that still counts for kill(-pgid, 0).
  for (int i = 0; i < 200; ++i) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == child) break;
    ::usleep(10'000);
  }
  EXPECT_FALSE(live_process_in_group(child));
  ::waitpid(child, nullptr, 0);
  EXPECT_FALSE(live_process_in_group(child));  // no such group at all
}

TEST(FindLitestreamTest, ConfigArgumentInEveryForm) {
  EXPECT_EQ(config_argument(proc(1, "litestream", "", {"litestream", "replicate", "-config", "/a.yml"})), "/a.yml");
  EXPECT_EQ(config_argument(proc(1, "litestream", "", {"litestream", "replicate", "--config=rel.yml"})), "rel.yml");
  EXPECT_EQ(config_argument(proc(1, "litestream", "", {"litestream", "replicate", "-config"})), "");
  EXPECT_EQ(config_argument(proc(1, "litestream", "", {"litestream", "replicate"})), std::nullopt);
  EXPECT_EQ(config_argument(proc(1, "litestream", "", {"-config", "/argv0-is-not-an-argument"})), std::nullopt);
}

TEST(FakeProcessTableTest, ReportsOpenFilesOfLiveProcessesUnderPrefixes) {
  testing::FakeProcessTable t;
  t.add_process(proc(42, "litestream", "/usr/bin/litestream", {"litestream"}));
  t.add_process(proc(7, "app", "/usr/bin/app", {"app"}));
  t.add_open_file(OpenFile{42, 9, "", "/d/.app.db-litestream/ltx/0/x.ltx.tmp", true});
  t.add_open_file(OpenFile{7, 3, "", "/d/app.db", false});
  t.add_open_file(OpenFile{7, 4, "", "/dx/other", false});
  auto files = t.open_files_under({"/d"});
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 2U);
  EXPECT_EQ((*files)[0].pid, 7);
  EXPECT_EQ((*files)[0].comm, "app");
  EXPECT_EQ((*files)[1].comm, "litestream");
  EXPECT_TRUE((*files)[1].deleted);
  EXPECT_EQ(pids(*t.processes()), (std::vector<int>{7, 42}));
  t.kill(42);
  EXPECT_FALSE(t.alive(42));
  EXPECT_EQ(t.open_files_under({"/d"})->size(), 1U);
  t.fail_with(util::make_error(util::ErrorCode::io, "/proc", "cannot open process list"));
  EXPECT_FALSE(t.processes().has_value());
  t.fail_with(std::nullopt);
  EXPECT_TRUE(t.processes().has_value());
}

}  // namespace
}  // namespace ltxguard::sys
