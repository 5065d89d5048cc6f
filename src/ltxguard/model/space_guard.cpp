#include "ltxguard/model/space_guard.hpp"

#include <limits>

namespace ltxguard::model {

int64_t room_bytes(uint64_t app_free_bytes, uint64_t reserve_bytes) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (app_free_bytes >= reserve_bytes) {
    const uint64_t r = app_free_bytes - reserve_bytes;
    return static_cast<int64_t>(r > kMax ? kMax : r);
  }
  const uint64_t r = reserve_bytes - app_free_bytes;
  return -static_cast<int64_t>(r > kMax ? kMax : r);
}

bool sample_due(const std::vector<FsRoom>& at_last_sample, const std::vector<FsRoom>& now) {
  for (const FsRoom& n : now) {
    for (const FsRoom& was : at_last_sample) {
      if (was.dev != n.dev) continue;
      // Both in [-2^63+1, 2^63-1]: the difference of a fall can overflow only when the room
      // went from near +max to near -max, which no filesystem has.
      if (n.room_bytes >= was.room_bytes) break;
      const uint64_t lost = static_cast<uint64_t>(was.room_bytes) - static_cast<uint64_t>(n.room_bytes);
      if (lost < static_cast<uint64_t>(kSpaceGuardMinDropBytes)) break;
      if (was.room_bytes > 0 && n.room_bytes <= 0) return true;
      const uint64_t was_abs = was.room_bytes < 0 ? 0 - static_cast<uint64_t>(was.room_bytes)
                                                  : static_cast<uint64_t>(was.room_bytes);
      if (lost * 2 >= was_abs) return true;
      break;
    }
  }
  return false;
}

}  // namespace ltxguard::model
