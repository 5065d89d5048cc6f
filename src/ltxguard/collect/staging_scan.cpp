#include "ltxguard/collect/staging_scan.hpp"

#include "ltxguard/sys/file_byte_source.hpp"

namespace ltxguard::collect {
namespace {

util::Result<std::unique_ptr<formats::ByteSource>> open_file(const std::string& path) {
  auto src = sys::FileByteSource::open(path);
  if (!src) return util::fail(src.error());
  return std::unique_ptr<formats::ByteSource>(std::move(*src));
}

std::string base_name(const std::string& rel) {
  const size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

}  // namespace

StagingScan scan_staging(const sys::FileSystem& fs, const std::string& meta_path, const ScanOptions& opts) {
  StagingScan scan;
  scan.meta_path = meta_path;
  auto st = fs.lstat(meta_path);
  if (!st) {
    if (st.error().code != util::ErrorCode::not_found) scan.errors.push_back(st.error());
    return scan;
  }
  if (st->type != sys::FileType::directory) {
    scan.errors.push_back(util::make_error(util::ErrorCode::unsafe_path, meta_path,
                                           "meta dir is not a directory (a symlink or a file); not scanned"));
    return scan;
  }
  scan.exists = true;
  scan.dev = st->dev;

  sys::WalkResult walk = sys::walk_tree(fs, meta_path, opts.max_entries, opts.max_depth);
  scan.truncated = walk.truncated;
  scan.errors = std::move(walk.errors);
  const ByteSourceOpener& opener = opts.open_bytes ? opts.open_bytes : ByteSourceOpener(open_file);

  scan.files.reserve(walk.entries.size());
  bool has_v03 = false;
  bool has_v05 = false;
  for (auto& e : walk.entries) {
    if (e.stat.type == sys::FileType::directory) continue;
    StagingFile f;
    f.rel_path = e.rel_path;
    f.path = meta_path + "/" + e.rel_path;
    f.stat = e.stat;
    f.name = formats::classify_staging_path(e.rel_path);
    // A symlink or fifo with a staging name is still not a staging file: never trust it.
    if (e.stat.type != sys::FileType::regular) f.name = formats::StagingName{};
    if (e.stat.type == sys::FileType::regular) {
      scan.total_bytes += e.stat.size_bytes;
      scan.allocated_bytes += e.stat.allocated_bytes;
      ++scan.file_count;
    }
    if (f.name.kind == formats::StagingKind::unknown) ++scan.unknown_count;
    if (f.name.layout == formats::Layout::v0_3) has_v03 = true;
    if (f.name.layout == formats::Layout::v0_5) has_v05 = true;
    if (f.name.in_flight()) scan.in_flight_bytes += e.stat.size_bytes;
    const bool wanted = f.name.kind == formats::StagingKind::ltx_tmp ||
                        (f.name.kind == formats::StagingKind::ltx && !opts.inspect_in_flight_only);
    if (opts.inspect_ltx && wanted) {
      auto src = opener(f.path);
      if (src) {
        f.ltx = formats::inspect_ltx(**src, base_name(f.rel_path), opts.ltx_depth);
      } else {
        scan.errors.push_back(src.error());
      }
    }
    scan.files.push_back(std::move(f));
  }
  // 0.5 is what runs when an ltx/ tree exists; 0.3 generations next to it are leftovers.
  scan.layout = has_v05 ? formats::Layout::v0_5 : has_v03 ? formats::Layout::v0_3 : formats::Layout::none;
  scan.mixed_layouts = has_v03 && has_v05;
  return scan;
}

uint64_t staging_bytes(const sys::FileSystem& fs, const std::string& meta_path) {
  sys::WalkResult walk = sys::walk_tree(fs, meta_path, 2'000'000, 6);
  uint64_t total = 0;
  for (const auto& e : walk.entries) {
    if (e.stat.type == sys::FileType::regular) total += e.stat.size_bytes;
  }
  return total;
}

std::optional<uint64_t> remaining_staging_bytes(const StagingScan& scan) {
  std::optional<uint64_t> remaining;
  for (const auto& f : scan.files) {
    if (f.name.kind != formats::StagingKind::ltx_tmp || !f.ltx || !f.ltx->header) continue;
    if (f.ltx->expected_final_bytes == 0) continue;  // not a snapshot: final size unknown
    const uint64_t left =
        f.ltx->expected_final_bytes > f.stat.size_bytes ? f.ltx->expected_final_bytes - f.stat.size_bytes : 0;
    remaining = remaining.value_or(0) + left;
  }
  return remaining;
}

}  // namespace ltxguard::collect
