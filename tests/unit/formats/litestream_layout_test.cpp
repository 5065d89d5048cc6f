#include "ltxguard/formats/litestream_layout.hpp"

#include <gtest/gtest.h>

namespace ltxguard::formats {
namespace {

TEST(LitestreamLayoutTest, ShadowWalSegmentOf03) {
  const auto n = classify_staging_path("generations/3e63074c281724ee/wal/0000001f.wal");
  EXPECT_EQ(n.kind, StagingKind::shadow_wal);
  EXPECT_EQ(n.layout, Layout::v0_3);
  EXPECT_EQ(n.generation, "3e63074c281724ee");
  EXPECT_EQ(n.wal_index, 31u);
  EXPECT_FALSE(n.in_flight());
}

TEST(LitestreamLayoutTest, ShadowWalTmpIsInFlight) {
  const auto n = classify_staging_path("generations/3e63074c281724ee/wal/00000002.wal.tmp");
  EXPECT_EQ(n.kind, StagingKind::shadow_wal_tmp);
  EXPECT_TRUE(n.in_flight());
}

TEST(LitestreamLayoutTest, ReplicaFilesOf03) {
  auto n = classify_staging_path("generations/3e63074c281724ee/wal/00000003_00004080.wal.lz4");
  EXPECT_EQ(n.kind, StagingKind::replica_wal);
  EXPECT_EQ(n.wal_index, 3u);
  EXPECT_EQ(n.wal_offset, 0x4080u);
  n = classify_staging_path("generations/3e63074c281724ee/snapshots/00000000.snapshot.lz4");
  EXPECT_EQ(n.kind, StagingKind::replica_snapshot);
}

TEST(LitestreamLayoutTest, GenerationFile) {
  EXPECT_EQ(classify_staging_path("generation").kind, StagingKind::generation_name);
}

TEST(LitestreamLayoutTest, LtxFilesOf05ByLevel) {
  auto n = classify_staging_path("ltx/0/0000000000000001-0000000000000001.ltx.tmp");
  EXPECT_EQ(n.kind, StagingKind::ltx_tmp);
  EXPECT_EQ(n.layout, Layout::v0_5);
  EXPECT_EQ(n.level, 0);
  EXPECT_EQ(n.min_txid, 1u);
  EXPECT_TRUE(n.in_flight());
  n = classify_staging_path("ltx/9/0000000000000001-00000000000000ff.ltx");
  EXPECT_EQ(n.kind, StagingKind::ltx);
  EXPECT_EQ(n.level, 9);
  EXPECT_EQ(n.max_txid, 255u);
}

TEST(LitestreamLayoutTest, AnythingElseIsUnknown) {
  for (const char* p : {"", "app.db", "ltx/0/1-1.ltx", "ltx/10/0000000000000001-0000000000000001.ltx",
                        "ltx/0/0000000000000001-0000000000000001.LTX",
                        "ltx/0/0000000000000001_0000000000000001.ltx",
                        "ltx/0/000000000000000G-0000000000000001.ltx",
                        "generations/xyz/wal/00000000.wal", "generations/3e63074c281724ee/wal/0.wal",
                        "generations/3e63074c281724ee/wal/00000000.wal/x",
                        "generations/3e63074c281724ee/other/00000000.wal", "ltx/0/../../etc/passwd",
                        "generationx"}) {
    EXPECT_EQ(classify_staging_path(p).kind, StagingKind::unknown) << p;
  }
}

}  // namespace
}  // namespace ltxguard::formats
