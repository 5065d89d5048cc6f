#include "ltxguard/formats/redaction.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ltxguard::formats {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Every canary below is a secret placed in one of the ways a secret reaches ltxguard.
constexpr const char* kConfig =
    "access-key-id: AKIACANARYLITERAL001\n"
    "secret-access-key: CANARY-LITERAL-SECRET\n"
    "heartbeat-url: https://hc.example/ping/CANARY-HEARTBEAT\n"
    "exec: /usr/bin/app --db-password CANARY-EXEC-ARG\n"
    "dbs:\n"
    "  - path: /srv/data/app.db\n"
    "    replica:\n"
    "      url: s3://canary-bucket/backups/app?sse-customer-key=CANARY-SSEC-QUERY\n"
    "      secret-access-key: ${S3_SECRET}\n"
    "  - path: /srv/data/other.db\n"
    "    replica:\n"
    "      type: sftp\n"
    "      url: sftp://backup:CANARY-URL-PASSWORD@backup.example.com/srv/bk\n";

const std::map<std::string, std::string> kEnv = {
    {"S3_SECRET", "CANARY-ENV-REFERENCED"},
    {"AWS_SECRET_ACCESS_KEY", "CANARY-AWS-ENV"},
    {"AWS_SESSION_TOKEN", "CANARY-SESSION-ENV"},
    {"LITESTREAM_ACCESS_KEY_ID", "CANARY-LS-KEYID-ENV"},
};

Redactor redactor_for_kconfig(RedactionOptions opts) {
  const auto config = parse_litestream_config(kConfig, env_of(kEnv), "litestream.yml");
  EXPECT_TRUE(config.has_value()) << config.error().to_string();
  return make_redactor(*config, env_of(kEnv), opts);
}

void expect_no_canary(const std::string& out) {
  EXPECT_EQ(out.find("CANARY"), std::string::npos) << out;
}

TEST(RedactionTest, ConfigTextLeaksNoSecret) {
  const Redactor r = redactor_for_kconfig({});
  const std::string out = r.redact(kConfig);
  expect_no_canary(out);
  EXPECT_EQ(out.find("canary-bucket"), std::string::npos)
      << out;                                                  // backup metadata, hidden by default
  EXPECT_NE(out.find("/srv/data/app.db"), std::string::npos);  // db paths stay outside public mode
  EXPECT_NE(out.find("      url: [REDACTED]\n"), std::string::npos)
      << out;  // the whole url is metadata
}

TEST(RedactionTest, EnvValuesAndLogLinesLeakNoSecret) {
  const Redactor r = redactor_for_kconfig({});
  const std::string env_dump =
      "AWS_SECRET_ACCESS_KEY=CANARY-AWS-ENV\nAWS_SESSION_TOKEN=CANARY-SESSION-ENV\n"
      "LITESTREAM_ACCESS_KEY_ID=CANARY-LS-KEYID-ENV\nS3_SECRET=CANARY-ENV-REFERENCED\n";
  expect_no_canary(r.redact(env_dump));
  // A secret quoted inside an error message, and a value that appears bare in free text.
  const std::string log =
      "time=2026-11-25T14:15:30.814Z level=ERROR msg=\"monitor error\" db=/srv/data/app.db "
      "replica=s3 "
      "error=\"auth failed for key CANARY-ENV-REFERENCED (session CANARY-SESSION-ENV)\" sz=4120";
  const std::string out = r.redact(log);
  expect_no_canary(out);
  EXPECT_NE(out.find("sz=4120"), std::string::npos);
  EXPECT_NE(out.find("level=ERROR msg=\"monitor error\""), std::string::npos);
}

TEST(RedactionTest, PatternsMaskUnknownSecrets) {
  const Redactor r;
  const std::string text =
      "secret-access-key: CANARY-YAML-VALUE\n"
      "password = \"CANARY QUOTED VALUE\"\n"
      "{\"secretAccessKey\":\"CANARY-JSON\",\"sasToken\": \"CANARY-SAS\", \"size\": 123}\n"
      "AWS_SECRET_ACCESS_KEY=CANARY-ENV-PATTERN other=1\n"
      "error=\"request {\\\"token\\\":\\\"CANARY-ESCAPED\\\"}\"\n"
      "GET "
      "https://b.s3.amazonaws.com/"
      "k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CANARYCRED%2F2026"
      "&X-Amz-Signature=CANARYSIG0123 HTTP/1.1\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=CANARY-AUTH/2026, Signature=abc\n"
      "nats://user:CANARY-NATS@nats:4222/b webdav://u:CANARY-DAV@dav.example/x\n"
      "s3://bucket/p?sse-customer-key=CANARY-QUERY&region=us-east-1\n"
      "identities:\n"
      "  - AGE-SECRET-KEY-1CANARYAGE\n"
      "key: |\n"
      "  -----BEGIN OPENSSH PRIVATE KEY-----\n"
      "  CANARYPEMBODY\n"
      "  -----END OPENSSH PRIVATE KEY-----\n"
      "id AKIAIOSFODNN7EXAMPLE end\n"
      "sas-token:\n"
      "  CANARY-NEXT-LINE\n";
  const std::string out = r.redact(text);
  expect_no_canary(out);
  EXPECT_EQ(out.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << out;
  EXPECT_NE(out.find("\"size\": 123"), std::string::npos) << out;
  EXPECT_NE(out.find("other=1"), std::string::npos) << out;
  EXPECT_NE(out.find("region=us-east-1"), std::string::npos) << out;
  EXPECT_NE(out.find("X-Amz-Algorithm=AWS4-HMAC-SHA256"), std::string::npos) << out;
  EXPECT_NE(out.find("nats://user:[REDACTED]@nats:4222/b"), std::string::npos) << out;
  EXPECT_NE(out.find("-----END OPENSSH PRIVATE KEY-----"), std::string::npos) << out;
}

TEST(RedactionTest, ExactMaskingOfSimpleForms) {
  const Redactor r;
  EXPECT_EQ(r.redact("secret-access-key: abc123"), "secret-access-key: [REDACTED]");
  EXPECT_EQ(r.redact("password=hunter22 size=10"), "password=[REDACTED] size=10");
  EXPECT_EQ(r.redact(R"({"password":"x1","n":2})"), R"({"password":"[REDACTED]","n":2})");
  EXPECT_EQ(r.redact("s3://u:pw@h/p"), "s3://u:[REDACTED]@h/p");
  EXPECT_EQ(r.redact("abs://account@container/p"), "abs://account@container/p");
  EXPECT_EQ(r.redact("password: \"\""), "password: \"\"");
  EXPECT_EQ(r.redact("tokens are fine, token://x too"), "tokens are fine, token://x too");
}

TEST(RedactionTest, NonSecretsSurvive) {
  const Redactor r = redactor_for_kconfig({});
  const std::string text =
      "db_size=22000000000 wal_size=497000000 avail_bytes=20000000000\n"
      "path=/srv/data/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp\n"
      "retention: 72h\nsnapshot-interval: 24h\nl0-retention: 5m\n";
  EXPECT_EQ(r.redact(text), text);
}

TEST(RedactionTest, BackupMetadataShownOnRequest) {
  RedactionOptions opts;
  opts.show_replica_paths = true;
  const Redactor r = redactor_for_kconfig(opts);
  const std::string out = r.redact("replica at s3://canary-bucket/backups/app");
  EXPECT_EQ(out, "replica at s3://canary-bucket/backups/app");
  const std::string config = r.redact(kConfig);
  expect_no_canary(config);
  EXPECT_NE(config.find("url: sftp://backup:[REDACTED]@backup.example.com/srv/bk"),
            std::string::npos)
      << config;
  EXPECT_EQ(redactor_for_kconfig({}).redact("bucket canary-bucket"), "bucket [REDACTED]");
}

// Field test: 0.3.13's S3 error line carries the replica path URL-encoded in the request's
// query and path, as the client library chose: %20 or '+' for a space, %2F or %2f or a plain
// '/', %2B for '+'. Only the bucket was masked.
TEST(RedactionTest, UrlEncodedFormsOfSecretsAndMetadataAreMaskedToo) {
  Redactor r;
  r.add_backup_metadata("canary path9/app+x");
  r.add_secret("s3cr3t+key/x");
  const std::string line =
      "GET /bucket?delimiter=%2F&prefix=canary%20path9%2fapp%2Bx%2fgenerations "
      "q=canary+path9%2Fapp%2Bx%2Fgenerations p=/b/canary%20path9/app%2Bx/generations "
      "plain=canary path9/app+x tok=s3cr3t%2Bkey%2Fx";
  const std::string out = r.redact(line);
  EXPECT_EQ(out.find("canary"), std::string::npos) << out;
  EXPECT_EQ(out.find("s3cr3t"), std::string::npos) << out;
  EXPECT_NE(out.find("delimiter=%2F&prefix=[REDACTED]%2fgenerations"), std::string::npos) << out;
  EXPECT_NE(out.find("p=/b/[REDACTED]/generations"), std::string::npos) << out;
  // Line by line: a match on the second line lands at its place in the whole text.
  EXPECT_EQ(r.redact("first line\nx=canary%20path9%2Fapp%2Bx\n"), "first line\nx=[REDACTED]\n");
  // Text without an escape is left as it is.
  EXPECT_EQ(Redactor().redact("a%2Fb c+d %zz %"), "a%2Fb c+d %zz %");
}

TEST(RedactionTest, PublicModeHidesHostDetails) {
  RedactionOptions opts;
  opts.public_mode = true;
  opts.show_replica_paths = true;  // public mode overrides it
  const Redactor r = redactor_for_kconfig(opts);
  const std::string out = r.redact(
      "db=/srv/data/app.db meta=/srv/data/.app.db-litestream bucket=canary-bucket "
      "host=backup.example.com "
      "peer=10.1.2.3 local=127.0.0.1 home=/home/alice/x ver=0.5.2");
  EXPECT_EQ(out,
            "db=app.db meta=.app.db-litestream bucket=[REDACTED] host=[REDACTED] peer=[REDACTED] "
            "local=127.0.0.1 home=/home/[user]/x ver=0.5.2");
  EXPECT_EQ(r.redact("file /srv/data/backup.log"), "file [dir]/backup.log");
}

TEST(RedactionTest, ShortValuesAreNotMaskedEverywhere) {
  Redactor r;
  r.add_secret("ab");
  r.add_backup_metadata("db");
  EXPECT_EQ(r.redact("ab db abc"), "ab db abc");
}

TEST(RedactionTest, OverlappingSecretsMergeIntoOneMask) {
  Redactor r;
  r.add_secret("abcdef");
  r.add_secret("defghi");
  EXPECT_EQ(r.redact("xabcdefghiy"), "x[REDACTED]y");
}

TEST(RedactionTest, InvalidUtf8AndHugeLinesAreSafe) {
  Redactor r;
  r.add_secret("CANARY-BIN");
  std::string bin = "\xff\xfe password=\xc3\x28 CANARY-BIN \x80";
  const std::string out = r.redact(bin);
  expect_no_canary(out);
  EXPECT_EQ(out.substr(0, 2), "\xff\xfe");

  std::string huge(8u << 20, 'a');
  huge.replace(4u << 20, 10, "CANARY-BIN");
  huge += " password=";
  huge += std::string(1u << 20, 'p');
  const std::string hout = r.redact(huge);
  expect_no_canary(hout);
  EXPECT_EQ(hout.size(), (8u << 20) + 10 + 10);
  // Pathological inputs that could make scanners quadratic stay linear.
  EXPECT_NO_THROW((void)r.redact(std::string(4u << 20, ':')));
  EXPECT_NO_THROW((void)r.redact(std::string(4u << 20, '@') + "://"));
}

}  // namespace
}  // namespace ltxguard::formats
