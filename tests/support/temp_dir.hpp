// A temporary directory for one test, removed with everything in it at scope exit.
#pragma once

#include <string>

namespace ltxguard::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  // path() + "/" + name
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories; aborts the test binary on failure.
void write_file(const std::string& path, const std::string& content);
[[nodiscard]] std::string read_file(const std::string& path);

}  // namespace ltxguard::testing
