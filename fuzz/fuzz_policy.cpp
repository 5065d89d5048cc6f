// The operator's policy file and the size syntax it uses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/policy.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = parse_policy(text, "policy.yml");
  if (p) {
    for (const auto& [key, line] : p->key_lines) {
      (void)line;
      (void)policy_key_location(*p, key);
    }
    for (const auto& t : {p->warn_at, p->critical_at}) {
      if (!t) continue;
      (void)t->to_string();
      for (uint64_t total : {uint64_t{0}, uint64_t{1} << 30, UINT64_MAX}) {
        const uint64_t b = t->resolve_bytes(total);
        if (t->unit == Threshold::Unit::percent && t->percent_ppm <= 1000000 && b > total)
          std::abort();
      }
    }
  } else {
    (void)p.error().to_string();
  }
  auto s = parse_size(text);
  if (!s) (void)s.error().to_string();
  return 0;
}
