#include "ltxguard/formats/litestream_log.hpp"

#include <gtest/gtest.h>

#include <string>

#include "ltxguard/formats/logfmt.hpp"

namespace ltxguard::formats {
namespace {

// Captured verbatim from the real Litestream 0.3.13 (/work/main/.tools/litestream,
// `replicate -config` with a file replica; the ENOSPC lines with the database on a 1 MiB
// tmpfs). Only the test machine's clock is in them.
constexpr const char* k03Startup =
    "time=2026-11-25T14:15:05.839Z level=INFO msg=litestream version=v0.3.13";
constexpr const char* k03InitializedDb =
    "time=2026-11-25T14:15:05.840Z level=INFO msg=\"initialized db\" path=/tmp/lscfg/app.db";
constexpr const char* k03ReplicatingTo =
    "time=2026-11-25T14:15:05.840Z level=INFO msg=\"replicating to\" name=fr type=file "
    "sync-interval=1s "
    "path=/tmp/lscfg/replica";
constexpr const char* k03WriteWalSegment =
    "time=2026-11-25T14:15:08.842Z level=INFO msg=\"write wal segment\" db=/tmp/lscfg/app.db "
    "replica=fr "
    "position=f44ce0d2c5535af4/00000000:16512";
constexpr const char* k03WalSegmentWritten =
    "time=2026-11-25T14:15:08.844Z level=INFO msg=\"wal segment written\" db=/tmp/lscfg/app.db "
    "replica=fr "
    "position=f44ce0d2c5535af4/00000000:16512 elapsed=1.48783ms sz=4120";
constexpr const char* k03SyncErrorNoSpace =
    "time=2026-11-25T14:15:30.814Z level=ERROR msg=\"sync error\" db=/tmp/lsfull/app.db "
    "error=\"sync wal: "
    "cannot copy to shadow wal: write temp shadow wal: write "
    "/tmp/lsfull/.app.db-litestream/generations/3be24a4949c57ca0/wal/00000000.wal.tmp: no space "
    "left on "
    "device\"";
constexpr const char* k03ErrorClosingDb =
    "time=2026-11-25T14:15:35.756Z level=ERROR msg=\"error closing db\" db=/tmp/lsfull/app.db "
    "error=\"sync "
    "wal: cannot copy to shadow wal: write temp shadow wal: write "
    "/tmp/lsfull/.app.db-litestream/generations/3be24a4949c57ca0/wal/00000000.wal.tmp: no space "
    "left on "
    "device\"";
// Same binary with `logging: type: json`.
constexpr const char* k03JsonStartup =
    R"({"time":"2026-11-25T14:15:16.487705287Z","level":"INFO","msg":"litestream","version":"v0.3.13"})";
constexpr const char* k03JsonWriteWalSegment =
    R"({"time":"2026-11-25T14:15:19.491992776Z","level":"INFO","msg":"write wal segment","db":"/tmp/lscfg/app.db","replica":"fr","position":"eeda8768d29b3716/00000000:20632"})";
constexpr const char* k03JsonWalSegmentWritten =
    R"({"time":"2026-11-25T14:15:19.493348083Z","level":"INFO","msg":"wal segment written","db":"/tmp/lscfg/app.db","replica":"fr","position":"eeda8768d29b3716/00000000:20632","elapsed":"1.365898ms","sz":4120})";

// 0.5.x cannot run here: these lines are built from its source (db.go monitor loop,
// replicate.go start-up; slog TextHandler/JSONHandler formatting), not captured.
constexpr const char* k05Startup =
    "time=2025-10-01T12:00:00.000Z level=INFO msg=litestream version=0.5.2 level=\"\"";
constexpr const char* k05JsonStartup =
    R"({"time":"2025-10-01T12:00:00Z","level":"INFO","msg":"litestream","version":"0.5.16","level":"debug"})";
constexpr const char* k05SyncErrorNoSpace =
    "time=2025-10-01T12:00:01.000Z level=ERROR msg=\"sync error\" db=app.db error=\"sync: write "
    "ltx from "
    "db: encode ltx frame (pgno=1234): write page data: write "
    "/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp: no space left on "
    "device\" "
    "consecutive_errors=3 backoff=4s";
constexpr const char* k05DiskFullStaging =
    "time=2025-10-01T12:00:02.000Z level=ERROR msg=\"disk full while staging ltx file, replication "
    "paused "
    "until space is freed\" db=app.db error=\"sync: stage-write ltx file "
    "/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp: disk full: encode ltx "
    "frame "
    "(pgno=5): write page data: write "
    "/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp: no space left on "
    "device\" "
    "path=/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp "
    "txid=0000000000000001 "
    "consecutive_errors=4 backoff=8s max_backoff=5m0s";
constexpr const char* k05TempCleanup =
    "time=2025-10-01T12:00:03.000Z level=WARN msg=\"attempting temp file cleanup due to persistent "
    "disk "
    "errors\" db=app.db";
constexpr const char* k05JsonSyncError =
    R"({"time":"2025-10-01T12:00:01Z","level":"ERROR","msg":"sync error","db":"app.db","error":"sync: open database: unable to open database file","consecutive_errors":7,"backoff":64000000000})";
constexpr const char* k05ReplicaMonitorError =
    "time=2025-10-01T12:00:04.000Z level=ERROR msg=\"monitor error\" db=app.db replica=s3 "
    "error=\"operation "
    "error S3: PutObject, https response error StatusCode: 403\"";
constexpr const char* k05SyncRecovered =
    "time=2025-10-01T12:05:00.000Z level=INFO msg=\"sync recovered\" db=app.db previous_errors=12";

TEST(LitestreamLogTest, Real03StartupLineGivesVersion) {
  const LogLine l = classify_log_line(k03Startup);
  EXPECT_EQ(l.signature, LogSignature::startup_version);
  EXPECT_EQ(l.level, "INFO");
  EXPECT_EQ(l.msg, "litestream");
  EXPECT_EQ(l.version, "v0.3.13");
  EXPECT_EQ(l.time, "2026-11-25T14:15:05.839Z");
}

TEST(LitestreamLogTest, Real03InfoLinesWithoutSignature) {
  const LogLine init = classify_log_line(k03InitializedDb);
  EXPECT_EQ(init.signature, LogSignature::none);
  EXPECT_EQ(init.msg, "initialized db");
  EXPECT_EQ(init.path, "/tmp/lscfg/app.db");
  const LogLine to = classify_log_line(k03ReplicatingTo);
  EXPECT_EQ(to.signature, LogSignature::none);
  EXPECT_EQ(to.path, "/tmp/lscfg/replica");
}

TEST(LitestreamLogTest, Real03SegmentUploadPair) {
  const LogLine w = classify_log_line(k03WriteWalSegment);
  EXPECT_EQ(w.signature, LogSignature::write_wal_segment);
  EXPECT_EQ(w.db, "/tmp/lscfg/app.db");
  EXPECT_EQ(w.replica, "fr");
  EXPECT_EQ(w.position, "f44ce0d2c5535af4/00000000:16512");
  const LogLine d = classify_log_line(k03WalSegmentWritten);
  EXPECT_EQ(d.signature, LogSignature::wal_segment_written);
  EXPECT_EQ(d.position, w.position);
}

TEST(LitestreamLogTest, Real03ShadowWalEnospcIsDiskFullSyncError) {
  const LogLine l = classify_log_line(k03SyncErrorNoSpace);
  EXPECT_EQ(l.signature, LogSignature::sync_error_no_space);
  EXPECT_EQ(l.level, "ERROR");
  EXPECT_EQ(l.db, "/tmp/lsfull/app.db");
  EXPECT_EQ(
      l.error,
      "sync wal: cannot copy to shadow wal: write temp shadow wal: write "
      "/tmp/lsfull/.app.db-litestream/generations/3be24a4949c57ca0/wal/00000000.wal.tmp: no space "
      "left on device");
  EXPECT_TRUE(is_disk_full(l));
}

TEST(LitestreamLogTest, AnyErrorWithEnospcIsDiskFull) {
  const LogLine l = classify_log_line(k03ErrorClosingDb);
  EXPECT_EQ(l.signature, LogSignature::none);
  EXPECT_EQ(l.msg, "error closing db");
  EXPECT_TRUE(is_disk_full(l));
  // The same words at INFO are not an error.
  EXPECT_FALSE(is_disk_full(classify_log_line("level=INFO msg=\"no space left on device\"")));
}

TEST(LitestreamLogTest, Real03JsonLines) {
  const LogLine s = classify_log_line(k03JsonStartup);
  EXPECT_EQ(s.signature, LogSignature::startup_version);
  EXPECT_EQ(s.version, "v0.3.13");
  const LogLine w = classify_log_line(k03JsonWriteWalSegment);
  EXPECT_EQ(w.signature, LogSignature::write_wal_segment);
  EXPECT_EQ(w.replica, "fr");
  const LogLine d = classify_log_line(k03JsonWalSegmentWritten);
  EXPECT_EQ(d.signature, LogSignature::wal_segment_written);
  EXPECT_EQ(d.position, "eeda8768d29b3716/00000000:20632");
}

TEST(LitestreamLogTest, Startup05KeepsRecordLevelNotConfiguredLevel) {
  const LogLine t = classify_log_line(k05Startup);
  EXPECT_EQ(t.signature, LogSignature::startup_version);
  EXPECT_EQ(t.level, "INFO");
  EXPECT_EQ(t.version, "0.5.2");
  const LogLine j = classify_log_line(k05JsonStartup);
  EXPECT_EQ(j.signature, LogSignature::startup_version);
  EXPECT_EQ(j.level, "INFO");
  EXPECT_EQ(j.version, "0.5.16");
}

TEST(LitestreamLogTest, SyncError05WithBackoffFields) {
  const LogLine l = classify_log_line(k05SyncErrorNoSpace);
  EXPECT_EQ(l.signature, LogSignature::sync_error_no_space);
  EXPECT_EQ(l.db, "app.db");
  ASSERT_TRUE(l.consecutive_errors.has_value());
  EXPECT_EQ(*l.consecutive_errors, 3u);
}

TEST(LitestreamLogTest, DiskFullStaging05) {
  const LogLine l = classify_log_line(k05DiskFullStaging);
  EXPECT_EQ(l.signature, LogSignature::disk_full_staging);
  EXPECT_EQ(l.path, "/d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  EXPECT_EQ(*l.consecutive_errors, 4u);
  EXPECT_TRUE(is_disk_full(l));
}

TEST(LitestreamLogTest, TempFileCleanup05) {
  const LogLine l = classify_log_line(k05TempCleanup);
  EXPECT_EQ(l.signature, LogSignature::temp_file_cleanup);
  EXPECT_EQ(l.level, "WARN");
  EXPECT_FALSE(is_disk_full(l));
}

TEST(LitestreamLogTest, JsonSyncErrorOtherCause) {
  const LogLine l = classify_log_line(k05JsonSyncError);
  EXPECT_EQ(l.signature, LogSignature::sync_error);
  EXPECT_EQ(*l.consecutive_errors, 7u);
  EXPECT_FALSE(is_disk_full(l));
}

TEST(LitestreamLogTest, ReplicaErrorAndRecovery) {
  const LogLine e = classify_log_line(k05ReplicaMonitorError);
  EXPECT_EQ(e.signature, LogSignature::replica_error);
  EXPECT_EQ(e.replica, "s3");
  EXPECT_EQ(classify_log_line(k05SyncRecovered).signature, LogSignature::sync_recovered);
}

TEST(LitestreamLogTest, JournalAndSyslogPrefixesAreSkipped) {
  const std::string syslog =
      std::string("Nov 25 14:15:30 host litestream[812]: ") + k03SyncErrorNoSpace;
  EXPECT_EQ(classify_log_line(syslog).signature, LogSignature::sync_error_no_space);
  const std::string json = std::string("Nov 25 14:15:16 host litestream[812]: ") + k03JsonStartup;
  EXPECT_EQ(classify_log_line(json).version, "v0.3.13");
  EXPECT_EQ(classify_log_line(std::string(k03Startup) + "\r\n").version, "v0.3.13");
}

TEST(LitestreamLogTest, Unstructured0311Lines) {
  const LogLine s = classify_log_line("litestream v0.3.9");
  EXPECT_EQ(s.signature, LogSignature::startup_version);
  EXPECT_EQ(s.version, "v0.3.9");
  const LogLine e = classify_log_line(
      "/d/app.db: sync error: sync wal: write /d/x.wal.tmp: no space left on device");
  EXPECT_EQ(e.signature, LogSignature::sync_error_no_space);
  EXPECT_EQ(e.db, "/d/app.db");
  EXPECT_EQ(e.level, "");
  const LogLine r = classify_log_line("/d/app.db(s3): monitor error: context deadline exceeded");
  EXPECT_EQ(r.signature, LogSignature::replica_error);
  EXPECT_EQ(r.replica, "s3");
  EXPECT_EQ(r.error, "context deadline exceeded");
}

TEST(LitestreamLogTest, GarbageNeverThrows) {
  std::string bad = "{\"level\":\"ERROR\",\"msg\":\"sync error\",\"error\":\"\xff\xfe\"}";
  EXPECT_NO_THROW((void)classify_log_line(bad));
  EXPECT_EQ(classify_log_line(std::string(100000, '[')).signature, LogSignature::none);
  EXPECT_EQ(classify_log_line("{" + std::string(50000, '[')).signature, LogSignature::none);
  EXPECT_EQ(classify_log_line("level=ERROR msg=\"sync error").signature, LogSignature::sync_error);
  EXPECT_EQ(classify_log_line("").signature, LogSignature::none);
  EXPECT_EQ(classify_log_line("level=").level, "");
}

TEST(LitestreamLogTest, CountsAcrossLines) {
  LogCounts c;
  for (const char* line :
       {k03Startup, k03WriteWalSegment, k03SyncErrorNoSpace, k03SyncErrorNoSpace, k03ErrorClosingDb,
        k05JsonSyncError, k05DiskFullStaging, k05TempCleanup, k05ReplicaMonitorError}) {
    count_log_line(c, classify_log_line(line));
  }
  EXPECT_EQ(c.lines, 9u);
  EXPECT_EQ(c.errors, 6u);
  EXPECT_EQ(c.disk_full_lines, 4u);
  EXPECT_EQ(c.sync_errors, 4u);
  EXPECT_EQ(c.temp_file_cleanup, 1u);
  EXPECT_EQ(c.version, "v0.3.13");
}

TEST(LogfmtTest, QuotedValuesWithGoEscapes) {
  const auto f = parse_logfmt(R"(a=1 "b c"="x \"y\" \\ \n\t\x41\u00e9" bare d= e="unterminated)");
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].key, "a");
  EXPECT_EQ(f[0].value, "1");
  EXPECT_EQ(f[1].key, "b c");
  EXPECT_EQ(f[1].value, "x \"y\" \\ \n\tA\xc3\xa9");
  EXPECT_EQ(f[2].key, "bare");
  EXPECT_EQ(f[2].value, "");
  EXPECT_EQ(f[3].key, "d");
  EXPECT_EQ(f[3].value, "");
  EXPECT_EQ(f[4].value, "unterminated");
}

TEST(LogfmtTest, FieldCountIsBounded) {
  std::string line;
  for (int i = 0; i < 1000; ++i) line += "k=v ";
  EXPECT_EQ(parse_logfmt(line).size(), kMaxLogfmtFields);
}

TEST(LogfmtTest, UnquoteKeepsUnknownAndTruncatedEscapes) {
  EXPECT_EQ(unquote_go(R"(\q\x4)"), R"(\q\x4)");
  EXPECT_EQ(unquote_go("\\"), "\\");
  EXPECT_EQ(unquote_go(R"(\101)"), "A");
}

}  // namespace
}  // namespace ltxguard::formats
