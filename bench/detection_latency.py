#!/usr/bin/env python3
"""Seconds from "the remaining staging write can no longer fit" to the first alert.

A 30-minute fill scaled down: the field report's shape (upstream #1310: 49 GB disk, 22 GB
database, 20 GB free, filled in ~30 min) at 1/22 size on a tmpfs: a real 1 GiB SQLite
database, free space 20/22 of it, and Litestream 0.5's first-sync snapshot staged into
`ltx/0/….ltx.tmp` at 20 MB/s by the TEST DOUBLE tests/doubles/litestream05_double (real LTX
bytes, real layout, real log lines; Litestream 0.5 cannot be built here). The snapshot cannot
fit from its first byte, so t0 is the first poll (every 0.1 s) that sees the .ltx.tmp with
`database bytes - .ltx.tmp bytes > available bytes`. The fill then takes `free / rate`
seconds; the time factor k = 30 min / that, and every time constant of the peers is divided
by k: Prometheus's `for:` and range windows and predict_linear horizons, the double's
maximum retry backoff (5 min). Scrape and evaluation intervals are 1 s (15 s/1 m real).

Detectors, all polled every 0.1 s (Prometheus's alerts API every 0.25 s):
  ltxguard   `ltxguard watch --interval 1`: its first `remaining_write_cannot_fit` log line,
             and /metrics `ltxguard_headroom_bytes < 0` or `ltxguard_state{state!="ok"}`;
  stock      the real Prometheus (Debian) scraping the real prometheus-node-exporter on
             loopback, with node-mixin's filesystem alerts (NodeFilesystemSpaceFillingUp
             warning/critical, NodeFilesystemAlmostOutOfSpace warning/critical, copied from
             prometheus/node_exporter v1.5.0 docs/node-mixin, the installed node_exporter's
             version): first alert firing for the tmpfs mountpoint;
  ltxguard rules  deploy/prometheus/ltxguard.rules.yml (when present) in the same
             Prometheus, scraping ltxguard: first alert firing;
  gauge      the double's `litestream_disk_full` (Litestream 0.5.15+), which turns on only
             after ENOSPC.
Mode 0.5.15 saw-tooths (the failing attempt deletes its .ltx.tmp and retries); mode 0.5.12
(--modes) wedges silently with the disk full and has no disk_full gauge.
"""
import argparse
import json
import os
import re
import statistics
import sys
import time
import urllib.request

import benchlib as bl
from benchlib import GiB, MiB

NAME = "0000000000000001-0000000000000001"
ISSUE_1310 = {"disk": 49.0, "db": 22.0, "free": 20.0}  # GB, upstream issue #1310
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
OUR_RULES = os.path.join(bl.SOURCE_DIR, "deploy", "prometheus", "ltxguard.rules.yml")

# node-mixin v1.5.0 (docs/node-mixin/alerts/alerts.libsonnet, config.libsonnet defaults:
# nodeExporterSelector job="node", fsSelector fstype!="", fsMountpointSelector mountpoint!="",
# thresholds 40/20 and 5/3). {W} {H24} {H4} {FOR1H} {FOR30M} are the scaled durations.
SEL = 'job="node",fstype!="",mountpoint!=""'
STOCK_RULES = [
    ("NodeFilesystemSpaceFillingUp", "warning",
     f'(node_filesystem_avail_bytes{{{SEL}}} / node_filesystem_size_bytes{{{SEL}}} * 100 < 40 '
     f'and predict_linear(node_filesystem_avail_bytes{{{SEL}}}[{{W}}], {{H24}}) < 0 '
     f'and node_filesystem_readonly{{{SEL}}} == 0)', "{FOR1H}"),
    ("NodeFilesystemSpaceFillingUp", "critical",
     f'(node_filesystem_avail_bytes{{{SEL}}} / node_filesystem_size_bytes{{{SEL}}} * 100 < 20 '
     f'and predict_linear(node_filesystem_avail_bytes{{{SEL}}}[{{W}}], {{H4}}) < 0 '
     f'and node_filesystem_readonly{{{SEL}}} == 0)', "{FOR1H}"),
    ("NodeFilesystemAlmostOutOfSpace", "warning",
     f'(node_filesystem_avail_bytes{{{SEL}}} / node_filesystem_size_bytes{{{SEL}}} * 100 < 5 '
     f'and node_filesystem_readonly{{{SEL}}} == 0)', "{FOR30M}"),
    ("NodeFilesystemAlmostOutOfSpace", "critical",
     f'(node_filesystem_avail_bytes{{{SEL}}} / node_filesystem_size_bytes{{{SEL}}} * 100 < 3 '
     f'and node_filesystem_readonly{{{SEL}}} == 0)', "{FOR30M}"),
]

_DUR_RX = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(text):
    total, pos = 0.0, 0
    for m in _DUR_RX.finditer(text):
        if m.start() != pos:
            raise ValueError(text)
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(text)
    return total


def prom_duration(seconds):
    return f"{max(1, int(round(seconds * 1000)))}ms"


def stock_rules_yaml(k):
    sub = {"W": prom_duration(6 * 3600 / k), "H24": f"{24 * 3600 / k:.1f}",
           "H4": f"{4 * 3600 / k:.1f}", "FOR1H": prom_duration(3600 / k),
           "FOR30M": prom_duration(1800 / k)}
    lines = ["groups:", "  - name: node-mixin-filesystem-scaled", "    rules:"]
    for alert, sev, expr, dur in STOCK_RULES:
        e = expr
        for key, val in sub.items():
            e = e.replace("{" + key + "}", val)
        lines += [f"      - alert: {alert}", f"        expr: '{e}'",
                  f"        for: {dur.replace('{FOR1H}', sub['FOR1H']).replace('{FOR30M}', sub['FOR30M'])}",
                  "        labels:", f"          severity: {sev}"]
    return "\n".join(lines) + "\n", sub


def scale_rules_text(text, k):
    """Divides every `for:` and `[range]` duration, and the reserve-breach lead time in
    seconds, by k. Returns (text, [(what, before, after)])."""
    changes = []

    def scaled(m, what):
        before = m.group(2)
        after = prom_duration(parse_duration(before) / k)
        changes.append((what, before, after))
        return m.group(1) + after + m.group(3)

    text = re.sub(r"^([ \t]*for:[ \t]*)(\S+)()[ \t]*$", lambda m: scaled(m, "for"), text, flags=re.M)
    text = re.sub(r"(\[)(\d+(?:ms|s|m|h|d|w|y)(?:\d+(?:ms|s|m|h|d|w|y))*)(\])",
                  lambda m: scaled(m, "range"), text)

    def lead(m):
        after = f"{float(m.group(2)) / k:.1f}"
        changes.append(("seconds_to_reserve_breach <", m.group(2), after))
        return m.group(1) + after

    text = re.sub(r"(ltxguard_seconds_to_reserve_breach\s*<\s*)(\d+(?:\.\d+)?)", lead, text)
    return text, changes


def http_get(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def prom_series(text, name):
    out = []
    for line in text.splitlines():
        if line.startswith(name) and (len(line) == len(name) or line[len(name)] in "{ "):
            labels, _, value = line.rpartition(" ")
            try:
                out.append((labels[len(name):], float(value)))
            except ValueError:
                pass
    return out


def wait_http(url, proc, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early ({proc.returncode})")
        try:
            http_get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} not ready at {url} within {timeout} s")


class Detectors:
    """First times (monotonic) at which each detector fired."""

    def __init__(self):
        self.first = {}
        self.lines = {}

    def mark(self, key, now, line=None):
        if key not in self.first:
            self.first[key] = now
            if line is not None:
                self.lines[key] = line


def run_once(res, args, mode, template, db_bytes, k, stock_text, ours_text, rep):
    work = res.temp_dir(base="/var/tmp")
    ltxg = bl.ltxg
    fs_bytes = int(db_bytes * ISSUE_1310["disk"] / ISSUE_1310["db"])
    mnt = res.tmpfs(fs_bytes)
    db = os.path.join(mnt, "app.db")
    bl.copy_file(template, db)
    free_target = int(db_bytes * ISSUE_1310["free"] / ISSUE_1310["db"])
    filler = ltxg.avail_bytes(mnt) - free_target
    if filler > 0:
        fd = os.open(os.path.join(mnt, "other-data"), os.O_WRONLY | os.O_CREAT, 0o644)
        os.posix_fallocate(fd, 0, filler)
        os.close(fd)
    free0 = ltxg.avail_bytes(mnt)
    ports = {n: bl.free_port() for n in ("node", "ltxguard", "litestream", "prometheus")}
    config = ltxg.write_litestream_config(
        os.path.join(work, "litestream.yml"),
        [{"path": db, "replicas": [{"type": "file", "path": os.path.join(work, "replica")}]}],
        addr=f"127.0.0.1:{ports['litestream']}")
    ls_log = os.path.join(work, "litestream.log")
    open(ls_log, "w").close()
    lg_log = os.path.join(work, "ltxguard.log")
    # Prometheus and its rules.
    rule_files = [os.path.join(work, "node-mixin.rules.yml")]
    with open(rule_files[0], "w") as f:
        f.write(stock_text)
    if ours_text:
        rule_files.append(os.path.join(work, "ltxguard.rules.yml"))
        with open(rule_files[1], "w") as f:
            f.write(ours_text)
    bl.run_quiet([PROMTOOL, "check", "rules"] + rule_files)
    prom_cfg = os.path.join(work, "prometheus.yml")
    with open(prom_cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "  scrape_timeout: 900ms\nrule_files:\n"
                + "".join(f"  - {p}\n" for p in rule_files) + "scrape_configs:\n"
                + "".join(f"  - job_name: {job}\n    static_configs:\n"
                          f"      - targets: ['127.0.0.1:{ports[job]}']\n"
                          for job in ("node", "ltxguard", "litestream")))
    node = res.popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports['node']}"],
                     os.path.join(work, "node_exporter.log"))
    prom = res.popen([PROMETHEUS, f"--config.file={prom_cfg}",
                      f"--storage.tsdb.path={os.path.join(work, 'tsdb')}",
                      f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                      "--log.level=warn"], os.path.join(work, "prometheus.log"))
    lg = res.popen([bl.ltxguard_bin(), "watch", "--db", db, "--config", config, "--log", ls_log,
                    "--litestream-version", mode, "--interval", "1", "--listen",
                    f"127.0.0.1:{ports['ltxguard']}", "--log-format", "text"], lg_log)
    prom_url = f"http://127.0.0.1:{ports['prometheus']}"
    wait_http(f"http://127.0.0.1:{ports['node']}/metrics", node, "node_exporter")
    wait_http(f"http://127.0.0.1:{ports['ltxguard']}/metrics", lg, "ltxguard watch")
    wait_http(f"{prom_url}/-/ready", prom, "prometheus")
    # Detectors are polled from here on; the double (Litestream) starts after the baseline,
    # which gives predict_linear a flat history and shows what each detector says before
    # Litestream runs at all.
    t_watch = time.monotonic()
    env = {"LTXGUARD_DOUBLE_MAX_BACKOFF_MS": str(int(300000 / k))}
    double = None
    t_double = None
    tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", NAME + ".ltx.tmp")
    det = Detectors()
    t0 = t_full = None
    peak = 0
    lg_pos = 0
    ls_pos = 0
    wall_offset = time.time() - time.monotonic()
    last_prom = 0.0
    window = args.observe_scaled_minutes * 60 / k
    alerts_seen = {}
    first_enospc_line = None
    while True:
        now = time.monotonic()
        if double is None and now - t_watch >= args.baseline_seconds:
            double = res.popen([bl.tool_bin("litestream05_double"), "replicate", "-config",
                                config, "-mode", mode, "-rate", str(int(args.rate))], ls_log,
                               env=env)
            t_double = now
        for p, what in ((double, "the double"), (lg, "ltxguard watch"), (prom, "prometheus")):
            if p is not None and p.poll() is not None:
                raise RuntimeError(f"{what} died ({p.returncode})")
        avail = ltxg.avail_bytes(mnt)
        try:
            size = os.stat(tmp).st_size
        except FileNotFoundError:
            size = None
        if size is not None:
            peak = max(peak, size)
            if t0 is None and db_bytes - size > avail:
                t0 = now
        if t_full is None and t0 is not None and avail <= args.full_bytes:
            t_full = now
        with open(ls_log, "rb") as f:
            f.seek(ls_pos)
            chunk = f.read()
        ls_pos += len(chunk)
        for line in chunk.decode(errors="replace").splitlines():
            if "no space left on device" in line or "disk full while staging" in line:
                first_enospc_line = first_enospc_line or line
                m = re.match(r"time=(\S+)", line)
                when = now
                if m:
                    try:
                        when = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) \
                            + float("0" + m.group(1)[19:23]) - wall_offset
                    except ValueError:
                        pass
                if t_full is None or when < t_full:
                    t_full = when
        with open(lg_log, "rb") as f:
            f.seek(lg_pos)
            chunk = f.read()
        lg_pos += len(chunk)
        for line in chunk.decode(errors="replace").splitlines():
            if "event=remaining_write_cannot_fit" in line:
                det.mark("ltxguard_log_cannot_fit", now, line)
            m = re.search(r"event=state_change\b.*\bSTATE=(\w+)", line, re.I)
            if m and m.group(1).lower() != "ok":
                det.mark(f"ltxguard_log_state_{m.group(1).lower()}", now, line)
        try:
            text = http_get(f"http://127.0.0.1:{ports['ltxguard']}/metrics")
            if any(v < 0 for _, v in prom_series(text, "ltxguard_headroom_bytes")):
                det.mark("ltxguard_metric_headroom_negative", now)
            for labels, v in prom_series(text, "ltxguard_state"):
                st = re.search(r'state="(\w+)"', labels)
                if v == 1 and st and st.group(1) != "ok":
                    det.mark(f"ltxguard_metric_state_{st.group(1)}", now)
        except OSError:
            pass
        try:
            text = http_get(f"http://127.0.0.1:{ports['litestream']}/metrics")
            if any(v == 1 for _, v in prom_series(text, "litestream_disk_full")):
                det.mark("litestream_disk_full_gauge", now)
        except OSError:
            pass
        if now - last_prom >= 0.25:
            last_prom = now
            try:
                doc = json.loads(http_get(f"{prom_url}/api/v1/alerts"))
                for a in doc["data"]["alerts"]:
                    lab = a["labels"]
                    if lab.get("mountpoint") not in (None, mnt):
                        continue
                    key = f"{lab['alertname']}/{lab.get('severity', '')}"
                    alerts_seen[key] = a["state"]
                    det.mark(f"prom_pending:{key}", now)
                    if a["state"] == "firing":
                        det.mark(f"prom_firing:{key}", now)
            except (OSError, ValueError, KeyError):
                pass
        if t0 is None and t_double is not None and now - t_double > 180:
            raise RuntimeError("the double did not start staging within 180 s")
        if t0 is not None:
            done = ["ltxguard_log_cannot_fit", "ltxguard_metric_headroom_negative"]
            if mode == "0.5.15":
                done.append("litestream_disk_full_gauge")
            fired = set(det.first)
            stock_fired = any(k2.startswith("prom_firing:Node") for k2 in fired)
            ours_fired = not ours_text or any(k2.startswith("prom_firing:Ltxguard")
                                              for k2 in fired)
            if now - t0 >= window or (all(d in fired for d in done) and stock_fired
                                      and ours_fired and now - t0 > 5):
                break
        time.sleep(max(0.0, 0.1 - (time.monotonic() - now)))
    observed = time.monotonic() - t0
    lat = {key: t - t0 for key, t in det.first.items()}
    return {"mode": mode, "rep": rep, "free_bytes_at_start": free0, "fs_bytes": fs_bytes,
            "staging_started_after_double_seconds": t0 - t_double,
            "full_after_t0_seconds": (t_full - t0) if t_full else None,
            "tmp_peak_bytes": peak, "observed_seconds": observed, "latency": lat,
            "ltxguard_first_lines": det.lines, "litestream_first_enospc_line": first_enospc_line,
            "litestream_started_before_t0_seconds": t0 - t_double,
            "watch_started_before_t0_seconds": t0 - t_watch,
            "loadavg_1m": bl.loadavg()[0]}


def first_of(lat, prefix):
    # The watcher's own health alerts (LtxguardWatcherAbsent pends until the first scrape)
    # say nothing about the disk.
    vals = [v for k, v in lat.items() if k.startswith(prefix) and "Watcher" not in k]
    return min(vals) if vals else None


MAIN_DETECTORS = [
    ("ltxguard (log line)", lambda lat: lat.get("ltxguard_log_cannot_fit")),
    ("ltxguard (/metrics headroom < 0)", lambda lat: lat.get("ltxguard_metric_headroom_negative")),
    ("ltxguard (/metrics state != ok)", lambda lat: first_of(lat, "ltxguard_metric_state_")),
    ("Prometheus + ltxguard rules (first firing)", lambda lat: first_of(lat, "prom_firing:Ltxguard")),
    ("Prometheus + node-mixin (first pending)", lambda lat: first_of(lat, "prom_pending:Node")),
    ("Prometheus + node-mixin (first firing)", lambda lat: first_of(lat, "prom_firing:Node")),
    ("litestream_disk_full gauge", lambda lat: lat.get("litestream_disk_full_gauge")),
]


def detectors_of(run, alert_keys=()):
    """Latency (s after t0, None = never) of each detector; then each Prometheus alert."""
    lat = run["latency"]
    out = {name: fn(lat) for name, fn in MAIN_DETECTORS}
    for key in alert_keys:
        out["  " + key.replace("prom_", "").replace(":", " ")] = lat.get(key)
    return out


def report(runs, modes, k, args):
    print()
    print("detection_latency: seconds after t0 (the staging write starts and cannot fit), "
          "median [min..max] over runs; negative = before t0; 'never' = not within the "
          f"observed window; scaled = x k ({k:.1f}) in minutes of the real 30-min fill")
    out = {}
    for mode in modes:
        rs = [r for r in runs if r["mode"] == mode]
        if not rs:
            continue
        full = [r["full_after_t0_seconds"] for r in rs if r["full_after_t0_seconds"] is not None]
        full_med = statistics.median(full) if full else None
        ls_start = statistics.median(r["litestream_started_before_t0_seconds"] for r in rs)
        watch_start = statistics.median(r.get("watch_started_before_t0_seconds", 0) for r in rs)
        observed = min(r["observed_seconds"] for r in rs)
        print(f"mode {mode}: detectors watched from t0 - {watch_start:.1f} s, Litestream "
              f"(double) started at t0 - {ls_start:.1f} s; disk full at "
              f"t0 + {bl.fmt_s(full_med)} (scaled {(full_med or 0) * k / 60:.0f} min); observed "
              f"at least {observed:.0f} s (scaled {observed * k / 3600:.1f} h)")
        keys = sorted({key for r in rs for key in r["latency"] if key.startswith("prom_")})
        names = list(detectors_of(rs[0], keys))
        base_vals = [detectors_of(r)["ltxguard (log line)"] for r in rs]
        base = statistics.median(base_vals) if all(b is not None for b in base_vals) else None
        rows = {}
        for n in names:
            vals = [detectors_of(r, keys)[n] for r in rs]
            got = [v for v in vals if v is not None]
            row = {"values": vals, "fired_runs": len(got), "runs": len(vals)}
            if got:
                row.update(bl.summary(got))
                row["median_scaled_minutes"] = row["median"] * k / 60
                if full_med:
                    row["lead_before_full_seconds"] = full_med - row["median"]
                    row["fraction_of_fill"] = row["median"] / full_med
                if base is not None:
                    row["later_than_ltxguard_seconds"] = row["median"] - base
                    if base > 0:
                        row["ratio_vs_ltxguard"] = row["median"] / base
            rows[n.strip()] = row
            if got:
                lead = row.get("lead_before_full_seconds")
                later = row.get("later_than_ltxguard_seconds")
                print(f"  {n:48} {row['median']:7.1f} s [{row['min']:.1f}..{row['max']:.1f}] "
                      f"scaled {row['median_scaled_minutes']:6.1f} min, {len(got)}/{len(vals)} runs"
                      + (f"; {abs(lead):.1f} s {'BEFORE' if lead >= 0 else 'after'} full" +
                         (f" ({row['fraction_of_fill'] * 100:.0f} % of the fill)"
                          if row["median"] >= 0 else
                          " (before the write started" +
                          (", before Litestream started)" if row["median"] < -ls_start
                           else ")"))
                         if lead is not None else "")
                      + (f"; ltxguard + {later:.1f} s" if later is not None and later > 0.05 else "")
                      + (f" (x{row['ratio_vs_ltxguard']:.1f})" if "ratio_vs_ltxguard" in row else ""))
            else:
                print(f"  {n:48}   never (0/{len(vals)} runs)")
        out[mode] = {"full_after_t0_median": full_med, "litestream_started_before_t0": ls_start,
                     "watch_started_before_t0": watch_start,
                     "observed_seconds_min": observed, "ltxguard_log_median": base,
                     "detectors": rows}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db-bytes", type=int, default=1 * GiB)
    ap.add_argument("--rate", type=float, default=20e6, help="staging write rate, bytes/s")
    ap.add_argument("--fill-minutes", type=float, default=30.0, help="the real fill scaled down")
    ap.add_argument("--modes", default="0.5.15,0.5.12")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-seconds", type=float, default=30.0)
    ap.add_argument("--observe-scaled-minutes", type=float, default=180.0,
                    help="stop this long (scaled) after t0 when a detector never fires")
    ap.add_argument("--full-bytes", type=int, default=1 * MiB,
                    help="available bytes at or below which the disk counts as full")
    ap.add_argument("--json", default=bl.default_json("detection_latency"))
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    bl.require([bl.ltxguard_bin(), bl.tool_bin("litestream05_double"), PROMETHEUS, PROMTOOL,
                NODE_EXPORTER])
    machine = bl.machine_info()
    runs = []
    with bl.Resources() as res:
        print(f"building a {args.db_bytes / GiB:.2f} GiB database ...", flush=True)
        template, _ = bl.make_template_db(res, args.db_bytes)
        db_bytes = os.path.getsize(template)
        free = int(db_bytes * ISSUE_1310["free"] / ISSUE_1310["db"])
        fill_seconds = free / args.rate
        k = args.fill_minutes * 60 / fill_seconds
        stock_text, sub = stock_rules_yaml(k)
        ours_text, changes = (None, [])
        if os.path.exists(OUR_RULES):
            with open(OUR_RULES) as f:
                ours_text, changes = scale_rules_text(f.read(), k)
        print(f"detection_latency: tmpfs {db_bytes * ISSUE_1310['disk'] / ISSUE_1310['db'] / GiB:.2f}"
              f" GiB, DB {db_bytes / GiB:.2f} GiB, free {free / GiB:.2f} GiB, staging at "
              f"{args.rate / 1e6:.0f} MB/s: full in ~{fill_seconds:.0f} s = {args.fill_minutes:g}"
              f" min / k, k = {k:.1f}", flush=True)
        print(f"  node-mixin scaled: range [6h] -> {sub['W']}, horizons 24h -> {sub['H24']} s, "
              f"4h -> {sub['H4']} s, for 1h -> {sub['FOR1H']}, for 30m -> {sub['FOR30M']}; "
              f"scrape and evaluation every 1 s; double's max backoff 5m -> "
              f"{300 / k:.1f} s", flush=True)
        if ours_text:
            uniq = sorted(set(changes))
            print("  ltxguard rules scaled: " + ", ".join(f"{w} {a}->{b}" for w, a, b in uniq))
        else:
            print(f"  {OUR_RULES} absent: no ltxguard rules in Prometheus")
        for mode in modes:
            for rep in range(args.repeat):
                with bl.Resources() as run_res:
                    r = run_once(run_res, args, mode, template, db_bytes, k, stock_text,
                                 ours_text, rep)
                runs.append(r)
                d = detectors_of(r)
                print(f"  {mode} run {rep + 1}: full at t0+{bl.fmt_s(r['full_after_t0_seconds'])}; "
                      + "; ".join(f"{n} {('%.1f s' % v) if v is not None else 'never'}"
                                  for n, v in d.items())
                      + f" (observed {r['observed_seconds']:.0f} s, load {r['loadavg_1m']:.2f})",
                      flush=True)
    summary = report(runs, modes, k, args)
    doc = {"bench": "detection_latency", "machine": machine, "config": vars(args),
           "k": k, "fill_seconds": fill_seconds, "scaled": sub,
           "ltxguard_rules_changes": sorted(set(changes)), "runs": runs, "summary": summary}
    bl.write_result(args.json, doc)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(bl.main_guard(main))
