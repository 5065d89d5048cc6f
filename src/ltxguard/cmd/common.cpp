#include "ltxguard/cmd/common.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "ltxguard/output/text_escape.hpp"

namespace ltxguard::cmd {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr const char* kDefaultLitestreamConfig = "/etc/litestream.yml";
constexpr const char* kDefaultPolicy = "/etc/ltxguard/policy.yml";

// Config files are often symlinks managed by configuration tools: resolve once, then read
// the target without following anything further.
util::Result<std::string> read_config_file(const sys::FileSystem& fs, const std::string& path) {
  auto real = fs.real_path(path);
  if (!real) return util::fail(util::make_error(util::ErrorCode::not_found, path, "cannot read file: not found"));
  return fs.read_text(*real, kMaxConfigBytes);
}

}  // namespace

namespace {

// One line whatever the path in the error holds: a newline in a file name must not start a
// line of its own in the operator's terminal or the journal.
void print_error(const util::Error& e) {
  std::fprintf(stderr, "ltxguard: %s\n", output::escape_log_line(e.to_string()).c_str());
}

}  // namespace

int report_error(const util::Error& e) {
  print_error(e);
  switch (e.code) {
    case util::ErrorCode::not_found:
      return kExitNoInput;
    case util::ErrorCode::invalid_input:
    case util::ErrorCode::unsafe_path:
    case util::ErrorCode::unsupported:
      return kExitDataErr;
    case util::ErrorCode::no_space:
      return kExitCantCreate;
    default:
      return kExitNoInput;
  }
}

int report_output_error(const util::Error& e) {
  print_error(e);
  return kExitCantCreate;
}

int report_error_with_outputs(const util::Error& e, const std::vector<std::string>& output_paths) {
  const bool ours = !e.path.empty() &&
                    std::find(output_paths.begin(), output_paths.end(), e.path) != output_paths.end();
  const bool refused = e.code == util::ErrorCode::invalid_input || e.code == util::ErrorCode::unsafe_path;
  return ours && !refused ? report_output_error(e) : report_error(e);
}

std::optional<std::string> getenv_string(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

formats::EnvLookup process_env() { return [](std::string_view name) { return getenv_string(name); }; }

util::Result<LoadedConfig> load_litestream_config(const sys::FileSystem& fs, const std::string& explicit_path) {
  LoadedConfig out;
  std::string path = explicit_path;
  bool required = !path.empty();
  if (path.empty()) {
    if (auto env = getenv_string("LITESTREAM_CONFIG"); env && !env->empty()) {
      path = *env;
      required = true;
    } else {
      path = kDefaultLitestreamConfig;
      if (!fs.stat(path)) return out;  // no config on this host: not an error
    }
  }
  auto text = read_config_file(fs, path);
  if (!text) {
    if (!required && text.error().code == util::ErrorCode::not_found) return out;
    return util::fail(text.error());
  }
  auto config = formats::parse_litestream_config(*text, process_env(), path);
  if (!config) return util::fail(config.error());
  out.config = std::move(*config);
  out.path = path;
  return out;
}

util::Result<LoadedPolicy> load_policy(const sys::FileSystem& fs, const std::string& explicit_path) {
  LoadedPolicy out;
  std::string path = explicit_path;
  if (path.empty()) {
    if (!fs.stat(kDefaultPolicy)) return out;
    path = kDefaultPolicy;
  }
  auto text = read_config_file(fs, path);
  if (!text) return util::fail(text.error());
  auto policy = formats::parse_policy(*text, path);
  if (!policy) return util::fail(policy.error());
  out.policy = std::move(*policy);
  out.path = path;
  return out;
}

}  // namespace ltxguard::cmd
