#include "support/journal_builder.hpp"

#include <unistd.h>

#include <fstream>

#include "ltxguard/sys/command.hpp"

namespace ltxguard::testing {
namespace {

bool needs_binary(const std::string& v) {
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return true;
  }
  return false;
}

// journal-export-formats(7): text "FIELD=value\n", or binary "FIELD\n" + le64 size + data + "\n".
void append_field(std::string* out, const std::string& name, const std::string& value) {
  if (!needs_binary(value)) {
    *out += name + "=" + value + "\n";
    return;
  }
  *out += name + "\n";
  uint64_t n = value.size();
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>(n & 0xff));
    n >>= 8;
  }
  *out += value + "\n";
}

}  // namespace

JournalFields journal_entry(const std::string& unit, const std::string& message,
                            int64_t realtime_usec, int priority, int pid) {
  return {{"__REALTIME_TIMESTAMP", std::to_string(realtime_usec)},
          {"_SYSTEMD_UNIT", unit},
          {"_PID", std::to_string(pid)},
          {"PRIORITY", std::to_string(priority)},
          {"MESSAGE", message}};
}

util::Result<std::string> build_journal(const std::string& dir,
                                        const std::vector<JournalFields>& entries,
                                        const std::string& name) {
  if (::access(kJournalRemoteBin, X_OK) != 0) {
    return util::fail(util::make_error(util::ErrorCode::not_found, kJournalRemoteBin,
                                       "systemd-journal-remote is not installed; run scripts/setup "
                                       "(apt-get install systemd-journal-remote)"));
  }
  std::string text;
  for (const auto& entry : entries) {
    for (const auto& [field, value] : entry) append_field(&text, field, value);
    text += "\n";
  }
  const std::string export_path = dir + "/" + name + ".export";
  const std::string journal_path = dir + "/" + name + ".journal";  // the tool needs ".journal"
  {
    std::ofstream out(export_path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return util::fail(util::make_error(util::ErrorCode::io, export_path, "cannot write"));
  }
  auto run = sys::run_command({kJournalRemoteBin, "-o", journal_path, export_path}, 30'000);
  if (!run) return util::fail(run.error());
  if (run->exit_code != 0) {
    return util::fail(util::make_error(util::ErrorCode::io, journal_path,
                                       "systemd-journal-remote failed: " + run->stderr_text));
  }
  ::unlink(export_path.c_str());
  return journal_path;
}

}  // namespace ltxguard::testing
