#include "ltxguard/model/check_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "ltxguard/model/reserve.hpp"
#include "ltxguard/util/bytes.hpp"

namespace ltxguard::model {
namespace {

using formats::LitestreamVersion;

// Litestream versions the rules depend on (litestream-facts.md, upstream tags).
// 0.5.15: the first to log "disk full while staging ltx file" and export litestream_disk_full.
constexpr int kDiskFullReportedMinor = 5, kDiskFullReportedPatch = 15;
// 0.5.16 and earlier refuse `l0-retention: 0` at start-up ("l0 retention must be greater
// than 0"); later source (upstream #1425) accepts it and then never deletes local L0 files.
constexpr int kL0ZeroRefusedUpToPatch = 16;
// auto-recover arrived in 0.5.7 (absent from the v0.5.6 config, present in v0.5.7).
constexpr int kAutoRecoverSincePatch = 7;
// Listing many keys in one line helps nobody; the rest are counted.
constexpr size_t kMaxListed = 5;

std::string h(uint64_t v) {
  return util::human_bytes(
      static_cast<int64_t>(std::min<uint64_t>(v, std::numeric_limits<int64_t>::max())));
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// YAML 1.1 true as Litestream's yaml.v2 reads a bool.
bool yaml_true(std::string_view v) {
  const std::string l = lower(v);
  return l == "true" || l == "yes" || l == "y" || l == "on";
}

std::string version_text(const LitestreamVersion& v) {
  if (v.development) return v.raw;
  std::string s = fmt::format("{}.{}.{}", v.major, v.minor, v.patch);
  if (!v.prerelease.empty()) s += "-" + v.prerelease;
  return s;
}

bool is_release(const std::optional<LitestreamVersion>& v) { return v && !v->development; }
bool is_v03(const LitestreamVersion& v) { return compare(v, 0, 5, 0) < 0; }

CheckFinding finding(std::string id, CheckStatus status, std::string message,
                     std::string hint = {}) {
  return CheckFinding{std::move(id), status, std::move(message), std::move(hint)};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

// "a, b, c, d, e and 3 more"
std::string list_capped(const std::vector<std::string>& items) {
  if (items.size() <= kMaxListed) return join(items, ", ");
  std::vector<std::string> head(items.begin(),
                                items.begin() + static_cast<std::ptrdiff_t>(kMaxListed));
  return fmt::format("{} and {} more", join(head, ", "), items.size() - kMaxListed);
}

// One database's result for a per-database rule; combine() folds them into one finding.
struct Part {
  CheckStatus status = CheckStatus::ok;
  std::string text;
  std::string hint;
};

CheckFinding combine(std::string id, const std::vector<Part>& parts) {
  CheckStatus worst = CheckStatus::ok;
  for (const auto& p : parts) worst = std::max(worst, p.status);
  std::vector<std::string> texts;
  std::string hint;
  for (const auto& p : parts) {
    if (p.status != worst) continue;
    texts.push_back(p.text);
    if (hint.empty()) hint = p.hint;
  }
  return finding(std::move(id), worst, join(texts, "; "), std::move(hint));
}

std::string config_name(const CheckInput& in) {
  return in.config_path.empty() ? "the config" : in.config_path;
}

std::optional<CheckFinding> config_missing(const CheckInput& in, std::string_view id) {
  if (in.config) return std::nullopt;
  return finding(
      std::string(id), CheckStatus::unknown,
      "no Litestream config read" + (in.config_note.empty() ? "" : ": " + in.config_note),
      "pass --config with the file Litestream runs with");
}

std::optional<CheckFinding> unit_missing(const CheckInput& in, std::string_view id) {
  if (in.unit) return std::nullopt;
  return finding(std::string(id), CheckStatus::unknown,
                 "no systemd unit read" + (in.unit_note.empty() ? "" : ": " + in.unit_note),
                 "pass --unit with the unit file that runs Litestream");
}

std::string at(const formats::UnitAssignment& a) { return fmt::format("{}:{}", a.source, a.line); }

// A key of one replica: "dbs[0].replicas[1].retention" -> prefix "dbs[0].replicas[1]", leaf
// "retention"; also "dbs[0].replica.<leaf>" (0.5's single replica). Nested leaves keep dots.
struct ReplicaKey {
  std::string_view prefix;
  std::string_view leaf;
};
std::optional<ReplicaKey> replica_key(std::string_view path) {
  if (!path.starts_with("dbs[")) return std::nullopt;
  const size_t db_end = path.find("].");
  if (db_end == std::string_view::npos) return std::nullopt;
  const size_t p = db_end + 2;
  const std::string_view rest = path.substr(p);
  size_t leaf_start = 0;
  if (rest.starts_with("replica.")) {
    leaf_start = p + 8;
  } else if (rest.starts_with("replicas[")) {
    const size_t close = path.find("].", p);
    if (close == std::string_view::npos) return std::nullopt;
    leaf_start = close + 2;
  } else {
    return std::nullopt;
  }
  return ReplicaKey{path.substr(0, leaf_start - 1), path.substr(leaf_start)};
}

// "dbs[0].max-checkpoint-page-count" -> "max-checkpoint-page-count"; nullopt for other paths.
std::optional<std::string_view> db_leaf(std::string_view path) {
  if (!path.starts_with("dbs[")) return std::nullopt;
  const size_t db_end = path.find("].");
  if (db_end == std::string_view::npos) return std::nullopt;
  const std::string_view leaf = path.substr(db_end + 2);
  if (leaf.find('.') != std::string_view::npos || leaf.find('[') != std::string_view::npos)
    return std::nullopt;
  return leaf;
}

// --- rules ---------------------------------------------------------------------------------

CheckFinding rule_version(const CheckInput& in) {
  constexpr std::string_view kId = "litestream-version";
  constexpr std::string_view kUpgrade =
      "upgrade to 0.5.15 or later: it logs `disk full while staging ltx file` and exports "
      "litestream_disk_full";
  if (!in.version) {
    return finding(
        std::string(kId), CheckStatus::unknown,
        "Litestream version unknown" + (in.version_note.empty() ? "" : ": " + in.version_note),
        "pass --litestream-bin with the binary the unit runs");
  }
  const LitestreamVersion& v = *in.version;
  if (v.development) {
    return finding(
        std::string(kId), CheckStatus::unknown,
        fmt::format("Litestream is a development build ({}): which disk-full behaviour it "
                    "has cannot be told from its version",
                    v.raw),
        "run a release build, 0.5.15 or later");
  }
  if (is_v03(v)) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("Litestream {} (0.3 era): a replica that stops advancing makes the shadow "
                    "WAL in the meta dir grow without bound, and a full file replica fails "
                    "without a log line",
                    version_text(v)),
        std::string(kUpgrade));
  }
  if (compare(v, 0, kDiskFullReportedMinor, kDiskFullReportedPatch) < 0) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("Litestream {} is older than 0.5.15: a full disk while staging shows only "
                    "as a generic `sync error` and no metric reports it",
                    version_text(v)),
        std::string(kUpgrade));
  }
  return finding(std::string(kId), CheckStatus::ok, fmt::format("Litestream {}", version_text(v)));
}

CheckFinding rule_unit_user(const CheckInput& in) {
  constexpr std::string_view kId = "unit-user";
  if (auto m = unit_missing(in, kId)) return *m;
  const formats::SystemdUnit& u = *in.unit;
  const std::string hint =
      "run Litestream as a dedicated user that can write the database directory (User=litestream): "
      "as root it keeps writing into the filesystem's root-reserved blocks after the app already "
      "gets ENOSPC";
  if (const auto* dyn = u.where("Service", "DynamicUser");
      dyn && formats::parse_systemd_bool(dyn->value) == true) {
    return finding(std::string(kId), CheckStatus::ok,
                   fmt::format("{}: DynamicUser={}", at(*dyn), dyn->value));
  }
  const auto* user = u.where("Service", "User");
  if (user == nullptr) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("{}: no User= in [Service], so Litestream runs as root", u.source_name), hint);
  }
  if (user->value == "root" || user->value == "0") {
    return finding(std::string(kId), CheckStatus::warning,
                   fmt::format("{}: User={}", at(*user), user->value), hint);
  }
  return finding(std::string(kId), CheckStatus::ok, fmt::format("User={}", user->value));
}

CheckFinding rule_unit_restart(const CheckInput& in) {
  constexpr std::string_view kId = "unit-restart";
  if (auto m = unit_missing(in, kId)) return *m;
  const formats::SystemdUnit& u = *in.unit;
  const auto* restart = u.where("Service", "Restart");
  if (restart == nullptr) {
    return finding(std::string(kId), CheckStatus::ok,
                   "Restart= not set: systemd does not restart Litestream");
  }
  if (restart->value != "always") {
    return finding(std::string(kId), CheckStatus::ok, fmt::format("Restart={}", restart->value));
  }
  const std::string hint =
      "add StartLimitIntervalSec=10min and StartLimitBurst=5 under [Unit] (and OnFailure= to "
      "alert): "
      "a restarted Litestream can start over with a full snapshot, and a restart loop keeps the "
      "disk filling while the unit looks active";
  // StartLimitInterval= is the pre-230 name; both were also accepted under [Service].
  const formats::UnitAssignment* interval = nullptr;
  for (const char* section : {"Unit", "Service"}) {
    for (const char* key : {"StartLimitIntervalSec", "StartLimitInterval"}) {
      if (interval == nullptr) interval = u.where(section, key);
    }
  }
  const formats::UnitAssignment* burst = u.where("Unit", "StartLimitBurst");
  if (burst == nullptr) burst = u.where("Service", "StartLimitBurst");
  if (interval == nullptr && burst == nullptr) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("{}: Restart=always without StartLimitIntervalSec= or StartLimitBurst=: "
                    "only systemd's default limit stops a crash loop, and a RestartSec= of 2 s "
                    "or more never reaches it",
                    at(*restart)),
        hint);
  }
  if (interval != nullptr && formats::parse_systemd_timespan_usec(interval->value) == 0) {
    return finding(std::string(kId), CheckStatus::warning,
                   fmt::format("{}: Restart=always with {}={}: the start limit is disabled",
                               at(*restart), interval->key, interval->value),
                   hint);
  }
  std::vector<std::string> limits;
  if (interval != nullptr) limits.push_back(fmt::format("{}={}", interval->key, interval->value));
  if (burst != nullptr) limits.push_back(fmt::format("StartLimitBurst={}", burst->value));
  return finding(std::string(kId), CheckStatus::ok,
                 fmt::format("Restart=always, {}", join(limits, ", ")));
}

// The program ExecStart= runs, without systemd's "-@:+!" prefixes: "/usr/bin/litestream".
std::string exec_program(const formats::SystemdUnit& u) {
  const auto all = u.get_all("Service", "ExecStart");
  if (all.empty()) return {};
  std::string_view v = all.back();
  while (!v.empty() && (v.front() == '-' || v.front() == '@' || v.front() == ':' ||
                        v.front() == '+' || v.front() == '!')) {
    v.remove_prefix(1);
  }
  const size_t end = v.find_first_of(" \t");
  return std::string(v.substr(0, end));
}

std::string base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

CheckFinding rule_unit_watchdog(const CheckInput& in) {
  constexpr std::string_view kId = "unit-watchdog";
  if (auto m = unit_missing(in, kId)) return *m;
  const formats::SystemdUnit& u = *in.unit;
  const std::string hint =
      "Litestream sends no watchdog pings and stays active while wedged: run it under a supervisor "
      "that does (e.g. ExecStart=ltxguard run -- litestream replicate, Type=notify) and set "
      "WatchdogSec=";
  const auto* wd = u.where("Service", "WatchdogSec");
  if (wd == nullptr) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format(
            "{}: no WatchdogSec=: systemd cannot tell a wedged Litestream from a working one",
            u.source_name),
        hint);
  }
  const auto usec = formats::parse_systemd_timespan_usec(wd->value);
  if (!usec) {
    return finding(std::string(kId), CheckStatus::unknown,
                   fmt::format("{}: WatchdogSec={} is not a time span", at(*wd), wd->value),
                   "write it like WatchdogSec=30s");
  }
  if (*usec == 0 || *usec == std::numeric_limits<uint64_t>::max()) {
    return finding(std::string(kId), CheckStatus::warning,
                   fmt::format("{}: WatchdogSec={} disables the watchdog", at(*wd), wd->value),
                   hint);
  }
  if (base_name(exec_program(u)) == "litestream") {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("{}: WatchdogSec={} but ExecStart= runs litestream itself, which never sends "
                    "WATCHDOG=1: systemd kills it every {}",
                    at(*wd), wd->value, wd->value),
        hint);
  }
  return finding(std::string(kId), CheckStatus::ok, fmt::format("WatchdogSec={}", wd->value));
}

CheckFinding rule_metrics_addr(const CheckInput& in) {
  constexpr std::string_view kId = "metrics-addr";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.config->addr.empty()) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("no addr: in {}: Litestream serves no /metrics, so no alert can see its sync "
                    "errors",
                    config_name(in)),
        "set addr: 127.0.0.1:9090 and alert on litestream_sync_error_count (and "
        "litestream_disk_full on 0.5.15+)");
  }
  return finding(std::string(kId), CheckStatus::ok, fmt::format("addr {}", in.config->addr));
}

CheckFinding rule_metrics_loopback(const CheckInput& in) {
  constexpr std::string_view kId = "metrics-loopback";
  if (auto m = config_missing(in, kId)) return *m;
  const std::string& addr = in.config->addr;
  if (addr.empty()) return finding(std::string(kId), CheckStatus::ok, "no metrics listener");
  if (is_loopback_listen_addr(addr)) {
    return finding(std::string(kId), CheckStatus::ok, fmt::format("addr {} (loopback)", addr));
  }
  // FAILED, not WARNING: Go's /debug/pprof shares the listener, unauthenticated.
  return finding(
      std::string(kId), CheckStatus::failed,
      fmt::format("addr {} is not a loopback address: /metrics and /debug/pprof are reachable "
                  "from the network",
                  addr),
      "bind it to 127.0.0.1:<port> and scrape through a local agent: Litestream serves Go's "
      "/debug/pprof (goroutine dumps, command line, CPU profiles on demand) on the same "
      "listener without authentication");
}

CheckFinding rule_meta_placement(const CheckInput& in) {
  constexpr std::string_view kId = "meta-dir-placement";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.placements.empty()) {
    return finding(std::string(kId), CheckStatus::unknown,
                   fmt::format("no database in {}", config_name(in)));
  }
  // What grows in the meta dir depends on the version that writes it (litestream-facts.md).
  std::string grows;
  if (is_release(in.version) && is_v03(*in.version)) {
    grows = fmt::format(
        "Litestream {} keeps its shadow WAL there, which grows at the app's WAL rate "
        "without bound while a replica does not advance",
        version_text(*in.version));
  } else if (is_release(in.version)) {
    grows = fmt::format(
        "Litestream {} stages a whole snapshot there (a .ltx.tmp of ~1x the database) "
        "while the app's WAL grows",
        version_text(*in.version));
  } else {
    grows =
        "0.5 stages a whole snapshot there (a .ltx.tmp of ~1x the database) while the app's WAL "
        "grows; 0.3's shadow WAL grows there without bound while a replica does not advance";
  }
  const std::string hint =
      "set meta-path: to a directory on another filesystem, or size this one for the staging "
      "(ltxguard preflight): " +
      grows;
  std::vector<Part> parts;
  for (const auto& p : in.placements) {
    if (!p.db_dev || !p.meta_dev) {
      parts.push_back({CheckStatus::unknown,
                       fmt::format("{}: filesystem not measured{}", p.db_path,
                                   p.note.empty() ? "" : ": " + p.note),
                       "run check where the database and its meta dir are mounted"});
    } else if (*p.db_dev == *p.meta_dev) {
      parts.push_back(
          {CheckStatus::warning,
           fmt::format("{}: meta dir {} is on the database's filesystem: staging competes with "
                       "the app's WAL for the same space",
                       p.db_path, p.meta_path),
           hint});
    } else {
      parts.push_back({CheckStatus::ok,
                       fmt::format("{}: meta dir {} on its own filesystem", p.db_path, p.meta_path),
                       ""});
    }
  }
  return combine(std::string(kId), parts);
}

// A `file` replica keeps a full copy of the database (0.3: snapshot plus WAL segments; 0.5: LTX
// files); on the database's filesystem that copy takes the room the app needs, and preflight
// charges it there.
CheckFinding rule_replica_same_filesystem(const CheckInput& in) {
  constexpr std::string_view kId = "replica-same-filesystem";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.placements.empty()) {
    return finding(std::string(kId), CheckStatus::unknown,
                   fmt::format("no database in {}", config_name(in)));
  }
  const std::string hint =
      "put the file replica on another disk, or replicate off the host (s3, sftp, ...): ltxguard "
      "preflight charges its full copy against this filesystem, and when the replica fills it the "
      "app gets ENOSPC too";
  std::vector<Part> parts;
  for (const auto& p : in.placements) {
    for (const auto& r : p.file_replicas) {
      if (!r.dev || !p.db_dev) {
        const std::string& why = !r.note.empty() ? r.note : p.note;
        parts.push_back({CheckStatus::unknown,
                         fmt::format("{}: file replica {}: filesystem not measured{}", p.db_path,
                                     r.path, why.empty() ? "" : ": " + why),
                         "run check where the database and the replica directory are mounted"});
      } else if (*r.dev == *p.db_dev) {
        parts.push_back(
            {CheckStatus::warning,
             fmt::format("{}: file replica {} is on the database's filesystem: it needs a second "
                         "full copy of the database on the disk the app needs",
                         p.db_path, r.path),
             hint});
      } else {
        parts.push_back(
            {CheckStatus::ok,
             fmt::format("{}: file replica {} on another filesystem", p.db_path, r.path), ""});
      }
    }
  }
  if (parts.empty()) return finding(std::string(kId), CheckStatus::ok, "no file replica");
  return combine(std::string(kId), parts);
}

// Measured with 0.3.13 (and the same in 0.5's NewDB): Litestream takes the configured path as
// given and looks for <path>-wal, while SQLite resolves the link and writes <target>-wal, so
// replication never starts ("sync error ... open <path>-wal: no such file or directory" every
// second, a new empty generation each time).
CheckFinding rule_db_path_symlink(const CheckInput& in) {
  constexpr std::string_view kId = "db-path-symlink";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.placements.empty()) {
    return finding(std::string(kId), CheckStatus::unknown,
                   fmt::format("no database in {}", config_name(in)));
  }
  std::vector<Part> parts;
  for (const auto& p : in.placements) {
    if (p.sqlite_path.empty()) {
      parts.push_back({CheckStatus::ok, fmt::format("{}: not a link to another file", p.db_path), ""});
      continue;
    }
    parts.push_back(
        {CheckStatus::failed,
         fmt::format("{}: a symlink to {}: SQLite writes {}-wal, Litestream looks for {}-wal and "
                     "cannot replicate",
                     p.db_path, p.sqlite_path, p.sqlite_path, p.db_path),
         fmt::format("set path: {} (the file the link resolves to) in the Litestream config",
                     p.sqlite_path)});
  }
  return combine(std::string(kId), parts);
}

CheckFinding rule_auto_recover(const CheckInput& in) {
  constexpr std::string_view kId = "auto-recover";
  if (auto m = config_missing(in, kId)) return *m;
  // A replica's own auto-recover wins over the top-level default (ReplicaSettings.SetDefaults).
  const formats::ConfigKey* global = nullptr;
  std::vector<std::string> replicas;                                   // every replica prefix seen
  std::vector<std::pair<std::string, const formats::ConfigKey*>> own;  // prefix -> its key
  for (const auto& k : in.config->keys) {
    if (k.key_path == "auto-recover") global = &k;
    if (auto rk = replica_key(k.key_path)) {
      const std::string prefix(rk->prefix);
      if (std::find(replicas.begin(), replicas.end(), prefix) == replicas.end())
        replicas.push_back(prefix);
      if (rk->leaf == "auto-recover") own.emplace_back(prefix, &k);
    }
  }
  std::vector<std::string> enabled;
  for (const auto& [prefix, key] : own) {
    if (yaml_true(key->value))
      enabled.push_back(fmt::format("{} (line {})", key->key_path, key->line));
  }
  if (global != nullptr && yaml_true(global->value)) {
    const bool inherited =
        replicas.empty() || std::any_of(replicas.begin(), replicas.end(), [&](const auto& r) {
          return std::none_of(own.begin(), own.end(), [&](const auto& o) { return o.first == r; });
        });
    if (inherited)
      enabled.insert(enabled.begin(), fmt::format("auto-recover (line {})", global->line));
  }
  if (enabled.empty()) return finding(std::string(kId), CheckStatus::ok, "auto-recover off");
  const std::string hint =
      "set auto-recover: false (the default) and recover by hand: run ltxguard preflight, then "
      "`litestream reset`, so the re-snapshot is known to fit";
  if (is_release(in.version) && compare(*in.version, 0, 5, kAutoRecoverSincePatch) < 0) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("{}: {} enabled: Litestream {} ignores it, but from 0.5.7 on it re-stages a "
                    "full snapshot unattended after an LTX error",
                    config_name(in), list_capped(enabled), version_text(*in.version)),
        hint);
  }
  // FAILED: it starts the disk-filling full re-snapshot unattended, announced by one WARN line.
  return finding(
      std::string(kId), CheckStatus::failed,
      fmt::format("{}: {} enabled: on a missing or corrupt LTX file Litestream resets its local "
                  "state and stages a new full snapshot (~1x the database) next to the app, "
                  "with only a warning in the log",
                  config_name(in), list_capped(enabled)),
      hint);
}

CheckFinding rule_policy_reserve(const CheckInput& in) {
  constexpr std::string_view kId = "policy-reserve";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.placements.empty()) {
    return finding(std::string(kId), CheckStatus::unknown,
                   fmt::format("no database in {}", config_name(in)));
  }
  const bool from_policy =
      in.policy.reserve_bytes.has_value() || in.policy.reserve_percent_ppm.has_value();
  const std::string key = in.policy.reserve_bytes ? "reserve_bytes" : "reserve_percent";
  std::vector<Part> parts;
  for (const auto& p : in.placements) {
    if (!p.fs_total_bytes) {
      parts.push_back({CheckStatus::unknown,
                       fmt::format("{}: filesystem size not measured{}", p.db_path,
                                   p.note.empty() ? "" : ": " + p.note),
                       "run check where the database is mounted"});
      continue;
    }
    const Reserve r = app_reserve(*p.fs_total_bytes, p.page_size_bytes, in.policy);
    const std::string where =
        from_policy ? formats::policy_key_location(in.policy, key) : "reserve";
    if (r.bytes < r.app_wal_headroom_bytes) {
      parts.push_back(
          {CheckStatus::failed,
           fmt::format("{}: {} {} is smaller than the app's WAL headroom {}: the app can hit "
                       "ENOSPC before the reserve is touched",
                       p.db_path, where, h(r.bytes), h(r.app_wal_headroom_bytes)),
           fmt::format("raise {} to at least {}, or remove it: the default is max(5% of the "
                       "filesystem, the WAL headroom)",
                       key, h(r.app_wal_headroom_bytes))});
    } else if (r.bytes >= *p.fs_total_bytes) {
      parts.push_back(
          {CheckStatus::failed,
           fmt::format("{}: {} {} is not smaller than the filesystem ({}): no staging can ever "
                       "be allowed",
                       p.db_path, where, h(r.bytes), h(*p.fs_total_bytes)),
           fmt::format("lower {}: the reserve is what the app keeps, not the disk", key)});
    } else {
      parts.push_back({CheckStatus::ok,
                       fmt::format("{}: reserve {} ({})", p.db_path, h(r.bytes), r.detail), ""});
    }
  }
  return combine(std::string(kId), parts);
}

CheckFinding rule_credentials(const CheckInput& in) {
  constexpr std::string_view kId = "replica-credentials";
  if (auto m = config_missing(in, kId)) return *m;
  if (!in.config->has_cleartext_credentials) {
    return finding(std::string(kId), CheckStatus::ok, "no credentials written in clear");
  }
  return finding(
      std::string(kId), CheckStatus::warning,
      fmt::format("{} holds a replica credential in clear", config_name(in)),
      "reference it as ${LITESTREAM_SECRET_ACCESS_KEY} (or use AWS_* variables or an instance "
      "role) and set the value in a root-only EnvironmentFile= of the unit: config files get "
      "copied, backed up and pasted into bug reports");
}

CheckFinding rule_legacy_keys(const CheckInput& in) {
  constexpr std::string_view kId = "legacy-config-keys";
  if (auto m = config_missing(in, kId)) return *m;
  std::vector<std::string> found;
  for (const auto& k : in.config->keys) {
    bool legacy = false;
    if (auto rk = replica_key(k.key_path)) {
      legacy = rk->leaf == "retention" || rk->leaf == "retention-check-interval" ||
               rk->leaf == "snapshot-interval";
    } else if (auto leaf = db_leaf(k.key_path)) {
      legacy = *leaf == "max-checkpoint-page-count";
    }
    if (legacy) found.push_back(fmt::format("{} (line {})", k.key_path, k.line));
  }
  if (found.empty()) return finding(std::string(kId), CheckStatus::ok, "no 0.3-only keys");
  const std::string listed = list_capped(found);
  if (is_release(in.version) && is_v03(*in.version)) {
    return finding(
        std::string(kId), CheckStatus::ok,
        fmt::format("{}: 0.3 keys, honoured by Litestream {}", listed, version_text(*in.version)));
  }
  const std::string hint =
      "0.5 keeps snapshots per the top-level `snapshot: {interval:, retention:}`; move the values "
      "there and delete the per-replica keys";
  if (!is_release(in.version)) {
    return finding(
        std::string(kId), CheckStatus::unknown,
        fmt::format("{}: 0.3-only keys, ignored if Litestream is 0.5 (its version is unknown)",
                    listed),
        hint);
  }
  return finding(std::string(kId), CheckStatus::warning,
                 fmt::format("{}: 0.3-only keys that Litestream {} ignores without a word", listed,
                             version_text(*in.version)),
                 hint);
}

CheckFinding rule_l0_retention(const CheckInput& in) {
  constexpr std::string_view kId = "l0-retention";
  if (auto m = config_missing(in, kId)) return *m;
  const formats::ConfigKey* key = nullptr;
  for (const auto& k : in.config->keys) {
    if (k.key_path == "l0-retention") key = &k;
  }
  if (key == nullptr)
    return finding(std::string(kId), CheckStatus::ok, "l0-retention not set (default 5m)");
  if (go_duration_is_zero(key->value) != true) {
    return finding(std::string(kId), CheckStatus::ok, fmt::format("l0-retention: {}", key->value));
  }
  const std::string where =
      fmt::format("{}:{}: l0-retention: {}", config_name(in), key->line, key->value);
  const std::string hint = "remove it (the default is 5m) or set a positive duration";
  const bool refused = is_release(in.version) && !is_v03(*in.version) &&
                       compare(*in.version, 0, 5, kL0ZeroRefusedUpToPatch) <= 0;
  if (refused) {
    return finding(
        std::string(kId), CheckStatus::warning,
        fmt::format("{}: Litestream {} refuses to start with it (\"l0 retention must be greater "
                    "than 0\")",
                    where, version_text(*in.version)),
        hint);
  }
  return finding(
      std::string(kId), CheckStatus::warning,
      fmt::format("{}: Litestream versions that accept it never delete local L0 files, so the "
                  "meta dir grows until the disk is full (0.5.16 and earlier refuse to start)",
                  where),
      hint);
}

CheckFinding rule_config_issues(const CheckInput& in) {
  constexpr std::string_view kId = "config-issues";
  if (auto m = config_missing(in, kId)) return *m;
  if (in.config->issues.empty()) return finding(std::string(kId), CheckStatus::ok, "none");
  std::vector<std::string> items;
  for (const auto& i : in.config->issues)
    items.push_back(fmt::format("{}:{}: {}", config_name(in), i.line, i.message));
  return finding(std::string(kId), CheckStatus::warning, list_capped(items),
                 "fix them: Litestream refuses or misreads these entries");
}

}  // namespace

std::string_view check_status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::ok:
      return "OK";
    case CheckStatus::warning:
      return "WARNING";
    case CheckStatus::unknown:
      return "UNKNOWN";
    case CheckStatus::failed:
      return "FAILED";
  }
  return "UNKNOWN";
}

std::vector<CheckFinding> run_checks(const CheckInput& input) {
  return {
      rule_version(input),         rule_unit_user(input),
      rule_unit_restart(input),    rule_unit_watchdog(input),
      rule_metrics_addr(input),    rule_metrics_loopback(input),
      rule_meta_placement(input),  rule_replica_same_filesystem(input),
      rule_db_path_symlink(input), rule_auto_recover(input),
      rule_policy_reserve(input),  rule_credentials(input),
      rule_legacy_keys(input),     rule_l0_retention(input),
      rule_config_issues(input),
  };
}

CheckStatus overall(const std::vector<CheckFinding>& findings) {
  CheckStatus worst = CheckStatus::ok;
  for (const auto& f : findings) worst = std::max(worst, f.status);
  return worst;
}

std::optional<bool> go_duration_is_zero(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (s == "0") return true;  // Go's special case: the only unitless duration
  if (s.empty()) return std::nullopt;
  bool zero = true;
  while (!s.empty()) {
    size_t i = 0;
    bool digits = false;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
      if (s[i] >= '0' && s[i] <= '9') {
        digits = true;
        if (s[i] != '0') zero = false;
      }
      ++i;
    }
    if (!digits) return std::nullopt;
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
    const std::string_view unit = s.substr(0, u);
    static constexpr std::string_view kUnits[] = {"ns", "us", "µs", "μs", "ms", "s", "m", "h"};
    if (std::find(std::begin(kUnits), std::end(kUnits), unit) == std::end(kUnits))
      return std::nullopt;
    s.remove_prefix(u);
  }
  return zero;
}

bool is_loopback_listen_addr(std::string_view addr) {
  std::string_view host;
  if (addr.starts_with('[')) {
    const size_t close = addr.find(']');
    if (close == std::string_view::npos) return false;
    host = addr.substr(1, close - 1);
  } else {
    const size_t colon = addr.rfind(':');
    host = colon == std::string_view::npos ? addr : addr.substr(0, colon);
  }
  if (lower(host) == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, dotted quad only: Go's listener does not resolve "127.1".
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  int digits = 0;
  for (char c : host) {
    if (c == '.') {
      if (digits == 0) return false;
      ++dots;
      digits = 0;
    } else if (c >= '0' && c <= '9') {
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0;
}

}  // namespace ltxguard::model
