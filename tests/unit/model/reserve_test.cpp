#include "ltxguard/model/reserve.hpp"

#include <algorithm>

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
  EXPECT_NE(r.detail.find("reserve_bytes"), std::string::npos) << r.detail;
}

TEST(ReserveTest, NoOverflowOnHugeFilesystems) {
  formats::Policy p;
  const auto r = app_reserve(UINT64_MAX, 65536, p);
  EXPECT_GT(r.bytes, uint64_t{INT64_MAX} / 21);
  EXPECT_LT(r.bytes, UINT64_MAX / 19);
}

}  // namespace
}  // namespace ltxguard::model

namespace ltxguard::model {
namespace {

TEST(ReserveTest, MinFreeRaisesTheReserve) {
  formats::Policy p;
  p.min_free_bytes = 9 * kGiB;
  EXPECT_EQ(app_reserve(100 * kGiB, 4096, p).bytes, 9 * kGiB);
}

TEST(ReserveTest, UnknownPageSizeUsesTheTenPercentCap) {
  formats::Policy p;
  const uint64_t total = 1ull << 30;
  EXPECT_EQ(app_reserve(total, 0, p).bytes, (total + 9) / 10);
}

TEST(ReserveTest, AgreesWithTheBudgetsReserveTerm) {
  formats::Policy p;
  p.reserve_percent_ppm = 70'000;
  const uint64_t total = 3 * kGiB + 12345;
  // 7 % (225 MB) is below the WAL headroom, capped at 10 % (322 MB): the headroom wins.
  EXPECT_EQ(app_reserve(total, 8192, p).bytes, std::max((total * 7 + 99) / 100, (total + 9) / 10));
  p.reserve_percent_ppm = 200'000;
  EXPECT_EQ(app_reserve(total, 8192, p).bytes, (total + 4) / 5);
}

}  // namespace
}  // namespace ltxguard::model
