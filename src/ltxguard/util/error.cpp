#include "ltxguard/util/error.hpp"

#include <cerrno>
#include <cstring>

namespace ltxguard::util {

std::string Error::to_string() const {
  std::string s;
  if (!path.empty()) {
    s += path;
    s += ": ";
  }
  s += message;
  if (errno_value != 0) {
    s += " (";
    s += std::strerror(errno_value);
    s += ")";
  }
  return s;
}

Error sys_error(int errno_value, std::string path, std::string message) {
  ErrorCode code = ErrorCode::io;
  switch (errno_value) {
    case ENOSPC:
    case EDQUOT:
      code = ErrorCode::no_space;
      break;
    case ENOENT:
      code = ErrorCode::not_found;
      break;
    case ELOOP:
      code = ErrorCode::unsafe_path;
      break;
    case ETIMEDOUT:
      code = ErrorCode::timeout;
      break;
    default:
      break;
  }
  return Error{code, errno_value, std::move(path), std::move(message)};
}

Error make_error(ErrorCode code, std::string path, std::string message) {
  return Error{code, 0, std::move(path), std::move(message)};
}

}  // namespace ltxguard::util
