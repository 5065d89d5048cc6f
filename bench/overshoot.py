#!/usr/bin/env python3
"""Overshoot of `ltxguard run`'s protective stop: how far app-visible free space falls below
the reserve before a fast staging write is stopped, at 50, 200 and 800 MB/s, 1 s sampling.

    python3 bench/overshoot.py [--rates 50,200,800] [--repeat 3] [--json out.json]   (root)

Setup (tmpfs of --fs-bytes, default 2 GiB; reserve = ltxguard's default for it, 10 % =
204.8 MiB): a real WAL-mode SQLite database of --db-bytes (640 MiB, 64 KiB pages: few enough
pages for a Python writer to reach 800 MB/s), so the preflight passes
(2 GiB − 640 MiB − 646 MiB snapshot − 3 × 204.8 MiB > 0) and `ltxguard run --interval 1` starts
the child. The child is this file's `stage` mode, a STAGING WRITER standing in for Litestream 0.5
(not Litestream; the 0.5 test double tops out near 60 MB/s): after a random 1-2 s start delay (a
random phase against ltxguard's ticks) it holds a SQLite read transaction and writes the
database's pages into <meta>/ltx/0/0000000000000001-0000000000000001.ltx.tmp as a real LTX
v3-frame snapshot (LTX header; per page a 6-byte page header and an LZ4 frame holding the page
as one uncompressed block, which is what LZ4 emits for incompressible pages; no content
checksum; the page bytes copied in the kernel with copy_file_range) at --rate bytes/s. On
SIGTERM it stops, removes its .tmp and exits 0, like 0.5's cancelled sync; on ENOSPC it logs
0.5.15's disk-full line and removes its .tmp. Whether it reached --rate is reported per run.

"Cannot fit" has to arise after the start, because the preflight refuses a snapshot that
cannot fit at the start (it charges a full snapshot even when one exists). So once the .tmp
holds --grab-at bytes, the filesystem shrinks at once (tmpfs remount with a smaller size: an
instantaneous stand-in for another writer taking that room) to leave exactly reserve +
--margin-bytes (256 MiB) free: the rest of the snapshot no longer fits. t0 is that remount.

Measured per run: the minimum of f_bavail (polled every 1 ms by this process), overshoot =
reserve − that minimum (0 = never below), t0 → ltxguard's protective_stop log line (written
just before its SIGTERM; ms resolution), t0 → SIGTERM as seen by the writer (none when
ltxguard's SIGKILL came first: it cuts the grace short once half the room above the reserve
is gone), and the free space used between t0 and the stop (f_bavail after t0 − its minimum; the writer's own
byte count is in the JSON too): the margin a zero overshoot needs at that rate. With 1 s
sampling the stop comes within one interval of t0, so staging at R bytes/s needs a margin
above the reserve of about R × 1 s; --margin-bytes (256 MiB) covers 200 MB/s, not 800 MB/s.
The machine's load (in the JSON) shifts every number: ltxguard's tick competes for the CPU.
"""
import argparse
import ctypes
import datetime
import errno
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import struct
import sys
import threading
import time

import benchlib as bl
from benchlib import GiB, MiB

SNAPSHOT = "0000000000000001-0000000000000001.ltx"
MB = 1000 * 1000
MS_REMOUNT = 32  # <sys/mount.h>


# --- the staging writer (child of `ltxguard run`) -------------------------------------------

def slog(level, msg, **attrs):
    """One Go slog text line on stderr (the format ltxguard scans)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    quote = lambda v: json.dumps(v) if (not v or re.search(r'[\s="]', v)) else v  # noqa: E731
    line = f"time={stamp} level={level} msg={quote(msg)}"
    for k, v in attrs.items():
        line += f" {k}={quote(str(v))}"
    print(line, file=sys.stderr, flush=True)


def xxh32(data, seed=0):
    """xxHash32 (for the LZ4 frame descriptor's header checksum byte)."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m  # noqa: E731
    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed & m, (seed - p1) & m]
        while i + 16 <= n:
            for j in range(4):
                lane = struct.unpack_from("<I", data, i + 4 * j)[0]
                v[j] = (rotl((v[j] + lane * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    return h ^ (h >> 16)


def lz4_frame_prefix(page_size):
    """LZ4 frame header (v1, independent blocks, 64 KB max block, no checksums) and the
    block-size word of one uncompressed block of `page_size` bytes."""
    desc = bytes([0x60, 0x40])
    hc = (xxh32(desc) >> 8) & 0xFF
    return b"\x04\x22\x4d\x18" + desc + bytes([hc]) + struct.pack("<I", 0x80000000 | page_size)


def stage(argv):
    p = argparse.ArgumentParser(prog="overshoot.py stage")
    p.add_argument("-config", required=True)  # for the command line's looks: ltxguard reads it
    p.add_argument("-db", required=True)
    p.add_argument("-rate", type=float, required=True, help="bytes/s (0: as fast as possible)")
    p.add_argument("-start-delay", type=float, default=1.0)
    p.add_argument("-status", required=True, help="JSON written at the end (not on the tmpfs)")
    a = p.parse_args(argv)
    stop = {"at": None}

    status = {"pid": os.getpid(), "rate": a.rate, "written": 0}

    def finish(state):
        status["state"] = state
        with open(a.status + ".tmp", "w") as f:
            json.dump(status, f)
        os.replace(a.status + ".tmp", a.status)

    def on_term(signum, frame):
        # Recorded at once, in a file of its own (the main flow may be halfway through writing
        # the status): ltxguard may SIGKILL this process moments later.
        if stop["at"] is None:
            stop["at"] = time.time()
            with open(a.status + ".sigterm", "w") as f:
                json.dump({"sigterm_at": stop["at"], "written_at_sigterm": status["written"]}, f)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    slog("INFO", "overshoot staging writer (a stand-in for Litestream 0.5, not Litestream)",
         db=a.db, rate=int(a.rate))
    deadline = time.monotonic() + a.start_delay
    while stop["at"] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    conn = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("SELECT COUNT(1) FROM sqlite_master").fetchone()  # Litestream's read transaction
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    lock_pgno = 0x40000000 // page_size + 1
    meta = os.path.join(os.path.dirname(a.db), f".{os.path.basename(a.db)}-litestream", "ltx", "0")
    os.makedirs(meta, exist_ok=True)
    tmp = os.path.join(meta, SNAPSHOT + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    dbfd = os.open(a.db, os.O_RDONLY | os.O_CLOEXEC)
    prefix = lz4_frame_prefix(page_size)
    header = struct.pack(">4sIIIQQQQQQIIQ20x", b"LTX1", 2, page_size, pages, 1, 1,
                         int(time.time() * 1000), 0, 0, 0, 0, 0, 0)
    written, pgno = 0, 1
    t_start = time.time()
    status.update(tmp=tmp, tmp_created=t_start, page_size=page_size, pages=pages)
    slog("INFO", "staging snapshot", path=tmp, pages=pages)
    mono0 = time.monotonic()
    next_progress = mono0 + 0.1
    try:
        written += os.write(fd, header)
        # Per page: its header and the LZ4 frame prefix, the page copied in the kernel from the
        # database file (one copy, no trip through Python), the frame's end mark.
        while pgno <= pages and stop["at"] is None:
            if pgno != lock_pgno:
                written += os.write(fd, struct.pack(">IH", pgno, 0) + prefix)
                left = page_size
                while left:
                    n = os.copy_file_range(dbfd, fd, left, pgno * page_size - left)
                    if n == 0:
                        raise OSError(5, "short copy from the database")
                    left -= n
                    written += n
                written += os.write(fd, b"\0\0\0\0")
                status["written"] = written
            pgno += 1
            if time.monotonic() >= next_progress:  # the rate reached, even if SIGKILL comes next
                status["achieved_rate"] = written / (time.monotonic() - mono0)
                finish("staging")
                next_progress = time.monotonic() + 0.1
            if a.rate > 0:
                delay = mono0 + written / a.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        status.update(enospc_at=time.time(), written=written,
                      achieved_rate=written / (time.monotonic() - mono0))
        finish("enospc")  # first: the line below may bring a SIGKILL within milliseconds
        slog("ERROR", "disk full while staging ltx file, replication paused until space is freed",
             db=os.path.basename(a.db), error=f"sync: stage-write ltx file {tmp}: disk full: "
             f"encode ltx frame (pgno={pgno}): write page data: write {tmp}: no space left on device",
             path=tmp, txid="0000000000000001", consecutive_errors=1, backoff="1s", max_backoff="5m0s")
        os.close(fd)
        os.unlink(tmp)
        while stop["at"] is None:
            time.sleep(0.01)
        return 0
    os.close(fd)
    status.update(written=written, finished_at=time.time(),
                  achieved_rate=written / (time.monotonic() - mono0))
    if stop["at"] is not None:
        slog("INFO", "signal received, litestream shutting down")
        os.unlink(tmp)
        finish("stopped")
        return 0
    slog("INFO", "snapshot staged (not renamed: the bench only measures the stop)", bytes=written)
    finish("complete")
    while stop["at"] is None:
        time.sleep(0.01)
    os.unlink(tmp)
    return 0


# --- the bench -------------------------------------------------------------------------------

def remount_size(mount, size_bytes):
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"size={int(size_bytes)},mode=0755".encode()
    if libc.mount(b"tmpfs", mount.encode(), b"tmpfs", MS_REMOUNT, opts) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"remount {mount} size={size_bytes}: {os.strerror(e)}")


def avail(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def used(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def textfile_value(path, name, **labels):
    try:
        with open(os.path.join(path, "ltxguard.prom")) as f:
            for line in f:
                if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
                    return float(line.rsplit(" ", 1)[1])
    except FileNotFoundError:
        pass
    return None


def log_unix(line):
    stamp = re.match(r"^time=(\S+)", line).group(1).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()


class Poller:
    """f_bavail every `interval` s in a thread: the minimum and when it was seen."""

    def __init__(self, mount, interval=0.001):
        self.mount, self.min_avail, self.min_at = mount, avail(mount), time.time()
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._t.start()

    def _loop(self, interval):
        while not self._stop.is_set():
            v = avail(self.mount)
            self.samples += 1
            if v < self.min_avail:
                self.min_avail, self.min_at = v, time.time()
            time.sleep(interval)

    def stop(self):
        self._stop.set()
        self._t.join(5)


def one_run(res, fs, fs_bytes, db, config, rate, args, run_no):
    work = res.temp_dir(prefix="ltxg-overshoot-run-")
    state, tf, status = os.path.join(work, "state"), os.path.join(work, "tf"), os.path.join(work, "writer.json")
    os.mkdir(tf)
    err_path = os.path.join(work, "ltxguard.stderr")
    delay = 1.0 + random.random()
    cmd = [bl.ltxguard_bin(), "run", "--db", db, "--config", config, "--state-dir", state,
           "--interval", str(args.interval), "--litestream-version", "0.5.15", "--textfile", tf,
           "--log-format", "text", "--",
           sys.executable, "-u", os.path.abspath(__file__), "stage", "-config", config, "-db", db,
           "-rate", str(rate), "-start-delay", f"{delay:.3f}", "-status", status]
    proc = res.popen(cmd, err_path)
    tmp = os.path.join(ltxg_meta(db), "ltx", "0", SNAPSHOT + ".tmp")
    out = {"rate_bytes_per_second": rate, "run": run_no, "start_delay_seconds": delay}
    poller = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if os.path.getsize(tmp) >= args.grab_at:
                    break
            except FileNotFoundError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"staging never reached {args.grab_at} bytes (ltxguard exit "
                                   f"{proc.poll()}):\n{open(err_path).read()[-3000:]}")
            time.sleep(0.0005)
        reserve = textfile_value(tf, "ltxguard_reserve_bytes", mount=fs)
        poller = Poller(fs)
        staged_at_t0 = os.path.getsize(tmp)
        target = used(fs) + int(reserve) + args.margin_bytes
        target = (target + 4095) // 4096 * 4096
        t0_before = time.time()
        remount_size(fs, target)
        t0 = time.time()
        out.update(reserve_bytes=int(reserve), staged_at_t0=staged_at_t0,
                   avail_after_t0=avail(fs), remount_seconds=t0 - t0_before)
        rc = proc.wait(timeout=60)
        poller.stop()
        out["ltxguard_exit"] = rc
        with open(err_path, errors="replace") as f:
            err = f.read()
        stop_lines = [l for l in err.splitlines() if "event=protective_stop" in l]
        try:
            with open(status) as f:
                w = json.load(f)
        except FileNotFoundError:
            w = {"state": "no status"}
        try:
            with open(status + ".sigterm") as f:
                w.update(json.load(f))
        except FileNotFoundError:
            pass
        out["writer_state"] = w.get("state")
        stopped = [l for l in err.splitlines() if "event=litestream_stopped" in l]
        out["stop_outcome"] = re.search(r'msg="Litestream ([^"]*)"', stopped[0]).group(1) if stopped else None
        if os.path.exists(tmp):  # SIGKILLed: the .tmp stays where it was
            out["tmp_left_bytes"] = os.path.getsize(tmp)
        if stop_lines:
            m = re.search(r"condition=(\S+)", stop_lines[0])
            out["condition"] = m.group(1) if m else None
            out["t0_to_stop_log_seconds"] = log_unix(stop_lines[0]) - t0
        if w.get("sigterm_at"):
            out["t0_to_sigterm_seconds"] = w["sigterm_at"] - t0
        staged_at_stop = w.get("written_at_sigterm", out.get("tmp_left_bytes", w.get("written")))
        if w.get("achieved_rate"):
            out["achieved_rate_bytes_per_second"] = w["achieved_rate"]
        out["staged_t0_to_stop_bytes"] = staged_at_stop - staged_at_t0 if staged_at_stop else None
        out["enospc"] = "enospc_at" in w
        out["min_avail_bytes"] = poller.min_avail
        out["consumed_t0_to_stop_bytes"] = out["avail_after_t0"] - poller.min_avail
        out["overshoot_bytes"] = max(0, int(reserve) - poller.min_avail)
        out["poll_samples"] = poller.samples
    finally:
        if poller:
            poller.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remount_size(fs, fs_bytes)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def ltxg_meta(db):
    return os.path.join(os.path.dirname(db), f".{os.path.basename(db)}-litestream")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="50,200,800", help="MB/s (10^6 bytes), comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fs-bytes", type=int, default=2 * GiB)
    ap.add_argument("--db-bytes", type=int, default=640 * MiB)
    ap.add_argument("--grab-at", type=int, default=32 * MiB, help="staged bytes at t0")
    ap.add_argument("--margin-bytes", type=int, default=256 * MiB,
                    help="free space above the reserve left at t0")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--page-size", type=int, default=65536,
                    help="of the database (64 KiB: few enough pages for a Python writer at 800 MB/s)")
    ap.add_argument("--json", default=bl.default_json("overshoot"))
    args = ap.parse_args()
    bl.require([bl.ltxguard_bin()])
    if args.grab_at + args.margin_bytes >= args.db_bytes:
        sys.exit("bench: --grab-at + --margin-bytes must be below --db-bytes, or the rest of the "
                 "snapshot still fits after t0")
    rates = [float(r) * MB for r in args.rates.split(",")]
    doc = {"machine": bl.machine_info(), "params": vars(args), "runs": []}
    with bl.Resources() as res:
        fs = res.tmpfs(args.fs_bytes)
        db = os.path.join(fs, "app.db")
        print(f"building a {args.db_bytes / MiB:.0f} MiB database on a {args.fs_bytes / GiB:.1f} GiB tmpfs ...",
              flush=True)
        bl.ltxg.make_db(db, args.db_bytes, page_size=args.page_size)
        config = bl.ltxg.write_litestream_config(os.path.join(res.temp_dir(), "litestream.yml"), [{"path": db}])
        for rate in rates:
            for i in range(args.repeat):
                r = one_run(res, fs, args.fs_bytes, db, config, rate, args, i + 1)
                doc["runs"].append(r)
                ach = r.get("achieved_rate_bytes_per_second")
                print(f"  {rate / MB:5.0f} MB/s run {i + 1} (writer reached "
                      f"{'n/a' if ach is None else f'{ach / MB:.0f} MB/s'}): stop {r.get('condition')} "
                      f"t0->stop {fmt(r.get('t0_to_stop_log_seconds'))} (SIGTERM seen by the writer "
                      f"{fmt(r.get('t0_to_sigterm_seconds'))}), free space used after t0 "
                      f"{r['consumed_t0_to_stop_bytes'] / MiB:.0f} MiB, min free {r['min_avail_bytes'] / MiB:.1f} MiB, "
                      f"overshoot {r['overshoot_bytes'] / MiB:.1f} MiB (exit {r['ltxguard_exit']}"
                      f"{', writer hit ENOSPC' if r['enospc'] else ''}; Litestream {r.get('stop_outcome')})",
                      flush=True)
    doc["summary"] = summarize(doc["runs"], rates, args)
    bl.write_result(args.json, doc)
    print(f"\nresults: {args.json}")
    return 0


def fmt(v):
    return "n/a" if v is None else f"{v:.2f} s"


def summarize(runs, rates, args):
    rows = []
    print(f"\novershoot of the protective stop ({args.interval:g} s sampling, margin at t0 "
          f"{args.margin_bytes / MiB:.0f} MiB above the reserve)")
    print(f"{'rate':>9} | {'reached':>8} | {'t0->stop max':>15} | {'used t0->stop max':>19} | "
          f"{'overshoot max':>13} | {'overshoot/reserve':>17} | never below")
    for rate in rates:
        rs = [r for r in runs if r["rate_bytes_per_second"] == rate]
        lat = [r["t0_to_stop_log_seconds"] for r in rs if r.get("t0_to_stop_log_seconds") is not None]
        over = max(r["overshoot_bytes"] for r in rs)
        staged = max(r["consumed_t0_to_stop_bytes"] for r in rs)
        reserve = rs[0]["reserve_bytes"]
        reached = [r["achieved_rate_bytes_per_second"] for r in rs if r.get("achieved_rate_bytes_per_second")]
        row = {"rate_mb_per_second": rate / MB, "runs": len(rs),
               "reached_median_mb_per_second": statistics.median(reached) / MB if reached else None,
               "t0_to_stop_max_seconds": max(lat) if lat else None,
               "t0_to_stop_median_seconds": statistics.median(lat) if lat else None,
               "consumed_t0_to_stop_max_bytes": staged, "overshoot_max_bytes": over,
               "overshoot_over_reserve": over / reserve, "reserve_bytes": reserve,
               "never_below": over == 0}
        rows.append(row)
        reached_s = "n/a" if row["reached_median_mb_per_second"] is None else f"{row['reached_median_mb_per_second']:.0f} MB/s"
        print(f"{rate / MB:5.0f} MB/s | {reached_s:>8} | {fmt(row['t0_to_stop_max_seconds']):>15} | "
              f"{staged / MiB:15.0f} MiB | {over / MiB:9.1f} MiB | {row['overshoot_over_reserve']:17.2f} | "
              f"{'yes' if over == 0 else 'NO'}")
    target = next((r for r in rows if r["rate_mb_per_second"] == 200), None)
    if target:
        print(f"target (never below the reserve at 200 MB/s, {args.interval:g} s sampling): "
              f"{'met' if target['never_below'] else 'MISSED'}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "stage":
        sys.exit(stage(sys.argv[2:]))
    sys.exit(bl.main_guard(main))
