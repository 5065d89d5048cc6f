// The build's version string, for --version and ltxguard_build_info.
#pragma once

namespace ltxguard::cmd {

[[nodiscard]] const char* version();

}  // namespace ltxguard::cmd
