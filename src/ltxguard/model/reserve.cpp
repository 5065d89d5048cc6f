#include "ltxguard/model/reserve.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

// Litestream's emergency truncate threshold (TruncatePageN): past this many WAL pages it
// forces a TRUNCATE checkpoint, so a healthy app WAL stays below it.
constexpr uint64_t kTruncatePageN = 121359;
constexpr uint32_t kAssumedPageBytes = 4096;
constexpr uint64_t kDefaultReservePpm = 50'000;   // 5 %: the ext4 default root reserve
constexpr uint64_t kHeadroomCapPpm = 100'000;     // 10 %: headroom never claims more
constexpr uint64_t kPpm = 1'000'000;

// ceil(total * ppm / 1e6) without overflow for any 64-bit total.
uint64_t share_up(uint64_t total, uint64_t ppm) {
  const uint64_t whole = total / kPpm * ppm;
  const uint64_t part = (total % kPpm * ppm + kPpm - 1) / kPpm;
  return whole + part;
}

std::string h(uint64_t v) { return util::human_bytes(static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX))); }

}  // namespace

Reserve app_reserve(uint64_t filesystem_total_bytes, uint32_t page_size_bytes, const formats::Policy& policy) {
  Reserve r;
  const uint64_t page = page_size_bytes != 0 ? page_size_bytes : kAssumedPageBytes;
  std::string headroom_detail;
  if (policy.app_wal_headroom_bytes) {
    r.app_wal_headroom_bytes = *policy.app_wal_headroom_bytes;
    headroom_detail = fmt::format("WAL headroom {} (policy)", h(r.app_wal_headroom_bytes));
  } else {
    const uint64_t truncate_bytes = kTruncatePageN * page;
    const uint64_t cap = share_up(filesystem_total_bytes, kHeadroomCapPpm);
    r.app_wal_headroom_bytes = std::min(truncate_bytes, cap);
    headroom_detail = fmt::format("WAL headroom {} = min({} pages × {} B, 10% of the filesystem)",
                                  h(r.app_wal_headroom_bytes), kTruncatePageN, page);
  }
  if (policy.reserve_bytes) {
    r.bytes = *policy.reserve_bytes;
    r.detail = fmt::format("reserve_bytes {} (policy)", h(r.bytes));
    return r;
  }
  const uint64_t ppm = policy.reserve_percent_ppm.value_or(kDefaultReservePpm);
  const uint64_t percent_bytes = share_up(filesystem_total_bytes, ppm);
  r.bytes = std::max(percent_bytes, r.app_wal_headroom_bytes);
  r.detail = fmt::format("max({:g}% of the filesystem = {}, {})", static_cast<double>(ppm) / 10'000.0,
                         h(percent_bytes), headroom_detail);
  return r;
}

}  // namespace ltxguard::model
