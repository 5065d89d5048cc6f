#include "ltxguard/output/textfile.hpp"

#include "ltxguard/util/atomic_file.hpp"

namespace ltxguard::output {

util::Result<void> write_textfile(const std::string& dir, std::string_view metrics_text) {
  if (dir.empty()) {
    return util::fail(
        util::make_error(util::ErrorCode::invalid_input, "", "textfile directory is empty"));
  }
  std::string path = dir;
  if (path.back() != '/') path += '/';
  path += kTextfileName;
  return util::write_file_atomic(path, metrics_text, 0644);
}

}  // namespace ltxguard::output
