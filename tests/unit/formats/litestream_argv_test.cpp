#include "ltxguard/formats/litestream_argv.hpp"

#include <gtest/gtest.h>

namespace ltxguard::formats {
namespace {

TEST(LitestreamArgvTest, ConfigInEveryGoFlagSpelling) {
  for (const auto& argv : std::vector<std::vector<std::string>>{
           {"/usr/bin/litestream", "replicate", "-config", "/etc/ls.yml"},
           {"litestream", "replicate", "--config", "/etc/ls.yml"},
           {"litestream", "replicate", "-config=/etc/ls.yml"},
           {"litestream", "replicate", "--config=/etc/ls.yml"}}) {
    const auto inv = parse_litestream_argv(argv);
    EXPECT_TRUE(inv.is_litestream);
    EXPECT_EQ(inv.subcommand, "replicate");
    EXPECT_EQ(inv.config_path, "/etc/ls.yml") << argv[2];
    EXPECT_TRUE(inv.positional.empty());
  }
}

TEST(LitestreamArgvTest, PositionalDatabaseAndReplica) {
  const auto inv = parse_litestream_argv({"litestream", "replicate", "-no-expand-env", "/data/app.db", "file:///r"});
  EXPECT_FALSE(inv.config_path);
  EXPECT_EQ(inv.positional, (std::vector<std::string>{"/data/app.db", "file:///r"}));
}

TEST(LitestreamArgvTest, ExecIsReported) {
  const auto inv = parse_litestream_argv({"litestream", "replicate", "-exec", "myapp serve", "-config", "c.yml"});
  EXPECT_EQ(inv.exec, "myapp serve");
  EXPECT_EQ(inv.config_path, "c.yml");
}

TEST(LitestreamArgvTest, DoubleDashEndsFlagsAndOtherProgramsAreNotLitestream) {
  const auto inv = parse_litestream_argv({"./my-wrapper", "replicate", "--", "-config"});
  EXPECT_FALSE(inv.is_litestream);
  EXPECT_FALSE(inv.config_path);
  EXPECT_EQ(inv.positional, std::vector<std::string>{"-config"});
}

TEST(LitestreamArgvTest, InterpreterRunningAStandInIsReadFromItsSubcommand) {
  const auto inv = parse_litestream_argv(
      {"/usr/bin/python3", "-u", "/opt/stand-in.py", "replicate", "-config", "/etc/ls.yml"});
  EXPECT_FALSE(inv.is_litestream);
  EXPECT_EQ(inv.subcommand, "replicate");
  EXPECT_EQ(inv.subcommand_index, 3u);  // what comes before it is how to run the stand-in
  EXPECT_EQ(inv.config_path, "/etc/ls.yml");
  EXPECT_TRUE(inv.positional.empty());
  const auto env = parse_litestream_argv({"env", "GOGC=50", "litestream", "replicate", "/a.db", "file:///r"});
  EXPECT_EQ(env.subcommand, "replicate");
  EXPECT_EQ(env.subcommand_index, 3u);
  EXPECT_EQ(parse_litestream_argv({"litestream", "replicate"}).subcommand_index, 1u);
  EXPECT_EQ(parse_litestream_argv({"litestream", "-config", "/c.yml"}).subcommand_index, 0u);
  EXPECT_EQ(env.positional, (std::vector<std::string>{"/a.db", "file:///r"}));
  // With no subcommand anywhere, the old reading stands.
  EXPECT_EQ(parse_litestream_argv({"./wrap", "x", "-config", "/c.yml"}).config_path, "/c.yml");
}

TEST(LitestreamArgvTest, DanglingValueFlagAndEmptyArgv) {
  EXPECT_FALSE(parse_litestream_argv({"litestream", "replicate", "-config"}).config_path);
  EXPECT_FALSE(parse_litestream_argv({}).is_litestream);
}

}  // namespace
}  // namespace ltxguard::formats
