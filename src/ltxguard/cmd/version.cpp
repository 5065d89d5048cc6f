#include "ltxguard/cmd/version.hpp"

namespace ltxguard::cmd {

const char* version() { return LTXGUARD_VERSION; }

}  // namespace ltxguard::cmd
