#include "ltxguard/model/budget.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

// Every sum and product runs in 128 bits with values clamped to 2^100, far above any disk and
// far below overflow however many terms are added; results saturate into int64 at the end.
__extension__ typedef __int128 Wide;
constexpr Wide kCap = Wide{1} << 100;
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

Wide clamp(Wide v) { return v > kCap ? kCap : (v < -kCap ? -kCap : v); }
Wide add(Wide a, Wide b) { return clamp(a + b); }
Wide mul(Wide a, Wide b) {
  if (a == 0 || b == 0) return 0;
  if (a > kCap / b) return kCap;  // callers pass non-negative factors
  return a * b;
}
Wide div_ceil(Wide a, Wide b) { return (a + b - 1) / b; }  // a ≥ 0, b > 0
// ceil(value × ppm / 10^6): a ratio or share applied once, rounded up because it is a cost.
Wide apply_ppm_up(Wide value, uint32_t ppm) { return clamp(div_ceil(mul(value, ppm), 1'000'000)); }
int64_t sat64(Wide v) {
  if (v > kI64Max) return kI64Max;
  if (v < kI64Min) return kI64Min;
  return static_cast<int64_t>(v);
}

// human_bytes with a real minus sign, as the equation prints it.
std::string human(Wide bytes) {
  std::string s = util::human_bytes(sat64(bytes));
  if (!s.empty() && s[0] == '-') s.replace(0, 1, "\u2212");
  return s;
}
std::string human_exact(Wide bytes) {
  return fmt::format("{} ({} bytes)", human(bytes), sat64(bytes));
}

// "1.03", "1.0147": a ppm ratio with at least two decimals.
std::string ratio_text(uint64_t ppm) {
  std::string frac = fmt::format("{:06}", ppm % 1'000'000);
  while (frac.size() > 2 && frac.back() == '0') frac.pop_back();
  return fmt::format("{}.{}", ppm / 1'000'000, frac);
}
std::string percent_text(uint32_t ppm) {
  std::string frac = fmt::format("{:04}", ppm % 10'000);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return frac.empty() ? fmt::format("{} %", ppm / 10'000)
                      : fmt::format("{}.{} %", ppm / 10'000, frac);
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

enum class StagingKind : unsigned { none = 0, snapshot_v05 = 1, shadow_v03 = 2 };

// Everything charged to one filesystem before it becomes a FilesystemBudget.
struct FsAccount {
  const FilesystemInput* fs = nullptr;
  bool used = false;
  std::vector<const DatabaseInput*> databases;  // whose DB (and WAL) live here
  std::vector<BudgetTerm> staging_terms;        // staging, catch-up, replica copies
  std::vector<BudgetTerm> growth_terms;         // app WAL growth
  Wide staging_new = 0;                         // new staging bytes (cap, advice)
  Wide staged_now = 0;
  Wide replica_copies = 0;
  Wide headroom_sum = 0;        // app WAL headroom of the databases here
  std::string headroom_detail;  // how the headroom was sized, for the reserve term
  uint64_t inodes_needed = 0;
  unsigned staging_kinds = 0;
  std::vector<std::string> staging_dbs;
  std::vector<std::string> notes;
  std::vector<std::string> unknowns;
};

struct Projection {
  bool known = false;
  Wide bytes = 0;
  std::string detail;
  std::string reason;
};

class Budget {
 public:
  explicit Budget(const BudgetInput& in) : in_(in), policy_(in.policy) {
    accounts_.resize(in.filesystems.size());
    for (size_t i = 0; i < in.filesystems.size(); ++i) accounts_[i].fs = &in.filesystems[i];
  }

  util::Result<BudgetResult> run() {
    if (in_.databases.empty()) global_unknowns_.push_back("no database to check");
    for (const DatabaseInput& db : in_.databases) charge_database(db);
    if (auto r = check_policy_fits(); !r) return util::fail(r.error());
    BudgetResult result;
    for (const std::string& u : global_unknowns_) add_unknown(result, u);
    for (FsAccount& a : accounts_) {
      if (!a.used) continue;
      for (const std::string& u : a.unknowns) add_unknown(result, u);
      result.filesystems.push_back(finish(a, result.advice));
    }
    result.verdict = global_unknowns_.empty() ? Verdict::ok : Verdict::unknown;
    for (const FilesystemBudget& f : result.filesystems)
      result.verdict = std::max(result.verdict, f.verdict);
    if (result.verdict == Verdict::unknown && result.advice.empty()) {
      result.advice.push_back("measure what is listed as unknown and run preflight again");
    }
    return result;
  }

 private:
  static void add_unknown(BudgetResult& r, const std::string& u) {
    if (std::find(r.unknowns.begin(), r.unknowns.end(), u) == r.unknowns.end())
      r.unknowns.push_back(u);
  }

  FsAccount* account(uint64_t dev) {
    for (FsAccount& a : accounts_) {
      if (a.fs->dev == dev) {
        a.used = true;
        return &a;
      }
    }
    return nullptr;
  }

  std::string db_label(const DatabaseInput& db, std::string label) const {
    if (in_.databases.size() > 1) label += " of " + base_name(db.db_path);
    return label;
  }

  // The app WAL headroom of one database: policy, else min(TruncatePageN pages, 10 % of fs).
  std::pair<Wide, std::string> wal_headroom(const DatabaseInput& db, const FsAccount* db_fs) const {
    if (policy_.app_wal_headroom_bytes) {
      return {Wide{*policy_.app_wal_headroom_bytes}, "app_wal_headroom_bytes"};
    }
    if (db_fs == nullptr) return {kCap, "filesystem not measured"};
    const uint32_t page = db.header_valid ? db.page_size_bytes : 0;
    const Wide bytes = Wide{app_wal_headroom_bytes(db_fs->fs->total_bytes, page, policy_)};
    if (page == 0) return {bytes, "10 % of the filesystem: page size unknown"};
    if (bytes == mul(kTruncatePageN, page)) {
      return {bytes, fmt::format("{} pages × {} B, Litestream's WAL truncate threshold", kTruncatePageN, page)};
    }
    return {bytes, fmt::format("10 % of the filesystem, below {} pages × {} B", kTruncatePageN, page)};
  }

  // The full-database snapshot 0.5 stages (also the size of a full copy on a file replica).
  Projection snapshot(const DatabaseInput& db, std::vector<std::string>& notes) const {
    Projection p;
    if (!db.header_valid || db.page_size_bytes == 0) return p;
    const Wide db_bytes = mul(Wide{db.page_count}, db.page_size_bytes);
    const Wide worst = Wide{ltx_snapshot_worst_case_bytes(db.page_count, db.page_size_bytes)};
    p.known = true;
    if (policy_.staging_overhead_ratio_ppm) {
      const uint32_t ppm = *policy_.staging_overhead_ratio_ppm;
      p.bytes = apply_ppm_up(db_bytes, ppm);
      p.detail = fmt::format("db {} × {}", human(db_bytes), ratio_text(ppm));
      p.reason = fmt::format("{} {}", policy_key_location(policy_, "staging_overhead_ratio"),
                             ratio_text(ppm));
      if (p.bytes < worst) {
        notes.push_back(fmt::format(
            "{}: staging_overhead_ratio {} is below the LTX worst case for incompressible "
            "{}-byte pages ({}): a database that does not compress stages more",
            base_name(db.db_path), ratio_text(ppm), db.page_size_bytes, human_exact(worst)));
      }
      return p;
    }
    if (db.snapshot_max_bytes) {
      p.bytes = Wide{*db.snapshot_max_bytes};
      p.reason = "LTX worst-case size of a snapshot of this database";
    } else {
      p.bytes = worst;
      p.reason = fmt::format("LTX worst case: {} B per page beyond the page, incompressible pages",
                             kLtxPageOverheadBytes + db.page_size_bytes / 255);
    }
    if (db_bytes > 0) {
      // Shown to 4 decimals, rounded up like the cost it describes.
      const Wide ratio_e4 = std::min<Wide>(div_ceil(mul(p.bytes, 10'000), db_bytes), Wide{1} << 40);
      p.detail = fmt::format("db {} × {}", human(db_bytes),
                             ratio_text(static_cast<uint64_t>(ratio_e4) * 100));
    } else {
      p.detail = "empty db, LTX header and trailer";
    }
    return p;
  }

  struct Rate {
    bool known = false;
    uint64_t bytes_per_second = 0;
    std::string source;
  };
  Rate pick_rate(std::optional<uint64_t> measured, std::optional<uint64_t> configured,
                 std::string_view key, bool prefer_higher) const {
    Rate r;
    if (measured) r = {true, *measured, "measured"};
    if (configured && (!r.known || (prefer_higher ? *configured > r.bytes_per_second
                                                  : *configured < r.bytes_per_second))) {
      r = {true, *configured, policy_key_location(policy_, key)};
    }
    return r;
  }

  struct Growth {
    Wide bytes = 0;
    std::string detail;
    std::string reason;
  };

  // App WAL growth while a snapshot of `snapshot_bytes` is staged on `meta`: Litestream's read
  // transaction keeps the app from checkpointing for the whole staging write.
  Growth staging_growth(const DatabaseInput& db, const FsAccount* meta, const Projection& snap,
                        Wide headroom) const {
    // Both rates on the cautious side: the faster app, the slower disk.
    const Rate app = pick_rate(db.app_write_bytes_per_second, policy_.app_write_bytes_per_second,
                               "app_write_bytes_per_second", true);
    const Rate stage =
        pick_rate(meta ? meta->fs->write_bytes_per_second : std::nullopt,
                  policy_.staging_write_bytes_per_second, "staging_write_bytes_per_second", false);
    if (app.known && app.bytes_per_second == 0) {
      return {0, "app writes 0 B/s", fmt::format("app write rate 0 B/s ({})", app.source)};
    }
    if (app.known && stage.known && stage.bytes_per_second > 0 && snap.known) {
      const Wide seconds = div_ceil(snap.bytes, Wide{stage.bytes_per_second});
      return {mul(Wide{app.bytes_per_second}, seconds),
              fmt::format("{}/s × {} s staging", human(Wide{app.bytes_per_second}), sat64(seconds)),
              fmt::format("app write rate ({}) × staging time: {} at {}/s ({})", app.source,
                          human(snap.bytes), human(Wide{stage.bytes_per_second}), stage.source)};
    }
    if (policy_.wal_growth_bytes) {
      return {Wide{*policy_.wal_growth_bytes}, "wal_growth_bytes",
              policy_key_location(policy_, "wal_growth_bytes")};
    }
    return {
        headroom, "app WAL headroom",
        fmt::format("no app write rate and staging throughput known for {}: charged the app WAL "
                    "headroom instead",
                    base_name(db.db_path))};
  }

  void charge_database(const DatabaseInput& db) {
    const std::string name = base_name(db.db_path);
    FsAccount* db_fs = account(db.db_fs_dev);
    FsAccount* meta = account(db.meta_fs_dev);
    if (!db_fs) {
      global_unknowns_.push_back(
          fmt::format("{}: the filesystem of the database (device {}) was not measured", db.db_path,
                      db.db_fs_dev));
    }
    if (!meta) {
      global_unknowns_.push_back(
          fmt::format("{}: the filesystem of the meta dir (device {}) was not measured", db.db_path,
                      db.meta_fs_dev));
    }
    std::vector<FsAccount*> touched;  // every filesystem this database charges
    if (db_fs) touched.push_back(db_fs);
    if (meta && meta != db_fs) touched.push_back(meta);
    std::vector<std::string> db_unknowns;
    auto unknown_everywhere = [&](std::string u) { db_unknowns.push_back(std::move(u)); };

    auto [headroom, headroom_detail] = wal_headroom(db, db_fs);
    if (db_fs) {
      db_fs->databases.push_back(&db);
      db_fs->headroom_sum = add(db_fs->headroom_sum, headroom);
      db_fs->headroom_detail = db_fs->databases.size() == 1
                                   ? headroom_detail
                                   : fmt::format("{} databases", db_fs->databases.size());
      db_fs->notes.push_back(
          fmt::format("{}: app WAL headroom {} ({})", name, human(headroom), headroom_detail));
    }

    std::vector<std::string> notes;
    Projection snap = snapshot(db, notes);
    if (!snap.known) {
      unknown_everywhere(fmt::format(
          "{}: SQLite header not valid: database size unknown, staging cannot be projected",
          db.db_path));
    }

    LitestreamModel model = db.model;
    std::string model_note;
    const Wide hwm = std::max<Wide>(
        Wide{db.wal_bytes}, policy_.wal_growth_bytes ? Wide{*policy_.wal_growth_bytes} : headroom);
    if (model == LitestreamModel::unknown) {
      unknown_everywhere(
          fmt::format("{}: Litestream version unknown{}{}: pass --litestream-version", db.db_path,
                      db.model_reason.empty() ? "" : " (",
                      db.model_reason.empty() ? "" : db.model_reason + ")"));
      model =
          snap.known && snap.bytes >= mul(hwm, 2) ? LitestreamModel::v0_5 : LitestreamModel::v0_3;
      model_note = fmt::format(
          "{}: Litestream version unknown: showing the larger projection, the "
          "{} model",
          name, to_string(model));
    } else {
      model_note = fmt::format("{}: Litestream {} model ({})", name, to_string(model),
                               db.model_reason.empty() ? "no reason given" : db.model_reason);
    }

    if (!db.replica_backlog_bytes) {
      unknown_everywhere(fmt::format(
          "{}: replica upload state not measured: cannot tell whether staging drains", db.db_path));
    } else if (*db.replica_backlog_bytes > 0) {
      notes.push_back(
          fmt::format("{}: {} staged but not yet uploaded (on disk now, inside "
                      "'available')",
                      name, human_exact(Wide{*db.replica_backlog_bytes})));
    }

    if (meta) {
      meta->staged_now = add(meta->staged_now, Wide{db.staged_bytes_now});
      meta->inodes_needed += kStagingInodesPerDatabase;
      meta->staging_dbs.push_back(name);
      meta->notes.push_back(model_note);
    }

    if (model == LitestreamModel::v0_5) {
      const Growth growth = staging_growth(db, meta, snap, headroom);
      if (meta) {
        meta->staging_kinds |= static_cast<unsigned>(StagingKind::snapshot_v05);
        if (snap.known) {
          meta->staging_terms.push_back(
              {db_label(db, "projected staging"), sat64(snap.bytes), snap.detail,
               "full-database LTX snapshot staged before upload: " + snap.reason});
          const Wide in_flight = std::min<Wide>(Wide{db.snapshot_in_flight_bytes}, snap.bytes);
          if (in_flight > 0) {
            meta->staging_terms.push_back(
                {db_label(db, "snapshot already written"), -sat64(in_flight), ".ltx.tmp on disk",
                 "part of the snapshot is already on disk, inside 'available'"});
          }
          meta->staging_new = add(meta->staging_new, snap.bytes - in_flight);
        }
        if (growth.bytes > 0) {
          meta->staging_terms.push_back(
              {db_label(db, "catch-up L0"), sat64(growth.bytes), growth.detail,
               "the WAL written during the snapshot is staged as the next L0 file: " +
                   growth.reason});
          meta->staging_new = add(meta->staging_new, growth.bytes);
        }
      }
      if (db_fs) {
        db_fs->growth_terms.push_back({db_label(db, "app WAL growth"), sat64(growth.bytes),
                                       growth.detail,
                                       "Litestream's read transaction blocks checkpoints while it "
                                       "stages: " +
                                           growth.reason});
      }
    } else {
      const std::string hwm_src =
          policy_.wal_growth_bytes && Wide{*policy_.wal_growth_bytes} >= Wide{db.wal_bytes}
              ? "wal_growth_bytes"
              : (Wide{db.wal_bytes} >= headroom ? "WAL now" : "app WAL headroom");
      if (meta) {
        meta->staging_kinds |= static_cast<unsigned>(StagingKind::shadow_v03);
        const Wide shadow = mul(hwm, 2);
        meta->staging_terms.push_back(
            {db_label(db, "projected staging"), sat64(shadow),
             fmt::format("WAL high-water {} × 2", human(hwm)),
             fmt::format(
                 "shadow WAL copy plus its .wal.tmp, up to twice the WAL high-water mark ({})",
                 hwm_src)});
        meta->staging_new = add(meta->staging_new, shadow);
      }
      if (db_fs) {
        const Wide growth = std::max<Wide>(hwm - Wide{db.wal_bytes}, 0);
        db_fs->growth_terms.push_back(
            {db_label(db, "app WAL growth"), sat64(growth),
             fmt::format("WAL {} → {}", human(Wide{db.wal_bytes}), human(hwm)),
             fmt::format(
                 "Litestream's read transaction lets the WAL grow to its high-water mark ({})",
                 hwm_src)});
      }
    }

    for (uint64_t dev : db.file_replica_fs_devs) {
      FsAccount* r = account(dev);
      if (!r) {
        global_unknowns_.push_back(fmt::format(
            "{}: the filesystem of a file replica (device {}) was not measured", db.db_path, dev));
        continue;
      }
      if (std::find(touched.begin(), touched.end(), r) == touched.end()) touched.push_back(r);
      r->inodes_needed += kStagingInodesPerDatabase;
      if (!snap.known) continue;
      Wide copy = snap.bytes;
      std::string detail = "full copy";
      if (model == LitestreamModel::v0_3) {
        copy = add(copy, hwm);
        detail = fmt::format("snapshot {} + WAL {}", human(snap.bytes), human(hwm));
      }
      r->staging_terms.push_back({db_label(db, "file replica copy"), sat64(copy), detail,
                                  "a file replica stores a full copy of the snapshot"});
      r->replica_copies = add(r->replica_copies, copy);
    }

    for (FsAccount* a : touched) {
      for (const std::string& u : db_unknowns) a->unknowns.push_back(u);
    }
    if (FsAccount* where = meta ? meta : db_fs) {
      for (std::string& n : notes) where->notes.push_back(std::move(n));
    }
  }

  // Policy values that can never hold on the measured filesystems.
  util::Result<void> check_policy_fits() const {
    auto too_big = [&](std::string_view key, uint64_t value, const FilesystemInput& fs) {
      return util::make_error(
          util::ErrorCode::invalid_input, "",
          fmt::format("{}: {} is larger than the filesystem {} ({})",
                      policy_key_location(policy_, key), human_exact(Wide{value}), fs.mount,
                      human(Wide{fs.total_bytes})));
    };
    for (const FsAccount& a : accounts_) {
      if (!a.used) continue;
      const FilesystemInput& fs = *a.fs;
      const bool has_db = !a.databases.empty();
      if (has_db && policy_.reserve_bytes && *policy_.reserve_bytes > fs.total_bytes) {
        return util::fail(too_big("reserve_bytes", *policy_.reserve_bytes, fs));
      }
      if (has_db && policy_.app_wal_headroom_bytes &&
          *policy_.app_wal_headroom_bytes > fs.total_bytes) {
        return util::fail(too_big("app_wal_headroom_bytes", *policy_.app_wal_headroom_bytes, fs));
      }
      if (policy_.min_free_bytes && *policy_.min_free_bytes > fs.total_bytes) {
        return util::fail(too_big("min_free_bytes", *policy_.min_free_bytes, fs));
      }
      const uint64_t warn = warn_at(fs);
      const uint64_t crit = critical_at(fs);
      if (policy_.warn_at && warn > fs.total_bytes) return util::fail(too_big("warn_at", warn, fs));
      if (policy_.critical_at && crit > fs.total_bytes) {
        return util::fail(too_big("critical_at", crit, fs));
      }
      if (crit > warn) {
        return util::fail(util::make_error(
            util::ErrorCode::invalid_input, "",
            fmt::format("{}: {} is above warn_at {} on {}: critical must be the lower headroom",
                        policy_key_location(policy_, "critical_at"), human_exact(Wide{crit}),
                        human_exact(Wide{warn}), fs.mount)));
      }
    }
    return {};
  }

  // Default: 5 % of the filesystem, raised to critical_at when only that is set.
  uint64_t warn_at(const FilesystemInput& fs) const {
    if (policy_.warn_at) return policy_.warn_at->resolve_bytes(fs.total_bytes);
    const formats::Threshold def{formats::Threshold::Unit::percent, 0, kDefaultWarnAtPpm};
    return std::max(def.resolve_bytes(fs.total_bytes), critical_at(fs));
  }
  uint64_t critical_at(const FilesystemInput& fs) const {
    return policy_.critical_at ? policy_.critical_at->resolve_bytes(fs.total_bytes) : 0;
  }

  BudgetTerm reserve_term(const FsAccount& a) const {
    const FilesystemInput& fs = *a.fs;
    BudgetTerm t{"reserve", 0, "", "no database on this filesystem: no app reserve here"};
    if (!a.databases.empty()) {
      if (policy_.reserve_bytes) {
        t.bytes = sat64(Wide{*policy_.reserve_bytes});
        t.reason = policy_key_location(policy_, "reserve_bytes");
      } else {
        const uint32_t ppm = policy_.reserve_percent_ppm.value_or(kDefaultReservePpm);
        const Wide share = apply_ppm_up(Wide{fs.total_bytes}, ppm);
        const std::string share_detail =
            fmt::format("{} of {}", percent_text(ppm), human(Wide{fs.total_bytes}));
        if (share >= a.headroom_sum) {
          t.bytes = sat64(share);
          t.detail = share_detail;
        } else {
          t.bytes = sat64(a.headroom_sum);
          t.detail = "app WAL headroom";
        }
        t.reason = fmt::format("larger of {} ({}) and the app WAL headroom {} ({})", share_detail,
                               policy_.reserve_percent_ppm
                                   ? policy_key_location(policy_, "reserve_percent")
                                   : "default",
                               human(a.headroom_sum), a.headroom_detail);
      }
    }
    if (policy_.min_free_bytes && Wide{*policy_.min_free_bytes} > Wide{t.bytes}) {
      t.label = a.databases.empty() ? "min free" : "reserve";
      t.detail = "min_free_bytes";
      t.reason = fmt::format("{} is above the reserve {}",
                             policy_key_location(policy_, "min_free_bytes"), human(Wide{t.bytes}));
      t.bytes = sat64(Wide{*policy_.min_free_bytes});
    }
    return t;
  }

  FilesystemBudget finish(FsAccount& a, std::vector<std::string>& advice) const {
    const FilesystemInput& fs = *a.fs;
    FilesystemBudget b;
    b.mount = fs.mount;
    b.dev = fs.dev;
    b.available_bytes = sat64(Wide{in_.app_runs_as_root ? fs.free_bytes : fs.avail_bytes});
    b.notes = a.notes;

    for (const BudgetTerm& t : a.staging_terms) b.terms.push_back(t);
    for (const BudgetTerm& t : a.growth_terms) b.terms.push_back(t);
    const BudgetTerm reserve = reserve_term(a);
    if (!a.databases.empty() && policy_.reserve_bytes &&
        Wide{*policy_.reserve_bytes} < a.headroom_sum) {
      b.notes.push_back(
          fmt::format("reserve_bytes {} is below the app WAL headroom {}: the app WAL may run out "
                      "of room while "
                      "Litestream holds its read transaction",
                      human(Wide{*policy_.reserve_bytes}), human(a.headroom_sum)));
    }
    b.reserve_bytes = reserve.bytes;
    b.terms.push_back(reserve);
    b.staging_bytes = sat64(a.staging_new);
    b.staging_peak_bytes = sat64(add(a.staged_now, a.staging_new));

    Wide headroom = Wide{b.available_bytes};
    for (const BudgetTerm& t : b.terms) headroom = add(headroom, -Wide{t.bytes});
    b.headroom_bytes = sat64(headroom);

    if (in_.litestream_runs_as_root && !in_.app_runs_as_root && fs.free_bytes > fs.avail_bytes) {
      b.notes.push_back(fmt::format(
          "Litestream runs as root: it can also fill the {} of root-reserved blocks the app cannot "
          "use, so the app gets ENOSPC while Litestream still writes",
          human(Wide{fs.free_bytes} - Wide{fs.avail_bytes})));
    }

    // Checks, strongest first; the first critical one names the conclusion.
    std::string critical_why;
    std::string warning_why;
    auto critical = [&](std::string why) {
      if (critical_why.empty()) critical_why = std::move(why);
    };
    if (headroom < 0) {
      const Wide before_staging = Wide{b.available_bytes} - Wide{reserve.bytes};
      if (before_staging < 0) {
        critical("already inside the reserve");
      } else if (a.staging_kinds & static_cast<unsigned>(StagingKind::snapshot_v05)) {
        critical("initial sync cannot fit");
      } else if (a.staging_kinds & static_cast<unsigned>(StagingKind::shadow_v03)) {
        critical("shadow WAL cannot fit");
      } else {
        critical("does not fit");
      }
      const Wide deficit = -headroom;
      if (a.staging_new > 0 && a.staging_new >= deficit) {
        advice.push_back(fmt::format(
            "{}: move meta-path of {} to a filesystem with at least {} free above its own reserve, "
            "or free {} on {}",
            fs.mount, fmt::join(a.staging_dbs, ", "), human_exact(a.staging_new),
            human_exact(deficit), fs.mount));
      } else if (a.replica_copies > 0 && a.replica_copies >= deficit) {
        advice.push_back(
            fmt::format("{}: move the file replica to another filesystem (it needs {}), "
                        "or free {} on {}",
                        fs.mount, human_exact(a.replica_copies), human_exact(deficit), fs.mount));
      } else {
        advice.push_back(
            fmt::format("{}: free {} on {}{}", fs.mount, human_exact(deficit), fs.mount,
                        a.staging_new > 0 ? ": moving meta-path away alone is not enough" : ""));
      }
    }
    if (policy_.max_staging_bytes && (a.staging_new > 0 || a.staged_now > 0)) {
      const Wide cap = Wide{*policy_.max_staging_bytes};
      const Wide peak = add(a.staged_now, a.staging_new);
      const bool over = peak > cap;
      b.notes.push_back(
          fmt::format("staging at peak {} (on disk now {} + projected {}) {} "
                      "max_staging_bytes {}{}",
                      human(peak), human(a.staged_now), human(a.staging_new), over ? ">" : "≤",
                      human(cap), over ? " → CRITICAL" : ""));
      if (over) {
        critical(fmt::format("staging above max_staging_bytes {}", human(cap)));
        advice.push_back(fmt::format(
            "{}: staging would peak at {}, above max_staging_bytes {}: do not let Litestream start "
            "a "
            "full snapshot here; give meta-path a filesystem sized for it and set the cap there",
            fs.mount, human_exact(peak), human_exact(cap)));
      }
    }
    if (fs.inodes_total == 0) {
      b.notes.push_back("inodes: the filesystem does not count inodes");
    } else {
      const uint64_t inodes = in_.app_runs_as_root ? fs.inodes_free : fs.inodes_avail;
      if (inodes < a.inodes_needed) {
        b.notes.push_back(fmt::format("inodes: {} available, staging needs {} → CRITICAL", inodes,
                                      a.inodes_needed));
        critical("no inodes for staging");
        advice.push_back(fmt::format("{}: free at least {} inodes on {} ({} available)", fs.mount,
                                     a.inodes_needed - inodes, fs.mount, inodes));
      } else if (Wide{inodes} * 1'000'000 < Wide{fs.inodes_total} * kInodeWarnPpm) {
        b.notes.push_back(fmt::format("inodes: {} of {} available, under 1 % → WARNING", inodes,
                                      fs.inodes_total));
        warning_why = "under 1 % of inodes free";
      } else {
        b.notes.push_back(
            a.inodes_needed > 0
                ? fmt::format("inodes: {} available, staging needs {}", inodes, a.inodes_needed)
                : fmt::format("inodes: {} available", inodes));
      }
    }
    const uint64_t crit = critical_at(fs);
    if (headroom >= 0 && headroom < Wide{crit}) {
      critical(fmt::format("headroom under critical_at {}", human(Wide{crit})));
      advice.push_back(fmt::format("{}: free {} on {} to get above critical_at", fs.mount,
                                   human_exact(Wide{crit} - headroom), fs.mount));
    }
    const uint64_t warn = warn_at(fs);
    if (headroom >= Wide{crit} && headroom < Wide{warn}) {
      warning_why = fmt::format("headroom under warn_at {}", human(Wide{warn}));
      advice.push_back(fmt::format(
          "{}: headroom {} is under warn_at {}: free {} there{}", fs.mount, human(headroom),
          human(Wide{warn}), human_exact(Wide{warn} - headroom),
          a.staging_new > 0 ? ", or move meta-path to a filesystem with more room" : ""));
    }

    std::string conclusion;
    if (!critical_why.empty()) {
      b.verdict = Verdict::critical;
      conclusion = "CRITICAL: " + critical_why;
    } else if (!a.unknowns.empty()) {
      b.verdict = Verdict::unknown;
      conclusion = "UNKNOWN: " + a.unknowns.front();
    } else if (!warning_why.empty()) {
      b.verdict = Verdict::warning;
      conclusion = "WARNING: " + warning_why;
    } else {
      b.verdict = Verdict::ok;
      conclusion = "OK";
    }

    std::string eq = fmt::format("available {}", human(Wide{b.available_bytes}));
    for (const BudgetTerm& t : b.terms) {
      if (t.bytes == 0) continue;
      eq += fmt::format(" {} {} {}", t.bytes > 0 ? "\u2212" : "+", t.label,
                        human(t.bytes > 0 ? Wide{t.bytes} : -Wide{t.bytes}));
      if (!t.detail.empty()) eq += " (" + t.detail + ")";
    }
    eq += fmt::format(" = {} \u2192 {}", human(headroom), conclusion);
    b.equation = std::move(eq);
    return b;
  }

  const BudgetInput& in_;
  const formats::Policy& policy_;
  std::vector<FsAccount> accounts_;
  std::vector<std::string> global_unknowns_;
};

}  // namespace

uint64_t ltx_snapshot_worst_case_bytes(uint64_t page_count, uint32_t page_size_bytes) {
  const Wide per_page = Wide{page_size_bytes} + kLtxPageOverheadBytes + page_size_bytes / 255;
  const Wide total = add(mul(Wide{page_count}, per_page), kLtxFixedBytes);
  return total > Wide{std::numeric_limits<uint64_t>::max()} ? std::numeric_limits<uint64_t>::max()
                                                            : static_cast<uint64_t>(total);
}

util::Result<BudgetResult> compute_budget(const BudgetInput& input) { return Budget(input).run(); }

uint64_t app_wal_headroom_bytes(uint64_t filesystem_total_bytes, uint32_t page_size_bytes,
                                const formats::Policy& policy) {
  if (policy.app_wal_headroom_bytes) return *policy.app_wal_headroom_bytes;
  const Wide cap = apply_ppm_up(Wide{filesystem_total_bytes}, kHeadroomCapPpm);
  if (page_size_bytes == 0) return static_cast<uint64_t>(sat64(cap));
  return static_cast<uint64_t>(sat64(std::min(mul(kTruncatePageN, page_size_bytes), cap)));
}

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::ok:
      return 0;
    case Verdict::warning:
      return 1;
    case Verdict::critical:
      return 2;
    case Verdict::unknown:
      return 3;
  }
  return 3;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::ok:
      return "ok";
    case Verdict::warning:
      return "warning";
    case Verdict::critical:
      return "critical";
    case Verdict::unknown:
      return "unknown";
  }
  return "unknown";
}

const char* to_string(LitestreamModel m) {
  switch (m) {
    case LitestreamModel::v0_3:
      return "0.3";
    case LitestreamModel::v0_5:
      return "0.5";
    case LitestreamModel::unknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace ltxguard::model
