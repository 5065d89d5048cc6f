// /proc/self/mountinfo text (a FUSE or container mount can put hostile bytes in it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ltxguard/formats/mountinfo.hpp"

using namespace ltxguard::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto entries = parse_mountinfo(text);
  for (const auto& e : entries) {
    (void)is_bind_mount(e);
    const MountEntry* m = find_mount(entries, e.major, e.minor, e.mount_point + "/x");
    if (m != nullptr && (m->major != e.major || m->minor != e.minor)) std::abort();
  }
  (void)find_mount(entries, 0, 0, "/");
  return 0;
}
