#include "ltxguard/formats/path_prefix.hpp"

#include <gtest/gtest.h>

namespace ltxguard::formats {
namespace {

TEST(PathPrefixTest, MatchesWholeComponentsOnly) {
  EXPECT_TRUE(path_within("/d", "/d"));
  EXPECT_TRUE(path_within("/d/x", "/d"));
  EXPECT_TRUE(path_within("/d/x/y", "/d/"));
  EXPECT_FALSE(path_within("/dx", "/d"));
  EXPECT_FALSE(path_within("/d", "/d/x"));
  EXPECT_FALSE(path_within("/e/d", "/d"));
}

TEST(PathPrefixTest, RootContainsAbsolutePathsAndEmptyContainsNothing) {
  EXPECT_TRUE(path_within("/", "/"));
  EXPECT_TRUE(path_within("/anything", "/"));
  EXPECT_TRUE(path_within("/anything", "//"));
  EXPECT_FALSE(path_within("relative", "/"));
  EXPECT_FALSE(path_within("", "/"));
  EXPECT_FALSE(path_within("/d", ""));
}

}  // namespace
}  // namespace ltxguard::formats
