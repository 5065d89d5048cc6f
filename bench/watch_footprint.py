#!/usr/bin/env python3
"""Footprint of `ltxguard watch` (RSS, CPU) next to node_exporter, both scraped once a second.

The watcher samples a staging tree of 10,000 WAL segments every second; node_exporter runs in
the same window as the baseline a sidecar is judged against. Targets (from the issue): RSS <= 8
MiB and CPU <= 0.5 % of one core. This is a benchmark, not a test: it reports, it never fails on
a timing (exit status is non-zero only when a process cannot be started or dies).

RSS counts every page a process maps, shared libraries whole; PSS splits shared pages among the
processes mapping them, and "private" (USS) is what the process alone holds. All three are
printed: the RSS target is judged on RSS, and the others say how much of it is shared.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
TARGET_RSS_BYTES = 8 * 1024 * 1024
TARGET_CPU_PERCENT = 0.5
WARMUP_SECONDS = 3.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tree(root, files, file_bytes):
    """A WAL-mode database of a few MiB and a Litestream 0.3 meta dir with `files` segments."""
    db = os.path.join(root, "app.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
    con.executemany("INSERT INTO t(v) VALUES (?)", ((os.urandom(1024),) for _ in range(4096)))
    con.commit()
    con.close()
    meta = os.path.join(root, ".app.db-litestream")
    wal = os.path.join(meta, "generations", "0123456789abcdef", "wal")
    os.makedirs(wal)
    with open(os.path.join(meta, "generation"), "w") as f:
        f.write("0123456789abcdef")
    chunk = b"\0" * file_bytes
    for i in range(files):
        with open(os.path.join(wal, "%08x.wal" % i), "wb") as f:
            f.write(chunk)
    return db


def proc_status(pid):
    """VmRSS, RssAnon, RssFile (bytes) and Threads from /proc/<pid>/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(val.split()[0]) * 1024
            elif key == "Threads":
                out[key] = int(val)
    return out


def proc_rollup(pid):
    """Pss and private (Private_Clean + Private_Dirty) bytes from /proc/<pid>/smaps_rollup."""
    out = {"Pss": 0, "Private": 0}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            key, _, val = line.partition(":")
            if key == "Pss":
                out["Pss"] = int(val.split()[0]) * 1024
            elif key in ("Private_Clean", "Private_Dirty"):
                out["Private"] += int(val.split()[0]) * 1024
    return out


def cpu_ticks(pid):
    """utime + stime in clock ticks, exited threads included: the whole-window CPU."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def cpu_ns(pid):
    """CPU time of the live threads in ns (schedstat): fine enough for a 1 s sample, where one
    clock tick (10 ms) would already be 1 % of a core."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just exited
    return total


def scrape(port):
    t0 = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        r.read()
    return time.monotonic() - t0


def wait_ready(proc, port, name):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited early with status %s" % (name, proc.returncode))
        try:
            scrape(port)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not serve /metrics within 15 s" % name)


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(procs, seconds):
    """Scrape each process once a second and take one sample of each right after: RSS, PSS and
    the CPU % of the past second. The summary CPU is over the post-warm-up window."""
    stats = {n: {"rss_max": 0, "pss_max": 0, "scrape_max": 0.0, "scrape_sum": 0.0, "scrapes": 0}
             for n in procs}
    samples = []
    start = time.monotonic()
    window_start = None
    ticks0 = {}
    last = {n: (start, cpu_ns(p.pid)) for n, (p, _) in procs.items()}
    tick = start
    while True:
        now = time.monotonic()
        if window_start is None and now - start >= WARMUP_SECONDS:
            window_start = now
            ticks0 = {n: cpu_ticks(p.pid) for n, (p, _) in procs.items()}
        if now - start >= seconds:
            break
        row = {"t": round(now - start, 3)}
        for name, (proc, port) in procs.items():
            if proc.poll() is not None:
                raise RuntimeError("%s died during the run (status %s)" % (name, proc.returncode))
            s = stats[name]
            took = scrape(port)
            s["scrape_max"] = max(s["scrape_max"], took)
            s["scrape_sum"] += took
            s["scrapes"] += 1
            rss = proc_status(proc.pid)["VmRSS"]
            pss = proc_rollup(proc.pid)["Pss"]
            s["rss_max"] = max(s["rss_max"], rss)
            s["pss_max"] = max(s["pss_max"], pss)
            t_now, ns_now = time.monotonic(), cpu_ns(proc.pid)
            t_last, ns_last = last[name]
            last[name] = (t_now, ns_now)
            # The first sample has no previous one to measure a second against.
            row[name] = {"rss_bytes": rss, "pss_bytes": pss,
                         "cpu_percent": None if not samples else
                         100.0 * max(0, ns_now - ns_last) / 1e9 / max(t_now - t_last, 1e-9)}
        samples.append(row)
        tick += 1.0
        time.sleep(max(0.0, tick - time.monotonic()))
    window = time.monotonic() - window_start
    results = {}
    for name, (proc, _) in procs.items():
        s = stats[name]
        st = proc_status(proc.pid)
        roll = proc_rollup(proc.pid)
        used = (cpu_ticks(proc.pid) - ticks0[name]) / CLK_TCK
        results[name] = {
            "rss_max_bytes": max(s["rss_max"], st["VmRSS"]),
            "rss_final_bytes": st["VmRSS"],
            "rss_anon_bytes": st.get("RssAnon", 0),
            "rss_file_bytes": st.get("RssFile", 0),
            "pss_max_bytes": max(s["pss_max"], roll["Pss"]),
            "pss_final_bytes": roll["Pss"],
            "private_final_bytes": roll["Private"],
            "threads": st.get("Threads", 0),
            "cpu_seconds": used,
            "cpu_percent": 100.0 * used / window,
            "scrape_mean_ms": 1000.0 * s["scrape_sum"] / max(1, s["scrapes"]),
            "scrape_max_ms": 1000.0 * s["scrape_max"],
            "scrapes": s["scrapes"],
        }
    return results, window, samples


def mib(b):
    return "%.2f MiB" % (b / 1048576.0)


def report(res, window, samples, args):
    lg, ne = res["ltxguard"], res["node_exporter"]

    def ratio(key):
        return "%.2f" % (lg[key] / ne[key]) if ne[key] else "n/a"

    rows = [
        ("RSS max", mib(lg["rss_max_bytes"]), mib(ne["rss_max_bytes"]), ratio("rss_max_bytes"),
         "<= 8 MiB"),
        ("RSS final", mib(lg["rss_final_bytes"]), mib(ne["rss_final_bytes"]),
         ratio("rss_final_bytes"), ""),
        ("  anon", mib(lg["rss_anon_bytes"]), mib(ne["rss_anon_bytes"]), ratio("rss_anon_bytes"),
         ""),
        ("  file", mib(lg["rss_file_bytes"]), mib(ne["rss_file_bytes"]), ratio("rss_file_bytes"),
         ""),
        ("PSS max", mib(lg["pss_max_bytes"]), mib(ne["pss_max_bytes"]), ratio("pss_max_bytes"), ""),
        ("PSS final", mib(lg["pss_final_bytes"]), mib(ne["pss_final_bytes"]),
         ratio("pss_final_bytes"), ""),
        ("private (USS) final", mib(lg["private_final_bytes"]), mib(ne["private_final_bytes"]),
         ratio("private_final_bytes"), ""),
        ("threads", str(lg["threads"]), str(ne["threads"]), ratio("threads"), ""),
        ("CPU %% of a core (%.0f s)" % window, "%.3f %%" % lg["cpu_percent"],
         "%.3f %%" % ne["cpu_percent"], ratio("cpu_percent"), "<= 0.5 %"),
        ("scrape mean", "%.1f ms" % lg["scrape_mean_ms"], "%.1f ms" % ne["scrape_mean_ms"],
         ratio("scrape_mean_ms"), ""),
        ("scrape max", "%.1f ms" % lg["scrape_max_ms"], "%.1f ms" % ne["scrape_max_ms"],
         ratio("scrape_max_ms"), ""),
    ]
    head = ("metric", "ltxguard", "node_exporter", "ratio", "target")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    print("watch_footprint: %d files x %d B staging, interval 1 s, %d s run, scraped 1/s, nproc %d, "
          "load %s" % (args.files, args.file_bytes, args.seconds, os.cpu_count() or 0,
                       " ".join("%.2f" % x for x in os.getloadavg())))
    for r in [head] + rows:
        print("  " + " | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print("  per sample (after each scrape): RSS / PSS / CPU % of a core since the previous sample")
    print("  %6s | %-30s | %-30s" % ("t s", "ltxguard", "node_exporter"))
    for row in samples:
        cells = ["%s / %s / %s" % (mib(row[n]["rss_bytes"]), mib(row[n]["pss_bytes"]),
                                    "-" if row[n]["cpu_percent"] is None
                                    else "%6.3f %%" % row[n]["cpu_percent"])
                 for n in ("ltxguard", "node_exporter")]
        print("  %6.1f | %-30s | %-30s" % (row["t"], cells[0], cells[1]))
    rss_ok = lg["rss_max_bytes"] <= TARGET_RSS_BYTES
    pss_ok = lg["pss_max_bytes"] <= TARGET_RSS_BYTES
    cpu_ok = lg["cpu_percent"] <= TARGET_CPU_PERCENT
    print("verdict: RSS %s (%s vs 8 MiB; PSS %s, %s), CPU %s (%.3f %% vs 0.5 %%)"
          % ("MET" if rss_ok else "MISSED", mib(lg["rss_max_bytes"]), mib(lg["pss_max_bytes"]),
             "under 8 MiB" if pss_ok else "over 8 MiB too",
             "MET" if cpu_ok else "MISSED", lg["cpu_percent"]))
    return {"rss_target_met": rss_ok, "pss_under_rss_target": pss_ok, "cpu_target_met": cpu_ok}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=30, help="run length (first 3 s are warm-up)")
    ap.add_argument("--files", type=int, default=10000, help="WAL segments in the staging tree")
    ap.add_argument("--file-bytes", type=int, default=4096)
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    if args.seconds <= WARMUP_SECONDS:
        ap.error("--seconds must be more than the %.0f s warm-up" % WARMUP_SECONDS)
    ltxguard = os.environ.get("LTXGUARD_BIN") or os.path.join(SOURCE_DIR, "build/src/ltxguard")
    for b in (ltxguard, NODE_EXPORTER):
        if not os.access(b, os.X_OK):
            sys.exit("watch_footprint: %s is missing (make build; apt-get install "
                     "prometheus-node-exporter)" % b)

    # SIGTERM takes the same cleanup path as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    root = tempfile.mkdtemp(prefix="ltxguard-bench-")
    lg = ne = None
    try:
        db = make_tree(root, args.files, args.file_bytes)
        textfile = os.path.join(root, "textfile")
        os.mkdir(textfile)
        lg_port, ne_port = free_port(), free_port()
        lg_log = open(os.path.join(root, "ltxguard.log"), "wb")
        ne_log = open(os.path.join(root, "node_exporter.log"), "wb")
        lg = subprocess.Popen([ltxguard, "watch", "--db", db, "--interval", "1", "--log-format",
                               "text", "--listen", "127.0.0.1:%d" % lg_port],
                              stdout=lg_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ne = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % ne_port,
                               "--collector.textfile.directory=" + textfile],
                              stdout=ne_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_ready(lg, lg_port, "ltxguard")
        wait_ready(ne, ne_port, "node_exporter")
        res, window, samples = measure({"ltxguard": (lg, lg_port), "node_exporter": (ne, ne_port)},
                                       args.seconds)
        verdict = report(res, window, samples, args)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": datetime.date.today().isoformat(), "nproc": os.cpu_count(),
                           "loadavg": os.getloadavg(),
                           "seconds": args.seconds, "window_seconds": window,
                           "files": args.files, "file_bytes": args.file_bytes,
                           "targets": {"rss_bytes": TARGET_RSS_BYTES,
                                       "cpu_percent": TARGET_CPU_PERCENT},
                           "results": res, "samples": samples, "verdict": verdict}, f, indent=2)
                f.write("\n")
        return 0
    except (RuntimeError, OSError) as e:
        log = os.path.join(root, "ltxguard.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                sys.stderr.write(f.read()[-2000:])
        print("watch_footprint: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("watch_footprint: interrupted", file=sys.stderr)
        return 130
    finally:
        stop(lg)
        stop(ne)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
