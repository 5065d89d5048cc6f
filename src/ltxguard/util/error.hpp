// Error values: what failed, on which path, with which errno. Built once at the syscall
// edge and carried upward unchanged; only main() turns a fatal one into an exit code.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace ltxguard::util {

enum class ErrorCode {
  io,            // a system call failed; errno says why
  no_space,      // ENOSPC or EDQUOT: kept apart because the whole tool is about it
  not_found,     // ENOENT, or a thing that should be there is not
  invalid_input, // a file or argument that does not parse or is not what it claims
  unsafe_path,   // a symlink, a path leaving its tree, an unexpected file type
  unsupported,   // a format version or feature ltxguard does not handle
  timeout,       // a child or endpoint did not answer in time
};

struct Error {
  ErrorCode code = ErrorCode::io;
  int errno_value = 0;  // 0 when no system call was involved
  std::string path;     // the path involved, empty when none
  std::string message;  // one line, no trailing period

  // "path: message (strerror)" — the one-line form every user-facing error takes.
  [[nodiscard]] std::string to_string() const;
};

template <typename T>
using Result = tl::expected<T, Error>;

// Builds an Error from a failed system call; maps ENOSPC/EDQUOT to no_space, ENOENT to
// not_found, ELOOP to unsafe_path.
[[nodiscard]] Error sys_error(int errno_value, std::string path, std::string message);

[[nodiscard]] Error make_error(ErrorCode code, std::string path, std::string message);

[[nodiscard]] inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

}  // namespace ltxguard::util
