#include "ltxguard/sys/log_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace ltxguard::sys {
namespace {

using testing::TempDir;
using testing::write_file;
using Lines = std::vector<std::string>;

void append(const std::string& path, const std::string& s) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << s;
  ASSERT_TRUE(out.good());
}

std::string numbered(int i) {
  char buf[128];
  std::snprintf(
      buf, sizeof buf,
      "time=2026-01-01T00:00:00Z level=INFO msg=\"wal segment written\" n=%07d pad=xxxxxxxx", i);
  return buf;
}

TEST(ReadLastLinesTest, LastLinesOfA50MegabyteFileWithoutReadingItAll) {
  TempDir dir;
  const std::string path = dir.file("big.log");
  {
    std::ofstream out(path, std::ios::binary);
    std::string block;
    int i = 0;
    size_t written = 0;
    while (written < 50u * 1024 * 1024) {
      block.clear();
      for (int k = 0; k < 1000; ++k) block += numbered(i++) + "\n";
      out << block;
      written += block.size();
    }
    ASSERT_TRUE(out.good());
    out.close();
    const int last = i - 1;
    const auto start = std::chrono::steady_clock::now();
    auto lines = read_last_lines(path, 200);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(lines) << lines.error().to_string();
    ASSERT_EQ(lines->size(), 200u);
    EXPECT_EQ(lines->front(), numbered(last - 199));
    EXPECT_EQ(lines->back(), numbered(last));
    EXPECT_LT(ms, 100.0);
  }
}

TEST(ReadLastLinesTest, FileShorterThanAskedAndEdgeLines) {
  TempDir dir;
  write_file(dir.file("a.log"), "one\r\n\nthree\nfour-without-newline");
  auto lines = read_last_lines(dir.file("a.log"), 10);
  ASSERT_TRUE(lines) << lines.error().to_string();
  EXPECT_EQ(*lines, (Lines{"one", "", "three", "four-without-newline"}));

  write_file(dir.file("b.log"), "x\ny\n");
  auto b = read_last_lines(dir.file("b.log"), 1);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (Lines{"y"}));
  auto b0 = read_last_lines(dir.file("b.log"), 0);
  ASSERT_TRUE(b0);
  EXPECT_TRUE(b0->empty());

  write_file(dir.file("nl.log"), "\n");
  auto nl = read_last_lines(dir.file("nl.log"), 5);
  ASSERT_TRUE(nl);
  EXPECT_EQ(*nl, (Lines{""}));

  write_file(dir.file("empty.log"), "");
  auto empty = read_last_lines(dir.file("empty.log"), 5);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(ReadLastLinesTest, LinesAcrossChunkBoundariesAreWhole) {
  TempDir dir;
  std::string text;
  Lines expected;
  for (int i = 0; i < 3000; ++i) {  // ~ 300 KB: several 64 KiB chunks, lines straddling them
    expected.push_back(std::string(static_cast<size_t>(i % 211), 'a' + static_cast<char>(i % 26)));
    text += expected.back() + "\n";
  }
  write_file(dir.file("c.log"), text);
  auto lines = read_last_lines(dir.file("c.log"), 5000);
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, expected);
}

TEST(ReadLastLinesTest, LongLineKeepsItsFirst16KiB) {
  TempDir dir;
  std::string longline =
      "time=x level=ERROR msg=\"sync error\" error=\"" + std::string(100'000, 'e');
  write_file(dir.file("l.log"), "before\n" + longline + "\nafter\n");
  auto lines = read_last_lines(dir.file("l.log"), 3);
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0], "before");
  EXPECT_EQ((*lines)[1], longline.substr(0, kMaxLogLineBytes));
  EXPECT_EQ((*lines)[2], "after");
}

TEST(ReadLastLinesTest, SymlinkMissingAndNonRegularAreRefused) {
  TempDir dir;
  write_file(dir.file("real.log"), "x\n");
  ASSERT_EQ(::symlink(dir.file("real.log").c_str(), dir.file("link.log").c_str()), 0);
  auto link = read_last_lines(dir.file("link.log"), 5);
  ASSERT_FALSE(link);
  EXPECT_EQ(link.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(link.error().message, "log file is a symlink; pass the path it points to");

  auto missing = read_last_lines(dir.file("none.log"), 5);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, util::ErrorCode::not_found);
  EXPECT_EQ(missing.error().to_string(),
            dir.file("none.log") + ": cannot open log file (No such file or directory)");

  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);
  auto fifo = read_last_lines(dir.file("fifo"), 5);  // must not block on open
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().code, util::ErrorCode::unsafe_path);
  EXPECT_EQ(fifo.error().message, "log file is not a regular file");
}

TEST(LogFollowerTest, FromEndSkipsExistingAndHoldsPartialLineBack) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "old-1\nold-2\n");
  LogFollower f(path);
  auto none = f.poll();
  ASSERT_TRUE(none) << none.error().to_string();
  EXPECT_TRUE(none->empty());

  append(path, "new-1\nnew-2 part");
  auto first = f.poll();
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (Lines{"new-1"}));
  append(path, "ial\r\n");
  auto second = f.poll();
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, (Lines{"new-2 partial"}));
}

TEST(LogFollowerTest, FromStartReadsExistingAndRespectsMaxLines) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "a\nb\nc\n");
  LogFollower f(path, false);
  auto two = f.poll(2);
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, (Lines{"a", "b"}));
  auto rest = f.poll(2);
  ASSERT_TRUE(rest);
  EXPECT_EQ(*rest, (Lines{"c"}));
}

TEST(LogFollowerTest, FollowsRotationByRenameAndNewFile) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "");
  LogFollower f(path);
  append(path, "before-rotate\n");
  ASSERT_EQ(::rename(path.c_str(), dir.file("ls.log.1").c_str()), 0);
  // The writer still has the old file open for a moment, with a line not yet finished.
  append(dir.file("ls.log.1"), "late-old\nold-partial");
  auto gap = f.poll();  // path missing between rename and create: not an error
  ASSERT_TRUE(gap) << gap.error().to_string();
  EXPECT_EQ(*gap, (Lines{"before-rotate", "late-old"}));

  write_file(path, "in-new-1\nin-new-2\n");
  auto after = f.poll();
  ASSERT_TRUE(after) << after.error().to_string();
  EXPECT_EQ(*after, (Lines{"old-partial", "in-new-1", "in-new-2"}));
  append(path, "in-new-3\n");
  auto more = f.poll();
  ASSERT_TRUE(more);
  EXPECT_EQ(*more, (Lines{"in-new-3"}));
}

TEST(LogFollowerTest, FollowsTruncationInPlace) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "");
  LogFollower f(path);
  append(path, "one\ntwo\n");
  auto a = f.poll();
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (Lines{"one", "two"}));
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);  // copytruncate
  append(path, "x\n");
  auto b = f.poll();
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (Lines{"x"}));
}

TEST(LogFollowerTest, FileThatAppearsLaterIsReadFromItsStart) {
  TempDir dir;
  const std::string path = dir.file("later.log");
  LogFollower f(path);
  auto nothing = f.poll();
  ASSERT_TRUE(nothing) << nothing.error().to_string();
  EXPECT_TRUE(nothing->empty());
  write_file(path, "first\n");
  auto lines = f.poll();
  ASSERT_TRUE(lines);
  EXPECT_EQ(*lines, (Lines{"first"}));
}

TEST(LogFollowerTest, LongLineIsCappedAndFollowingLinesIntact) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "");
  LogFollower f(path);
  const std::string huge(200'000, 'z');
  append(path, huge.substr(0, 70'000));
  auto mid = f.poll();
  ASSERT_TRUE(mid);
  EXPECT_TRUE(mid->empty());
  append(path, huge.substr(70'000) + "\nnext\n");
  auto lines = f.poll();
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0], huge.substr(0, kMaxLogLineBytes));
  EXPECT_EQ((*lines)[1], "next");
}

TEST(LogFollowerTest, PathReplacedBySymlinkIsAnError) {
  TempDir dir;
  const std::string path = dir.file("ls.log");
  write_file(path, "");
  write_file(dir.file("elsewhere"), "secret\n");
  LogFollower f(path);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::symlink(dir.file("elsewhere").c_str(), path.c_str()), 0);
  auto r = f.poll();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::ErrorCode::unsafe_path);
}

}  // namespace
}  // namespace ltxguard::sys
