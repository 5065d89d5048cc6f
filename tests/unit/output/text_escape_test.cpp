#include "ltxguard/output/text_escape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ltxguard::output {
namespace {

constexpr const char* kFffd = "\xEF\xBF\xBD";

TEST(ValidUtf8Test, ValidTextIsUnchanged) {
  const std::string s = "/srv/données/日本/\xF0\x9F\x98\x80 a\"b\\c\nd";
  EXPECT_EQ(valid_utf8(s), s);
  EXPECT_EQ(valid_utf8(""), "");
}

// Go's strings.ToValidUTF8(s, "\uFFFD"): one replacement per run of invalid bytes.
TEST(ValidUtf8Test, EachRunOfInvalidBytesBecomesOneReplacement) {
  EXPECT_EQ(valid_utf8("/mnt/cass\xe9"), std::string("/mnt/cass") + kFffd);
  EXPECT_EQ(valid_utf8("a\xff\xfe"
                       "b"),
            std::string("a") + kFffd + "b");
  EXPECT_EQ(valid_utf8("app\xc3(.db"), std::string("app") + kFffd + "(.db");
  EXPECT_EQ(valid_utf8("\x80"), kFffd);
  EXPECT_EQ(valid_utf8("x\xe2\x82"), std::string("x") + kFffd);                 // cut short
  EXPECT_EQ(valid_utf8("\xc0\xaf"), kFffd);                                     // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), kFffd);                                 // surrogate
  EXPECT_EQ(valid_utf8("\xf4\x90\x80\x80"), kFffd);                             // > U+10FFFF
  EXPECT_EQ(valid_utf8("\xff\xc3\xa9\xff"), std::string(kFffd) + "é" + kFffd);  // runs split by é
}

TEST(EscapeTextTest, PrintableTextIsUnchanged) {
  EXPECT_EQ(escape_text("/var/lib/app data/données.db"), "/var/lib/app data/données.db");
  EXPECT_EQ(escape_text("a|b`c\"d'e"), "a|b`c\"d'e");
}

TEST(EscapeTextTest, ControlBytesBackslashAndInvalidUtf8AreEscaped) {
  EXPECT_EQ(escape_text("x\nERROR fake line"), "x\\nERROR fake line");
  EXPECT_EQ(escape_text("a\tb\rc\\d"), "a\\tb\\rc\\\\d");
  EXPECT_EQ(escape_text(std::string("a\0b\x1b[31m\x7f", 9)), "a\\x00b\\x1b[31m\\x7f");
  EXPECT_EQ(escape_text("dir\xff\xfe/app\xc3(.db"), "dir\\xff\\xfe/app\\xc3(.db");
}

TEST(EscapeTextTest, DeceptiveCodePointsAreEscaped) {
  EXPECT_EQ(escape_text("a\xC2\x85"
                        "b"),
            "a\\u0085b");  // NEL (C1)
  EXPECT_EQ(escape_text("a\xE2\x80\xA8"
                        "b"),
            "a\\u2028b");                                             // line separator
  EXPECT_EQ(escape_text("x\xE2\x80\xAEtxt.exe"), "x\\u202etxt.exe");  // right-to-left override
  EXPECT_EQ(escape_text("\xE2\x81\xA6"), "\\u2066");                  // isolate
}

TEST(EscapeTextTest, LogLineKeepsItsOwnBackslashes) {
  EXPECT_EQ(escape_log_line("error=\"write \\\"x\\\"\"\nforged"),
            "error=\"write \\\"x\\\"\"\\nforged");
  EXPECT_EQ(escape_log_line("\xff"), "\\xff");
}

TEST(MarkdownTest, TextCannotOpenACodeSpanOrSplitACell) {
  EXPECT_EQ(markdown_text("a|b`c\nd", MarkdownPlace::table_cell), "a\\|b\\`c\\nd");
  EXPECT_EQ(markdown_text("a|b`c", MarkdownPlace::text), "a|b\\`c");
  // An escaped backslash before a pipe stays escaped: \\ then \|.
  EXPECT_EQ(markdown_text("a\\|", MarkdownPlace::table_cell), "a\\\\\\|");
}

TEST(MarkdownTest, CodeSpanFenceIsLongerThanAnyBacktickRunInside) {
  EXPECT_EQ(markdown_code("app.db", MarkdownPlace::text), "`app.db`");
  EXPECT_EQ(markdown_code("a`b", MarkdownPlace::text), "``a`b``");
  EXPECT_EQ(markdown_code("a``b`", MarkdownPlace::text), "``` a``b` ```");
  EXPECT_EQ(markdown_code(" x", MarkdownPlace::text), "`  x `");
  EXPECT_EQ(markdown_code("x\ny|z", MarkdownPlace::table_cell), "`x\\ny\\|z`");
  EXPECT_EQ(markdown_code("x|z", MarkdownPlace::text), "`x|z`");
}

TEST(MarkdownTest, CodeBlockCannotBeClosedByALine) {
  EXPECT_EQ(markdown_code_block({"level=ERROR msg=x", "a\nb"}),
            "```\nlevel=ERROR msg=x\na\\nb\n```\n");
  EXPECT_EQ(markdown_code_block({"```", "# injected heading"}),
            "````\n```\n# injected heading\n````\n");
}

}  // namespace
}  // namespace ltxguard::output
