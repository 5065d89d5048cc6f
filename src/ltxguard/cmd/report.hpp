// `ltxguard report`: one self-contained HTML page (timeline, budget equation, verdict) from
// the record file `ltxguard watch --record` (or `ltxguard run`) wrote.
#pragma once

#include <string>

namespace ltxguard::cmd {

struct ReportArgs {
  std::string record_path;
  std::string out_path;  // "" = standard output
};

// Exit 0 when the page was written, whatever the verdict on the page; 66 when the record
// cannot be opened or read (missing, a symlink, not a regular file); 65 when it holds no
// valid sample; 73 when --out (replaced atomically) or standard output cannot be written.
[[nodiscard]] int run_report(const ReportArgs& args);

}  // namespace ltxguard::cmd
