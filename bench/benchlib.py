"""Shared pieces of the benchmarks (Python 3 stdlib only): paths, mounts and processes that
are always cleaned up, cache dropping, the machine description, medians and JSON results.

Every resource goes on a `Resources` stack (LIFO: processes stop before their mount goes);
SIGTERM takes the same path as Ctrl-C, so an interrupted bench leaves no mount, loop device,
process or temp dir behind. Benchmarks report; they never fail on a timing.
"""
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, "results")
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "integration"))
import ltxg  # noqa: E402  (make_db, write_litestream_config, scrape_metrics, meta_dir_03)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


# --- paths ------------------------------------------------------------------------------

def build_dir():
    return os.environ.get("LTXGUARD_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")


def ltxguard_bin():
    return os.environ.get("LTXGUARD_BIN") or os.path.join(build_dir(), "src", "ltxguard")


def tool_bin(name):
    """A test double or helper built from tests/doubles/<name>.cpp."""
    return os.path.join(build_dir(), "tests", name)


def litestream03_bin():
    return os.environ.get("LITESTREAM_BIN") or os.path.join(SOURCE_DIR, ".tools", "litestream")


def require(paths):
    """Exits with a hint when a binary the bench drives is missing."""
    for p in paths:
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            sys.exit(f"bench: {p} is missing (make build; scripts/setup installs the rest)")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (it mounts tmpfs/ext4 and drops caches)")


# --- resources --------------------------------------------------------------------------

class Resources(contextlib.ExitStack):
    """An ExitStack that also answers ltxg's TestCase protocol (addCleanup, skipTest), so the
    integration harness's helpers register their cleanups here."""

    def addCleanup(self, fn, *args, **kwargs):  # noqa: N802 (unittest's name)
        self.callback(fn, *args, **kwargs)

    def skipTest(self, reason):  # noqa: N802
        raise RuntimeError(reason)

    def temp_dir(self, prefix="ltxg-bench-", base=None):
        path = tempfile.mkdtemp(prefix=prefix, dir=base)
        self.callback(shutil.rmtree, path, ignore_errors=True)
        return path

    def tmpfs(self, size_bytes):
        return ltxg.tmpfs(self, size_bytes)

    def ext4_loop(self, size_bytes, inodes=None):
        """ext4 on a loop device over a sparse image in /var/tmp (the real disk); `inodes`
        sets mkfs's -N. Unmounted and detached at cleanup."""
        holder = self.temp_dir(prefix="ltxg-bench-img-", base="/var/tmp")
        image = os.path.join(holder, "fs.img")
        with open(image, "wb") as f:
            f.truncate(int(size_bytes))
        cmd = ["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"]
        if inodes:
            cmd += ["-N", str(int(inodes))]
        run_quiet(cmd + [image])
        mnt = tempfile.mkdtemp(prefix="ltxg-bench-ext4-")
        self.callback(_rmdir_quiet, mnt)

        def detach():
            ltxg._unmount(mnt)
            out = subprocess.run(["losetup", "-j", image], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL).stdout
            for line in out.splitlines():
                dev = line.split(":", 1)[0]
                if dev:
                    subprocess.run(["losetup", "-d", dev], capture_output=True,
                                   stdin=subprocess.DEVNULL)

        self.callback(detach)
        run_quiet(["mount", "-o", "loop", image, mnt])
        return mnt

    def filesystem(self, kind, size_bytes, inodes=None):
        if kind == "tmpfs":
            return self.tmpfs(size_bytes)
        if kind == "ext4":
            return self.ext4_loop(size_bytes, inodes)
        raise ValueError(kind)

    def popen(self, cmd, log_path, env=None):
        """Starts cmd in its own process group (killed with the bench: PR_SET_PDEATHSIG);
        SIGKILLs the group at cleanup."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=full_env,
                                    start_new_session=True, preexec_fn=ltxg._die_with_parent)
        self.callback(ltxg._kill_group, proc)
        return proc


def _rmdir_quiet(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def run_quiet(cmd, timeout=600, **kw):
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                           f"{proc.stdout.strip()[-500:]} {proc.stderr.strip()[-500:]}")
    return proc


def main_guard(fn):
    """Runs fn() with SIGTERM mapped to KeyboardInterrupt; returns the exit status."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return fn()
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- measurements -----------------------------------------------------------------------

def drop_caches():
    """Writes dirty pages back, then drops the page, dentry and inode caches."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(cmd, env=None, cwd=None, timeout=1800):
    """Runs cmd with its output read (and discarded, like a terminal would take it); returns
    (wall seconds, CompletedProcess)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    t0 = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
    return time.monotonic() - t0, proc


def summary(values):
    """Median and spread of repeated measurements."""
    vals = sorted(values)
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1],
            "n": len(vals), "values": values}


def fmt_s(seconds):
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_summary(s):
    return f"{fmt_s(s['median'])} [{fmt_s(s['min'])}..{fmt_s(s['max'])}]"


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine_info():
    """nproc, RAM, kernel, CPU model, load: what docs/benchmarks.md records with each run."""
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        model = m.group(1).strip() if m else ""
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    def git(*args):
        try:
            return subprocess.run(["git", "-C", SOURCE_DIR, *args], capture_output=True,
                                  text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    version = ""
    try:
        version = subprocess.run([ltxguard_bin(), "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"nproc": os.cpu_count(), "mem_bytes": mem, "kernel": platform.release(),
            "cpu_model": model, "loadavg_start": loadavg(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "git_head": git("rev-parse", "--short", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "ltxguard_version": version}


def write_result(path, doc):
    """Writes a bench's JSON result (default bench/results/<name>.json)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    doc.setdefault("machine", {})["loadavg_end"] = loadavg()
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def default_json(name):
    return os.path.join(RESULTS_DIR, f"{name}.json")


# --- fixtures ---------------------------------------------------------------------------

def make_template_db(res, size_bytes):
    """A real WAL-mode SQLite database of `size_bytes` of random 64 KiB blobs, built once in
    /var/tmp and copied where a bench needs it (copying is much faster than building)."""
    d = res.temp_dir(prefix="ltxg-bench-db-", base="/var/tmp")
    path = os.path.join(d, "template.db")
    pages = ltxg.make_db(path, size_bytes)
    return path, pages


def copy_file(src, dst):
    shutil.copyfile(src, dst)


def make_segments(wal_dir, start, stop, file_bytes):
    """0.3 shadow WAL segments `<index %08x>.wal` for index in [start, stop)."""
    os.makedirs(wal_dir, exist_ok=True)
    chunk = b"\0" * file_bytes
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    for i in range(start, stop):
        fd = os.open(os.path.join(wal_dir, "%08x.wal" % i), flags, 0o644)
        try:
            if chunk:
                os.write(fd, chunk)
        finally:
            os.close(fd)


def meta_03(db, generation="0123456789abcdef"):
    """Creates the 0.3 meta dir skeleton next to db; returns its shadow WAL dir."""
    meta = ltxg.meta_dir_03(db)
    wal = os.path.join(meta, "generations", generation, "wal")
    os.makedirs(wal, exist_ok=True)
    with open(os.path.join(meta, "generation"), "w") as f:
        f.write(generation)
    return wal


def build_journal(journal_dir, litestream_lines, other_lines, db_path):
    """A real journal file (systemd-journal-remote, no journald needed) with
    `litestream_lines` Litestream 0.3 entries interleaved with `other_lines` of another
    unit, like a busy host's journal."""
    remote = "/lib/systemd/systemd-journal-remote"
    require([remote])
    os.makedirs(journal_dir, exist_ok=True)
    t = int(time.time() * 1e6) - 3600 * 1000000
    total = litestream_lines + other_lines
    boot = "0123456789abcdef0123456789abcdef"
    chunks = []
    every = max(1, total // max(1, litestream_lines))
    for i in range(total):
        if i % every == 0 and litestream_lines > 0:
            litestream_lines -= 1
            unit = "litestream.service"
            msg = (f'level=INFO msg="write wal segment" db={db_path} replica=file '
                   f'position=0123456789abcdef/{i:08x}:4152')
        else:
            unit = "app.service"
            msg = f"GET /api/items/{i} 200 {i % 97} ms"
        chunks.append(f"__REALTIME_TIMESTAMP={t + i * 1000}\n__MONOTONIC_TIMESTAMP={i + 1}\n"
                      f"_BOOT_ID={boot}\n_SYSTEMD_UNIT={unit}\nPRIORITY=6\nMESSAGE={msg}\n")
    proc = subprocess.run([remote, "-o", os.path.join(journal_dir, "system.journal"), "-"],
                          input="\n".join(chunks), text=True, capture_output=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"systemd-journal-remote failed: {proc.stderr[-500:]}")


def loglog_slope(xs, ys):
    """Least-squares slope of log(y) on log(x): 1 is linear, < 1 better than linear."""
    import math
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den if den else float("nan")
