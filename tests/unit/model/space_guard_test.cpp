#include "ltxguard/model/space_guard.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace ltxguard::model {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

TEST(SpaceGuardTest, RoomIsFreeMinusReserveAndGoesNegative) {
  EXPECT_EQ(room_bytes(100, 30), 70);
  EXPECT_EQ(room_bytes(30, 100), -70);
  EXPECT_EQ(room_bytes(0, 0), 0);
  EXPECT_EQ(room_bytes(std::numeric_limits<uint64_t>::max(), 0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(room_bytes(0, std::numeric_limits<uint64_t>::max()), -std::numeric_limits<int64_t>::max());
}

TEST(SpaceGuardTest, HalfTheRoomGoneCallsForASample) {
  EXPECT_TRUE(sample_due({{1, 256 * kMiB}}, {{1, 128 * kMiB}}));
  EXPECT_FALSE(sample_due({{1, 256 * kMiB}}, {{1, 129 * kMiB}}));
}

TEST(SpaceGuardTest, CrossingTheReserveCallsForASampleEvenWhenLittleWasLeft) {
  // 0.5 MiB of room: half of it is gone long before 1 MiB is; crossing is what matters.
  EXPECT_TRUE(sample_due({{1, kMiB / 2}}, {{1, kMiB / 2 - 2 * kMiB}}));
}

TEST(SpaceGuardTest, SmallDropsAreNoise) {
  EXPECT_FALSE(sample_due({{1, kMiB}}, {{1, kMiB / 4}}));  // 3/4 gone but only 768 KiB
  EXPECT_FALSE(sample_due({{1, 0}}, {{1, -kMiB + 1}}));
}

TEST(SpaceGuardTest, RisingOrSteadyRoomNeverCallsForASample) {
  EXPECT_FALSE(sample_due({{1, 10 * kMiB}}, {{1, 10 * kMiB}}));
  EXPECT_FALSE(sample_due({{1, -10 * kMiB}}, {{1, -5 * kMiB}}));
}

TEST(SpaceGuardTest, PastTheReserveItTakesAFurtherFallOfHalfTheDeficit) {
  // Already breached at the last sample: sampling at 10 Hz while it stays there helps nobody.
  EXPECT_FALSE(sample_due({{1, -10 * kMiB}}, {{1, -14 * kMiB}}));
  EXPECT_TRUE(sample_due({{1, -10 * kMiB}}, {{1, -15 * kMiB}}));
}

TEST(SpaceGuardTest, FilesystemsAreMatchedByDev) {
  EXPECT_FALSE(sample_due({{1, 256 * kMiB}}, {{2, 0}}));
  EXPECT_TRUE(sample_due({{1, 256 * kMiB}, {2, 10 * kMiB}}, {{1, 256 * kMiB}, {2, 4 * kMiB}}));
  EXPECT_FALSE(sample_due({}, {{1, 0}}));
}

TEST(SpaceGuardTest, ExtremeValuesDoNotOverflow) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(sample_due({{1, max}}, {{1, 0}}));
  EXPECT_TRUE(sample_due({{1, max}}, {{1, -max}}));
  EXPECT_FALSE(sample_due({{1, -max}}, {{1, -max}}));
}

}  // namespace
}  // namespace ltxguard::model
