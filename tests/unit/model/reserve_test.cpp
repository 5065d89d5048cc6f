#include "ltxguard/model/reserve.hpp"

#include <gtest/gtest.h>

namespace ltxguard::model {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST(ReserveTest, FivePercentWhenLargerThanWalHeadroom) {
  formats::Policy p;
  const auto r = app_reserve(100 * kGiB, 4096, p);
  EXPECT_EQ(r.app_wal_headroom_bytes, 121359ull * 4096);  // ~497 MB
  EXPECT_EQ(r.bytes, 5 * kGiB);
}

TEST(ReserveTest, WalHeadroomWhenLargerThanFivePercent) {
  formats::Policy p;
  const auto r = app_reserve(8 * kGiB, 4096, p);
  EXPECT_EQ(r.bytes, 121359ull * 4096);
}

TEST(ReserveTest, HeadroomCappedAtTenPercentOfSmallFilesystems) {
  formats::Policy p;
  const uint64_t total = 48ull << 20;
  const auto r = app_reserve(total, 4096, p);
  EXPECT_EQ(r.app_wal_headroom_bytes, (total + 9) / 10);
  EXPECT_EQ(r.bytes, (total + 9) / 10);
}

TEST(ReserveTest, PercentRoundsUpToWholeBytes) {
  formats::Policy p;
  p.app_wal_headroom_bytes = 0;
  EXPECT_EQ(app_reserve(101, 4096, p).bytes, 6u);  // 5% of 101 = 5.05 -> 6
}

TEST(ReserveTest, ExplicitReserveReplacesTheComputedOne) {
  formats::Policy p;
  p.reserve_bytes = 12345;
  const auto r = app_reserve(100 * kGiB, 4096, p);
  EXPECT_EQ(r.bytes, 12345u);
  EXPECT_EQ(r.detail, "reserve_bytes 12.1 KiB (policy)");
}

TEST(ReserveTest, NoOverflowOnHugeFilesystems) {
  formats::Policy p;
  const auto r = app_reserve(UINT64_MAX, 65536, p);
  EXPECT_GT(r.bytes, UINT64_MAX / 21);
  EXPECT_LT(r.bytes, UINT64_MAX / 19);
}

}  // namespace
}  // namespace ltxguard::model
