// What a path under a Litestream meta dir (or a file replica) is, from its name alone:
// 0.3 shadow WAL segments and generations, 0.5 LTX files by level. Names that match
// neither layout are `unknown`, never guessed at.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ltxguard::formats {

enum class Layout { none, v0_3, v0_5 };
[[nodiscard]] const char* to_string(Layout);  // "none", "0.3", "0.5"

enum class StagingKind {
  shadow_wal,        // 0.3 local: generations/<gen>/wal/<index>.wal
  shadow_wal_tmp,    // 0.3 local: generations/<gen>/wal/<index>.wal.tmp (in flight)
  generation_name,   // 0.3 local: the `generation` file naming the current generation
  replica_wal,       // 0.3 replica: generations/<gen>/wal/<index>_<offset>.wal.lz4
  replica_snapshot,  // 0.3 replica: generations/<gen>/snapshots/<index>.snapshot.lz4
  ltx,               // 0.5: ltx/<level>/<min>-<max>.ltx
  ltx_tmp,           // 0.5: ltx/<level>/<min>-<max>.ltx.tmp (in flight, or left by a crash)
  unknown,
};
[[nodiscard]] const char* to_string(StagingKind);  // "shadow_wal", "ltx_tmp", ...

struct StagingName {
  StagingKind kind = StagingKind::unknown;
  Layout layout = Layout::none;
  std::string generation;  // 0.3: 16 hex digits
  uint32_t wal_index = 0;  // 0.3: segment index
  uint32_t wal_offset = 0; // 0.3 replica segments only
  int level = -1;          // 0.5: LTX level directory (0..9)
  uint64_t min_txid = 0;   // 0.5
  uint64_t max_txid = 0;   // 0.5
  [[nodiscard]] bool in_flight() const {
    return kind == StagingKind::shadow_wal_tmp || kind == StagingKind::ltx_tmp;
  }
};

// rel_path is relative to the meta dir (or replica root), '/'-separated, e.g.
// "ltx/0/0000000000000001-0000000000000001.ltx.tmp". Pure; never touches the disk.
[[nodiscard]] StagingName classify_staging_path(std::string_view rel_path);

}  // namespace ltxguard::formats
