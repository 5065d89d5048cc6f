#include "ltxguard/output/report_html.hpp"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <iterator>
#include <limits>
#include <unordered_map>

#include "ltxguard/util/bytes.hpp"

namespace ltxguard::output {
namespace {

using formats::RecordDb;
using formats::RecordEvent;
using formats::RecordFsValues;
using formats::RecordPoint;
using formats::RecordState;
using formats::WatchRecord;

// Chart geometry in SVG user units; the SVG scales to the page width.
constexpr double kWidth = 1100;
constexpr double kHeight = 410;
constexpr double kLeft = 84;
constexpr double kRight = 1086;
constexpr double kTop = 62;  // room above for three rows of marker labels
constexpr double kBottom = 340;
constexpr double kBandTop = 346;  // the state band under the plot
constexpr double kBandHeight = 10;
constexpr double kTickLabelY = 376;
constexpr double kLabelRowsY[] = {20, 36, 52};
constexpr double kLabelCharWidth = 6.6;  // 11 px sans-serif, roughly
constexpr size_t kMaxLabelChars = 24;

// Minus sign for equations (U+2212), as the watcher's own reasons write it.
constexpr std::string_view kMinus = "\u2212";

int64_t as_signed(uint64_t v) {
  return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(v);
}
std::string hb(int64_t v) { return util::human_bytes(v); }

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

std::string utc(int64_t ms) {
  const time_t secs = static_cast<time_t>(floor_div(ms, 1000));
  tm t{};
  if (gmtime_r(&secs, &t) == nullptr) return fmt::format("{} ms since the epoch", ms);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} UTC", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                     ms - floor_div(ms, 1000) * 1000);
}

// "+1:05.5" (under an hour, tenths when asked) or "+2:01:05": time since the record's start.
std::string elapsed(int64_t ms, bool tenths = true) {
  if (ms < 0) ms = 0;
  const int64_t total_s = ms / 1000;
  const int64_t h = total_s / 3600, m = (total_s / 60) % 60, s = total_s % 60;
  if (h > 0) return fmt::format("+{}:{:02}:{:02}", h, m, s);
  if (!tenths) return fmt::format("+{}:{:02}", m, s);
  return fmt::format("+{}:{:02}.{}", m, s, (ms / 100) % 10);
}

std::string duration_text(int64_t ms) {
  if (ms < 60'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
  if (ms < 3'600'000) return fmt::format("{} min {} s", ms / 60'000, (ms / 1000) % 60);
  return fmt::format("{} h {} min", ms / 3'600'000, (ms / 60'000) % 60);
}

bool has_staging_fs_apart(const RecordDb& db) {
  return std::any_of(db.points.begin(), db.points.end(), [](const RecordPoint& p) {
    return p.staging_fs && p.db_fs && p.staging_fs->dev != p.db_fs->dev;
  });
}

uint64_t app_free(const RecordFsValues& f, bool root_view) {
  return root_view ? f.free_bytes : f.avail_bytes;
}

int64_t sub_sat(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  return r;
}

// The watcher's headroom on one filesystem, saturating as model::WatchModel does.
int64_t terms(const RecordFsValues& f, bool root_view) {
  return sub_sat(sub_sat(as_signed(app_free(f, root_view)), as_signed(f.reserve_bytes)),
                 as_signed(f.charge_bytes));
}

std::string mount_of(const WatchRecord& rec, uint64_t dev) {
  for (const auto& f : rec.filesystems) {
    if (f.dev == dev) return f.mount;
  }
  return {};
}

BudgetEquation equation_at(const WatchRecord& rec, const RecordPoint& p) {
  BudgetEquation eq;
  eq.headroom_bytes = p.headroom_bytes;
  std::vector<const RecordFsValues*> fss;
  if (p.db_fs) fss.push_back(&*p.db_fs);
  if (p.staging_fs) fss.push_back(&*p.staging_fs);
  const auto fill = [&](const RecordFsValues& f, bool root_view, bool adds_up) {
    eq.mount = mount_of(rec, f.dev);
    eq.root_view = root_view;
    eq.app_free_bytes = as_signed(app_free(f, root_view));
    eq.reserve_bytes = as_signed(f.reserve_bytes);
    eq.remaining_staging_bytes = as_signed(f.charge_bytes);
    eq.adds_up = adds_up;
  };
  for (const bool root_view : {false, true}) {
    for (const RecordFsValues* f : fss) {
      if (terms(*f, root_view) == p.headroom_bytes) {
        fill(*f, root_view, true);
        return eq;
      }
    }
  }
  if (!fss.empty()) fill(*fss.front(), false, false);
  return eq;
}

// Per event of the record, the index of the database it names, or kHostEvent: no database,
// or one the record has no samples of. Such events belong on every database's page part.
constexpr size_t kHostEvent = std::numeric_limits<size_t>::max();

std::vector<size_t> event_owners(const WatchRecord& rec) {
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < rec.databases.size(); ++i) index.emplace(rec.databases[i].path, i);
  std::vector<size_t> owners;
  owners.reserve(rec.events.size());
  for (const auto& e : rec.events) {
    const auto it = e.db.empty() ? index.end() : index.find(e.db);
    owners.push_back(it == index.end() ? kHostEvent : it->second);
  }
  return owners;
}

bool event_is_for(size_t owner, size_t db_index) {
  return owner == kHostEvent || owner == db_index;
}

DbSummary summarize(const WatchRecord& rec, size_t db_index, const std::vector<size_t>& owners);

// The point recorded at time t (the sample that carried an event), if any.
const RecordPoint* point_at(const RecordDb& db, int64_t t) {
  const auto it = std::lower_bound(db.points.begin(), db.points.end(), t,
                                   [](const RecordPoint& p, int64_t v) { return p.time_ms < v; });
  return it != db.points.end() && it->time_ms == t ? &*it : nullptr;
}

struct EventStyle {
  std::string label;
  std::string css;  // class, from a fixed set
};

EventStyle event_style(const RecordEvent& e, const RecordDb& db) {
  if (e.kind == "state_change") {
    const RecordPoint* p = e.db == db.path ? point_at(db, e.time_ms) : nullptr;
    if (p == nullptr || p->state == RecordState::unknown) return {"state change", "ev-other"};
    const std::string name(formats::to_string(p->state));
    return {name, "ev-" + name};
  }
  if (e.kind == "protective_stop") return {"stop", "ev-stop"};
  if (e.kind == "disk_full") return {"ENOSPC", "ev-enospc"};
  if (e.kind == "alarm_latched") return {"alarm", "ev-alarm"};
  if (e.kind == "wedge") return {"wedge", "ev-wedge"};
  if (e.kind == "sawtooth") return {"sawtooth", "ev-sawtooth"};
  if (e.kind == "remaining_write_cannot_fit") return {"cannot fit", "ev-cannot-fit"};
  size_t n = std::min(e.kind.size(), kMaxLabelChars);
  while (n > 0 && n < e.kind.size() && (static_cast<unsigned char>(e.kind[n]) & 0xC0) == 0x80) --n;
  return {e.kind.substr(0, n), "ev-other"};
}

class Html {
 public:
  explicit Html(const formats::Redactor& r) : redactor_(r) {}
  Html& raw(std::string_view s) {
    out_.append(s);
    return *this;
  }
  // Text from the record: redacted, then escaped.
  Html& text(std::string_view s) {
    out_.append(html_escape(redactor_.redact(s)));
    return *this;
  }
  template <typename... Args>
  Html& f(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), format, std::forward<Args>(args)...);
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  const formats::Redactor& redactor_;
  std::string out_;
};

struct Chart {
  int64_t t0 = 0;
  int64_t span_ms = 1;
  double ymax = 1;
  size_t columns = 1;
  int64_t gap_ms = 0;  // consecutive points further apart are not joined

  [[nodiscard]] double x(int64_t t) const {
    return kLeft + static_cast<double>(t - t0) / static_cast<double>(span_ms) * (kRight - kLeft);
  }
  [[nodiscard]] double y(double v) const {
    v = std::clamp(v, 0.0, ymax);
    return kBottom - v / ymax * (kBottom - kTop);
  }
  [[nodiscard]] size_t column(int64_t t) const {
    const double c =
        static_cast<double>(t - t0) / static_cast<double>(span_ms) * static_cast<double>(columns);
    return static_cast<size_t>(std::clamp(c, 0.0, static_cast<double>(columns - 1)));
  }
};

using Getter = std::function<std::optional<double>(const RecordPoint&)>;

// An SVG path through the points where `get` has a value, broken at missing values and time
// gaps, keeping per column the first, lowest, highest and last point (M4 downsampling).
std::string series_path(const std::vector<RecordPoint>& pts, const Getter& get, const Chart& c) {
  std::string d;
  size_t in_subpath = 0;
  struct Bucket {
    size_t col, first, last, lo, hi;
    double lo_v, hi_v;
  };
  std::optional<Bucket> b;
  const auto emit = [&](size_t i) {
    fmt::format_to(std::back_inserter(d), "{}{:.1f} {:.1f}",
                   in_subpath == 0 ? (d.empty() ? "M" : " M") : " L", c.x(pts[i].time_ms),
                   c.y(*get(pts[i])));
    ++in_subpath;
  };
  const auto flush = [&] {
    if (!b) return;
    size_t idx[4] = {b->first, b->lo, b->hi, b->last};
    std::sort(std::begin(idx), std::end(idx));
    const auto end = std::unique(std::begin(idx), std::end(idx));
    for (auto* it = std::begin(idx); it != end; ++it) emit(*it);
    b.reset();
  };
  const auto end_subpath = [&] {
    flush();
    if (in_subpath == 1) d += " h0.01";  // a lone sample: a dot (round line caps)
    in_subpath = 0;
  };
  // A sentinel, not std::optional: g++ 12 at -Os warns (wrongly) that the optional's value
  // may be read uninitialised.
  constexpr size_t kNoPrev = SIZE_MAX;
  size_t prev = kNoPrev;
  for (size_t i = 0; i < pts.size(); ++i) {
    const auto v = get(pts[i]);
    if (!v) {
      end_subpath();
      prev = kNoPrev;
      continue;
    }
    if (prev != kNoPrev && pts[i].time_ms - pts[prev].time_ms > c.gap_ms) end_subpath();
    prev = i;
    const size_t col = c.column(pts[i].time_ms);
    if (!b || b->col != col) {
      flush();
      b = Bucket{col, i, i, i, i, *v, *v};
      continue;
    }
    b->last = i;
    if (*v < b->lo_v) {
      b->lo = i;
      b->lo_v = *v;
    }
    if (*v > b->hi_v) {
      b->hi = i;
      b->hi_v = *v;
    }
  }
  end_subpath();
  return d;
}

// 1, 2, 5 × powers of 1024 bytes: ticks land on round human_bytes values.
double nice_bytes_step(double raw) {
  double unit = 1;
  while (unit * 1024 <= raw) unit *= 1024;
  for (const double m : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0}) {
    if (m * unit >= raw) return m * unit;
  }
  return 1024 * unit;
}

int64_t nice_time_step(int64_t span_ms) {
  static constexpr int64_t kSteps[] = {100,       200,       500,        1000,       2000,
                                       5000,      10'000,    15'000,     30'000,     60'000,
                                       120'000,   300'000,   600'000,    900'000,    1'800'000,
                                       3'600'000, 7'200'000, 10'800'000, 21'600'000, 43'200'000};
  for (const int64_t s : kSteps) {
    if (span_ms / s <= 8) return s;
  }
  int64_t day = 86'400'000;
  while (span_ms / day > 8) day *= 2;
  return day;
}

int64_t median_interval_ms(const std::vector<RecordPoint>& pts) {
  if (pts.size() < 2) return 1000;
  std::vector<int64_t> d;
  d.reserve(pts.size() - 1);
  for (size_t i = 1; i < pts.size(); ++i) d.push_back(pts[i].time_ms - pts[i - 1].time_ms);
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(d.size() / 2), d.end());
  return d[d.size() / 2];
}

const char* state_color(RecordState s) {
  switch (s) {
    case RecordState::ok:
      return "#2e7d32";
    case RecordState::warning:
      return "#f9a825";
    case RecordState::critical:
      return "#c62828";
    case RecordState::wedged:
      return "#6a1b9a";
    case RecordState::unknown:
      break;
  }
  return "#9e9e9e";
}

constexpr std::string_view kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d1d1f;background:#fff}
main{max-width:1140px;margin:0 auto;padding:12px 20px 32px}
h1{font-size:20px;margin:4px 0}
h2{font-size:16px;margin:18px 0 4px;word-break:break-all}
h3{font-size:14px;margin:14px 0 4px}
p,li,td,th{font-size:13px;line-height:1.45}
.badge{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:700;font-size:13px}
.badge.failed{background:#c62828}.badge.ok{background:#2e7d32}.badge.none{background:#757575}
.meta{color:#555;margin:2px 0}
.notes{color:#8a4b00}
ul.facts{margin:4px 0;padding-left:18px}
.st{font-weight:700}
.st-ok{color:#2e7d32}.st-warning{color:#b26a00}.st-critical{color:#c62828}.st-wedged{color:#6a1b9a}.st-unknown{color:#757575}
svg.timeline{width:100%;height:auto;display:block;border:1px solid #e0e0e0;border-radius:4px;background:#fff}
svg text{font-size:11px;fill:#333}
.grid{stroke:#eee;stroke-width:1}
.axis{stroke:#999;stroke-width:1}
.series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.s-avail{stroke:#1f77b4}.s-avail-staging{stroke:#17becf;stroke-dasharray:6 3}
.s-reserve{stroke:#d62728;stroke-dasharray:8 4}
.s-staging{stroke:#ff7f0e}.s-projected{stroke:#ff7f0e;stroke-dasharray:2 3;stroke-width:1.5}
.s-wal{stroke:#2ca02c}
.marker line{stroke-width:1.5;stroke-dasharray:3 2}
.ev-warning line{stroke:#e0a000}.ev-warning text{fill:#9a6b00}
.ev-critical line{stroke:#c62828}.ev-critical text{fill:#c62828}
.ev-wedged line,.ev-wedge line{stroke:#6a1b9a}.ev-wedged text,.ev-wedge text{fill:#6a1b9a}
.ev-ok line{stroke:#2e7d32}.ev-ok text{fill:#2e7d32}
.ev-stop line{stroke:#000;stroke-width:2.5;stroke-dasharray:none}.ev-stop text{fill:#000;font-weight:700}
.ev-enospc line{stroke:#b71c1c;stroke-width:2.5;stroke-dasharray:none}.ev-enospc text{fill:#b71c1c;font-weight:700}
.ev-alarm line{stroke:#c2185b;stroke-width:2}.ev-alarm text{fill:#c2185b;font-weight:700}
.ev-sawtooth line{stroke:#8c564b}.ev-sawtooth text{fill:#8c564b}
.ev-cannot-fit line{stroke:#ef6c00}.ev-cannot-fit text{fill:#ef6c00}
.ev-other line{stroke:#757575}.ev-other text{fill:#555}
.tightest{fill:#fff;stroke:#000;stroke-width:2}
ul.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 16px}
ul.legend li{font-size:12px}
.sw{display:inline-block;width:22px;height:0;border-top:3px solid;vertical-align:middle;margin-right:5px}
.sw.s-avail{border-color:#1f77b4}.sw.s-avail-staging{border-color:#17becf;border-top-style:dashed}
.sw.s-reserve{border-color:#d62728;border-top-style:dashed}.sw.s-staging{border-color:#ff7f0e}
.sw.s-projected{border-color:#ff7f0e;border-top-style:dotted}.sw.s-wal{border-color:#2ca02c}
.box{display:inline-block;width:12px;height:10px;vertical-align:middle;margin-right:4px}
.equation{font-size:15px;margin:4px 0}
.equation .neg{color:#c62828;font-weight:700}.equation .pos{color:#2e7d32;font-weight:700}
.exact{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;color:#555;margin:2px 0}
table.events{border-collapse:collapse;width:100%}
table.events td,table.events th{border-bottom:1px solid #eee;padding:2px 6px;text-align:left;vertical-align:top}
table.events td{white-space:nowrap}table.events td.msg{white-space:normal;word-break:break-word}
footer{color:#777;font-size:12px;margin-top:24px}
)";

struct SeriesDef {
  const char* css;
  std::string name;
  Getter get;
};

class Renderer {
 public:
  Renderer(const WatchRecord& rec, const formats::Redactor& redactor, const ReportOptions& opts)
      : rec_(rec), opts_(opts), h_(redactor) {}

  std::string render() {
    std::vector<DbSummary> summaries;
    for (size_t i = 0; i < rec_.databases.size(); ++i)
      summaries.push_back(summarize(rec_, i, owners_));
    const bool any = !summaries.empty();
    const bool failed = std::any_of(summaries.begin(), summaries.end(),
                                    [](const DbSummary& s) { return s.failed; });
    const char* verdict = !any ? "NO DATA" : failed ? "FAILED" : "OK";
    const char* badge = !any ? "none" : failed ? "failed" : "ok";

    h_.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .raw(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
            "'unsafe-inline'\">\n")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        .f("<title>ltxguard report: {}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
           verdict, kStyle);
    h_.f("<h1>ltxguard report <span class=\"badge {}\" id=\"verdict\">{}</span></h1>\n", badge,
         verdict);
    render_header(summaries);
    for (size_t i = 0; i < rec_.databases.size(); ++i)
      render_db(i, rec_.databases[i], summaries[i]);
    h_.raw(
          "<footer>Drawn from the samples of <code>ltxguard watch --record</code>: app-visible "
          "free space is ")
        .raw(
            "what the application can still write (f_bavail; f_bfree when it runs as root), the "
            "reserve is ")
        .raw(
            "what ltxguard keeps for the application's WAL, staging is Litestream's local copy "
            "under its meta ")
        .raw("directory. Generated by ");
    h_.text(opts_.generator.empty() ? "ltxguard" : opts_.generator)
        .raw(".</footer>\n</main>\n</body>\n</html>\n");
    return h_.take();
  }

 private:
  void render_header(const std::vector<DbSummary>& summaries) {
    h_.raw("<p class=\"meta\">Record ");
    if (!opts_.source.empty()) h_.raw("<code>").text(opts_.source).raw("</code>: ");
    if (rec_.samples == 0) {
      h_.raw("no valid sample.</p>\n");
    } else {
      h_.f("{} sample{} from {} to {} ({}), {} database{}.</p>\n", rec_.samples,
           rec_.samples == 1 ? "" : "s", utc(rec_.first_time_ms), utc(rec_.last_time_ms),
           duration_text(rec_.last_time_ms - rec_.first_time_ms), rec_.databases.size(),
           rec_.databases.size() == 1 ? "" : "s");
    }
    if (!summaries.empty()) {
      size_t worst = 0;
      for (size_t i = 1; i < summaries.size(); ++i) {
        if (summaries[i].worst_state > summaries[worst].worst_state) worst = i;
      }
      const DbSummary& s = summaries[worst];
      const RecordDb& db = rec_.databases[worst];
      const std::string state(formats::to_string(s.worst_state));
      h_.f("<p class=\"meta\">Worst state <span class=\"st st-{}\">{}</span> at {}", state, state,
           elapsed(db.points[s.worst_state_point].time_ms - rec_.first_time_ms));
      if (summaries.size() > 1) h_.raw(" (").text(db.path).raw(")");
      h_.raw(".</p>\n");
    }
    std::vector<std::string> notes = opts_.notes;
    if (rec_.lines_malformed > 0)
      notes.push_back(fmt::format("{} malformed line(s) skipped", rec_.lines_malformed));
    if (rec_.lines_too_long > 0)
      notes.push_back(fmt::format("{} over-long line(s) skipped", rec_.lines_too_long));
    if (rec_.samples_out_of_order > 0) {
      notes.push_back(
          fmt::format("{} sample(s) older than the one before skipped", rec_.samples_out_of_order));
    }
    if (rec_.samples_dropped > 0) {
      notes.push_back(fmt::format("{} sample(s) after the first {} not read", rec_.samples_dropped,
                                  rec_.samples));
    }
    if (rec_.db_points_dropped > 0) {
      notes.push_back(fmt::format("{} sample(s) of databases beyond the first {} not shown",
                                  rec_.db_points_dropped, rec_.databases.size()));
    }
    if (rec_.events_dropped > 0)
      notes.push_back(fmt::format("{} event(s) not kept", rec_.events_dropped));
    if (rec_.strings_emptied > 0)
      notes.push_back(fmt::format("{} reason(s) not kept", rec_.strings_emptied));
    if (notes.empty()) return;
    h_.raw("<ul class=\"notes\">\n");
    for (const auto& n : notes) h_.raw("<li>").text(n).raw("</li>\n");
    for (const auto& p : rec_.problems) h_.raw("<li>").text(p).raw("</li>\n");
    h_.raw("</ul>\n");
  }

  std::string at(int64_t t) const {
    return fmt::format("{} ({})", elapsed(t - rec_.first_time_ms), utc(t));
  }

  void render_db(size_t index, const RecordDb& db, const DbSummary& s) {
    h_.f("<section class=\"db\" id=\"db-{}\">\n<h2>", index + 1).text(db.path).raw("</h2>\n");
    render_verdict(db, s);
    render_chart(index, db, s);
    render_equation(db, s);
    render_events(index, db);
    h_.raw("</section>\n");
  }

  void render_verdict(const RecordDb& db, const DbSummary& s) {
    const std::string state(formats::to_string(s.worst_state));
    const RecordPoint& wp = db.points[s.worst_state_point];
    h_.f("<p class=\"verdict\"><span class=\"badge {}\">{}</span> ", s.failed ? "failed" : "ok",
         s.failed ? "FAILED" : "OK");
    h_.f("worst state <span class=\"st st-{}\">{}</span>, first at {}", state, state,
         at(wp.time_ms));
    if (!s.worst_state_reason.empty()) h_.raw(": ").text(s.worst_state_reason);
    h_.raw("</p>\n<ul class=\"facts\">\n");

    h_.raw("<li>Reserve: ");
    if (s.reserve_breach_point) {
      const RecordPoint& p = db.points[*s.reserve_breach_point];
      h_.f("<b>breached</b> at {}", at(p.time_ms));
      if (s.first_warning_point && *s.first_warning_point < *s.reserve_breach_point) {
        const int64_t lead_ms = p.time_ms - db.points[*s.first_warning_point].time_ms;
        h_.f(", {} after the first warning", duration_text(lead_ms));
      } else {
        h_.raw(", with no warning before it");
      }
    } else {
      h_.raw("never breached");
    }
    h_.raw(".</li>\n<li>Time to reserve breach: ");
    if (s.shortest_forecast_point) {
      const RecordPoint& p = db.points[*s.shortest_forecast_point];
      const double secs = *p.seconds_to_reserve_breach;
      h_.f("shortest forecast {} s, at {}",
           secs < 10 ? fmt::format("{:.1f}", secs) : fmt::format("{:.0f}", secs), at(p.time_ms));
    } else {
      h_.raw(
          "none forecast before a breach (free space was not being consumed over a long enough "
          "window)");
    }
    h_.raw(".</li>\n<li>ENOSPC: ");
    if (s.disk_full_events > 0) {
      h_.f("<b>{} disk-full event{}</b>", s.disk_full_events, s.disk_full_events == 1 ? "" : "s");
    } else {
      h_.raw("none seen");
    }
    h_.raw(".</li>\n");
    if (s.stop_events > 0 || s.alarm_events > 0) {
      h_.f("<li>Protective stops: {}; alarms latched: {}.</li>\n", s.stop_events, s.alarm_events);
    }
    h_.raw("</ul>\n");
  }

  void render_chart(size_t index, const RecordDb& db, const DbSummary& s) {
    const bool root_view = s.equation.root_view;
    const bool apart = has_staging_fs_apart(db);
    std::vector<SeriesDef> series;
    series.push_back({"s-reserve", "reserve", [](const RecordPoint& p) -> std::optional<double> {
                        if (!p.db_fs) return std::nullopt;
                        return static_cast<double>(p.db_fs->reserve_bytes);
                      }});
    series.push_back({"s-projected", "projected staging (staged + still to write)",
                      [](const RecordPoint& p) -> std::optional<double> {
                        return static_cast<double>(p.staging_bytes) +
                               static_cast<double>(p.remaining_staging_bytes);
                      }});
    series.push_back({"s-avail",
                      root_view ? "app-visible free (f_bfree)" : "app-visible free (f_bavail)",
                      [root_view](const RecordPoint& p) -> std::optional<double> {
                        if (!p.db_fs) return std::nullopt;
                        return static_cast<double>(app_free(*p.db_fs, root_view));
                      }});
    if (apart) {
      series.push_back({"s-avail-staging", "app-visible free on the staging filesystem",
                        [root_view](const RecordPoint& p) -> std::optional<double> {
                          if (!p.staging_fs || (p.db_fs && p.staging_fs->dev == p.db_fs->dev))
                            return std::nullopt;
                          return static_cast<double>(app_free(*p.staging_fs, root_view));
                        }});
    }
    series.push_back({"s-staging", "staging", [](const RecordPoint& p) -> std::optional<double> {
                        return static_cast<double>(p.staging_bytes);
                      }});
    series.push_back({"s-wal", "app WAL", [](const RecordPoint& p) -> std::optional<double> {
                        return static_cast<double>(p.wal_bytes);
                      }});

    Chart c;
    c.t0 = rec_.first_time_ms;
    c.span_ms = rec_.last_time_ms - rec_.first_time_ms;
    if (c.span_ms <= 0) {  // one sample: centre it in one second
      c.t0 -= 500;
      c.span_ms = 1000;
    }
    double ymax = 0;
    for (const auto& p : db.points) {
      for (const auto& sd : series) {
        if (const auto v = sd.get(p)) ymax = std::max(ymax, *v);
      }
    }
    if (ymax <= 0) ymax = 1 << 20;
    const double step = nice_bytes_step(ymax / 5);
    c.ymax = std::ceil(ymax / step) * step;
    const size_t max_cols = std::max<size_t>(1, opts_.max_points_per_series / 4);
    c.columns = std::min<size_t>(max_cols, static_cast<size_t>(kRight - kLeft));
    c.gap_ms = std::max<int64_t>(5000, 10 * median_interval_ms(db.points));

    h_.f("<svg class=\"timeline\" id=\"chart-{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
         "aria-label=\"timeline of ",
         index + 1, kWidth, kHeight)
        .text(db.path)
        .raw("\">\n");
    // y grid and labels
    for (double v = 0; v <= c.ymax + step / 2; v += step) {
      const double y = c.y(v);
      h_.f("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", kLeft,
           y, kRight, y);
      h_.f("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 4,
           hb(v >= 9.2e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(v)));
    }
    // x ticks
    const int64_t tstep = nice_time_step(c.span_ms);
    for (int64_t t = 0; rec_.first_time_ms + t <= c.t0 + c.span_ms; t += tstep) {
      const double x = c.x(rec_.first_time_ms + t);
      if (x > kRight + 0.5) break;
      h_.f("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>", x,
           kTop, x, kBottom);
      h_.f("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">{}</text>\n", x, kTickLabelY,
           x + 24 > kWidth ? "end" : "middle", elapsed(t, tstep < 1000));
    }
    h_.f("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\"/>",
         kLeft, kBottom, kRight);
    h_.f("<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n",
         kLeft, kTop, kBottom);
    h_.f("<text x=\"{:.1f}\" y=\"{:.1f}\">time since {}</text>\n", kLeft, kHeight - 8,
         utc(rec_.first_time_ms));

    render_state_band(db, c);
    for (const auto& sd : series) {
      const std::string d = series_path(db.points, sd.get, c);
      if (d.empty()) continue;
      h_.f("<path class=\"series {}\" d=\"{}\"><title>{}</title></path>\n", sd.css, d, sd.name);
    }
    render_markers(index, db, c);
    const RecordPoint& tp = db.points[s.tightest_point];
    if (tp.db_fs) {
      h_.f(
          "<circle class=\"tightest\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4.5\"><title>tightest "
          "moment: headroom {}</title>"
          "</circle>\n",
          c.x(tp.time_ms), c.y(static_cast<double>(app_free(*tp.db_fs, root_view))),
          hb(tp.headroom_bytes));
    }
    h_.raw("</svg>\n<ul class=\"legend\">\n");
    for (const auto& sd : series)
      h_.f("<li><span class=\"sw {}\"></span>{}</li>\n", sd.css, sd.name);
    h_.raw(
        "<li><span class=\"box\" style=\"background:#2e7d32\"></span><span class=\"box\" "
        "style=\"background:#f9a825\">"
        "</span><span class=\"box\" style=\"background:#c62828\"></span><span class=\"box\" "
        "style=\"background:#6a1b9a\"></span>state band: ok, warning, critical, wedged</li>\n");
    h_.raw(
        "<li>dashed verticals: events (warning, critical, stop, ENOSPC, alarm, wedge, …); circle: "
        "tightest "
        "moment</li>\n</ul>\n");
  }

  // The watcher's state under the plot, one colour per pixel column (the worst state in it).
  void render_state_band(const RecordDb& db, const Chart& c) {
    const size_t cols = static_cast<size_t>(kRight - kLeft);
    std::vector<int> band(cols, -1);
    const auto col_of = [&](int64_t t) {
      const double x = (c.x(t) - kLeft);
      return static_cast<size_t>(std::clamp(x, 0.0, static_cast<double>(cols - 1)));
    };
    for (size_t i = 0; i < db.points.size(); ++i) {
      const RecordPoint& p = db.points[i];
      const size_t from = col_of(p.time_ms);
      size_t to = from;
      if (i + 1 < db.points.size() && db.points[i + 1].time_ms - p.time_ms <= c.gap_ms) {
        to = col_of(db.points[i + 1].time_ms);
      }
      for (size_t k = from; k <= to && k < cols; ++k)
        band[k] = std::max(band[k], static_cast<int>(p.state));
    }
    for (size_t k = 0; k < cols;) {
      size_t e = k;
      while (e + 1 < cols && band[e + 1] == band[k]) ++e;
      if (band[k] >= 0) {
        const auto st = static_cast<RecordState>(band[k]);
        h_.f(
            "<rect class=\"state-band st-{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
            "height=\"{:.1f}\" fill=\"{}\">"
            "<title>{}</title></rect>",
            formats::to_string(st), kLeft + static_cast<double>(k), kBandTop,
            static_cast<double>(e - k + 1), kBandHeight, state_color(st), formats::to_string(st));
      }
      k = e + 1;
    }
    h_.raw("\n");
  }

  void render_markers(size_t index, const RecordDb& db, const Chart& c) {
    double row_end[std::size(kLabelRowsY)];
    std::fill(std::begin(row_end), std::end(row_end), -1e9);
    size_t drawn = 0, skipped = 0;
    for (size_t i = 0; i < rec_.events.size(); ++i) {
      const RecordEvent& e = rec_.events[i];
      if (!event_is_for(owners_[i], index)) continue;
      if (drawn >= opts_.max_markers_per_chart) {
        ++skipped;
        continue;
      }
      ++drawn;
      const EventStyle st = event_style(e, db);
      const double x = c.x(e.time_ms);
      h_.f("<g class=\"marker {}\" data-kind=\"", st.css).text(e.kind).raw("\">");
      h_.f("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>", x, kTop - 6,
           kBottom);
      const double w = static_cast<double>(st.label.size()) * kLabelCharWidth + 4;
      const bool right_aligned = x + w > kWidth - 4;
      const double start = right_aligned ? x - w : x;
      for (size_t r = 0; r < std::size(kLabelRowsY); ++r) {
        if (start < row_end[r] + 6) continue;
        row_end[r] = start + w;
        h_.f("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">", right_aligned ? x - 2 : x + 2,
             kLabelRowsY[r], right_aligned ? "end" : "start")
            .text(st.label)
            .raw("</text>");
        break;
      }
      h_.f("<title>{} ", elapsed(e.time_ms - rec_.first_time_ms))
          .text(e.kind)
          .raw(": ")
          .text(e.message);
      h_.raw("</title></g>\n");
    }
    if (skipped > 0) {
      h_.f("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{} more events not drawn</text>\n",
           kRight, kHeight - 8, skipped);
    }
  }

  void render_equation(const RecordDb& db, const DbSummary& s) {
    const BudgetEquation& eq = s.equation;
    const RecordPoint& p = db.points[s.tightest_point];
    h_.f("<h3>Budget at the tightest moment, {}", at(p.time_ms));
    if (!eq.mount.empty()) h_.raw(", on ").text(eq.mount);
    h_.raw("</h3>\n");
    if (!p.db_fs && !p.staging_fs) {
      h_.f(
          "<p class=\"equation\">headroom <span class=\"{}\">{}</span> (the sample names no "
          "filesystem)</p>\n",
          eq.headroom_bytes < 0 ? "neg" : "pos", hb(eq.headroom_bytes));
      return;
    }
    h_.f(
        "<p class=\"equation\">app-visible free {} {} reserve {} {} remaining staging {} = "
        "headroom "
        "<span class=\"{}\">{}</span></p>\n",
        hb(eq.app_free_bytes), kMinus, hb(eq.reserve_bytes), kMinus, hb(eq.remaining_staging_bytes),
        eq.headroom_bytes < 0 ? "neg" : "pos", hb(eq.headroom_bytes));
    h_.f("<p class=\"exact\">{} {} {} {} {} = {} bytes ({})</p>\n", eq.app_free_bytes, kMinus,
         eq.reserve_bytes, kMinus, eq.remaining_staging_bytes, eq.headroom_bytes,
         eq.root_view ? "f_bfree: the app runs as root" : "f_bavail");
    if (!eq.adds_up) {
      h_.raw(
          "<p class=\"notes\">The recorded headroom is not these terms: the watcher took it from a "
          "filesystem "
          "this sample does not list.</p>\n");
    }
    if (eq.headroom_bytes < 0) {
      h_.raw(
          "<p>Negative headroom: the staging write still to come does not fit above the reserve; "
          "finishing it "
          "takes the room the application's WAL needs.</p>\n");
    }
  }

  void render_events(size_t index, const RecordDb& db) {
    size_t listed = 0, more = 0;
    for (size_t i = 0; i < rec_.events.size(); ++i) {
      const RecordEvent& e = rec_.events[i];
      if (!event_is_for(owners_[i], index)) continue;
      if (listed >= opts_.max_listed_events) {
        ++more;
        continue;
      }
      if (listed == 0)
        h_.raw(
            "<h3>Events</h3>\n<table "
            "class=\"events\">\n<tr><th>time</th><th>event</th><th>message</th></tr>\n");
      ++listed;
      const EventStyle st = event_style(e, db);
      h_.f("<tr class=\"{}\"><td>{}</td><td>", st.css, elapsed(e.time_ms - rec_.first_time_ms))
          .text(st.label)
          .raw("</td><td class=\"msg\">")
          .text(e.message)
          .raw("</td></tr>\n");
    }
    if (listed > 0) h_.raw("</table>\n");
    if (more > 0) h_.f("<p class=\"meta\">{} more events not listed.</p>\n", more);
    if (listed == 0) h_.raw("<p class=\"meta\">No events recorded.</p>\n");
  }

  const WatchRecord& rec_;
  const ReportOptions& opts_;
  Html h_;
  const std::vector<size_t> owners_ = event_owners(rec_);
};

DbSummary summarize(const WatchRecord& rec, size_t db_index, const std::vector<size_t>& owners) {
  const RecordDb& db = rec.databases[db_index];
  DbSummary s;
  if (db.points.empty()) return s;
  for (size_t i = 0; i < db.runs.size(); ++i) {
    if (i == 0 || db.runs[i].state > s.worst_state) {  // the first run of the worst state
      s.worst_state = db.runs[i].state;
      s.worst_state_point = db.runs[i].first_point;
      s.worst_state_reason = db.runs[i].reason;
    }
  }
  for (size_t i = 1; i < db.points.size(); ++i) {
    if (db.points[i].headroom_bytes < db.points[s.tightest_point].headroom_bytes)
      s.tightest_point = i;
  }
  s.equation = equation_at(rec, db.points[s.tightest_point]);
  const bool root_view = s.equation.root_view;
  uint64_t disk_full_total = 0;
  for (size_t i = 0; i < db.points.size(); ++i) {
    const RecordPoint& p = db.points[i];
    disk_full_total = std::max(disk_full_total, p.disk_full_events_total);
    if (!s.reserve_breach_point) {
      for (const auto* f : {&p.db_fs, &p.staging_fs}) {
        if (*f && app_free(**f, root_view) < (*f)->reserve_bytes) s.reserve_breach_point = i;
      }
    }
    if (!s.first_warning_point && p.state >= RecordState::warning) s.first_warning_point = i;
    if (p.seconds_to_reserve_breach && *p.seconds_to_reserve_breach > 0 &&
        (!s.shortest_forecast_point ||
         *p.seconds_to_reserve_breach <
             *db.points[*s.shortest_forecast_point].seconds_to_reserve_breach)) {
      s.shortest_forecast_point = i;
    }
  }
  uint64_t disk_full_seen = 0;
  for (size_t i = 0; i < rec.events.size(); ++i) {
    const RecordEvent& e = rec.events[i];
    if (e.kind == "disk_full" && owners[i] == db_index) ++disk_full_seen;
    if (!event_is_for(owners[i], db_index)) continue;
    if (e.kind == "protective_stop") ++s.stop_events;
    if (e.kind == "alarm_latched") ++s.alarm_events;
  }
  s.disk_full_events = std::max(disk_full_total, disk_full_seen);
  s.failed = s.worst_state >= RecordState::critical || s.disk_full_events > 0 ||
             s.reserve_breach_point.has_value();
  return s;
}

}  // namespace

DbSummary summarize_db(const WatchRecord& rec, const RecordDb& db) {
  for (size_t i = 0; i < rec.databases.size(); ++i) {
    if (&rec.databases[i] == &db) return summarize(rec, i, event_owners(rec));
  }
  return DbSummary{};  // not one of rec's databases
}

bool record_failed(const WatchRecord& rec) {
  const std::vector<size_t> owners = event_owners(rec);
  for (size_t i = 0; i < rec.databases.size(); ++i) {
    if (summarize(rec, i, owners).failed) return true;
  }
  return false;
}

std::string render_report_html(const WatchRecord& rec, const formats::Redactor& redactor,
                               const ReportOptions& opts) {
  return Renderer(rec, redactor, opts).render();
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if ((c < 0x20 && ch != '\t' && ch != '\n') || c == 0x7F) {
          out += "\uFFFD";
        } else {
          out += ch;
        }
    }
  }
  return out;
}

}  // namespace ltxguard::output
