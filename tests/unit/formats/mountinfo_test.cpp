#include "ltxguard/formats/mountinfo.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ltxguard::formats {
namespace {

// Shaped like a real host's file: optional fields, a bind mount of a directory whose name has
// a space, escapes, an overmount, a mount with an empty source, and lines that are not valid.
constexpr std::string_view kSample =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "35 22 8:1 /var/lib/app\\040data /srv/my\\040db rw,noatime shared:1 master:2 - ext4 "
    "/dev/sda1 rw,errors=remount-ro\n"
    "36 22 0:40 / /mnt/tab\\011dir rw - tmpfs tmpfs rw,size=1024k\n"
    "37 22 0:41 / /mnt/back\\134slash rw,nosuid - tmpfs  rw\n"
    "this line is not a mount\n"
    "38 22 8:2 / /data rw - xfs /dev/sda2 rw\n"
    "39 22 8:2 / /data rw - xfs /dev/sda2 ro\n"
    "40 22 9:x / /broken rw - xfs /dev/sdz rw\n"
    "41 22 9:1 / /nosep rw shared:3 xfs /dev/sdz rw\n"
    "42 22 9:2 / /short rw - xfs\n"
    "x 22 9:3 / /badid rw - xfs /dev/sdz rw\n"
    "43 38 8:2 /sub /data/sub rw - xfs /dev/sda2 rw";  // no final newline

TEST(MountinfoTest, ParsesValidLinesAndSkipsMalformedOnes) {
  const auto m = parse_mountinfo(kSample);
  ASSERT_EQ(m.size(), 7U);
  EXPECT_EQ(m[0].mount_id, 22);
  EXPECT_EQ(m[0].parent_id, 1);
  EXPECT_EQ(m[0].major, 8U);
  EXPECT_EQ(m[0].minor, 1U);
  EXPECT_EQ(m[0].root, "/");
  EXPECT_EQ(m[0].mount_point, "/");
  EXPECT_EQ(m[0].options, "rw,relatime");
  EXPECT_EQ(m[0].fstype, "ext4");
  EXPECT_EQ(m[0].source, "/dev/sda1");
  EXPECT_EQ(m[0].super_options, "rw,errors=remount-ro");
  EXPECT_EQ(m.back().mount_id, 43);
  EXPECT_EQ(m.back().super_options, "rw");
}

TEST(MountinfoTest, UnescapesOctalAndKeepsOptionalFieldsOutOfTheWay) {
  const auto m = parse_mountinfo(kSample);
  ASSERT_GE(m.size(), 4U);
  EXPECT_EQ(m[1].root, "/var/lib/app data");
  EXPECT_EQ(m[1].mount_point, "/srv/my db");
  EXPECT_EQ(m[1].options, "rw,noatime");
  EXPECT_EQ(m[1].fstype, "ext4");
  EXPECT_EQ(m[1].source, "/dev/sda1");
  EXPECT_EQ(m[2].mount_point, "/mnt/tab\tdir");
  EXPECT_EQ(m[3].mount_point, "/mnt/back\\slash");
  EXPECT_EQ(m[3].source, "");  // an empty source keeps its place
  EXPECT_EQ(m[3].super_options, "rw");
}

TEST(MountinfoTest, NewlineEscapeAndIncompleteEscapes) {
  const auto m = parse_mountinfo(
      "50 1 0:50 / /a\\012b rw - tmpfs t rw\n"
      "51 1 0:51 / /c\\04 rw - tmpfs t rw\n"
      "52 1 0:52 / /d\\9xy rw - tmpfs t rw\n");
  ASSERT_EQ(m.size(), 3U);
  EXPECT_EQ(m[0].mount_point, "/a\nb");
  EXPECT_EQ(m[1].mount_point, "/c\\04");
  EXPECT_EQ(m[2].mount_point, "/d\\9xy");
}

TEST(MountinfoTest, EmptyAndGarbageInputGiveNoEntries) {
  EXPECT_TRUE(parse_mountinfo("").empty());
  EXPECT_TRUE(parse_mountinfo("\n\n").empty());
  EXPECT_TRUE(parse_mountinfo("- - - - - - - - - -\n").empty());
}

TEST(MountinfoTest, FindMountPicksLongestComponentPrefixOnTheDevice) {
  const auto m = parse_mountinfo(kSample);
  const MountEntry* e = find_mount(m, 8, 1, "/srv/my db/app.db");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mount_id, 35);
  EXPECT_TRUE(is_bind_mount(*e));

  e = find_mount(m, 8, 1, "/srv/my dbx/app.db");  // not under "/srv/my db"
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mount_id, 22);
  EXPECT_FALSE(is_bind_mount(*e));

  e = find_mount(m, 8, 1, "/srv/my db");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mount_id, 35);
}

TEST(MountinfoTest, FindMountPrefersTheTopmostOfStackedMounts) {
  const auto m = parse_mountinfo(kSample);
  const MountEntry* e = find_mount(m, 8, 2, "/data/app.db");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mount_id, 39);  // mounted over 38 later
  e = find_mount(m, 8, 2, "/data/sub/x");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mount_id, 43);
  EXPECT_EQ(e->root, "/sub");
}

TEST(MountinfoTest, FindMountNeedsTheDevice) {
  const auto m = parse_mountinfo(kSample);
  EXPECT_EQ(find_mount(m, 8, 2, "/srv/x"), nullptr);  // 8:2 is not mounted above /srv
  EXPECT_EQ(find_mount(m, 99, 9, "/data"), nullptr);
  EXPECT_EQ(find_mount({}, 8, 1, "/"), nullptr);
}

}  // namespace
}  // namespace ltxguard::formats
