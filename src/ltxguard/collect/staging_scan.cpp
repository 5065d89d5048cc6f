#include "ltxguard/collect/staging_scan.hpp"

#include <algorithm>

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

bool in_flight(formats::StagingKind kind) {
  return kind == formats::StagingKind::shadow_wal_tmp || kind == formats::StagingKind::ltx_tmp;
}

// The order of a depth-first walk that lists each directory sorted by name: path components
// compared in turn, i.e. strings compared with '/' below every byte a name can hold.
bool walk_order_less(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i] == '/') return true;
    if (b[i] == '/') return false;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

void sort_walk_order(std::vector<StagingFile>& files) {
  std::sort(files.begin(), files.end(), [](const StagingFile& a, const StagingFile& b) {
    return walk_order_less(a.rel_path, b.rel_path);
  });
}

// "a/b/c" -> {"a/b", "c"}; "c" -> {"", "c"}.
std::pair<std::string_view, std::string_view> split_rel(std::string_view rel) {
  const size_t slash = rel.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

int depth_of(std::string_view rel) {
  return 1 + static_cast<int>(std::count(rel.begin(), rel.end(), '/'));
}

// A symlink or fifo with a staging name is still not a staging file: never trust it.
formats::StagingName classify(std::string_view rel, sys::FileType type) {
  if (type != sys::FileType::regular) return formats::StagingName{};
  return formats::classify_staging_path(rel);
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
    f.name = classify(e.rel_path, e.stat.type);
    if (e.stat.type == sys::FileType::regular) {
      scan.total_bytes += e.stat.size_bytes;
      scan.allocated_bytes += e.stat.allocated_bytes;
      ++scan.file_count;
    }
    if (f.name.kind == formats::StagingKind::unknown) ++scan.unknown_count;
    if (f.name.layout == formats::Layout::v0_3) has_v03 = true;
    if (f.name.layout == formats::Layout::v0_5) has_v05 = true;
    if (f.name.in_flight()) scan.in_flight_bytes += e.stat.size_bytes;
    if (f.name.kind == formats::StagingKind::ltx) ++scan.ltx_count;
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

formats::Layout staging_layout(const sys::FileSystem& fs, const std::string& meta_path,
                               const ScanOptions& opts) {
  auto st = fs.lstat(meta_path);
  if (!st || st->type != sys::FileType::directory) return formats::Layout::none;
  bool has_v03 = false;
  bool has_v05 = false;
  (void)sys::visit_tree(fs, meta_path, opts.max_entries, opts.max_depth,
                        [&](std::string_view rel, const sys::FileStat& e) {
                          const formats::Layout l = classify(rel, e.type).layout;
                          has_v03 = has_v03 || l == formats::Layout::v0_3;
                          has_v05 = has_v05 || l == formats::Layout::v0_5;
                        });
  return has_v05 ? formats::Layout::v0_5 : has_v03 ? formats::Layout::v0_3 : formats::Layout::none;
}

uint64_t staging_bytes(const sys::FileSystem& fs, const std::string& meta_path) {
  uint64_t total = 0;
  (void)sys::visit_tree(fs, meta_path, 2'000'000, 6,
                        [&total](std::string_view, const sys::FileStat& st) {
                          if (st.type == sys::FileType::regular) total += st.size_bytes;
                        });
  return total;
}

// ---- StagingTracker ----

StagingTracker::StagingTracker(const sys::FileSystem& fs, std::string meta_path, ScanOptions opts)
    : fs_(fs), meta_path_(std::move(meta_path)), opts_(std::move(opts)) {
  opts_.inspect_in_flight_only = true;
  if (!opts_.open_bytes) opts_.open_bytes = open_file;
}

StagingTracker::~StagingTracker() = default;

void StagingTracker::forget() {
  dirs_.clear();
  known_ = false;
  entries_ = 0;
  walk_truncated_ = false;
  walk_errors_.clear();
  watch_.reset();
}

void StagingTracker::put(std::string_view rel_path, const sys::FileStat& st) {
  const auto [dir_name, name] = split_rel(rel_path);
  auto dir = dirs_.find(dir_name);
  if (dir == dirs_.end()) dir = dirs_.emplace(std::string(dir_name), Dir{}).first;
  Dir& entries = dir->second;
  // A walk hands each directory's names over in order: appending is the common case.
  auto it = !entries.empty() && entries.back().name < name
                ? entries.end()
                : std::lower_bound(entries.begin(), entries.end(), name,
                                   [](const Entry& e, std::string_view n) { return e.name < n; });
  if (it == entries.end() || it->name != name) {
    if (entries_ >= opts_.max_entries) {
      scan_.truncated = true;
      return;
    }
    ++entries_;
    it = entries.insert(it, Entry{});
    it->name = std::string(name);
  }
  const formats::StagingName n = classify(rel_path, st.type);
  it->size_bytes = st.size_bytes;
  it->allocated_bytes = st.allocated_bytes;
  it->mtime_ns = st.mtime_ns;
  it->type = st.type;
  it->kind = n.kind;
  it->layout = n.layout;
}

void StagingTracker::rewalk() {
  dirs_.clear();
  entries_ = 0;
  if (!watch_) watch_ = fs_.watch_tree(meta_path_);
  const sys::WalkVisitor visit = [this](std::string_view rel, const sys::FileStat& st) {
    if (st.type == sys::FileType::directory) {
      ++entries_;  // directories count against max_entries, as in the walk
      return;
    }
    put(rel, st);
  };
  sys::WalkResult walk =
      watch_ ? watch_->rewalk(opts_.max_entries, opts_.max_depth, visit)
             : sys::visit_tree(fs_, meta_path_, opts_.max_entries, opts_.max_depth, visit);
  walk_truncated_ = walk.truncated;
  walk_errors_ = std::move(walk.errors);
  known_ = true;
  updates_since_walk_ = 0;
  ++walks_;
}

void StagingTracker::apply(const std::vector<std::string>& rel_paths) {
  for (const auto& rel : rel_paths) {
    if (rel.empty() || depth_of(rel) > opts_.max_depth) continue;
    auto st = fs_.lstat(meta_path_ + "/" + rel);
    if (st && st->type != sys::FileType::directory) {
      put(rel, *st);
      continue;
    }
    // Gone, unreadable (reported, as the walk would) or now a directory (the feed asks for a
    // walk when a directory appears): no longer a file here.
    if (!st && st.error().code != util::ErrorCode::not_found) scan_.errors.push_back(st.error());
    const auto [dir_name, name] = split_rel(rel);
    const auto dir = dirs_.find(dir_name);
    if (dir == dirs_.end()) continue;
    Dir& entries = dir->second;
    const auto it = std::lower_bound(entries.begin(), entries.end(), name,
                                     [](const Entry& e, std::string_view n) { return e.name < n; });
    if (it == entries.end() || it->name != name) continue;
    entries.erase(it);
    --entries_;
  }
}

StagingFile StagingTracker::record(const std::string& dir, const Entry& e) const {
  StagingFile f;
  f.rel_path = dir.empty() ? e.name : dir + "/" + e.name;
  f.path = meta_path_ + "/" + f.rel_path;
  f.name = classify(f.rel_path, e.type);
  f.stat.dev = scan_.dev;
  f.stat.type = e.type;
  f.stat.size_bytes = e.size_bytes;
  f.stat.allocated_bytes = e.allocated_bytes;
  f.stat.mtime_ns = e.mtime_ns;
  return f;
}

void StagingTracker::recount() {
  bool has_v03 = false;
  bool has_v05 = false;
  for (const auto& [dir, entries] : dirs_) {
    for (const Entry& e : entries) {
      if (e.type == sys::FileType::regular) {
        scan_.total_bytes += e.size_bytes;
        scan_.allocated_bytes += e.allocated_bytes;
        ++scan_.file_count;
      }
      if (e.kind == formats::StagingKind::unknown) ++scan_.unknown_count;
      if (e.kind == formats::StagingKind::ltx) ++scan_.ltx_count;
      if (e.layout == formats::Layout::v0_3) has_v03 = true;
      if (e.layout == formats::Layout::v0_5) has_v05 = true;
      if (!in_flight(e.kind)) continue;
      scan_.in_flight_bytes += e.size_bytes;
      StagingFile f = record(dir, e);
      if (opts_.inspect_ltx && e.kind == formats::StagingKind::ltx_tmp) {
        auto src = opts_.open_bytes(f.path);
        if (src) {
          f.ltx = formats::inspect_ltx(**src, e.name, opts_.ltx_depth);
        } else {
          scan_.errors.push_back(src.error());
        }
      }
      scan_.files.push_back(std::move(f));
    }
  }
  sort_walk_order(scan_.files);
  scan_.layout = has_v05   ? formats::Layout::v0_5
                 : has_v03 ? formats::Layout::v0_3
                           : formats::Layout::none;
  scan_.mixed_layouts = has_v03 && has_v05;
}

const StagingScan& StagingTracker::update() {
  scan_ = StagingScan{};
  scan_.meta_path = meta_path_;
  auto st = fs_.lstat(meta_path_);
  if (!st || st->type != sys::FileType::directory) {
    forget();
    if (!st && st.error().code != util::ErrorCode::not_found) scan_.errors.push_back(st.error());
    if (st) {
      scan_.errors.push_back(
          util::make_error(util::ErrorCode::unsafe_path, meta_path_,
                           "meta dir is not a directory (a symlink or a file); not scanned"));
    }
    return scan_;
  }
  scan_.exists = true;
  scan_.dev = st->dev;
  // A meta dir removed and made again is another directory: what is known is of the old one.
  const bool replaced = known_ && (st->ino != root_ino_ || st->dev != root_dev_);
  root_ino_ = st->ino;
  root_dev_ = st->dev;
  bool walk = !known_ || replaced || !watch_ || ++updates_since_walk_ >= kStagingRewalkUpdates;
  if (!walk) {
    const sys::TreeChanges changes = watch_->poll();
    walk = changes.resync;
    if (!walk) apply(changes.rel_paths);
  }
  if (walk) rewalk();
  scan_.truncated = scan_.truncated || walk_truncated_;
  scan_.errors.insert(scan_.errors.begin(), walk_errors_.begin(), walk_errors_.end());
  recount();
  return scan_;
}

StagingScan StagingTracker::full_scan() const {
  StagingScan out = scan_;
  out.files.clear();
  out.files.reserve(entries_);
  for (const auto& [dir, entries] : dirs_) {
    for (const Entry& e : entries) {
      if (in_flight(e.kind)) continue;  // taken inspected from the update below
      out.files.push_back(record(dir, e));
    }
  }
  out.files.insert(out.files.end(), scan_.files.begin(), scan_.files.end());
  sort_walk_order(out.files);
  return out;
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
