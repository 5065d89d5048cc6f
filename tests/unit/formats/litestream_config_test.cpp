#include "ltxguard/formats/litestream_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ltxguard::formats {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const ConfigKey* find_key(const LitestreamConfig& c, std::string_view path) {
  for (const auto& k : c.keys) {
    if (k.key_path == path) return &k;
  }
  return nullptr;
}

TEST(LitestreamConfigTest, BothReplicaStylesMetaPathAndEnv) {
  const std::string yaml =
      "addr: \":9090\"\n"                                // 1
      "dbs:\n"                                           // 2
      "  - path: ${DATA}/app.db\n"                       // 3
      "    meta-path: /var/lib/litestream/app\n"         // 4
      "    replica:\n"                                   // 5
      "      url: s3://my-bucket/backups/app\n"          // 6
      "      retention: 72h\n"                           // 7
      "  - path: /srv/other.db\n"                        // 8
      "    replicas:\n"                                  // 9
      "      - name: local\n"                            // 10
      "        path: /mnt/backup/other\n"                // 11
      "      - type: s3\n"                               // 12
      "        bucket: second-bucket\n"                  // 13
      "        path: other\n"                            // 14
      "        endpoint: http://minio.internal:9000\n";  // 15
  const auto c = parse_litestream_config(yaml, env_of({{"DATA", "/srv/data"}}), "litestream.yml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_EQ(c->addr, ":9090");
  ASSERT_EQ(c->dbs.size(), 2u);

  const DbConfig& a = c->dbs[0];
  EXPECT_EQ(a.path, "/srv/data/app.db");
  EXPECT_EQ(a.meta_path, "/var/lib/litestream/app");
  EXPECT_TRUE(a.meta_path_explicit);
  EXPECT_EQ(a.line, 3);
  ASSERT_EQ(a.replicas.size(), 1u);
  EXPECT_EQ(a.replicas[0].type, "s3");
  EXPECT_EQ(a.replicas[0].bucket, "my-bucket");
  EXPECT_EQ(a.replicas[0].path, "backups/app");
  EXPECT_EQ(a.replicas[0].line, 6);

  const DbConfig& b = c->dbs[1];
  EXPECT_EQ(b.meta_path, "/srv/.other.db-litestream");
  EXPECT_FALSE(b.meta_path_explicit);
  ASSERT_EQ(b.replicas.size(), 2u);
  EXPECT_EQ(b.replicas[0].name, "local");
  EXPECT_EQ(b.replicas[0].type, "file");
  EXPECT_EQ(b.replicas[0].path, "/mnt/backup/other");
  EXPECT_EQ(b.replicas[0].line, 10);
  EXPECT_EQ(b.replicas[1].type, "s3");
  EXPECT_EQ(b.replicas[1].bucket, "second-bucket");
  EXPECT_EQ(b.replicas[1].path, "other");
  EXPECT_EQ(b.replicas[1].host, "minio.internal:9000");

  EXPECT_THAT(c->referenced_env_vars, ElementsAre("DATA"));
  EXPECT_TRUE(c->missing_env_vars.empty());
  EXPECT_TRUE(c->secret_env_vars.empty());  // used only as a database path
  EXPECT_THAT(c->backup_metadata,
              ::testing::IsSupersetOf({"s3://my-bucket/backups/app", "my-bucket", "backups/app",
                                       "/mnt/backup/other", "second-bucket"}));
  const ConfigKey* retention = find_key(*c, "dbs[0].replica.retention");
  ASSERT_NE(retention, nullptr);
  EXPECT_EQ(retention->line, 7);
  EXPECT_EQ(retention->value, "72h");
  ASSERT_NE(find_key(*c, "dbs[1].replicas[1].endpoint"), nullptr);
  EXPECT_EQ(find_key(*c, "dbs[1].replicas[1].endpoint")->line, 15);
  EXPECT_FALSE(c->has_cleartext_credentials);
  // 0.5 supports one replica per database; the second db has two.
  ASSERT_EQ(c->issues.size(), 1u);
  EXPECT_EQ(c->issues[0].line, 8);
  EXPECT_EQ(c->issues[0].message, "dbs[1]: 2 replicas; Litestream 0.5 supports one per database");
}

TEST(LitestreamConfigTest, DefaultMetaPathFollowsLitestream) {
  EXPECT_EQ(default_meta_path("/d/app.db"), "/d/.app.db-litestream");
  EXPECT_EQ(default_meta_path("app.db"), ".app.db-litestream");
  EXPECT_EQ(default_meta_path("/app.db"), "/.app.db-litestream");
  EXPECT_EQ(default_meta_path("/d//x/../app.db"), "/d/.app.db-litestream");
}

TEST(LitestreamConfigTest, MetaDirForDirectoryEntries) {
  const std::string yaml =
      "dbs:\n"
      "  - dir: /srv/tenants\n"
      "    pattern: \"*.db\"\n"
      "    recursive: true\n"
      "    meta-dir: /var/lib/litestream\n"
      "    replica:\n"
      "      url: s3://bucket/tenants\n"
      "  - dir: /srv/other\n"
      "    pattern: \"*.db\"\n"
      "    meta-path: /var/meta\n"
      "    replica: {url: \"file:///mnt/b\"}\n"
      "  - dir: /srv/plain\n"
      "    pattern: \"*.db\"\n"
      "    replica: {path: /mnt/c}\n";
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  ASSERT_EQ(c->dbs.size(), 3u);
  const DbConfig& d = c->dbs[0];
  EXPECT_EQ(d.dir, "/srv/tenants");
  EXPECT_EQ(d.pattern, "*.db");
  EXPECT_TRUE(d.recursive);
  EXPECT_TRUE(d.meta_path_explicit);
  EXPECT_EQ(d.meta_path, "");
  EXPECT_EQ(meta_path_for_dir_entry(d, "a/b.db"), "/var/lib/litestream/a/b.db-litestream");
  EXPECT_EQ(meta_path_for_dir_entry(c->dbs[1], "a/b.db"), "/var/meta/a/.b.db-litestream");
  EXPECT_EQ(meta_path_for_dir_entry(c->dbs[1], "b.db"), "/var/meta/.b.db-litestream");
  EXPECT_EQ(c->dbs[1].replicas[0].type, "file");
  EXPECT_EQ(c->dbs[1].replicas[0].path, "/mnt/b");
  EXPECT_FALSE(c->dbs[2].meta_path_explicit);
  EXPECT_EQ(meta_path_for_dir_entry(c->dbs[2], "x/y.db"), "/srv/plain/x/.y.db-litestream");
  EXPECT_TRUE(c->issues.empty());
}

TEST(LitestreamConfigTest, MetaDirWithoutDirIsAnIssue) {
  const auto c = parse_litestream_config(
      "dbs:\n  - path: /d/a.db\n    meta-dir: /m\n    replica: {path: /b}\n", env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->dbs[0].meta_path, "/d/.a.db-litestream");
  EXPECT_FALSE(c->dbs[0].meta_path_explicit);
  ASSERT_EQ(c->issues.size(), 1u);
  EXPECT_EQ(
      c->issues[0].message,
      "dbs[0]: 'meta-dir' needs 'dir'; Litestream 0.5.13+ refuses it, older versions ignore it");
}

TEST(LitestreamConfigTest, MissingEnvVarExpandsToEmpty) {
  const auto c = parse_litestream_config(
      "dbs:\n  - path: ${NOPE}\n    replicas:\n      - path: $BACKUP_DIR/x\n", env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->dbs[0].path, "");
  EXPECT_EQ(c->dbs[0].replicas[0].path, "/x");
  EXPECT_THAT(c->referenced_env_vars, ElementsAre("NOPE", "BACKUP_DIR"));
  EXPECT_THAT(c->missing_env_vars, ElementsAre("NOPE", "BACKUP_DIR"));
  ASSERT_FALSE(c->issues.empty());
  EXPECT_EQ(c->issues[0].line, 2);
  EXPECT_EQ(c->issues[0].message,
            "dbs[0]: neither 'path' nor 'dir' is set (an unset environment variable?)");
}

TEST(LitestreamConfigTest, ExpansionFollowsGoOsExpand) {
  const auto c =
      parse_litestream_config("addr: \"a$$b${}c$1d$-e${X}f$ g\"\n", env_of({{"X", "x"}}), "l.yml");
  ASSERT_TRUE(c.has_value());
  // $$, $1 and $- are shell specials (""), ${} is dropped, "$ " stays.
  EXPECT_EQ(c->addr, "abcdexf$ g");
  EXPECT_THAT(c->referenced_env_vars, ElementsAre("X"));
  ASSERT_EQ(c->issues.size(), 3u);
  EXPECT_THAT(c->issues[0].message, HasSubstr("\"$$\" is expanded by Litestream"));
}

TEST(LitestreamConfigTest, NoExpandEnvKeepsReferences) {
  ConfigParseOptions opts;
  opts.expand_env = false;
  const auto c =
      parse_litestream_config("dbs:\n  - path: ${DATA}/a.db\n    replica:\n      path: /b\n",
                              env_of({{"DATA", "/x"}}), "l.yml", opts);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->dbs[0].path, "${DATA}/a.db");
  EXPECT_TRUE(c->referenced_env_vars.empty());
}

TEST(LitestreamConfigTest, MultiLineEnvValueKeepsOriginalLineNumbers) {
  const std::string yaml =
      "x: \"${TWO_LINES}\"\n"  // 1: expands to three lines
      "dbs:\n"                 // 2
      "  - path: /a.db\n"      // 3
      "    replica:\n"         // 4
      "   bad: [x]\n"          // 5: malformed
      "y: 1\n";                // 6
  const auto c =
      parse_litestream_config(yaml, env_of({{"TWO_LINES", "a\nb\nc"}}), "litestream.yml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(c.error().to_string(), "litestream.yml:5: end of sequence not found");
}

TEST(LitestreamConfigTest, MalformedYamlReportsLine) {
  const std::string yaml =
      "dbs:\n"                   // 1
      "  - path: /d/app.db\n"    // 2
      "    replicas:\n"          // 3
      "      - url: s3://b/p\n"  // 4
      "     bad: [unclosed\n";   // 5
  const auto c = parse_litestream_config(yaml, env_of({}), "litestream.yml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, util::ErrorCode::invalid_input);
  EXPECT_EQ(c.error().to_string(), "litestream.yml:5: end of map not found");
}

TEST(LitestreamConfigTest, DbsMustBeAList) {
  const auto c = parse_litestream_config("addr: :9090\ndbs:\n  path: /d/app.db\n", env_of({}),
                                         "litestream.yml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().to_string(),
            "litestream.yml:2: dbs: expected a list of databases, found a mapping");
}

TEST(LitestreamConfigTest, StructuralErrorsNameTheKeyAndLine) {
  EXPECT_EQ(parse_litestream_config("- a\n- b\n", env_of({}), "l.yml").error().to_string(),
            "l.yml:1: expected a mapping at the top level, found a list");
  EXPECT_EQ(
      parse_litestream_config("dbs:\n  - /d/app.db\n", env_of({}), "l.yml").error().to_string(),
      "l.yml:2: dbs[0]: expected a mapping, found a scalar");
  EXPECT_EQ(
      parse_litestream_config("dbs:\n  - path: [a]\n", env_of({}), "l.yml").error().to_string(),
      "l.yml:2: dbs[0].path: expected a string, found a list");
  EXPECT_EQ(parse_litestream_config("dbs:\n  - path: /a\n    replicas:\n      - s3://b\n",
                                    env_of({}), "l.yml")
                .error()
                .to_string(),
            "l.yml:4: dbs[0].replicas[0]: expected a mapping, found a scalar");
  EXPECT_EQ(
      parse_litestream_config("dbs:\n  - path: /a\n    replica: s3://b\n", env_of({}), "l.yml")
          .error()
          .to_string(),
      "l.yml:3: dbs[0].replica: expected a mapping, found a scalar");
}

TEST(LitestreamConfigTest, EmptyConfigHasNoDatabases) {
  const auto c = parse_litestream_config("# nothing\n", env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->dbs.empty());
}

TEST(LitestreamConfigTest, UrlStyleReplicasPerProvider) {
  const std::string yaml =
      "dbs:\n"
      "  - path: /a.db\n"
      "    replicas:\n"
      "      - url: s3://bkt.s3.eu-west-1.amazonaws.com/p/q/\n"
      "      - url: s3://bkt/db?endpoint=https://s3.example.com&region=auto\n"
      "      - url: gs://gbucket/x\n"
      "      - url: abs://account@container/y\n"
      "      - url: sftp://user@backup.example.com:22/srv/backups\n"
      "      - url: webdavs://dav.example.com/remote\n"
      "      - url: nats://nats.example.com:4222/objbucket\n"
      "      - url: s3://root-only\n";
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  const auto& r = c->dbs[0].replicas;
  ASSERT_EQ(r.size(), 8u);
  EXPECT_EQ(r[0].bucket, "bkt");
  EXPECT_EQ(r[0].region, "eu-west-1");
  EXPECT_EQ(r[0].path, "p/q");
  EXPECT_EQ(r[1].bucket, "bkt");
  EXPECT_EQ(r[1].endpoint, "https://s3.example.com");
  EXPECT_EQ(r[1].region, "auto");
  EXPECT_EQ(r[1].host, "s3.example.com");
  EXPECT_EQ(r[2].type, "gs");
  EXPECT_EQ(r[2].bucket, "gbucket");
  EXPECT_EQ(r[3].type, "abs");
  EXPECT_EQ(r[3].bucket, "container");
  EXPECT_EQ(r[3].path, "y");
  EXPECT_EQ(r[4].type, "sftp");
  EXPECT_EQ(r[4].host, "backup.example.com:22");
  EXPECT_EQ(r[4].path, "/srv/backups");
  EXPECT_EQ(r[5].type, "webdav");
  EXPECT_EQ(r[5].host, "dav.example.com");
  EXPECT_EQ(r[6].type, "nats");
  EXPECT_EQ(r[6].bucket, "objbucket");
  EXPECT_EQ(r[7].bucket, "root-only");
  EXPECT_EQ(r[7].path, "");
}

TEST(LitestreamConfigTest, YamlMergeKeysAreHonoured) {
  const std::string yaml =
      "shared: &s3\n"
      "  type: s3\n"
      "  bucket: merged-bucket\n"
      "dbs:\n"
      "  - path: /a.db\n"
      "    replica:\n"
      "      <<: *s3\n"
      "      path: a\n";
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->dbs[0].replicas[0].type, "s3");
  EXPECT_EQ(c->dbs[0].replicas[0].bucket, "merged-bucket");
}

// yaml-cpp's Node::operator= rewrites the document instead of rebinding; assigning the
// later of two duplicate keys over the earlier freed the map being walked (found by
// fuzz_litestream_config under ASan; `make asan` runs this test).
TEST(LitestreamConfigTest, DuplicateKeysThroughSelfAliasAreSafe) {
  for (const std::string yaml : {"&m {a: *m, a: 1}\n", "dbs: &m [{path: /x, path: *m}]\n",
                                 "&m {dbs: *m, dbs: 1}\n"}) {
    const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
    EXPECT_TRUE(c.has_value() || !c.error().to_string().empty()) << yaml;
  }
}

TEST(LitestreamConfigTest, DuplicateKeyLastOneWins) {
  const std::string yaml =
      "dbs:\n"
      "  - path: /first.db\n"
      "    path: /second.db\n"
      "dbs:\n"
      "  - path: /third.db\n";
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  ASSERT_EQ(c->dbs.size(), 1u);
  EXPECT_EQ(c->dbs[0].path, "/third.db");
  const auto d = parse_litestream_config("dbs:\n  - path: /first.db\n    path: /second.db\n",
                                         env_of({}), "l.yml");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dbs[0].path, "/second.db");
}

TEST(LitestreamConfigTest, AliasBombIsRefused) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().to_string(),
            "l.yml: config is too complex (more than 200000 nodes or 64 levels; YAML aliases?)");
}

TEST(LitestreamConfigTest, OversizedInputIsRefused) {
  const std::string big(kMaxConfigBytes + 1, '#');
  EXPECT_EQ(parse_litestream_config(big, env_of({}), "l.yml").error().to_string(),
            "l.yml: config is larger than 4 MiB");
}

TEST(LitestreamConfigTest, SecretsLiteralAndFromEnv) {
  const std::string yaml =
      "access-key-id: AKIAGLOBALCANARY0001\n"                  // 1 literal
      "secret-access-key: ${AWS_SECRET_CANARY}\n"              // 2 env
      "dbs:\n"                                                 // 3
      "  - path: /a.db\n"                                      // 4
      "    replica:\n"                                         // 5
      "      url: sftp://bob:URLPASS-CANARY@host.example/x\n"  // 6
      "      age:\n"                                           // 7
      "        identities:\n"                                  // 8
      "          - AGE-SECRET-KEY-1CANARY\n";                  // 9
  const auto c =
      parse_litestream_config(yaml, env_of({{"AWS_SECRET_CANARY", "ENV-SECRET-CANARY"}}), "l.yml");
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  EXPECT_THAT(c->secret_values,
              ::testing::UnorderedElementsAre("AKIAGLOBALCANARY0001", "ENV-SECRET-CANARY",
                                              "URLPASS-CANARY", "AGE-SECRET-KEY-1CANARY"));
  EXPECT_TRUE(c->has_cleartext_credentials);
  EXPECT_THAT(c->secret_env_vars, ElementsAre("AWS_SECRET_CANARY"));
  EXPECT_EQ(find_key(*c, "access-key-id")->value, "[REDACTED]");
  EXPECT_EQ(find_key(*c, "secret-access-key")->value, "[REDACTED]");
  EXPECT_EQ(find_key(*c, "dbs[0].replica.age.identities[0]")->value, "[REDACTED]");
  EXPECT_EQ(find_key(*c, "dbs[0].replica.age.identities[0]")->line, 9);
  EXPECT_EQ(find_key(*c, "dbs[0].replica.url")->value, "sftp://bob:[REDACTED]@host.example/x");
  for (const auto& k : c->keys) {
    EXPECT_EQ(k.value.find("CANARY"), std::string::npos) << k.key_path;
  }
}

TEST(LitestreamConfigTest, CredentialsOnlyFromEnvAreNotCleartext) {
  const std::string yaml =
      "dbs:\n"
      "  - path: /a.db\n"
      "    replica:\n"
      "      url: s3://${BUCKET}/p\n"
      "      access-key-id: ${KEY_ID}\n"
      "      secret-access-key: \"${SECRET}\"\n";
  const auto c = parse_litestream_config(
      yaml, env_of({{"BUCKET", "env-bucket"}, {"KEY_ID", "id-value"}, {"SECRET", "secret-value"}}),
      "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->has_cleartext_credentials);
  EXPECT_THAT(c->secret_env_vars, ElementsAre("KEY_ID", "SECRET"));
  EXPECT_EQ(c->dbs[0].replicas[0].bucket, "env-bucket");
  EXPECT_THAT(c->backup_metadata, ::testing::Contains("env-bucket"));
}

TEST(LitestreamConfigTest, EnvVarInACommentIsTreatedAsSecret) {
  const auto c = parse_litestream_config("# token is ${API_TOKEN}\ndbs: []\n",
                                         env_of({{"API_TOKEN", "t0ken-value"}}), "l.yml");
  ASSERT_TRUE(c.has_value());
  EXPECT_THAT(c->secret_env_vars, ElementsAre("API_TOKEN"));
}

TEST(LitestreamConfigTest, ReplicaConflictsBecomeIssues) {
  const std::string yaml =
      "dbs:\n"
      "  - path: /a.db\n"
      "    replica: {path: /x}\n"
      "    replicas:\n"
      "      - url: s3://b/p\n"
      "        path: also\n"
      "      - path: s3://wrong/place\n";
  const auto c = parse_litestream_config(yaml, env_of({}), "l.yml");
  ASSERT_TRUE(c.has_value());
  std::vector<std::string> messages;
  for (const auto& i : c->issues) messages.push_back(i.message);
  EXPECT_THAT(
      messages,
      ElementsAre(
          "dbs[0].replicas[0]: both 'url' and 'path' are set; Litestream refuses this",
          "dbs[0].replicas[1]: 'path' holds a URL; Litestream refuses it (use 'url')",
          "dbs[0]: both 'replica' and 'replicas' are set; Litestream 0.5 refuses this, 0.3 reads "
          "only 'replicas'"));
}

TEST(LitestreamConfigTest, ParseReplicaUrlSplitsUserinfo) {
  const auto u = parse_replica_url("S3://us%65r:p%40ss@host:9000/a%20b?x=1#frag");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->scheme, "s3");
  EXPECT_EQ(u->user, "user");
  EXPECT_TRUE(u->has_password);
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "host:9000");
  EXPECT_EQ(u->path, "/a b");
  EXPECT_EQ(u->query, "x=1");
  EXPECT_FALSE(parse_replica_url("/var/backups").has_value());
  EXPECT_FALSE(parse_replica_url("s3:bucket").has_value());
}

TEST(LitestreamConfigTest, CleanPathIsLexical) {
  EXPECT_EQ(clean_path(""), ".");
  EXPECT_EQ(clean_path("/../a/./b//c/.."), "/a/b");
  EXPECT_EQ(clean_path("../a/../../b"), "../../b");
  EXPECT_EQ(clean_path("//"), "/");
}

}  // namespace
}  // namespace ltxguard::formats
