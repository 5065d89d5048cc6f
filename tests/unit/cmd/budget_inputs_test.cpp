#include "ltxguard/cmd/budget_inputs.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ltxguard::cmd {
namespace {

using formats::Layout;
using model::LitestreamModel;

LitestreamModel model_of(const std::string& version, Layout layout, std::string* reason = nullptr) {
  std::string r;
  const LitestreamModel m = model_for(version, layout, r);
  if (reason != nullptr) *reason = r;
  return m;
}

TEST(ModelForTest, VersionFirstThenLayout) {
  EXPECT_EQ(model_of("0.3.13", Layout::none), LitestreamModel::v0_3);
  EXPECT_EQ(model_of("v0.3.13", Layout::v0_3), LitestreamModel::v0_3);
  EXPECT_EQ(model_of("0.5.15", Layout::v0_3), LitestreamModel::v0_5);  // upgraded, not yet run
  EXPECT_EQ(model_of("", Layout::v0_5), LitestreamModel::v0_5);
  EXPECT_EQ(model_of("", Layout::v0_3), LitestreamModel::v0_3);
  EXPECT_EQ(model_of("", Layout::none), LitestreamModel::unknown);
  EXPECT_EQ(model_of("1.2.3", Layout::none), LitestreamModel::unknown);
}

TEST(ModelForTest, A03BinaryOverA05LayoutIsTheLayout) {
  std::string reason;
  EXPECT_EQ(model_of("0.3.13", Layout::v0_5, &reason), LitestreamModel::v0_5);
  EXPECT_EQ(reason, "; the meta dir has 0.5's ltx/ layout: going by that, not by the 0.3 binary");
}

}  // namespace
}  // namespace ltxguard::cmd
