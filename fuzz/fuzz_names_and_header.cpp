// Short inputs that come off the disk or a child process: staging paths under the meta dir,
// LTX file names, `litestream version` output, path containment, and the 100-byte SQLite
// header (the only bytes of a database ltxguard ever reads). One target, since each is
// exhausted within seconds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "ltxguard/formats/litestream_layout.hpp"
#include "ltxguard/formats/litestream_version.hpp"
#include "ltxguard/formats/ltx.hpp"
#include "ltxguard/formats/path_prefix.hpp"
#include "ltxguard/formats/sqlite_header.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const StagingName n = classify_staging_path(text);
  (void)to_string(n.kind);
  (void)to_string(n.layout);
  if (auto name = parse_ltx_name(text)) {
    // Round trip: a parsed name formats back to the file name it came from.
    const std::string back = format_ltx_name(name->min_txid, name->max_txid);
    if (text.find(back) == std::string_view::npos) std::abort();
  }
  if (auto v = parse_litestream_version(text)) (void)compare(*v, 0, 5, 0);
  const size_t half = size / 2;
  (void)path_within(text.substr(0, half), text.substr(half));

  auto h = parse_sqlite_header(std::span<const uint8_t>(data, size));
  if (h) {
    const uint32_t ps = h->page_size_bytes;
    if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) std::abort();
    if (!h->page_count_valid && h->page_count != 0) std::abort();
    (void)h->db_bytes();
  } else {
    (void)h.error().to_string();
  }
  return 0;
}
