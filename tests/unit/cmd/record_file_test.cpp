#include "ltxguard/cmd/record_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <string>

#include "support/temp_dir.hpp"

namespace ltxguard::cmd {
namespace {

// RLIMIT_FSIZE cuts a write at the limit (a short write) and fails the next one with EFBIG,
// the way a filesystem that fills mid-line does with ENOSPC. Restored at scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
};

TEST(RecordFileTest, AppendsWholeLines) {
  testing::TempDir dir;
  RecordFile r;
  EXPECT_FALSE(r.enabled());
  ASSERT_TRUE(r.open(dir.file("rec.jsonl")));
  EXPECT_TRUE(r.enabled());
  EXPECT_FALSE(r.append("{\"a\":1}\n"));
  EXPECT_FALSE(r.append("{\"a\":2}\n"));
  EXPECT_EQ(testing::read_file(dir.file("rec.jsonl")), "{\"a\":1}\n{\"a\":2}\n");
}

TEST(RecordFileTest, ShortWriteIsCutBackAndTheNextLineStartsClean) {
  testing::TempDir dir;
  const std::string path = dir.file("rec.jsonl");
  RecordFile r;
  ASSERT_TRUE(r.open(path));
  ASSERT_FALSE(r.append("{\"a\":1}\n"));  // 8 bytes
  {
    const FileSizeLimit limit(13);  // room for 5 bytes of the next line only
    const auto err = r.append("{\"a\":2,\"pad\":\"xxxxxxxx\"}\n");
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->code, util::ErrorCode::io);
    EXPECT_EQ(err->errno_value, EFBIG);
    EXPECT_EQ(err->to_string(), path + ": cannot append to the record file (File too large)");
    EXPECT_EQ(testing::read_file(path), "{\"a\":1}\n");
    EXPECT_TRUE(r.append("{\"a\":3,\"pad\":\"yyyyyyyy\"}\n").has_value());  // still no room
    EXPECT_EQ(testing::read_file(path), "{\"a\":1}\n");
  }
  EXPECT_FALSE(r.append("{\"a\":4}\n"));
  EXPECT_EQ(testing::read_file(path), "{\"a\":1}\n{\"a\":4}\n");
}

TEST(RecordFileTest, FileEndingInACutLineGetsTheNextLineOnAFreshLine) {
  testing::TempDir dir;
  const std::string path = dir.file("rec.jsonl");
  testing::write_file(path, "{\"a\":1}\n{\"a\":2,\"cut by a cra");
  RecordFile r;
  ASSERT_TRUE(r.open(path));
  EXPECT_FALSE(r.append("{\"a\":3}\n"));
  EXPECT_FALSE(r.append("{\"a\":4}\n"));
  EXPECT_EQ(testing::read_file(path), "{\"a\":1}\n{\"a\":2,\"cut by a cra\n{\"a\":3}\n{\"a\":4}\n");
}

TEST(RecordFileTest, FullDeviceIsNoSpaceWithThePath) {
  RecordFile r;
  ASSERT_TRUE(r.open("/dev/full"));
  const auto err = r.append("{}\n");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, util::ErrorCode::no_space);
  EXPECT_EQ(err->to_string(),
            "/dev/full: cannot append to the record file (No space left on device)");
}

TEST(RecordFileTest, SymlinkIsRefused) {
  testing::TempDir dir;
  testing::write_file(dir.file("target"), "");
  ASSERT_EQ(::symlink(dir.file("target").c_str(), dir.file("link").c_str()), 0);
  RecordFile r;
  const auto ok = r.open(dir.file("link"));
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().to_string(),
            dir.file("link") + ": cannot open record file (Too many levels of symbolic links)");
  EXPECT_FALSE(r.enabled());
}

}  // namespace
}  // namespace ltxguard::cmd
