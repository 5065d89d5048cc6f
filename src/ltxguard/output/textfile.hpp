// The node_exporter textfile collector's input: the watcher's metrics written to
// <dir>/ltxguard.prom, replaced atomically so the collector never reads half a file.
#pragma once

#include <string>
#include <string_view>

#include "ltxguard/util/error.hpp"

namespace ltxguard::output {

inline constexpr std::string_view kTextfileName = "ltxguard.prom";

// Writes `metrics_text` to dir + "/ltxguard.prom" through util::write_file_atomic (mode 0644).
// The temporary is ".ltxguard.prom.tmp-" plus six random characters, which the collector ignores (no .prom suffix).
// Errors are write_file_atomic's: no_space on ENOSPC/EDQUOT (the old file stays intact and no
// temporary is left), not_found when dir does not exist, io otherwise; invalid_input for an empty
// dir. The caller logs the failure and keeps running.
[[nodiscard]] util::Result<void> write_textfile(const std::string& dir,
                                                std::string_view metrics_text);

}  // namespace ltxguard::output
