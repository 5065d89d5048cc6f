// Between two samples the watcher re-reads only free space (one statvfs per filesystem every
// kSpaceGuardPollMs) and takes the next sample at once when the room above the reserve is
// going fast. A 1 s interval lets a writer at 800 MB/s take 800 MB between samples; with the
// guard, every halving of the room brings a sample, so samples come faster the closer the
// reserve is, and a sudden drop (another writer, a big copy) is seen within one poll.
#pragma once

#include <cstdint>
#include <vector>

namespace ltxguard::model {

inline constexpr int64_t kSpaceGuardPollMs = 100;
// Smaller drops are noise (the app's own WAL, page cache write-back on ext4), not a reason
// to sample ten times a second.
inline constexpr int64_t kSpaceGuardMinDropBytes = int64_t{1} << 20;

struct FsRoom {
  uint64_t dev = 0;
  int64_t room_bytes = 0;  // app-visible free minus the reserve; negative once breached
};

// The room per filesystem from free bytes and reserve, saturating at the int64 range.
[[nodiscard]] int64_t room_bytes(uint64_t app_free_bytes, uint64_t reserve_bytes);

// True when a filesystem (matched by dev) has lost at least kSpaceGuardMinDropBytes since the
// last sample and either half of the room that sample saw is gone or the room crossed the
// reserve. A filesystem missing from either list is ignored.
[[nodiscard]] bool sample_due(const std::vector<FsRoom>& at_last_sample, const std::vector<FsRoom>& now);

}  // namespace ltxguard::model
