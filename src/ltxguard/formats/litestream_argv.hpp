// What a Litestream command line says about its setup: the subcommand, the -config file and
// the positional database of `litestream replicate DB URL`. The supervisor runs whatever it
// is given; it reads these only to watch the same databases the child replicates.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ltxguard::formats {

struct LitestreamInvocation {
  bool is_litestream = false;              // argv[0]'s file name is "litestream"
  std::string subcommand;                  // "replicate", ... ("" when none)
  size_t subcommand_index = 0;             // its index in argv; 0 when none
  std::optional<std::string> config_path;  // -config / --config / -config=PATH
  std::optional<std::string> exec;         // -exec CMD: Litestream runs (and stops) the app
  std::vector<std::string> positional;     // after the flags: DB_PATH REPLICA_URL...
};

// When argv[0] is not "litestream" (a wrapper, or an interpreter running a stand-in), the
// arguments before the first Litestream subcommand are skipped.
// Go's flag package rules: "-x" and "--x" are the same flag, "-x=v" or "-x v" for a value,
// "--" or the first non-flag ends the flags. Only -config and -exec take a separate value
// here; any other flag is assumed boolean (a wrong guess only affects `positional`).
[[nodiscard]] LitestreamInvocation parse_litestream_argv(const std::vector<std::string>& argv);

}  // namespace ltxguard::formats
