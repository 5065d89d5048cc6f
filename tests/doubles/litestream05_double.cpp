// litestream05_double: a TEST DOUBLE of Litestream 0.5's first-sync staging -- NOT Litestream.
// Litestream 0.5 cannot be built here (Go 1.25). This program reproduces what its db.go does
// on the first sync with real bytes in the real layout: it holds a SQLite read transaction,
// writes every page as a real v3-frame LTX file to <meta>/ltx/0/<txid>-<txid>.ltx.tmp (at
// -rate bytes/s), fsyncs, renames to .ltx, copies it to a file replica's ltx/0/, and prints
// the upstream log lines in Go slog text format. On ENOSPC it behaves like the -mode given:
//   0.5.3   (0.5.0-0.5.5)  db.go monitor(): delete own tmp, ERROR "sync error" every 1 s, retry
//   0.5.10  (0.5.6-0.5.14) backoff 1 s doubling to 5 min, ERROR at most every 30 s, after 3
//                          disk-full errors WARN + sweep of *.tmp below the meta dir
//   0.5.12  field report (issue #1310): silent, tmp left open in place, no retries
//   0.5.15  ERROR "disk full while staging ltx file, ..." + litestream_disk_full gauge
// Log lines and error texts are taken from benbjohnson/litestream tags v0.5.3, v0.5.10,
// v0.5.15 (db.go monitor/sync/writeLTXFromDB, litestream.go LTXError, cmd/litestream
// replicate.go/main.go) and superfly/ltx v0.5.1 encoder.go. No incremental L0 files.
#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ltxguard/formats/ltx.hpp"
#include "ltxguard/util/unique_fd.hpp"
#include "support/ltx_writer.hpp"
#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ltxguard;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;
using Attrs = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kUsage =
    "litestream05_double: test double, not Litestream. Reproduces Litestream 0.5 first-sync\n"
    "staging (real LTX bytes, real layout, upstream log lines) for ltxguard's tests.\n\n"
    "Usage:\n  litestream05_double version\n"
    "  litestream05_double replicate -config FILE [-mode 0.5.3|0.5.10|0.5.12|0.5.15]\n"
    "                      [-rate BYTES_PER_SEC] [-addr HOST:PORT]\n"
    "Env: LTXGUARD_DOUBLE_MODE (default 0.5.15), LTXGUARD_DOUBLE_MAX_BACKOFF_MS, LOG_LEVEL.\n";

enum class Mode { v0_5_3, v0_5_10, v0_5_12, v0_5_15 };
std::string g_mode_name = "0.5.15";
Mode g_mode = Mode::v0_5_15;
int g_min_level = 0;  // slog levels: DEBUG -4, INFO 0, WARN 4, ERROR 8
std::mutex g_log_mu;
std::mutex g_stop_mu;
std::condition_variable g_stop_cv;
std::atomic<bool> g_stop{false};

// ---- Go slog TextHandler formatting ----------------------------------------------------
std::string go_quote(const std::string& s) {  // slog needsQuoting + strconv.Quote (ASCII)
  bool need = s.empty();
  for (unsigned char c : s)
    need = need || c == ' ' || c == '=' || c == '"' || c < 0x20 || c == 0x7f;
  if (!need) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += static_cast<char>(c);
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string go_duration(Ms d) {  // time.Duration.String for whole milliseconds
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string secs = std::to_string(ms / 1000 % 60);
  if (ms % 1000) {
    secs += fmt::format(".{:03}", ms % 1000);
    while (secs.back() == '0') secs.pop_back();
  }
  const auto h = ms / 3600000, m = ms / 60000 % 60;
  if (h) return fmt::format("{}h{}m{}s", h, m, secs);
  if (m) return fmt::format("{}m{}s", m, secs);
  return secs + "s";
}

std::string go_errno(int e) {  // Go's syscall error strings are lower case
  if (e == ENOSPC) return "no space left on device";
  if (e == EDQUOT) return "disk quota exceeded";
  std::string s = std::strerror(e);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

void log(int level, const std::string& msg, const Attrs& attrs = {}) {
  if (level < g_min_level) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<Ms>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32], zone[8];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);
  const std::string z =
      std::string(zone) == "+0000" ? "Z" : fmt::format("{}:{}", std::string(zone, 3), zone + 3);
  const char* name = level >= 8 ? "ERROR" : level >= 4 ? "WARN" : level >= 0 ? "INFO" : "DEBUG";
  std::string line =
      fmt::format("time={}.{:03}{} level={} msg={}", stamp, ms, z, name, go_quote(msg));
  for (const auto& [k, v] : attrs) line += " " + go_quote(k) + "=" + go_quote(v);
  std::lock_guard lock(g_log_mu);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Sleeps until `until` or shutdown; false on shutdown.
bool sleep_until(Clock::time_point until) {
  std::unique_lock lock(g_stop_mu);
  return !g_stop_cv.wait_until(lock, until, [] { return g_stop.load(); });
}

// ---- configuration -----------------------------------------------------------------------
struct DbConfig {
  std::string path, meta_path, replica_path;
};

struct Db {
  DbConfig cfg;
  std::string base;  // slog "db" attribute: filepath.Base(path)
  std::atomic<int> disk_full{0};
  std::atomic<uint64_t> txid{0}, sync_count{0}, sync_error_count{0};
  sqlite3* conn = nullptr;
  bool read_tx = false;
  bool replicated = false;
  bool wedged = false;      // 0.5.12: the sync goroutine never returns
  util::UniqueFd wedge_fd;  // ... and keeps its staging file open
};

std::string abs_path(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

bool load_config(const std::string& path, std::vector<DbConfig>& dbs, std::string& addr,
                 std::string& level) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root["addr"]) addr = root["addr"].as<std::string>();
    if (root["logging"] && root["logging"]["level"])
      level = root["logging"]["level"].as<std::string>();
    for (const auto& d : root["dbs"]) {
      DbConfig c;
      c.path = abs_path(d["path"].as<std::string>());
      const fs::path p(c.path);
      c.meta_path =
          d["meta-path"]
              ? abs_path(d["meta-path"].as<std::string>())
              : (p.parent_path() / ("." + p.filename().string() + "-litestream")).string();
      YAML::Node reps = d["replicas"] ? d["replicas"] : YAML::Node(YAML::NodeType::Sequence);
      if (d["replica"]) reps.push_back(d["replica"]);
      for (const auto& r : reps) {
        const std::string type = r["type"] ? r["type"].as<std::string>() : "file";
        if (type == "file" && r["path"] && c.replica_path.empty())
          c.replica_path = abs_path(r["path"].as<std::string>());
      }
      dbs.push_back(c);
    }
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "litestream05_double: config %s: %s\n", path.c_str(), e.what());
    return false;
  }
  return true;
}

// ---- one sync: the first-sync snapshot of db.go sync() --------------------------------------
struct SyncError {
  std::string text;  // err.Error() as Litestream would print it
  std::string tmp;
  bool disk_full = false;
  bool canceled = false;
};
SyncError sync_error(std::string text, std::string tmp = "", bool disk_full = false) {
  return SyncError{std::move(text), std::move(tmp), disk_full, false};
}

util::Result<void> write_all(int fd, std::span<const uint8_t> b, const std::string& path) {
  for (size_t done = 0; done < b.size();) {
    const ssize_t n = ::write(fd, b.data() + done, b.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::fail(util::sys_error(errno, path, "write"));
    done += static_cast<size_t>(n);
  }
  return {};
}

bool copy_to_replica(Db& db, const std::string& local, const std::string& name) {
  if (db.cfg.replica_path.empty()) return true;
  if (!fs::exists(local)) return false;
  const fs::path dir = fs::path(db.cfg.replica_path) / "ltx" / "0";
  const std::string dst = (dir / name).string(), tmp = dst + ".tmp";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string data = testing::read_file(local);
  util::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  std::string err;
  if (!fd.valid())
    err = fmt::format("open {}: {}", tmp, go_errno(errno));
  else if (auto r = write_all(fd.get(),
                              {reinterpret_cast<const uint8_t*>(data.data()), data.size()}, tmp);
           !r)
    err = fmt::format("write {}: {}", tmp, go_errno(r.error().errno_value));
  else if (::fsync(fd.get()) != 0)
    err = fmt::format("sync {}: {}", tmp, go_errno(errno));
  else if (::rename(tmp.c_str(), dst.c_str()) != 0)
    err = fmt::format("rename {}: {}", tmp, go_errno(errno));
  if (!err.empty()) {
    ::unlink(tmp.c_str());
    log(8, "monitor error",
        {{"db", db.base}, {"replica", "file"}, {"error", "write ltx file: " + err}});
    return false;
  }
  log(-4, "ltx file uploaded",
      {{"db", db.base},
       {"replica", "file"},
       {"filename", local},
       {"minTXID", "0000000000000001"},
       {"maxTXID", "0000000000000001"}});
  return true;
}

// Uploads the snapshot, then lets the app checkpoint again (the brief's simplification: real
// 0.5 keeps its read transaction and releases it only around its own checkpoints).
void replicate(Db& db) {
  const std::string name = formats::format_ltx_name(1, 1);
  if (!copy_to_replica(db, (fs::path(db.cfg.meta_path) / "ltx" / "0" / name).string(), name))
    return;
  db.replicated = true;
  sqlite3_exec(db.conn, "ROLLBACK", nullptr, nullptr, nullptr);
  db.read_tx = false;
}

std::optional<SyncError> sync_once(Db& db, uint64_t rate_bytes_per_sec) {
  if (!db.conn) {
    if (!fs::exists(db.cfg.path)) return std::nullopt;  // "sync: no database found"
    if (sqlite3_open_v2(db.cfg.path.c_str(), &db.conn, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      return sync_error(fmt::format("init: open database: {}", sqlite3_errmsg(db.conn)));
    sqlite3_busy_timeout(db.conn, 1000);
  }
  if (!db.read_tx) {  // Litestream's long-running read transaction (db.go acquireReadLock)
    if (sqlite3_exec(db.conn, "BEGIN; SELECT COUNT(1) FROM sqlite_master;", nullptr, nullptr,
                     nullptr) != SQLITE_OK) {
      sqlite3_exec(db.conn, "ROLLBACK", nullptr, nullptr, nullptr);
      return sync_error(fmt::format("init: acquire read lock: {}", sqlite3_errmsg(db.conn)));
    }
    db.read_tx = true;
  }
  auto img = testing::read_db_image(db.conn, db.cfg.path);
  if (!img) return sync_error("sync: " + img.error().to_string());
  const std::string name = formats::format_ltx_name(1, 1);
  const std::string final_path = (fs::path(db.cfg.meta_path) / "ltx" / "0" / name).string();
  const std::string tmp = final_path + ".tmp";
  std::error_code ec;
  fs::create_directories(fs::path(tmp).parent_path(), ec);
  if (ec)
    return sync_error(fmt::format("sync: mkdir {}: {}", fs::path(tmp).parent_path().string(),
                                  go_errno(ec.value())),
                      tmp, ec.value() == ENOSPC);
  util::UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid())
    return sync_error(fmt::format("sync: open temp ltx file: open {}: {}", tmp, go_errno(errno)),
                      tmp, errno == ENOSPC);

  const bool v15 = g_mode == Mode::v0_5_15;
  const auto start = Clock::now();
  uint64_t written = 0;
  testing::LtxWriteOptions opt;
  opt.page_size_bytes = img->page_size_bytes;
  opt.commit_pages = img->page_count;
  opt.timestamp_ms =
      std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch()).count();
  opt.wal_offset = img->wal_offset;
  opt.wal_size = img->wal_size;
  opt.wal_salt1 = img->wal_salt1;
  opt.wal_salt2 = img->wal_salt2;
  testing::LtxWriter enc(opt, [&](std::span<const uint8_t> b) -> util::Result<void> {
    if (g_stop)
      return util::fail(util::Error{util::ErrorCode::io, ECANCELED, tmp, "context canceled"});
    if (auto r = write_all(fd.get(), b, tmp); !r) return r;
    written += b.size();
    if (rate_bytes_per_sec > 0 && !sleep_until(start + Ms(written * 1000 / rate_bytes_per_sec)))
      return util::fail(util::Error{util::ErrorCode::io, ECANCELED, tmp, "context canceled"});
    return {};
  });
  // Wraps an encoder failure as db.go sync() and ltx encoder.go do; `what` is db.go's context
  // ("encode ltx header", "encode ltx frame (pgno=N)", "close ltx encoder").
  auto fail = [&](const util::Error& e, const std::string& what) -> SyncError {
    SyncError s{"", tmp, e.errno_value == ENOSPC || e.errno_value == EDQUOT,
                e.errno_value == ECANCELED};
    const std::string io = fmt::format("{}: write {}: {}", e.message, tmp, go_errno(e.errno_value));
    const bool page = what.rfind("encode ltx frame", 0) == 0;
    if (s.canceled)
      s.text = "context canceled";
    else if (v15 && s.disk_full)
      s.text = fmt::format("sync: stage-write ltx file {}: disk full: {}", tmp,
                           page ? what + ": " + io : io);
    else if (page)
      s.text = "sync: write ltx from db: " + what + ": " + io;
    else
      s.text = "sync: " + what + ": " + io;
    return s;
  };
  std::optional<SyncError> err;
  if (auto r = enc.begin(); !r) err = fail(r.error(), "encode ltx header");
  const uint32_t lock = formats::ltx_lock_pgno(img->page_size_bytes);
  const auto* bytes = reinterpret_cast<const uint8_t*>(img->bytes.data());
  for (uint32_t pgno = 1; !err && pgno <= img->page_count; ++pgno) {
    if (pgno == lock) continue;
    const std::span<const uint8_t> page(bytes + uint64_t{pgno - 1} * img->page_size_bytes,
                                        img->page_size_bytes);
    if (auto r = enc.add_page(pgno, page); !r)
      err = fail(r.error(), fmt::format("encode ltx frame (pgno={})", pgno));
  }
  if (!err) {
    if (auto r = enc.finish(); !r) err = fail(r.error(), "close ltx encoder");
  }
  if (!err && ::fsync(fd.get()) != 0) {
    const int e = errno;
    err = sync_error(v15 && e == ENOSPC
                         ? fmt::format("sync: stage-sync ltx file {}: disk full: sync {}: {}", tmp,
                                       tmp, go_errno(e))
                         : fmt::format("sync: sync ltx file: sync {}: {}", tmp, go_errno(e)),
                     tmp, e == ENOSPC);
  }
  if (err) {
    if (g_mode == Mode::v0_5_12 && err->disk_full) {  // the wedge: nothing returns, nothing logs
      db.wedged = true;
      db.wedge_fd = std::move(fd);
      return std::nullopt;
    }
    fd.reset();
    ::unlink(tmp.c_str());  // db.go: defer os.Remove(tmpFilename)
    return err;
  }
  fd.reset();
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return sync_error(
        fmt::format("sync: rename ltx file: rename {} {}: {}", tmp, final_path, go_errno(e)), tmp);
  }
  db.txid = 1;
  log(-4, "db sync", {{"db", db.base}, {"status", "ok"}});
  replicate(db);
  return std::nullopt;
}

void remove_tmp_files(const std::string& root) {  // litestream.go removeTmpFiles
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".tmp") fs::remove(it->path(), ec);
  }
}

// db.go monitor(): a 1 s ticker, per-mode backoff and logging.
void monitor(Db& db, uint64_t rate, Ms max_backoff) {
  const Ms interval(1000);
  Ms backoff(0);
  int consecutive = 0;
  std::optional<Clock::time_point> last_log;
  auto next_tick = Clock::now() + interval;
  for (;;) {
    if (!sleep_until(next_tick)) return;
    const auto now = Clock::now();  // a ticker drops ticks missed during a long sync
    while (next_tick <= now) next_tick += interval;
    if (backoff.count() > 0 && !sleep_until(Clock::now() + backoff)) return;
    if (db.wedged) continue;
    if (db.txid > 0) {  // idle: no incremental L0 files in the double
      if (!db.replicated) replicate(db);
      continue;
    }
    auto err = sync_once(db, rate);
    ++db.sync_count;
    if (err && err->canceled) return;
    if (err) ++db.sync_error_count;
    if (g_mode == Mode::v0_5_15) db.disk_full = err && err->disk_full ? 1 : 0;
    if (!err) {
      if (consecutive > 0 && g_mode != Mode::v0_5_3)
        log(0, "sync recovered",
            {{"db", db.base}, {"previous_errors", std::to_string(consecutive)}});
      backoff = Ms(0);
      consecutive = 0;
      continue;
    }
    if (g_mode == Mode::v0_5_3) {
      log(8, "sync error", {{"db", db.base}, {"error", err->text}});
      continue;
    }
    ++consecutive;
    backoff =
        backoff.count() == 0 ? std::min(interval, max_backoff) : std::min(backoff * 2, max_backoff);
    if (!last_log || Clock::now() - *last_log >= std::chrono::seconds(30)) {
      if (g_mode == Mode::v0_5_15 && err->disk_full) {
        log(8, "disk full while staging ltx file, replication paused until space is freed",
            {{"db", db.base},
             {"error", err->text},
             {"path", err->tmp},
             {"txid", "0000000000000001"},
             {"consecutive_errors", std::to_string(consecutive)},
             {"backoff", go_duration(backoff)},
             {"max_backoff", go_duration(max_backoff)}});
      } else {
        log(8, "sync error",
            {{"db", db.base},
             {"error", err->text},
             {"consecutive_errors", std::to_string(consecutive)},
             {"backoff", go_duration(backoff)}});
      }
      last_log = Clock::now();
    }
    if (err->disk_full && consecutive >= 3) {
      log(4, "attempting temp file cleanup due to persistent disk errors", {{"db", db.base}});
      remove_tmp_files(db.cfg.meta_path);
    }
  }
}

std::string prom_label(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '"'    ? std::string("\\\"")
           : c == '\\' ? std::string("\\\\")
           : c == '\n' ? std::string("\\n")
                       : std::string(1, c);
  return out;
}

std::string metrics_text(const std::vector<std::unique_ptr<Db>>& dbs) {
  std::string out;
  auto family = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& db : dbs)
      out += fmt::format("{}{{db=\"{}\"}} {}\n", name, prom_label(db->cfg.path), value(*db));
  };
  if (g_mode == Mode::v0_5_15)
    family("litestream_disk_full", "gauge",
           "Whether replication is paused because the local disk is full",
           [](const Db& d) { return d.disk_full.load(); });
  family("litestream_sync_count", "counter", "Number of sync operations performed",
         [](const Db& d) { return d.sync_count.load(); });
  family("litestream_sync_error_count", "counter", "Number of sync errors that have occurred",
         [](const Db& d) { return d.sync_error_count.load(); });
  family("litestream_txid", "gauge", "The current transaction ID",
         [](const Db& d) { return d.txid.load(); });
  return out;
}

bool set_mode(const std::string& m) {
  static const std::pair<const char*, Mode> modes[] = {{"0.5.3", Mode::v0_5_3},
                                                       {"0.5.10", Mode::v0_5_10},
                                                       {"0.5.12", Mode::v0_5_12},
                                                       {"0.5.15", Mode::v0_5_15}};
  for (const auto& [name, mode] : modes) {
    if (m != name) continue;
    g_mode_name = name;
    g_mode = mode;
    return true;
  }
  std::fprintf(stderr, "litestream05_double: unknown -mode %s (0.5.3, 0.5.10, 0.5.12, 0.5.15)\n",
               m.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* m = std::getenv("LTXGUARD_DOUBLE_MODE"); m && !set_mode(m)) return 2;
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "help" || cmd == "-h" || cmd == "--help") return std::fputs(kUsage, stdout), 0;
  std::string config_path, addr_flag;
  uint64_t rate = 0;
  for (int i = 2; i < argc; ++i) {  // Go flag syntax: -name value, --name value, -name=value
    std::string a = argv[i], v;
    if (a.rfind("--", 0) == 0) a.erase(0, 1);
    if (const auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a.resize(eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    }
    if (a == "-config") {
      config_path = v;
    } else if (a == "-mode") {
      if (!set_mode(v)) return 2;
    } else if (a == "-rate") {
      rate = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "-addr") {
      addr_flag = v;
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (cmd == "version") return std::printf("%s\n", g_mode_name.c_str()), 0;
  if (cmd != "replicate" || config_path.empty()) return std::fputs(kUsage, stderr), 2;

  std::vector<DbConfig> cfgs;
  std::string addr, level;
  if (!load_config(config_path, cfgs, addr, level)) return 1;
  if (!addr_flag.empty()) addr = addr_flag;
  std::string lv = std::getenv("LOG_LEVEL") ? std::getenv("LOG_LEVEL") : level;
  for (auto& c : lv) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  g_min_level = lv == "DEBUG" || lv == "TRACE"    ? -4
                : lv == "WARN" || lv == "WARNING" ? 4
                : lv == "ERROR"                   ? 8
                                                  : 0;
  Ms max_backoff(5 * 60 * 1000);  // db.go DefaultSyncBackoffMax
  if (const char* b = std::getenv("LTXGUARD_DOUBLE_MAX_BACKOFF_MS"))
    max_backoff = std::min(max_backoff, Ms(std::atoll(b)));

  sigset_t sigs;  // blocked in every thread; main waits for them
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  log(0, "litestream", {{"version", g_mode_name}, {"level", level}});
  if (cfgs.empty()) log(8, "no databases specified in configuration");
  std::vector<std::unique_ptr<Db>> dbs;
  for (const auto& c : cfgs) {
    auto db = std::make_unique<Db>();
    db->cfg = c;
    db->base = fs::path(c.path).filename().string();
    log(0, "initialized db", {{"path", c.path}});
    if (!c.replica_path.empty())
      log(0, "replicating to",
          {{"type", "file"}, {"sync-interval", "1s"}, {"path", c.replica_path}});
    dbs.push_back(std::move(db));
  }
  httplib::Server server;
  std::thread http;
  if (!addr.empty()) {
    const auto colon = addr.rfind(':');
    const std::string host = addr.substr(0, colon);
    const int port = std::atoi(addr.substr(colon + 1).c_str());
    log(0, "serving metrics on",
        {{"url", fmt::format("http://{}:{}/metrics", host.empty() ? "localhost" : host, port)}});
    server.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(dbs), "text/plain; version=0.0.4; charset=utf-8");
    });
    if (!server.bind_to_port(host.empty() ? "0.0.0.0" : host, port))
      log(8, "cannot start metrics server",
          {{"error", fmt::format("listen tcp {}: bind: address already in use", addr)}});
    else
      http = std::thread([&] { server.listen_after_bind(); });
  }
  std::vector<std::thread> workers;
  for (auto& db : dbs)
    workers.emplace_back([&db, rate, max_backoff] { monitor(*db, rate, max_backoff); });

  int sig = 0;
  sigwait(&sigs, &sig);
  log(0, "signal received, litestream shutting down");
  {
    std::lock_guard lock(g_stop_mu);
    g_stop = true;
  }
  g_stop_cv.notify_all();
  for (auto& w : workers) w.join();
  server.stop();
  if (http.joinable()) http.join();
  for (auto& db : dbs) {
    if (db->conn) sqlite3_close(db->conn);  // ends the read transaction
  }
  log(0, "litestream shut down");
  return 0;
}
