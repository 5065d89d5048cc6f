// `ltxguard check`: lints a Litestream setup (version, systemd unit, config, meta dir placement,
// policy) and prints one line per rule like `barman check`. Reads only; writes nothing.
#pragma once

#include <string>
#include <vector>

#include "ltxguard/model/check_rules.hpp"
#include "ltxguard/sys/filesystem.hpp"
#include "ltxguard/util/error.hpp"

namespace ltxguard::cmd {

struct CheckArgs {
  std::string config_path;     // "" = $LITESTREAM_CONFIG or /etc/litestream.yml
  std::string unit_path;       // "" = look for litestream.service in the unit directories
  std::string policy_path;     // "" = /etc/ltxguard/policy.yml if present, else defaults
  std::string litestream_bin;  // "" = the litestream the unit's ExecStart= names, else PATH
  bool json = false;
};

// Where the unit is looked for without --unit, highest priority first (systemd's order); the
// first directory holding the unit wins, drop-ins `<name>.d/*.conf` come from all of them
// (a name in a higher directory masks the same name below) and apply in file-name order.
struct UnitSearch {
  std::string name = "litestream.service";
  std::vector<std::string> dirs = {"/etc/systemd/system", "/run/systemd/system",
                                   "/lib/systemd/system", "/usr/lib/systemd/system"};
};

// Loads config, policy, unit (+ drop-ins), asks `litestream version` (5 s deadline) and
// measures where each database and meta dir live. Fails only on inputs the user named or that
// are malformed (config, policy, an explicit --unit): those go to report_error. A missing
// default unit or binary is recorded in the input's notes and becomes an unknown finding.
[[nodiscard]] util::Result<model::CheckInput> gather_check_input(const sys::FileSystem& fs,
                                                                 const CheckArgs& args,
                                                                 const UnitSearch& search = {});

// The barman-style report: a header naming what was read, then "\t<id>: OK",
// "\t<id>: WARNING (<message>; hint: <hint>)", "\t<id>: FAILED (…)", "\t<id>: UNKNOWN (…)".
[[nodiscard]] std::string check_text(const model::CheckInput& input,
                                     const std::vector<model::CheckFinding>& findings);
// {"status": "ok|warning|unknown|failed", "inputs": {...}, "findings": [{id, status, message,
// hint}]}
[[nodiscard]] std::string check_json(const model::CheckInput& input,
                                     const std::vector<model::CheckFinding>& findings);

// 0 ok, 1 warning, 2 failed, 3 unknown (as preflight).
[[nodiscard]] int check_exit_code(model::CheckStatus status);

// Prints the report on stdout; returns check_exit_code, or report_error's code when an input
// cannot be read or parsed.
[[nodiscard]] int run_check(const CheckArgs& args);

}  // namespace ltxguard::cmd
