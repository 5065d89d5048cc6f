// Litestream's version string: what `litestream version` prints and what the start-up log
// line carries. 0.3 release builds print `v0.3.13`, 0.5 release builds `0.5.2`, source
// builds `(development build)` or `(development build <rev>[-dirty])`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ltxguard::formats {

struct LitestreamVersion {
  int major = 0, minor = 0, patch = 0;
  bool development = false;  // a source build: the numbers are unknown and stay 0
  std::string raw;           // the trimmed input
  std::string prerelease;    // "beta1" in "v0.5.0-beta1", Go pseudo-version tails; "" for releases
};

// Parses "v0.3.13", "0.5.2", "v0.5.0-beta1", "(development build …)". Surrounding
// whitespace is ignored, one leading 'v' is stripped. Returns nullopt for anything else
// (empty, missing parts, numbers over 9 digits, trailing garbage).
[[nodiscard]] std::optional<LitestreamVersion> parse_litestream_version(std::string_view text);

// Orders v against MAJOR.MINOR.PATCH: <0, 0, >0. A prerelease sorts before its release
// (0.5.0-beta1 < 0.5.0). A development build has no numbers: callers decide what it means
// before comparing (it compares as 0.0.0).
[[nodiscard]] int compare(const LitestreamVersion& v, int major, int minor, int patch);

}  // namespace ltxguard::formats
