// slog TextHandler lines and Go strconv.Quote bodies. (Journal entries come from sd-journal
// fields, not JSON: there is no journal JSON reader to fuzz; its MESSAGE goes through this
// parser and the log-line classifier.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/logfmt.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto fields = parse_logfmt(text);
  if (fields.size() > kMaxLogfmtFields) std::abort();
  const std::string u = unquote_go(text);
  // Every escape shrinks or keeps the text, except \u/\U that expand to ≤ 4 UTF-8 bytes.
  if (u.size() > 2 * size + 4) std::abort();
  return 0;
}
