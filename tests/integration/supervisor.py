"""Helpers for the tests of `ltxguard run` (the supervisor) and `ltxguard alarm`.

- `Run`: `ltxguard run ... -- CHILD` in the background, its stdout/stderr in files, its log
  events parsed. Cleanup kills ltxguard and then the child's process group: the child runs in
  a group of its own, so killing ltxguard alone would leave it behind.
- `double_stop_scenario`: the Litestream 0.5 first sync, reproduced by the TEST DOUBLE
  tests/doubles/litestream05_double (real LTX bytes in the real layout, the 0.5 log lines;
  Litestream 0.5 cannot be built here), under `ltxguard run`, while another writer on the same
  tmpfs takes the room the snapshot needs.
- `fake_litestream`: a shell script named `litestream` that misbehaves on purpose (ignores
  SIGTERM, prints a disk-full line, exits by itself); it is not Litestream.
"""

import dataclasses
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import threading
import time

import ltxg
from ltxg import KiB, MiB

SNAPSHOT = "0000000000000001-0000000000000001.ltx"
_EVENT = re.compile(r"\bevent=(\S+)")
_TIME = re.compile(r"^time=(\S+)")


# --- processes ----------------------------------------------------------------------------

def pids_mentioning(marker):
    """Pids (other than ours) whose command line contains `marker` (a unique temp path)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(name))
        except OSError:
            pass
    return found


def kill_group_and_pid(pid):
    """SIGKILL to the process group `pid` leads (if it leads one) and to `pid` itself."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def log_unix(line):
    """Unix time of a `time=2026-01-02T03:04:05.678Z ...` log line."""
    import datetime
    stamp = _TIME.match(line).group(1).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()


class Run:
    """`ltxguard run ARGS -- CHILD`, started by the constructor. `marker` is a path only this
    test's child mentions (its config or script), used to find the child at cleanup."""

    def __init__(self, testcase, args, child, marker, env=None):
        d = ltxg.temp_dir(testcase, prefix="ltxg-run-")
        self.out_path = os.path.join(d, "stdout")
        self.err_path = os.path.join(d, "stderr")
        self.marker = marker
        self.cmd = [ltxg.ltxguard_bin(), "run", *[str(a) for a in args], "--", *child]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.started = time.monotonic()
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=full_env, start_new_session=True)
        testcase.addCleanup(self.cleanup)

    def cleanup(self):
        child = self.child_pid()
        if self.proc.poll() is None:
            kill_group_and_pid(self.proc.pid)
            self.proc.wait(timeout=10)
        if child:
            kill_group_and_pid(child)
        for pid in pids_mentioning(self.marker):
            kill_group_and_pid(pid)

    def wait(self, timeout):
        """The exit code; AssertionError with the output's tail if it runs past `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ltxguard run still running after {timeout}s; stderr tail:\n"
                                 + "\n".join(self.stderr().splitlines()[-30:]))

    def running(self):
        return self.proc.poll() is None

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def event_lines(self, event):
        """ltxguard's own log lines (text format) with `event=<event>`."""
        return [l for l in self.stderr().splitlines()
                if (m := _EVENT.search(l)) and m.group(1) == event]

    def events(self):
        return [m.group(1) for l in self.stderr().splitlines() if (m := _EVENT.search(l))]

    def wait_for_event(self, event, timeout):
        def seen():
            return self.event_lines(event) or (not self.running() and "exited")
        ltxg.wait_until(seen, timeout, interval=0.05, message=f"event={event}")
        lines = self.event_lines(event)
        if not lines:
            raise AssertionError(f"ltxguard run exited {self.proc.returncode} without "
                                 f"event={event}; stderr:\n{self.stderr()}")
        return lines[0]

    def child_pid(self):
        for line in self.event_lines("litestream_started"):
            m = re.search(r"\bpid=(\d+)", line)
            if m:
                return int(m.group(1))
        return None


def alarm_doc(state_dir):
    """The parsed alarm.json of a state dir, None when there is none."""
    try:
        with open(os.path.join(state_dir, "alarm.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def alarm_status(state_dir):
    """(exit code, parsed `alarm status --json`)."""
    return ltxg.run_json("alarm", "status", "--state-dir", state_dir, "--json")


def integrity_ok(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def read_textfile(directory):
    """{'name{labels}': value} of the ltxguard.prom --textfile writes."""
    series = {}
    with open(os.path.join(directory, "ltxguard.prom")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                series[key] = float(value)
    return series


def metric(series, name, **labels):
    """The value of the first series `name` carrying every label given; None if absent."""
    for key, value in series.items():
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            return value
    return None


def files_below(path):
    return [os.path.join(r, n) for r, _d, names in os.walk(path) for n in names]


# --- watching free space ------------------------------------------------------------------

class FreeSpaceMonitor:
    """Samples app-visible free space (f_bavail) of a mount every `interval` seconds in a
    thread, keeping the minimum, until stop()."""

    def __init__(self, testcase, mount, interval=0.005):
        self.mount = mount
        self.min_avail = ltxg.avail_bytes(mount)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()
        testcase.addCleanup(self.stop)

    def _loop(self, interval):
        while not self._stop.is_set():
            try:
                self.min_avail = min(self.min_avail, ltxg.avail_bytes(self.mount))
            except OSError:
                return
            time.sleep(interval)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        return self.min_avail


class Filler:
    """Another writer on the same filesystem (not the app, not Litestream): writes `total`
    bytes of random data to `path` at `rate` bytes/s in a thread. Cleanup waits for it."""

    def __init__(self, testcase, path, total, rate, chunk=256 * KiB):
        self.path = path
        self.written = 0
        self.error = None
        self._args = (total, rate, chunk)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        testcase.addCleanup(self.join)

    def _run(self):
        total, rate, chunk = self._args
        start = time.monotonic()
        try:
            with open(self.path, "wb") as f:
                while self.written < total:
                    n = min(chunk, total - self.written)
                    f.write(os.urandom(n))
                    f.flush()
                    self.written += n
                    delay = start + self.written / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except OSError as e:
            self.error = e

    def join(self, timeout=30):
        self._thread.join(timeout)
        return self.written


# --- the 0.5 double under `ltxguard run` ----------------------------------------------------

# 64 MiB tmpfs (reserve: the app WAL headroom, 10 % = 6.4 MiB), a 16 MiB database: the preflight
# passes (47.8 MiB available − 16.1 MiB snapshot − 3 × 6.4 MiB = 12.5 MiB). Another writer then
# takes 34 MiB: what is left (~14 MiB) cannot hold the 16.1 MiB snapshot, so without a stop the
# staging fills the disk; ltxguard must stop it while the app still has its reserve. The double
# stages at 512 KiB/s, so the stop comes with ~2-4 MiB staged.
FS_BYTES = 64 * MiB
DB_BYTES = 16 * MiB
FILLER_BYTES = 34 * MiB
FILLER_RATE = 8 * MiB
STAGING_RATE = 512 * KiB
APP_RATE = 64 * KiB


@dataclasses.dataclass
class DoubleScenario:
    fs: str
    root: str
    db: str
    config: str
    state_dir: str
    textfile_dir: str
    tmp: str            # the double's in-flight snapshot
    app: object         # ltxg.AppWriter or None
    run: Run
    monitor: FreeSpaceMonitor
    testcase: object
    port: int = 0         # --listen port, 0 without
    filler: Filler = None

    def start_filler(self, total=FILLER_BYTES, rate=FILLER_RATE):
        """Another writer takes `total` bytes of the tmpfs: the snapshot no longer fits."""
        self.filler = Filler(self.testcase, os.path.join(self.fs, "filler"), total, rate)
        return self.filler


def double_config(root, dbs, extra_top=""):
    """A Litestream config for the double: each db with a file replica under `root`."""
    path = os.path.join(root, "litestream.yml")
    ltxg.write_litestream_config(path, [
        {"path": db, "replicas": [{"type": "file", "path": os.path.join(root, f"replica-{i}")}]}
        for i, db in enumerate(dbs)])
    if extra_top:
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(extra_top + text)
    return path


def require_double(testcase):
    ltxg.require_root(testcase)
    binary = ltxg.double_bin("litestream05_double")
    ltxg.require_executable(testcase, binary, "litestream05_double (build target litestream05_double)")
    return binary


def double_child(config, mode, rate=STAGING_RATE):
    return [ltxg.double_bin("litestream05_double"), "replicate", "-config", config,
            "-mode", mode, "-rate", str(int(rate))]


def double_stop_scenario(testcase, mode, app=True, listen=False, extra_top="", env=None,
                         policy=None, extra_args=(), rate=STAGING_RATE):
    """The double's first sync under `ltxguard run --interval 0.5`, an app writing APP_RATE,
    returned once the snapshot is being staged (the filler is not started yet)."""
    require_double(testcase)
    fs = ltxg.tmpfs(testcase, FS_BYTES)
    root = ltxg.temp_dir(testcase, prefix="ltxg-runscn-")
    db = os.path.join(fs, "app.db")
    ltxg.make_db(db, DB_BYTES)
    config = double_config(root, [db], extra_top)
    state_dir = os.path.join(root, "state")
    textfile_dir = os.path.join(root, "textfile")
    os.mkdir(textfile_dir)
    writer = ltxg.AppWriter.at_rate(testcase, db, APP_RATE) if app else None
    args = ["--state-dir", state_dir, "--interval", "0.5", "--litestream-version", mode,
            "--textfile", textfile_dir, "--log-format", "text", *extra_args]
    port = 0
    if listen:
        port = ltxg.free_tcp_port()
        args += ["--listen", f"127.0.0.1:{port}"]
    if policy is not None:
        policy_path = os.path.join(root, "policy.yml")
        with open(policy_path, "w") as f:
            f.write(policy)
        args += ["--policy", policy_path]
    monitor = FreeSpaceMonitor(testcase, fs)
    run = Run(testcase, args, double_child(config, mode, rate), marker=config, env=env)
    tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", SNAPSHOT + ".tmp")
    ltxg.wait_until(lambda: os.path.exists(tmp) or not run.running(), 15,
                    message="the double to start staging")
    if not run.running():
        raise AssertionError(f"ltxguard run exited {run.proc.returncode} before staging began:\n"
                             + run.stderr())
    return DoubleScenario(fs=fs, root=root, db=db, config=config, state_dir=state_dir,
                          textfile_dir=textfile_dir, tmp=tmp, app=writer, run=run,
                          monitor=monitor, testcase=testcase, port=port)


# --- a misbehaving stand-in named `litestream` ----------------------------------------------

# The ≤0.5.14 error of a failed snapshot write (db.go sync(), ltx encoder), with the path filled
# in by the script: what ltxguard must recognise on the child's stderr.
DISK_FULL_LINE = ('time=2026-01-01T00:00:00.000Z level=ERROR msg="sync error" db=app.db '
                  'error="sync: write ltx from db: encode ltx frame (pgno=2): write page data: '
                  'write {tmp}: no space left on device" consecutive_errors=1 backoff=1s')


def fake_litestream(testcase, body):
    """Writes an executable shell script `litestream` (a stand-in, not Litestream) into a fresh
    dir and returns its path. `body` runs for `replicate`; `version` prints 0.5.10."""
    d = ltxg.temp_dir(testcase, prefix="ltxg-fakels-")
    path = os.path.join(d, "litestream")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# ltxguard test stand-in for a misbehaving Litestream; not Litestream.\n"
                'if [ "$1" = version ]; then echo 0.5.10; exit 0; fi\n' + body + "\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def small_db_setup(testcase, fs_bytes=64 * MiB, db_bytes=1 * MiB):
    """A small database on a tmpfs of its own and a config naming it: room to spare, so
    only what the child does can cause a stop. Returns (fs, db, config, root)."""
    ltxg.require_root(testcase)
    fs = ltxg.tmpfs(testcase, fs_bytes)
    root = ltxg.temp_dir(testcase, prefix="ltxg-runsmall-")
    db = os.path.join(fs, "app.db")
    ltxg.make_db(db, db_bytes)
    config = double_config(root, [db])
    return fs, db, config, root
