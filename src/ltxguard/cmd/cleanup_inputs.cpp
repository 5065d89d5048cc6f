#include "ltxguard/cmd/cleanup_inputs.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "ltxguard/collect/database.hpp"
#include "ltxguard/collect/evidence.hpp"
#include "ltxguard/formats/path_prefix.hpp"

namespace ltxguard::cmd {
namespace {

constexpr size_t kMaxDescribedArgvBytes = 200;

model::CleanupReplica to_cleanup_replica(const collect::ReplicaState& r) {
  model::CleanupReplica c;
  c.name = r.name;
  c.known = r.known;
  c.reason = r.reason;
  c.generation = r.generation;
  c.wal_index = r.wal_index;
  c.max_txid = r.max_txid;
  return c;
}

model::DbFileInput db_file(const sys::FileSystem& fs, const std::string& role,
                           const std::string& path) {
  model::DbFileInput d;
  d.role = role;
  d.path = path;
  if (auto st = fs.lstat(path)) {
    d.exists = true;
    d.dev = st->dev;
    d.ino = st->ino;
    d.size_bytes = st->size_bytes;
    d.allocated_bytes = st->allocated_bytes;
  }
  return d;
}

std::string canonical_or(const sys::FileSystem& fs, const std::string& path) {
  auto real = fs.real_path(path);
  return real ? *real : path;
}

}  // namespace

std::string describe_process(const sys::ProcessInfo& p) {
  std::string argv;
  for (const auto& a : p.cmdline) {
    if (!argv.empty()) argv += ' ';
    argv += a;
  }
  if (argv.empty()) argv = p.comm;
  if (argv.size() > kMaxDescribedArgvBytes) argv = argv.substr(0, kMaxDescribedArgvBytes) + "…";
  return fmt::format("pid {} ({})", p.pid, argv);
}

CleanupMeasurement measure_cleanup(const sys::FileSystem& fs, const sys::ProcessTable& procs,
                                   const CleanupMeasureOptions& opts) {
  CleanupMeasurement m;
  const std::string& db = opts.db_path;
  const formats::DbConfig* found =
      opts.config ? collect::find_db_config(*opts.config, db) : nullptr;
  if (found != nullptr) {
    m.db_config = *found;
    m.db_in_config = true;
  } else {
    m.db_config.path = db;
    m.db_config.meta_path = formats::default_meta_path(db);
  }
  const std::string& meta = m.db_config.meta_path;
  model::CleanupInput& in = m.input;
  in.db_path = db;
  in.meta_path = meta;
  // SQLite keeps -wal and -shm next to the file a symlinked DB path resolves to.
  const std::string sqlite_db = collect::sqlite_path(fs, db).value_or(db);
  in.db_files = {db_file(fs, "database", db), db_file(fs, "wal", sqlite_db + "-wal"),
                 db_file(fs, "shm", sqlite_db + "-shm")};

  const std::string db_dir = std::filesystem::path(db).parent_path().string();
  if (auto st = sys::fs_stats_nearest(fs, db_dir)) m.db_dev = st->dev;
  if (auto st = sys::fs_stats_nearest(fs, meta)) {
    m.meta_dev = st->dev;
    in.meta_fs_avail_bytes = st->avail_bytes;
    in.meta_fs_mount = st->mount_point;
  }
  in.meta_on_db_fs = m.meta_dev == m.db_dev;

  m.scan = collect::scan_staging(fs, meta);
  in.meta_exists = m.scan.exists;
  in.meta_dev = m.scan.dev;
  in.layout = m.scan.layout;
  in.mixed_layouts = m.scan.mixed_layouts;
  in.scan_complete = !m.scan.truncated && m.scan.errors.empty();
  if (auto st = fs.lstat(meta); st && m.scan.exists) in.meta_uid = st->uid;
  if (m.scan.layout != formats::Layout::none)
    in.current_generation = collect::current_generation(fs, m.scan);

  m.replicas = collect::replica_states(
      fs, m.db_config, m.scan, m.db_dev, std::nullopt,
      "cleanup reads positions from file replica listings only: Litestream is "
      "stopped for cleanup, so its metrics are gone");
  for (const auto& r : m.replicas) in.replicas.push_back(to_cleanup_replica(r));

  if (m.scan.exists) {
    sys::MetaDirOptions mo;
    mo.mountinfo_path = opts.mountinfo_path;
    auto md = sys::MetaDir::open(meta, std::move(mo));
    if (md) {
      m.meta_dir = std::move(*md);
    } else {
      m.meta_dir_error = md.error().to_string();
    }
  }

  // Processes: the kernel reports canonical paths, so compare against canonical ones.
  const std::string canon_meta = m.meta_dir ? m.meta_dir->path() : canonical_or(fs, meta);
  const std::string canon_db = canonical_or(fs, db);
  const std::vector<std::string> db_paths = {canon_db, canon_db + "-wal", canon_db + "-shm"};
  std::vector<sys::OpenFile> db_holders;
  const int self = static_cast<int>(::getpid());
  std::vector<std::string> prefixes = db_paths;
  if (m.scan.exists) prefixes.push_back(canon_meta);
  if (auto held = procs.open_files_under(prefixes)) {
    for (auto& o : *held) {
      if (o.pid == self) continue;  // our own MetaDir fd
      if (m.scan.exists && formats::path_within(o.path, canon_meta)) {
        m.meta_holders.push_back(std::move(o));
      } else {
        db_holders.push_back(std::move(o));
      }
    }
  } else {
    m.proc_note = held.error().to_string();
  }
  if (auto all = procs.processes()) {
    std::vector<sys::OpenFile> holders = m.meta_holders;
    holders.insert(holders.end(), db_holders.begin(), db_holders.end());
    auto split = collect::split_litestream(fs, *all, opts.config_path, db, holders);
    m.litestream_for_db = std::move(split.for_db);
    m.litestream_other = std::move(split.other);
  } else if (m.proc_note.empty()) {
    m.proc_note = all.error().to_string();
  }
  for (const auto& p : m.litestream_for_db) in.litestream_running.push_back(describe_process(p));
  if (!m.proc_note.empty()) {
    in.litestream_running.push_back("state unknown: cannot read the process list (" + m.proc_note +
                                    ")");
  }

  for (const auto& f : m.scan.files) {
    model::CleanupFileInput c;
    c.path = f.path;
    c.rel_path = f.rel_path;
    c.name = f.name;
    c.regular = f.stat.type == sys::FileType::regular;
    c.type_name = std::string(sys::file_type_name(f.stat.type));
    c.dev = f.stat.dev;
    c.ino = f.stat.ino;
    c.nlink = f.stat.nlink;
    c.uid = f.stat.uid;
    c.size_bytes = f.stat.size_bytes;
    c.allocated_bytes = f.stat.allocated_bytes;
    if (f.ltx) {
      c.ltx_state = f.ltx->state;
      c.ltx_reason = f.ltx->reason;
    }
    const std::string canon_path = canon_meta + "/" + f.rel_path;
    for (const auto& o : m.meta_holders) {
      // Litestream's own open files are covered by "Litestream is running": listing them again
      // would hide what the file will be once it is stopped.
      const bool litestream =
          std::any_of(m.litestream_for_db.begin(), m.litestream_for_db.end(),
                      [&](const sys::ProcessInfo& p) { return p.pid == o.pid; });
      if (o.path == canon_path && !litestream)
        c.holders.push_back(fmt::format("pid {} ({})", o.pid, o.comm));
    }
    const size_t want = model::header_record_bytes(f.name.kind);
    if (c.regular && want > 0 && m.meta_dir) {
      auto head = m.meta_dir->read_prefix(f.rel_path, {c.dev, c.ino, c.size_bytes}, want);
      if (head) {
        c.header_recorded = true;
        m.headers[f.rel_path] = std::move(*head);
      }
    }
    in.files.push_back(std::move(c));
  }
  return m;
}

std::optional<model::BudgetResult> budget_now_and_reset(const sys::FileSystem& fs,
                                                        const BudgetOptions& budget_opts,
                                                        CleanupMeasurement& m,
                                                        BudgetInputs* inputs_out) {
  BudgetInputs bi = measure_budget_inputs(fs, budget_opts);
  auto now = model::compute_budget(bi.input);
  if (m.input.layout == formats::Layout::v0_5 && !bi.input.databases.empty()) {
    uint64_t ltx_allocated = 0;
    for (const auto& f : m.scan.files) {
      const auto k = f.name.kind;
      if (f.stat.type == sys::FileType::regular &&
          (k == formats::StagingKind::ltx || k == formats::StagingKind::ltx_tmp)) {
        ltx_allocated += f.stat.allocated_bytes;
      }
    }
    const auto after = model::budget_input_after_removal(
        bi.input, bi.input.databases[0].db_path, {ltx_allocated, m.scan.total_bytes, true, true});
    model::ResetAssessment a;
    const auto& d = bi.input.databases[0];
    a.snapshot_bytes = d.snapshot_max_bytes.value_or(uint64_t{d.page_size_bytes} * d.page_count);
    if (auto r = model::compute_budget(after)) {
      a.verdict = r->verdict;
      // Where the snapshot lands, and wherever else it does not fit.
      for (const auto& f : r->filesystems) {
        if (f.dev == m.meta_dev || f.verdict != model::Verdict::ok)
          a.equations.push_back(f.equation);
      }
    } else {
      a.equations.push_back(r.error().to_string());
    }
    m.input.reset = a;
  }
  if (inputs_out != nullptr) *inputs_out = std::move(bi);
  if (!now) return std::nullopt;
  return *now;
}

util::Result<CleanupSetup> load_cleanup_setup(const sys::FileSystem& fs,
                                              const sys::ProcessTable& procs,
                                              const CleanupSetupArgs& args) {
  auto db = collect::check_database_path(fs, args.db_path);
  if (!db) return util::fail(db.error());
  auto loaded = load_litestream_config(fs, args.config_path);
  if (!loaded) return util::fail(loaded.error());
  auto policy = load_policy(fs, args.policy_path);
  if (!policy) return util::fail(policy.error());

  CleanupSetup s;
  s.db_path = *db;
  s.loaded = std::move(*loaded);
  s.policy = policy->policy;
  s.measure_opts.db_path = s.db_path;
  s.measure_opts.config = s.loaded.config;
  s.measure_opts.config_path = s.loaded.path;
  s.m = measure_cleanup(fs, procs, s.measure_opts);
  s.budget_opts.db_paths = {s.db_path};
  s.budget_opts.config = s.loaded.config;
  s.budget_opts.policy = s.policy;
  s.budget_opts.litestream_bin = args.litestream_bin;
  s.budget_opts.litestream_version = args.litestream_version;
  return s;
}

}  // namespace ltxguard::cmd
