#!/usr/bin/env python3
"""How `ltxguard evidence` and a `ltxguard watch` tick scale with the staging tree.

One Litestream 0.3 meta dir next to a small real SQLite database on ext4 over a loop device
(or a tmpfs), grown in place 1k -> 10k -> 100k -> 1M shadow WAL segments
(`generations/<gen>/wal/<index %08x>.wal`, 4 KiB each). At each size:
  - evidence: wall time of `evidence --samples 1 --interval 0`, warm (after an untimed run)
    and cold (page/dentry/inode caches dropped before each run);
  - watch: `watch --interval 0.05 --duration D --record FILE` while a writer adds a new
    segment every 0.1 s (`.wal.tmp`, renamed to `.wal`, as 0.3 does; removed after the run).
    The CPU time (user+sys, from wait4) of the run minus that of a one-sample run, divided by
    the extra samples in the record file, is the per-tick cost (start-up and the first walk
    cancel out). D >= 32 s, so the watcher's periodic full re-walk (every 600 updates) falls
    inside the run and is amortized as in production. The wall time between record lines
    (median, and the longest: the re-walk's stall) and the watcher's max RSS are reported.
The curve is printed with the per-file cost, and the slope of log(time) on log(files) over
the whole range and over the last decade: 1 is linear, below 1 better than linear.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import benchlib as bl
from benchlib import MiB


class SegmentWriter(threading.Thread):
    """Litestream's side while the watcher runs: a new shadow WAL segment every `period` s
    (written as <index>.wal.tmp, then renamed, like 0.3 does), so the watcher's change feed
    has work each tick. Its files are removed afterwards: every run sees the same tree."""

    def __init__(self, wal_dir, first_index, period, file_bytes):
        super().__init__(daemon=True)
        self.wal_dir, self.index, self.period = wal_dir, first_index, period
        self.chunk = b"\0" * file_bytes
        self.made = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.wait(self.period):
            final = os.path.join(self.wal_dir, "%08x.wal" % self.index)
            with open(final + ".tmp", "wb") as f:
                f.write(self.chunk)
            os.rename(final + ".tmp", final)
            self.made.append(final)
            self.index += 1

    def finish(self):
        self.stop_event.set()
        self.join()
        for path in self.made:
            os.unlink(path)


def run_watch(db, duration, record, writer=None):
    """Runs watch for `duration` s at a 50 ms interval (with `writer` adding segments
    meanwhile); returns (cpu s, samples, median and max wall s between samples, max RSS
    bytes)."""
    if os.path.exists(record):
        os.unlink(record)
    cmd = [bl.ltxguard_bin(), "watch", "--db", db, "--interval", "0.05", "--duration",
           repr(duration), "--record", record, "--log-format", "text"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        if writer:
            writer.start()
        _, status, ru = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if writer and writer.ident is not None:
            writer.finish()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"watch exited {proc.returncode}: {err[-500:]}")
    with open(record) as f:
        times = [json.loads(line)["time_ms"] for line in f if line.strip()]
    diffs = [(b - a) / 1000.0 for a, b in zip(times, times[1:])]
    return (ru.ru_utime + ru.ru_stime, len(times),
            statistics.median(diffs) if diffs else None, max(diffs) if diffs else None,
            ru.ru_maxrss * 1024)


def measure_size(db, wal_dir, work, args, files):
    lg = [bl.ltxguard_bin(), "evidence", "--db", db, "--samples", "1", "--interval", "0"]
    out = {"files": files}
    t, proc = bl.timed(lg + ["--json"])
    if proc.returncode != 0:
        raise RuntimeError(f"evidence exited {proc.returncode}: {proc.stderr[-500:]}")
    seen = json.loads(proc.stdout)["staging"]["file_count"]
    out["evidence_file_count"] = seen
    warm = [bl.timed(lg)[0] for _ in range(args.repeat)]
    out["evidence_warm"] = bl.summary(warm)
    if args.cold:
        cold = []
        for _ in range(args.repeat):
            bl.drop_caches()
            cold.append(bl.timed(lg)[0])
        out["evidence_cold"] = bl.summary(cold)
    record = os.path.join(work, "record.jsonl")
    # Long enough for the watcher's periodic full re-walk (every kStagingRewalkUpdates = 600
    # updates, 30 s at 50 ms) to fall inside the run, so the per-tick cost amortizes it.
    duration = min(args.max_watch_seconds,
                   max(args.min_watch_seconds, args.ticks * out["evidence_warm"]["median"]))
    per_tick, gaps, stalls, samples, rss = [], [], [], [], []
    for _ in range(args.repeat):
        c1, n1, _, _, _ = run_watch(db, 0.001, record)
        writer = (SegmentWriter(wal_dir, files + 0x10000000, args.segment_period,
                                args.file_bytes) if args.segment_period > 0 else None)
        c, n, gap, stall, maxrss = run_watch(db, duration, record, writer)
        rss.append(maxrss)
        if n > n1:
            per_tick.append((c - c1) / (n - n1))
        if gap is not None:
            gaps.append(gap)
            stalls.append(stall)
        samples.append(n)
    out["watch_duration_seconds"] = duration
    out["watch_samples"] = samples
    out["watch_max_rss_bytes"] = max(rss)
    out["watch_cpu_per_tick"] = bl.summary(per_tick) if per_tick else None
    out["watch_wall_between_samples"] = bl.summary(gaps) if gaps else None
    out["watch_longest_gap"] = bl.summary(stalls) if stalls else None
    out["loadavg_1m"] = bl.loadavg()[0]
    return out


def verdict(slope):
    if slope != slope:  # nan
        return "n/a"
    if slope <= 0.9:
        return "better than linear"
    if slope <= 1.1:
        return "linear"
    return "WORSE than linear"


def curve(points, key):
    """Per-file costs and log-log slopes of the raw times and of the variable part (time
    minus the 0-file baseline: process start, /proc scan, fixed reads), which is what can
    grow with the tree. The verdict uses the variable part over the last decade."""
    base = next((p[key]["median"] for p in points if p["files"] == 0 and p.get(key)), None)
    pts = [p for p in points if p["files"] > 0 and p.get(key)]
    xs = [p["files"] for p in pts]
    ys = [p[key]["median"] for p in pts]
    if len(xs) < 2:
        return None
    out = {"baseline_seconds": base, "slope_all": bl.loglog_slope(xs, ys),
           "slope_last_decade": bl.loglog_slope(xs[-2:], ys[-2:]),
           "marginal_seconds_per_file": [(ys[i] - ys[i - 1]) / (xs[i] - xs[i - 1])
                                         for i in range(1, len(xs))],
           "seconds_per_file": [y / x for x, y in zip(xs, ys)]}
    basis = "slope_last_decade"
    if base is not None:
        var = [(x, y - base) for x, y in zip(xs, ys) if y - base > 0]
        out["variable_seconds_per_file"] = [(y - base) / x for x, y in zip(xs, ys)]
        if len(var) >= 2:
            out["variable_slope_all"] = bl.loglog_slope([v[0] for v in var], [v[1] for v in var])
            out["variable_slope_last_decade"] = bl.loglog_slope([v[0] for v in var[-2:]],
                                                                [v[1] for v in var[-2:]])
            # Below a quarter of the baseline the variable part is within run-to-run noise
            # (the 0-file baseline itself varies by more): judge the raw times then.
            if ys[-2] - base >= 0.25 * base:
                basis = "variable_slope_last_decade"
    out["verdict_basis"] = basis
    out["verdict"] = verdict(out[basis])
    return out


def sized(points, key, field):
    """Adapts a plain per-point number (max RSS) to curve()'s {median: ...} shape."""
    for p in points:
        if p.get(field) is not None:
            p[key] = {"median": p[field]}
    return points


def curves_of(points):
    sized(points, "watch_max_rss", "watch_max_rss_bytes")
    return {k: curve(points, k) for k in ("evidence_warm", "evidence_cold", "watch_cpu_per_tick",
                                           "watch_longest_gap", "watch_max_rss")}


def print_curves(curves):
    print("per-file cost and log-log slope (1 = linear); 'variable' = value minus the "
          "0-file baseline:")
    for k, c in curves.items():
        if not c:
            continue
        unit, mul = ("B", 1) if k == "watch_max_rss" else ("us", 1e6)
        per = ", ".join(f"{x * mul:.2f}" for x in c["seconds_per_file"])
        var = ", ".join(f"{x * mul:.2f}" for x in c.get("variable_seconds_per_file", []))
        print(f"  {k:20} {unit}/file [{per}]; variable {unit}/file [{var}]")
        vs = c.get("variable_slope_all")
        vl = c.get("variable_slope_last_decade")
        print(f"  {'':20} slope all {c['slope_all']:.2f}, last decade "
              f"{c['slope_last_decade']:.2f}; variable part: all "
              f"{vs if vs is None else round(vs, 2)}, last decade "
              f"{vl if vl is None else round(vl, 2)}: {c['verdict']} (by {c['verdict_basis']})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fs", choices=("ext4", "tmpfs"), default="ext4")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--file-bytes", type=int, default=4096)
    ap.add_argument("--db-bytes", type=int, default=16 * MiB)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-cold", dest="cold", action="store_false")
    ap.add_argument("--ticks", type=float, default=12, help="watch run length in evidence times")
    ap.add_argument("--min-watch-seconds", type=float, default=32.0,
                    help="default: one re-walk cycle of the watcher (600 ticks of 50 ms)")
    ap.add_argument("--max-watch-seconds", type=float, default=90.0)
    ap.add_argument("--segment-period", type=float, default=0.1,
                    help="a new segment every this many s while watch runs (0: static tree)")
    ap.add_argument("--json", default=bl.default_json("scale"))
    ap.add_argument("--recompute", action="store_true",
                    help="measure nothing: recompute and print the curves of --json")
    args = ap.parse_args()
    if args.recompute:
        with open(args.json) as f:
            doc = json.load(f)
        doc["curves"] = curves_of(doc["points"])
        print_curves(doc["curves"])
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(",") if s and int(s) > 0)
    bl.require([bl.ltxguard_bin()])
    machine = bl.machine_info()
    biggest = sizes[-1]
    fs_bytes = int(args.db_bytes * 2 + biggest * (args.file_bytes + 4096) * 1.1 + 512 * MiB)
    with bl.Resources() as res:
        work = res.temp_dir(base="/var/tmp")
        mnt = res.filesystem(args.fs, fs_bytes, inodes=int(biggest * 1.1) + 20000)
        db = os.path.join(mnt, "app.db")
        bl.ltxg.make_db(db, args.db_bytes)
        wal = bl.meta_03(db)
        points, have = [], 0
        print(f"scale: {args.fs}, {args.file_bytes} B segments, repeat {args.repeat}, "
              f"median [min..max]", flush=True)
        for n in [0] + sizes:  # 0: the fixed cost every size pays
            t0 = time.monotonic()
            bl.make_segments(wal, have, n, args.file_bytes)
            have = n
            os.sync()
            built = time.monotonic() - t0
            p = measure_size(db, wal, work, args, n)
            p["build_seconds"] = built
            points.append(p)
            wt = p["watch_cpu_per_tick"]
            gap, longest = p["watch_wall_between_samples"], p["watch_longest_gap"]
            print(f"  {n:>8} files: evidence warm {bl.fmt_summary(p['evidence_warm'])}"
                  + (f", cold {bl.fmt_summary(p['evidence_cold'])}" if args.cold else "")
                  + f"; watch CPU/tick {bl.fmt_summary(wt) if wt else 'n/a'}, wall between "
                  f"samples {bl.fmt_s(gap['median']) if gap else 'n/a'}, longest "
                  f"{bl.fmt_s(longest['median']) if longest else 'n/a'}"
                  f" ({p['watch_samples']} samples in {p['watch_duration_seconds']:.1f} s), "
                  f"watch max RSS {p['watch_max_rss_bytes'] / MiB:.1f} MiB; "
                  f"load {p['loadavg_1m']:.2f}", flush=True)
        curves = curves_of(points)
        print_curves(curves)
        doc = {"bench": "scale", "machine": machine, "fs": args.fs,
               "config": vars(args), "points": points, "curves": curves}
        bl.write_result(args.json, doc)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(bl.main_guard(main))
