#include "ltxguard/formats/litestream_version.hpp"

#include <gtest/gtest.h>

namespace ltxguard::formats {
namespace {

TEST(LitestreamVersionTest, ParsesThe03ReleaseFormWithV) {
  // What /work/main/.tools/litestream (0.3.13) prints for `litestream version`.
  const auto v = parse_litestream_version("v0.3.13\n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 0);
  EXPECT_EQ(v->minor, 3);
  EXPECT_EQ(v->patch, 13);
  EXPECT_FALSE(v->development);
  EXPECT_EQ(v->raw, "v0.3.13");
}

TEST(LitestreamVersionTest, Parses05ReleaseFormWithoutV) {
  const auto v = parse_litestream_version("  0.5.2 ");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->minor, 5);
  EXPECT_EQ(v->patch, 2);
  EXPECT_EQ(v->raw, "0.5.2");
}

TEST(LitestreamVersionTest, DevelopmentBuildsHaveNoNumbers) {
  for (const char* text : {"(development build)", "(development build 0123456789ab-dirty)"}) {
    const auto v = parse_litestream_version(text);
    ASSERT_TRUE(v.has_value()) << text;
    EXPECT_TRUE(v->development);
    EXPECT_EQ(v->major + v->minor + v->patch, 0);
    EXPECT_EQ(v->raw, text);
  }
}

TEST(LitestreamVersionTest, PrereleaseSortsBeforeItsRelease) {
  const auto v = parse_litestream_version("v0.5.0-beta1");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->prerelease, "beta1");
  EXPECT_LT(compare(*v, 0, 5, 0), 0);
  EXPECT_GT(compare(*v, 0, 4, 9), 0);
}

TEST(LitestreamVersionTest, BuildMetadataDoesNotChangeOrder) {
  const auto v = parse_litestream_version("0.5.6+dirty");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(compare(*v, 0, 5, 6), 0);
}

TEST(LitestreamVersionTest, CompareOrdersEachPart) {
  const auto v = *parse_litestream_version("0.5.6");
  EXPECT_EQ(compare(v, 0, 5, 6), 0);
  EXPECT_LT(compare(v, 0, 5, 15), 0);
  EXPECT_GT(compare(v, 0, 5, 5), 0);
  EXPECT_GT(compare(v, 0, 3, 13), 0);
  EXPECT_LT(compare(v, 1, 0, 0), 0);
}

TEST(LitestreamVersionTest, RejectsMalformed) {
  for (const char* text : {"", "   ", "v", "0.5", "0.5.", "v0.5.x", "vv0.5.2", "0.5.2 extra",
                           "0.5.2-", "1234567890.0.0", "0.5.2-be ta", "(development"}) {
    EXPECT_FALSE(parse_litestream_version(text).has_value()) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace ltxguard::formats
