// Writes a whole file so that readers see either the old or the new content, never a
// mix: write to a temporary in the same directory, fsync, rename, fsync the directory.
// Used for every file ltxguard owns (state, evidence, textfile metrics).
#pragma once

#include <string>
#include <string_view>

#include "ltxguard/util/error.hpp"

namespace ltxguard::util {

// Fails with no_space on ENOSPC/EDQUOT and leaves no temporary behind; the previous file,
// if any, is untouched on failure. mode applies to a newly created file.
[[nodiscard]] Result<void> write_file_atomic(const std::string& path, std::string_view content,
                                             unsigned mode = 0644);

}  // namespace ltxguard::util
