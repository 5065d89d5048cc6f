// Prometheus text exposition format 0.0.4, as served on Litestream's `addr:` /metrics.
// Reference: prometheus/docs content/docs/instrumenting/exposition_formats.md.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ltxguard::formats {

struct PromSample {
  std::string name;  // the full sample name, with any _sum/_count/_bucket suffix
  std::vector<std::pair<std::string, std::string>> labels;  // in text order, values unescaped
  double value = 0;                                         // NaN and +/-Inf as written
};

// Samples in text order. Comment, HELP and TYPE lines are skipped; so is every malformed line
// (bad name, unterminated label value, unknown escape, value or timestamp that does not parse,
// trailing junk), without failing the rest. The optional timestamp is checked and dropped.
// Never throws; on memory exhaustion returns what it parsed so far.
[[nodiscard]] std::vector<PromSample> parse_prom_text(std::string_view text);

// The value of the first sample called `name` that carries every given label with the given
// value (other labels are ignored); nullopt when none does.
[[nodiscard]] std::optional<double> find_sample(
    const std::vector<PromSample>& samples, std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels = {});

}  // namespace ltxguard::formats
