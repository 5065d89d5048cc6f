// The one redaction step on hostile text: added secrets and backup metadata never survive,
// whatever surrounds them; patterns never crash or go quadratic.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ltxguard/formats/redaction.hpp"

using namespace ltxguard::formats;

namespace {

bool checkable(const std::string& s) {
  return s.size() >= Redactor::kMinValueBytes && s.find_first_of("[REDACT]") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  RedactionOptions opts;
  opts.show_replica_paths = in.ConsumeBool();
  opts.public_mode = in.ConsumeBool();
  Redactor r(opts);
  std::vector<std::string> secrets, metadata;
  const int n = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < n; ++i) {
    std::string v = in.ConsumeRandomLengthString(48);
    switch (in.ConsumeIntegralInRange(0, 3)) {
      case 0:
        secrets.push_back(v);
        r.add_secret(std::move(v));
        break;
      case 1:
        metadata.push_back(v);
        r.add_backup_metadata(std::move(v));
        break;
      case 2:
        r.add_path(std::move(v));
        break;
      default:
        r.add_hostname(std::move(v));
    }
  }
  const std::string text = in.ConsumeRemainingBytesAsString();
  const std::string out = r.redact(text);
  // Public mode's second pass turns paths into base names, which can join neighbours;
  // the guarantee checked here is the first pass's.
  if (!opts.public_mode) {
    for (const auto& s : secrets) {
      if (checkable(s) && out.find(s) != std::string::npos) std::abort();
    }
    if (!opts.show_replica_paths) {
      for (const auto& m : metadata) {
        if (checkable(m) && out.find(m) != std::string::npos) std::abort();
      }
    }
  }
  return 0;
}
