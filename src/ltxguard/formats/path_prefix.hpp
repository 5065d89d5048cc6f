// Lexical, path-component-aware containment: "/d" contains "/d/x" but not "/dx".
// Pure string logic: no symlink resolution, so callers pass canonical (realpath) paths.
#pragma once

#include <string_view>

namespace ltxguard::formats {

// True when `path` equals `dir` or lies below it. Trailing slashes on `dir` are ignored;
// "/" contains every absolute path; an empty `dir` contains nothing.
[[nodiscard]] bool path_within(std::string_view path, std::string_view dir);

}  // namespace ltxguard::formats
