// The 100-byte SQLite header: the only bytes of the database ltxguard ever reads.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ltxguard/formats/sqlite_header.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
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
