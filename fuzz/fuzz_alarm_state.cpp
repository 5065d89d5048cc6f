// The supervisor's alarm.json: a file in the state dir that a crash, a full disk or a person
// can leave in any shape. What parses must serialize and parse back to the same state.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/alarm_state.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = parse_alarm(text, "alarm.json");
  if (!a) {
    (void)a.error().to_string();
    return 0;
  }
  const std::string again = serialize_alarm(*a);
  auto b = parse_alarm(again, "alarm.json");
  if (!b || b->latched != a->latched || b->reason != a->reason || b->db_path != a->db_path ||
      b->evidence_files != a->evidence_files || b->latched_at_ms != a->latched_at_ms ||
      b->config_path != a->config_path || b->policy_path != a->policy_path ||
      b->litestream_bin != a->litestream_bin || b->litestream_version != a->litestream_version)
    std::abort();
  return 0;
}
