#include "ltxguard/cmd/common.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

namespace ltxguard::cmd {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

int input_code(const util::Error& e, std::string* err) {
  CaptureStderr();
  const int rc = report_error(e);
  *err = GetCapturedStderr();
  return rc;
}

int output_code(const util::Error& e, std::string* err) {
  CaptureStderr();
  const int rc = report_output_error(e);
  *err = GetCapturedStderr();
  return rc;
}

// docs/exit-codes.md: 66 when an input cannot be read, 65 when it is malformed.
TEST(ReportErrorTest, InputErrorsKeepTheirCodes) {
  std::string err;
  EXPECT_EQ(input_code(util::sys_error(EIO, "/d/app.db", "cannot read"), &err), kExitNoInput);
  EXPECT_EQ(err, "ltxguard: /d/app.db: cannot read (Input/output error)\n");
  EXPECT_EQ(input_code(util::sys_error(ENOENT, "/etc/litestream.yml", "cannot read file"), &err),
            kExitNoInput);
  EXPECT_EQ(input_code(util::make_error(util::ErrorCode::invalid_input, "p.yml", "bad key"), &err),
            kExitDataErr);
  EXPECT_EQ(input_code(util::sys_error(ENOSPC, "/s/alarm", "cannot write"), &err), kExitCantCreate);
}

// docs/exit-codes.md: 73 when an output file cannot be written, whatever the errno.
TEST(ReportErrorTest, OutputErrorsAreCantCreateForEveryErrno) {
  std::string err;
  EXPECT_EQ(
      output_code(util::sys_error(EIO, "/out/ltxguard-evidence-1.json", "cannot fsync"), &err),
      kExitCantCreate);
  EXPECT_EQ(err, "ltxguard: /out/ltxguard-evidence-1.json: cannot fsync (Input/output error)\n");
  for (const int e : {ENOSPC, EDQUOT, EROFS, EACCES, ENOENT, EIO}) {
    EXPECT_EQ(output_code(util::sys_error(e, "/out/x", "cannot write"), &err), kExitCantCreate)
        << e;
  }
  EXPECT_EQ(kExitCantCreate, 73);
}

TEST(ReportErrorTest, OpeningOurOwnOutputIsCantCreateButARefusedPathIsDataErr) {
  const std::vector<std::string> outputs = {"/rec/watch.jsonl"};
  CaptureStderr();
  EXPECT_EQ(report_error_with_outputs(util::sys_error(EIO, "/rec/watch.jsonl", "cannot open"), outputs),
            kExitCantCreate);
  EXPECT_EQ(report_error_with_outputs(
                util::make_error(util::ErrorCode::invalid_input, "/rec/watch.jsonl", "on a watched filesystem"),
                outputs),
            kExitDataErr);
  EXPECT_EQ(report_error_with_outputs(util::sys_error(EIO, "/d/app.db", "cannot read"), outputs), kExitNoInput);
  (void)GetCapturedStderr();
}

TEST(ReportErrorTest, APathWithANewlineStaysOnTheErrorLine) {
  std::string err;
  (void)input_code(util::sys_error(ENOENT, "/d/x\nltxguard: forged", "cannot read"), &err);
  EXPECT_EQ(err, "ltxguard: /d/x\\nltxguard: forged: cannot read (No such file or directory)\n");
}

}  // namespace
}  // namespace ltxguard::cmd
