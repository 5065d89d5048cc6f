// A systemd unit file as systemd reads it (systemd.syntax(7)): `[Section]` headers, `Key=Value`
// assignments, `#`/`;` comment lines, trailing-backslash continuations, and drop-ins
// (`<unit>.d/*.conf`) applied after the unit. Parsing only, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/util/error.hpp"

namespace ltxguard::formats {

// One `Key=Value` line, in the order systemd applies them.
struct UnitAssignment {
  std::string section;  // "Service"
  std::string key;      // "Restart"
  std::string value;    // trimmed, quotes and specifiers left as written; "" resets the key
  std::string source;   // source_name of the file it came from
  int line = 0;         // 1-based line where the (possibly continued) assignment starts
};

struct SystemdUnit {
  std::string source_name;                  // the main unit file
  std::vector<std::string> drop_ins;        // source names of merged drop-ins, in merge order
  std::vector<UnitAssignment> assignments;  // unit first, then each drop-in

  // The value in effect: the last assignment of section/key, nullopt when the key was never
  // set or its last assignment is empty (an empty assignment resets the setting).
  [[nodiscard]] std::optional<std::string> get(std::string_view section,
                                               std::string_view key) const;
  // Every value of a list setting (ExecStartPre=, Environment=) after resets: the values
  // assigned since the last empty assignment, in order. Empty when none.
  [[nodiscard]] std::vector<std::string> get_all(std::string_view section,
                                                 std::string_view key) const;
  // The assignment that get() returns, for "<file>:<line>" in messages; nullptr when get()
  // returns nullopt.
  [[nodiscard]] const UnitAssignment* where(std::string_view section, std::string_view key) const;
};

inline constexpr size_t kMaxUnitBytes = 1 << 20;  // systemd's own LONG_LINE_MAX is 1 MiB

// Parses one unit or drop-in file. Blank lines and lines whose first non-blank character is
// `#` or `;` are comments; a line ending in an unescaped backslash continues on the next
// line (the backslash becomes a space; comment lines inside a continuation are skipped).
// Errors (invalid_input, message "<source>:<line>: <what>"): "assignment outside of a
// section", "invalid section header '<text>'", "expected Key=Value, got '<text>'",
// "empty key", "unit file is larger than 1048576 bytes", "NUL byte in unit file". Where
// systemd only warns and skips a line, this parser refuses it: a lint should not guess.
[[nodiscard]] util::Result<SystemdUnit> parse_systemd_unit(std::string_view text,
                                                           std::string_view source_name);

// Applies a drop-in after what `unit` already holds: its assignments follow the unit's, so a
// key it sets wins and an empty assignment in it resets the unit's list.
void merge_drop_in(SystemdUnit& unit, const SystemdUnit& drop_in);

// systemd's boolean: 1/yes/y/true/t/on and 0/no/n/false/f/off, case-insensitive.
[[nodiscard]] std::optional<bool> parse_systemd_bool(std::string_view text);

// A systemd time span (systemd.time(7)) in microseconds: "30", "30s", "1min 30s", "2h30m",
// "500ms"; a bare number is seconds. "infinity" is UINT64_MAX. nullopt when it does not parse
// or overflows.
[[nodiscard]] std::optional<uint64_t> parse_systemd_timespan_usec(std::string_view text);

}  // namespace ltxguard::formats
