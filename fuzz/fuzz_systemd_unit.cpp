// systemd unit files and drop-ins as `check` reads them, plus the value syntaxes it applies
// (booleans, time spans).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/systemd_unit.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_systemd_bool(text);
  (void)parse_systemd_timespan_usec(text);
  auto unit = parse_systemd_unit(text, "litestream.service");
  if (!unit) {
    (void)unit.error().to_string();
    return 0;
  }
  auto drop_in = parse_systemd_unit(text, "litestream.service.d/override.conf");
  if (!drop_in) std::abort();  // same text, same verdict
  merge_drop_in(*unit, *drop_in);
  for (const auto& a : unit->assignments) {
    const auto v = unit->get(a.section, a.key);
    const UnitAssignment* w = unit->where(a.section, a.key);
    if (v.has_value() != (w != nullptr)) std::abort();
    (void)unit->get_all(a.section, a.key);
    (void)parse_systemd_bool(a.value);
    (void)parse_systemd_timespan_usec(a.value);
  }
  return 0;
}
