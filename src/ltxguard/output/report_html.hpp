// The `ltxguard report` page: one self-contained HTML document (inline CSS and SVG, no
// script, no external URL, a Content-Security-Policy that forbids fetching anything) drawn from
// a parsed watch record: per database a timeline, the budget equation at its tightest moment
// and the verdict. Pure: record in, string out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ltxguard/formats/redaction.hpp"
#include "ltxguard/formats/watch_record.hpp"

namespace ltxguard::output {

struct ReportOptions {
  std::string source;     // the record's path as given; shown, escaped
  std::string generator;  // e.g. "ltxguard 0.1.0"
  // Lines for the header about how the record was read ("read the first 2.0 GiB only").
  std::vector<std::string> notes;
  // Drawing only: each series keeps first/min/max/last per pixel column (M4), so peaks
  // survive; at most this many vertices per series.
  size_t max_points_per_series = 4000;
  size_t max_markers_per_chart = 400;  // later events are listed, not drawn
  size_t max_listed_events = 300;      // per database; the rest are counted
};

// headroom = app-visible free − reserve − remaining staging, on one filesystem, as the
// watcher computed it (model::WatchModel's tightest filesystem of the database).
struct BudgetEquation {
  std::string mount;       // "" when the record did not name it
  bool root_view = false;  // app-visible free is f_bfree (the app runs as root), else f_bavail
  int64_t app_free_bytes = 0;
  int64_t reserve_bytes = 0;
  int64_t remaining_staging_bytes = 0;  // of every database staging on that filesystem
  int64_t headroom_bytes = 0;           // as recorded
  // The three terms give the recorded headroom. False only for a record whose filesystem
  // entries do not explain it (then the terms are the database's own filesystem's).
  bool adds_up = false;
};

// What the page concludes about one database of the record (points must not be empty).
struct DbSummary {
  formats::RecordState worst_state = formats::RecordState::unknown;
  size_t worst_state_point = 0;    // first point in worst_state
  std::string worst_state_reason;  // recorded when that state was entered
  size_t tightest_point = 0;       // lowest headroom, the first of equals
  BudgetEquation equation;         // at tightest_point
  // First point where app-visible free was below the reserve on a filesystem of the database.
  std::optional<size_t> reserve_breach_point;
  std::optional<size_t> first_warning_point;  // first point in warning or worse
  // Point with the shortest forecast time to a reserve breach, if any was forecast (a forecast
  // of 0 means breached already and is left out).
  std::optional<size_t> shortest_forecast_point;
  uint64_t disk_full_events = 0;  // max of the recorded total and the disk_full events
  size_t stop_events = 0;         // protective_stop
  size_t alarm_events = 0;        // alarm_latched
  // Reached critical or wedged, saw ENOSPC, or breached the reserve.
  bool failed = false;
};

// `db` is one of rec.databases; the record's events for it (and for no database) count.
[[nodiscard]] DbSummary summarize_db(const formats::WatchRecord& rec, const formats::RecordDb& db);

// True when any database's summary failed.
[[nodiscard]] bool record_failed(const formats::WatchRecord& rec);

// The whole page. Every string from the record passes through `redactor`, then html_escape.
// A record without samples gives a page that says so.
[[nodiscard]] std::string render_report_html(const formats::WatchRecord& rec,
                                             const formats::Redactor& redactor,
                                             const ReportOptions& opts);

// Text for HTML element content and quoted attribute values: & < > " ' become entities, and
// control characters other than tab and newline become U+FFFD.
[[nodiscard]] std::string html_escape(std::string_view text);

}  // namespace ltxguard::output
