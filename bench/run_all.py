#!/usr/bin/env python3
"""Runs every benchmark one after the other, renders the plot, and prints every ratio.

    python3 bench/run_all.py            # full sizes -> bench/results/*.json, docs/benchmarks.svg
    python3 bench/run_all.py --quick    # smoke sizes (< 2 min) -> a temp dir, nothing in docs/
The benches run sequentially (they time each other's neighbours otherwise).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import benchlib as bl
from benchlib import MiB

FULL = {
    "evidence_vs_shell": [],
    "scale": [],
    "watch_footprint": ["--seconds", "30"],
    "detection_latency": [],
    "overshoot": ["--repeat", "4"],
}
QUICK = {
    "evidence_vs_shell": ["--fs", "tmpfs", "--db-bytes", str(16 * MiB), "--files", "2000",
                          "--tmp-bytes", str(8 * MiB), "--journal-litestream", "200",
                          "--journal-other", "800", "--repeat", "1"],
    "scale": ["--fs", "tmpfs", "--sizes", "100,1000,3000", "--repeat", "1",
              "--min-watch-seconds", "1", "--max-watch-seconds", "2"],
    "watch_footprint": ["--seconds", "6", "--files", "1000"],
    "detection_latency": ["--db-bytes", str(32 * MiB), "--rate", "4e6", "--repeat", "1",
                          "--modes", "0.5.15", "--baseline-seconds", "3",
                          "--observe-scaled-minutes", "60"],
    "overshoot": ["--rates", "200", "--repeat", "1", "--fs-bytes", str(512 * MiB),
                  "--db-bytes", str(128 * MiB), "--grab-at", str(8 * MiB),
                  "--margin-bytes", str(64 * MiB)],
}


def run(name, extra, results, env):
    cmd = [sys.executable, "-u", os.path.join(bl.HERE, f"{name}.py"), *extra,
           "--json", os.path.join(results, f"{name}.json")]
    print(f"\n=== {name}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, env=env)
    print(f"=== {name}: exit {rc} after {time.monotonic() - t0:.0f} s "
          f"(load {' '.join('%.2f' % x for x in bl.loadavg())})", flush=True)
    return rc


def load(results, name):
    path = os.path.join(results, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def summarize(results):
    print("\n=== every ratio")
    ev = load(results, "evidence_vs_shell")
    if ev:
        for key, case in ev["cases"].items():
            for mode in case["summary"]:
                r = ev["ratios"][f"{key}_{mode}"]
                lg = case["summary"][mode]["ltxguard"]["median"]
                print(f"evidence ({key}) {mode:4}: ltxguard/shell {r['vs_verbatim']:.2f} (brief "
                      f"verbatim), {r['vs_fixed']:.2f} (blind spots fixed); ltxguard "
                      f"{bl.fmt_s(lg)}; target <= {ev['target_ratio']}")
            s = case["checks"]["strace"]["ltxguard"]
            print(f"evidence ({key}) bytes read from the DB: {s['db']} (target 100), mmaps "
                  f"{s['db_mmaps']}")
    sc = load(results, "scale")
    if sc:
        pts = [p for p in sc["points"] if p["files"] > 0]
        for key, c in sc["curves"].items():
            if not c:
                continue
            vs = c.get("variable_slope_last_decade")
            per = (f"{c['seconds_per_file'][-1]:.0f} B" if key == "watch_max_rss" else
                   f"{c['seconds_per_file'][-1] * 1e9:.0f} ns")
            print(f"scale {key}: {per}/file at "
                  f"{pts[-1]['files']:,} files; log-log slope {c['slope_all']:.2f} (all), "
                  f"{c['slope_last_decade']:.2f} (last decade), above the 0-file baseline "
                  f"{'n/a' if vs is None else f'{vs:.2f}'}: {c['verdict']} (judged by "
                  f"{c.get('verdict_basis', 'slope_last_decade')})")
        rss = [(p["files"], p.get("watch_max_rss_bytes")) for p in pts if p.get("watch_max_rss_bytes")]
        if rss:
            print("scale watch max RSS: " + ", ".join(f"{n:,} files {b / MiB:.1f} MiB"
                                                       for n, b in rss))
    fp = load(results, "watch_footprint")
    if fp:
        lg, ne = fp["results"]["ltxguard"], fp["results"]["node_exporter"]
        print(f"watch footprint: RSS max {lg['rss_max_bytes'] / MiB:.1f} MiB vs node_exporter "
              f"{ne['rss_max_bytes'] / MiB:.1f} MiB (ratio "
              f"{lg['rss_max_bytes'] / ne['rss_max_bytes']:.2f}, target <= 8 MiB); CPU "
              f"{lg['cpu_percent']:.2f} % vs {ne['cpu_percent']:.2f} % (ratio "
              f"{lg['cpu_percent'] / max(ne['cpu_percent'], 1e-9):.2f}, target <= 0.5 %)")
    dl = load(results, "detection_latency")
    if dl:
        for mode, s in dl["summary"].items():
            base = s["ltxguard_log_median"]
            print(f"detection {mode}: disk full at t0 + {bl.fmt_s(s['full_after_t0_median'])}"
                  f" (k = {dl['k']:.1f}); ltxguard log line at t0 {base:+.1f} s"
                  if base is not None else f"detection {mode}: ltxguard never alerted")
            for name, row in s["detectors"].items():
                if name.startswith(("firing ", "pending ")) or name == "ltxguard (log line)":
                    continue
                if not row.get("fired_runs"):
                    print(f"  {name}: never ({row['runs']} runs)")
                    continue
                extra = ""
                if "later_than_ltxguard_seconds" in row:
                    extra = f", {row['later_than_ltxguard_seconds']:+.1f} s vs ltxguard"
                if "ratio_vs_ltxguard" in row:
                    extra += f" (x{row['ratio_vs_ltxguard']:.1f})"
                lead = row.get("lead_before_full_seconds")
                print(f"  {name}: t0 {row['median']:+.1f} s{extra}"
                      + (f"; {abs(lead):.1f} s {'before' if lead >= 0 else 'AFTER'} the disk "
                         f"is full" if lead is not None else ""))
    ov = load(results, "overshoot")
    if ov:
        for row in ov["summary"]:
            below = ("never below the reserve" if row["never_below"] else
                     f"BELOW the reserve by up to {row['overshoot_max_bytes'] / MiB:.1f} MiB")
            print(f"overshoot at {row['rate_mb_per_second']:.0f} MB/s ({row['runs']} runs): stop "
                  f"{row['t0_to_stop_max_seconds']:.2f} s after t0 at most; free space {below} "
                  f"(target: never below at 200 MB/s)")

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke sizes, results in a temp dir")
    ap.add_argument("--results", help="where the JSON results go (default bench/results, "
                                      "or a temp dir with --quick)")
    ap.add_argument("--only", help="comma-separated bench names")
    ap.add_argument("--plot-out", help="default docs/benchmarks.svg (<results>/benchmarks.svg "
                                       "with --quick)")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    names = [n for n in plan if not args.only or n in args.only.split(",")]
    results = args.results or (tempfile.mkdtemp(prefix="ltxguard-bench-quick-")
                               if args.quick else bl.RESULTS_DIR)
    os.makedirs(results, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("LTXGUARD_BIN", bl.ltxguard_bin())
    env.setdefault("LTXGUARD_BUILD_DIR", bl.build_dir())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    print(f"bench: {'quick' if args.quick else 'full'} run of {', '.join(names)}; results in "
          f"{results}; {bl.machine_info()}", flush=True)
    failed = [n for n in names if run(n, plan[n], results, env) != 0]
    plot_out = args.plot_out or (os.path.join(results, "benchmarks.svg") if args.quick else None)
    cmd = [sys.executable, os.path.join(bl.HERE, "plot.py"), "--results", results]
    if plot_out:
        cmd += ["--out", plot_out]
    subprocess.call(cmd, env=env)
    summarize(results)
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(bl.main_guard(main))
