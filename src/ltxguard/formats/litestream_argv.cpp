#include "ltxguard/formats/litestream_argv.hpp"

#include <string_view>

namespace ltxguard::formats {

namespace {

// Litestream's subcommands in 0.3 and 0.5.
bool is_subcommand(std::string_view a) {
  for (std::string_view c : {"replicate", "restore", "databases", "generations", "snapshots", "wal",
                             "ltx", "reset", "version"}) {
    if (a == c) return true;
  }
  return false;
}

}  // namespace

LitestreamInvocation parse_litestream_argv(const std::vector<std::string>& argv) {
  LitestreamInvocation inv;
  if (argv.empty()) return inv;
  const std::string& prog = argv[0];
  const size_t slash = prog.rfind('/');
  inv.is_litestream = (slash == std::string::npos ? prog : prog.substr(slash + 1)) == "litestream";
  size_t i = 1;
  if (!inv.is_litestream) {
    // A wrapper or an interpreter running a stand-in ("python3 standin.py replicate -config
    // F", "env litestream replicate ..."): Litestream's own arguments start at its subcommand.
    for (size_t j = 1; j < argv.size(); ++j) {
      if (is_subcommand(argv[j])) {
        i = j;
        break;
      }
    }
  }
  if (i < argv.size() && !argv[i].empty() && argv[i][0] != '-') {
    inv.subcommand_index = i;
    inv.subcommand = argv[i++];
  }
  for (; i < argv.size(); ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    a.remove_prefix(a.substr(0, 2) == "--" ? 2 : 1);
    std::string_view name = a, value;
    bool has_value = false;
    if (const size_t eq = a.find('='); eq != std::string_view::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    std::optional<std::string>* target = name == "config" ? &inv.config_path : name == "exec" ? &inv.exec : nullptr;
    if (target == nullptr) continue;
    if (!has_value) {
      if (i + 1 >= argv.size()) break;  // Litestream itself rejects the dangling flag
      value = argv[++i];
    }
    *target = std::string(value);
  }
  for (; i < argv.size(); ++i) inv.positional.push_back(argv[i]);
  return inv;
}

}  // namespace ltxguard::formats
