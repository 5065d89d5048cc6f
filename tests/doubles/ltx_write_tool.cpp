// Test helper: stages a full LTX snapshot of a SQLite database with the test-side writer, so
// integration tests can cross-check it against ltxinspect.py and ltxguard's parser.
//   ltx_write_tool snapshot DB OUT [frame|block]   -> prints the bytes written
#include <cstdio>
#include <string>

#include "support/ltx_writer.hpp"

int main(int argc, char** argv) {
  using ltxguard::testing::LtxWriteEncoding;
  const std::string mode = argc > 4 ? argv[4] : "frame";
  if (argc < 4 || argc > 5 || std::string(argv[1]) != "snapshot" ||
      (mode != "frame" && mode != "block")) {
    std::fprintf(stderr, "usage: ltx_write_tool snapshot DB OUT [frame|block]\n");
    return 2;
  }
  const auto enc = mode == "frame" ? LtxWriteEncoding::v3_frame : LtxWriteEncoding::v3_block;
  auto r = ltxguard::testing::write_snapshot_ltx(argv[2], argv[3], enc);
  if (!r) {
    std::fprintf(stderr, "ltx_write_tool: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::printf("%llu\n", static_cast<unsigned long long>(*r));
  return 0;
}
