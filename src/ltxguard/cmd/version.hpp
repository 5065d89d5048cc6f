// The build's identity: the version for ltxguard_build_info and generated files, and the
// longer text `ltxguard --version` prints (commit, build type, compiler).
#pragma once

#include <string>

namespace ltxguard::cmd {

// The project version from CMake's project(), e.g. "0.1.0".
[[nodiscard]] const char* version();

// What `ltxguard --version` prints, one fact per line, first line "ltxguard <version>" (so
// `ltxguard --version | head -1` stays a plain version). The commit is the git HEAD the build
// was configured from ("unknown" outside a git checkout, or when git is missing); the build
// type and compiler are the ones that built this binary.
[[nodiscard]] std::string version_text();

}  // namespace ltxguard::cmd
