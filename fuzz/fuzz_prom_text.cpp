// Prometheus text format as Litestream's /metrics serves it (a hostile or broken endpoint
// can serve anything).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/prom_text.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto samples = parse_prom_text(text);
  if (samples.size() > size) std::abort();
  (void)find_sample(samples, "litestream_replica_wal_index", {{"name", "file"}});
  if (!samples.empty()) {
    if (!find_sample(samples, samples.front().name)) std::abort();
  }
  return 0;
}
