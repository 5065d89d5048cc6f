// The watch --record file as `ltxguard report` reads it: hostile by contract (any bytes,
// cut lines, huge lines). Small limits reach every cap; feeding it in arbitrary chunks must
// give what one whole feed gives.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ltxguard/formats/watch_record.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  WatchRecordLimits small;
  small.max_line_bytes = in.ConsumeIntegralInRange<size_t>(16, 4096);
  small.max_samples = in.ConsumeIntegralInRange<size_t>(1, 64);
  small.max_databases = in.ConsumeIntegralInRange<size_t>(1, 4);
  small.max_events = in.ConsumeIntegralInRange<size_t>(1, 16);
  small.max_string_bytes = in.ConsumeIntegralInRange<size_t>(1, 64);
  small.max_text_bytes = in.ConsumeIntegralInRange<size_t>(0, 512);
  const size_t chunk = in.ConsumeIntegralInRange<size_t>(1, 97);
  const std::string text = in.ConsumeRemainingBytesAsString();

  for (const WatchRecordLimits& limits : {WatchRecordLimits{}, small}) {
    const WatchRecord whole = parse_watch_record(text, limits);
    WatchRecordParser p(limits);
    for (size_t i = 0; i < text.size(); i += chunk) p.feed(std::string_view(text).substr(i, chunk));
    const WatchRecord parts = p.finish();
    if (whole.samples != parts.samples || whole.lines != parts.lines ||
        whole.lines_malformed != parts.lines_malformed || whole.events.size() != parts.events.size() ||
        whole.databases.size() != parts.databases.size() || whole.lines_too_long != parts.lines_too_long)
      std::abort();
    if (whole.samples > limits.max_samples || whole.databases.size() > limits.max_databases ||
        whole.events.size() > limits.max_events)
      std::abort();
    for (const auto& e : whole.events) {
      if (e.message.size() > limits.max_string_bytes || e.kind.size() > limits.max_string_bytes) std::abort();
    }
  }
  return 0;
}
