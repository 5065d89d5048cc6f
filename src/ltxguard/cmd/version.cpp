#include "ltxguard/cmd/version.hpp"

#include <fmt/format.h>

// Set for this file only by cmake/Install.cmake (a new commit then recompiles one file).
#ifndef LTXGUARD_GIT_COMMIT
#define LTXGUARD_GIT_COMMIT "unknown"
#endif
#ifndef LTXGUARD_BUILD_TYPE
#define LTXGUARD_BUILD_TYPE "unknown"
#endif

namespace ltxguard::cmd {
namespace {

std::string compiler() {
#if defined(__clang__)
  return fmt::format("clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

std::string sanitizers() {
#if defined(__SANITIZE_ADDRESS__)
  return ", AddressSanitizer";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return ", AddressSanitizer";
#else
  return "";
#endif
#else
  return "";
#endif
}

}  // namespace

const char* version() { return LTXGUARD_VERSION; }

std::string version_text() {
  return fmt::format(
      "ltxguard {}\n"
      "commit:     {}\n"
      "build type: {}{}\n"
      "compiler:   {}, C++{}",
      LTXGUARD_VERSION, LTXGUARD_GIT_COMMIT, LTXGUARD_BUILD_TYPE, sanitizers(), compiler(),
      __cplusplus / 100 % 100);
}

}  // namespace ltxguard::cmd
