// The application's reserve on its filesystem: bytes only the application may use, so a
// backup's staging never takes the last room the app's WAL needs.
#pragma once

#include <cstdint>
#include <string>

#include "ltxguard/formats/policy.hpp"

namespace ltxguard::model {

struct Reserve {
  uint64_t bytes = 0;
  uint64_t app_wal_headroom_bytes = 0;
  std::string detail;  // how it was derived, e.g. "max(5% of 48.0 MiB, WAL headroom 4.8 MiB)"
};

// Policy reserve_bytes wins; else max(reserve_percent (default 5 %) of the filesystem, the app
// WAL headroom). page_size_bytes 0 = unknown (headroom then assumes 4 KiB pages).
[[nodiscard]] Reserve app_reserve(uint64_t filesystem_total_bytes, uint32_t page_size_bytes,
                                  const formats::Policy& policy);

}  // namespace ltxguard::model
