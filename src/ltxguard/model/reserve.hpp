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

// The reserve `preflight` charges on a filesystem holding this one database: policy
// reserve_bytes, else the larger of reserve_percent (default 5 %) and the app WAL headroom,
// raised to min_free_bytes. page_size_bytes 0 = unknown. Computed by the budget model itself,
// so evidence, check, watch and preflight can never disagree about it.
[[nodiscard]] Reserve app_reserve(uint64_t filesystem_total_bytes, uint32_t page_size_bytes,
                                  const formats::Policy& policy);

}  // namespace ltxguard::model
