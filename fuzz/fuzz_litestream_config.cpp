// Litestream's YAML config as ltxguard reads it (env expansion, then YAML), then the
// redactor built from it: every secret it found must be masked in the config's own text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "ltxguard/formats/litestream_config.hpp"
#include "ltxguard/formats/redaction.hpp"

using namespace ltxguard::formats;

namespace {

std::optional<std::string> fake_env(std::string_view name) {
  if (name == "AWS_SECRET_ACCESS_KEY") return "envsecretvalue";
  if (name == "BUCKET") return "fuzz-bucket";
  if (name == "DIR") return "/srv/data";
  if (name == "EMPTY") return "";
  if (name == "NESTED") return "${AWS_SECRET_ACCESS_KEY}";
  if (name == "YAML") return "x: [1, {";
  return std::nullopt;
}

// A secret is provably masked only if it cannot be rebuilt from "[REDACTED]" and its
// neighbours; skip values sharing a byte with the marker.
bool checkable(const std::string& s) {
  return s.size() >= Redactor::kMinValueBytes && s.find_first_of("[REDACT]") == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const EnvLookup env = fake_env;
  for (bool expand : {true, false}) {
    auto cfg = parse_litestream_config(text, env, "fuzz.yml", ConfigParseOptions{expand});
    if (!cfg) {
      (void)cfg.error().to_string();
      continue;
    }
    for (const auto& db : cfg->dbs) {
      (void)default_meta_path(db.path);
      if (!db.dir.empty()) (void)meta_path_for_dir_entry(db, "sub/app.db");
      for (const auto& rep : db.replicas) (void)parse_replica_url(rep.url);
    }
    const Redactor redactor = make_redactor(*cfg, env, RedactionOptions{});
    const std::string out = redactor.redact(text);
    for (const auto& s : cfg->secret_values) {
      if (checkable(s) && out.find(s) != std::string::npos) std::abort();
    }
    const Redactor pub = make_redactor(*cfg, env, RedactionOptions{false, true});
    (void)pub.redact(text);
  }
  (void)clean_path(text);
  (void)parse_replica_url(text);
  return 0;
}
