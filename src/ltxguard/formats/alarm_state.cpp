#include "ltxguard/formats/alarm_state.hpp"

#include <nlohmann/json.hpp>

namespace ltxguard::formats {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

util::Error invalid(std::string_view source, const std::string& what) {
  return util::make_error(util::ErrorCode::invalid_input, std::string(source), what);
}

template <typename T>
void take(const json& j, const char* key, T& out) {
  const auto it = j.find(key);
  if (it == j.end()) return;
  if constexpr (std::is_same_v<T, std::string>) {
    if (it->is_string()) out = it->get<std::string>();
  } else {
    if (it->is_number_integer()) out = it->get<T>();
  }
}

}  // namespace

std::string serialize_alarm(const AlarmState& s) {
  ordered_json j;
  j["latched"] = s.latched;
  j["latched_at_ms"] = s.latched_at_ms;
  j["db_path"] = s.db_path;
  j["condition"] = s.condition;
  j["reason"] = s.reason;
  j["headroom_bytes"] = s.headroom_bytes;
  j["stop_outcome"] = s.stop_outcome;
  j["evidence_files"] = s.evidence_files;
  j["evidence_note"] = s.evidence_note;
  j["config_path"] = s.config_path;
  j["policy_path"] = s.policy_path;
  j["litestream_bin"] = s.litestream_bin;
  j["litestream_version"] = s.litestream_version;
  j["cleared_at_ms"] = s.cleared_at_ms;
  j["cleared_how"] = s.cleared_how;
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

util::Result<AlarmState> parse_alarm(std::string_view text, std::string_view source) {
  if (text.size() > kMaxAlarmBytes) return util::fail(invalid(source, "alarm state file is too large"));
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return util::fail(invalid(source, "alarm state file is not a JSON object"));
  const auto latched = j.find("latched");
  if (latched == j.end() || !latched->is_boolean()) {
    return util::fail(invalid(source, "alarm state file has no boolean \"latched\""));
  }
  AlarmState s;
  s.latched = latched->get<bool>();
  take(j, "latched_at_ms", s.latched_at_ms);
  take(j, "db_path", s.db_path);
  take(j, "condition", s.condition);
  take(j, "reason", s.reason);
  take(j, "headroom_bytes", s.headroom_bytes);
  take(j, "stop_outcome", s.stop_outcome);
  take(j, "evidence_note", s.evidence_note);
  take(j, "config_path", s.config_path);
  take(j, "policy_path", s.policy_path);
  take(j, "litestream_bin", s.litestream_bin);
  take(j, "litestream_version", s.litestream_version);
  take(j, "cleared_at_ms", s.cleared_at_ms);
  take(j, "cleared_how", s.cleared_how);
  if (const auto it = j.find("evidence_files"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_string()) s.evidence_files.push_back(e.get<std::string>());
    }
  }
  return s;
}

}  // namespace ltxguard::formats
