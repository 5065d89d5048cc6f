// Litestream log lines (0.3 and 0.5; slog text, slog JSON, journal MESSAGE, unstructured),
// one per input line, through the classifier and the counters the verbs keep.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/litestream_log.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  LogCounts counts;
  // The whole input as one line too: a MESSAGE may hold newlines.
  const LogLine whole = classify_log_line(text);
  (void)is_disk_full(whole);
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    const LogLine l = classify_log_line(line);
    count_log_line(counts, l);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  if (counts.disk_full_lines > counts.lines || counts.sync_errors > counts.lines) std::abort();
  return 0;
}
