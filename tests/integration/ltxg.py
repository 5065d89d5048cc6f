"""Shared harness for ltxguard's integration tests (Python 3 stdlib only).

Every resource a helper creates (mount, loop device, process, temp dir) is released by a
cleanup registered on the calling unittest.TestCase, so a failing test leaves nothing
behind. Cleanups run last-in first-out: processes started after a mount are stopped
before it is unmounted.

Paths come from the environment CTest sets (LTXGUARD_BIN, LTXGUARD_BUILD_DIR,
LTXGUARD_SOURCE_DIR, LITESTREAM_BIN); for manual runs they fall back to the source tree
this file sits in and its `build/` directory.
"""

import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

KiB = 1024
MiB = 1024 * KiB

_HERE = os.path.dirname(os.path.abspath(__file__))


# --- paths ----------------------------------------------------------------------------

def source_dir():
    """The ltxguard source tree (LTXGUARD_SOURCE_DIR, else two levels above this file)."""
    return os.environ.get("LTXGUARD_SOURCE_DIR") or os.path.dirname(os.path.dirname(_HERE))


def build_dir():
    """The CMake build tree (LTXGUARD_BUILD_DIR, else <source>/build)."""
    return os.environ.get("LTXGUARD_BUILD_DIR") or os.path.join(source_dir(), "build")


def ltxguard_bin():
    """The ltxguard binary under test (LTXGUARD_BIN, else <build>/src/ltxguard)."""
    return os.environ.get("LTXGUARD_BIN") or os.path.join(build_dir(), "src", "ltxguard")


def litestream_bin():
    """The real Litestream 0.3.13 (LITESTREAM_BIN, else <source>/.tools/litestream)."""
    return os.environ.get("LITESTREAM_BIN") or os.path.join(source_dir(), ".tools", "litestream")


def double_bin(name):
    """A test double built from tests/doubles/<name>.cpp (lands in <build>/tests/<name>)."""
    return os.path.join(build_dir(), "tests", name)


def app_writer_script():
    return os.path.join(_HERE, "app_writer.py")


# --- preconditions ----------------------------------------------------------------------

def require_root(testcase):
    """Skips the test unless it runs as root (mounting tmpfs and loop devices needs it)."""
    if os.geteuid() != 0:
        testcase.skipTest("needs root: mounts tmpfs/ext4 filesystems (run as root, e.g. in CI)")


def require_executable(testcase, path, what):
    """Skips the test when a binary it drives has not been built or installed."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        testcase.skipTest(f"{what} not found at {path}")


# --- temp dirs and filesystems ----------------------------------------------------------

def temp_dir(testcase, prefix="ltxg-"):
    """A fresh directory removed (with its contents) at cleanup."""
    path = tempfile.mkdtemp(prefix=prefix)
    testcase.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def _run_quiet(cmd, timeout=60):
    """Runs a setup command; raises with its output when it fails."""
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                           f"{proc.stdout.strip()} {proc.stderr.strip()}")
    return proc


def _unmount(path):
    """Unmounts `path`; a lazy unmount is the last resort when something still holds it."""
    if not os.path.ismount(path):
        return
    if subprocess.run(["umount", path], stdin=subprocess.DEVNULL,
                      capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", path], stdin=subprocess.DEVNULL, capture_output=True)


def _rmdir_quiet(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def tmpfs(testcase, size_bytes):
    """Mounts a tmpfs of `size_bytes` (rounded up to 4 KiB) at a fresh temp dir and returns
    its path. A full tmpfs fails write() with ENOSPC; it has no root reserve."""
    require_root(testcase)
    mnt = tempfile.mkdtemp(prefix="ltxg-tmpfs-")
    testcase.addCleanup(_rmdir_quiet, mnt)
    size = (int(size_bytes) + 4095) // 4096 * 4096
    _run_quiet(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", mnt])
    testcase.addCleanup(_unmount, mnt)
    return mnt


def ext4_loop(testcase, size_bytes):
    """Mounts a fresh ext4 image of `size_bytes` (with the default 5 % root reserve, so
    free_bytes > avail_bytes) on a loop device and returns the mount point. Cleanup
    unmounts it and detaches the loop device."""
    require_root(testcase)
    holder = temp_dir(testcase, prefix="ltxg-ext4img-")
    image = os.path.join(holder, "fs.img")
    with open(image, "wb") as f:
        f.truncate(int(size_bytes))
    _run_quiet(["mkfs.ext4", "-q", "-F", image])
    mnt = tempfile.mkdtemp(prefix="ltxg-ext4-")
    testcase.addCleanup(_rmdir_quiet, mnt)

    def detach():
        _unmount(mnt)
        out = subprocess.run(["losetup", "-j", image], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            dev = line.split(":", 1)[0]
            if dev:
                subprocess.run(["losetup", "-d", dev], stdin=subprocess.DEVNULL,
                               capture_output=True)

    testcase.addCleanup(detach)
    _run_quiet(["mount", "-o", "loop", image, mnt])
    return mnt


def free_bytes(path):
    """Free bytes on path's filesystem, root reserve included (statvfs f_bfree)."""
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def avail_bytes(path):
    """Bytes an unprivileged writer can still use (statvfs f_bavail)."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def dir_bytes(path):
    """Allocated bytes (st_blocks) of every file below `path`; 0 when it does not exist.
    Files vanishing during the walk (Litestream renames and deletes) are skipped."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def list_files(path, suffix=""):
    """Sorted paths (relative to `path`) of the files below it ending with `suffix`."""
    found = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            if name.endswith(suffix):
                found.append(os.path.relpath(os.path.join(root, name), path))
    return sorted(found)


# --- SQLite -----------------------------------------------------------------------------

def make_db(path, size_bytes, page_size=4096, wal=True, random=True):
    """Creates a real SQLite database of about `size_bytes` (never less) at `path`, filled
    with 64 KiB blobs in table `blobs`: os.urandom bytes (incompressible, so LZ4 and
    Litestream's snapshots cannot shrink them) or zeros with random=False. With wal=True it
    ends in WAL mode with the WAL checkpointed away. Returns the page count."""
    row_bytes = 64 * KiB
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size={int(page_size)}")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, data BLOB)")
        while True:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            missing = int(size_bytes) - pages * page_size
            if missing <= 0:
                break
            rows = max(1, min(64, missing // row_bytes))
            conn.execute("BEGIN")
            for _ in range(rows):
                data = os.urandom(row_bytes) if random else bytes(row_bytes)
                conn.execute("INSERT INTO blobs(data) VALUES (?)", (data,))
            conn.execute("COMMIT")
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


def db_files(db_path):
    """The database and the files SQLite owns next to it (never Litestream's)."""
    return [db_path, db_path + "-wal", db_path + "-shm"]


def tree_hashes(paths):
    """sha256 hex of each file (directories are walked), None for a missing path: take it
    before and after a command to prove the command changed nothing."""
    hashes = {}
    for p in paths:
        if os.path.isdir(p):
            for rel in list_files(p):
                hashes.update(tree_hashes([os.path.join(p, rel)]))
            continue
        try:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            hashes[p] = h.hexdigest()
        except FileNotFoundError:
            hashes[p] = None
    return hashes


# --- waiting ----------------------------------------------------------------------------

def wait_until(fn, timeout, interval=0.1, message=None):
    """Polls fn() until it returns a truthy value, which is returned. Raises
    AssertionError (with `message`, or fn's name) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for "
                                 f"{message or getattr(fn, '__name__', 'condition')}")
        time.sleep(interval)


# --- processes --------------------------------------------------------------------------

def _die_with_parent():
    """preexec_fn: SIGKILL the child when the test runner dies, so a killed run leaves no
    Litestream or writer behind (prctl PR_SET_PDEATHSIG)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def _kill_group(proc):
    """SIGKILLs the process group led by `proc` (started with start_new_session=True)
    and reaps the leader."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@dataclasses.dataclass
class StopResult:
    """How a process ended: by SIGTERM within the grace period, or only by SIGKILL."""
    exited_on_sigterm: bool
    returncode: int
    seconds: float  # from SIGTERM until it was gone


def _stop(proc, grace_seconds):
    if proc.poll() is not None:
        return StopResult(True, proc.returncode, 0.0)
    start = time.monotonic()
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace_seconds)
        return StopResult(True, proc.returncode, time.monotonic() - start)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return StopResult(False, proc.returncode, time.monotonic() - start)


class AppWriter:
    """The application: a separate Python process (app_writer.py) committing one row of
    `row_bytes` random bytes every `interval_seconds` to a WAL database, counting ok,
    failed and SQLITE_FULL commits. Started by the constructor; killed at cleanup."""

    def __init__(self, testcase, db_path, row_bytes=16 * KiB, interval_seconds=0.0625,
                 busy_timeout_ms=5000, run_as=None, max_seconds=600):
        """run_as: a user name to run the writer as (e.g. "nobody", to see ext4's root
        reserve refuse the app while root-owned Litestream still writes); the database's
        directory must then be writable by that user."""
        self.db_path = db_path
        state = temp_dir(testcase, prefix="ltxg-app-")
        self.status_path = os.path.join(state, "status.json")
        python = sys.executable
        if run_as and os.path.exists("/usr/bin/python3"):
            python = "/usr/bin/python3"  # sys.executable may sit under root's 0700 home
        cmd = [python, "-u", app_writer_script(), "--db", db_path,
               "--status", self.status_path, "--row-bytes", str(int(row_bytes)),
               "--interval-seconds", repr(float(interval_seconds)),
               "--busy-timeout-ms", str(int(busy_timeout_ms)),
               "--max-seconds", str(max_seconds)]
        if run_as:
            import pwd
            pw = pwd.getpwnam(run_as)
            os.chmod(state, 0o777)
            cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
                   "--clear-groups", "--"] + cmd
        self.log_path = os.path.join(state, "app_writer.log")
        self._requests = 0
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        testcase.addCleanup(_kill_group, self.proc)
        wait_until(lambda: self._read_status() is not None or self.proc.poll() is not None,
                   30, message="app_writer to start")
        if self._read_status() is None:
            raise AssertionError(f"app_writer did not start: {self.log_text()}")

    @classmethod
    def at_rate(cls, testcase, db_path, bytes_per_second, row_bytes=16 * KiB, **kw):
        """A writer committing `bytes_per_second` of payload in rows of `row_bytes`."""
        return cls(testcase, db_path, row_bytes=row_bytes,
                   interval_seconds=row_bytes / float(bytes_per_second), **kw)

    def log_text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def _read_status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def running(self):
        return self.proc.poll() is None

    def counts(self, timeout=15):
        """Fresh counts: asks the writer (SIGUSR1) and waits for its answer. A writer stuck
        in SQLite's busy wait answers after busy_timeout at the latest. Keys: ok, ok_bytes,
        failed, full, other_errors, last_error, first_full_unix, last_full_unix,
        first_ok_after_full_unix, state."""
        if not self.running():
            return self._read_status()
        self._requests += 1
        want = self._requests
        try:
            os.kill(self.proc.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return self._read_status()

        def answered():
            status = self._read_status()
            if status and (status["requests"] >= want or not self.running()):
                return status
            return None

        return wait_until(answered, timeout, interval=0.05, message="app_writer status")

    def stop(self, grace_seconds=10):
        """SIGTERM (SIGKILL after `grace_seconds`); returns the final counts."""
        _stop(self.proc, grace_seconds)
        return self._read_status()


def write_litestream_config(path, dbs, addr=None, extra=None):
    """Writes a Litestream YAML config. dbs: [{"path": ..., "meta_path": ... (optional),
    "replicas": [{"type": "file", "path": ...}, ...], other db keys...}]. Keys may use _
    for - (meta_path -> meta-path). Strings are written double-quoted. Returns `path`."""

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        return json.dumps(str(v))

    lines = []
    if addr:
        lines.append(f"addr: {scalar(addr)}")
    for k, v in (extra or {}).items():
        lines.append(f"{k.replace('_', '-')}: {scalar(v)}")
    lines.append("dbs:")
    for db in dbs:
        # `path` first: it opens the list item.
        keys = sorted(((k, v) for k, v in db.items() if k != "replicas"),
                      key=lambda kv: kv[0] != "path")
        for i, (k, v) in enumerate(keys):
            lines.append(f"{'  - ' if i == 0 else '    '}{k.replace('_', '-')}: {scalar(v)}")
        if db.get("replicas"):
            lines.append("    replicas:")
            for rep in db["replicas"]:
                for i, (k, v) in enumerate(rep.items()):
                    lines.append(f"{'      - ' if i == 0 else '        '}"
                                 f"{k.replace('_', '-')}: {scalar(v)}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Litestream:
    """A running `litestream replicate -config FILE` (or a double with the same CLI) in its
    own process group, stdout+stderr captured in `log_path`. Always SIGKILLed at cleanup:
    0.3.13 can hang on SIGTERM once a replica hit ENOSPC."""

    def __init__(self, testcase, config_path, binary=None, env=None, extra_args=(),
                 log_path=None):
        self.binary = binary or litestream_bin()
        require_executable(testcase, self.binary, "Litestream binary")
        self.config_path = config_path
        self.log_path = log_path or os.path.join(temp_dir(testcase, prefix="ltxg-ls-"),
                                                 "litestream.log")
        self.cmd = [self.binary, "replicate", "-config", config_path] + list(extra_args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.started_monotonic = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=full_env,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        testcase.addCleanup(_kill_group, self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def log_text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def log_lines(self, pattern=None):
        """Log lines, only those matching regex `pattern` when given."""
        lines = self.log_text().splitlines()
        return [l for l in lines if re.search(pattern, l)] if pattern else lines

    def wait_for_log(self, pattern, timeout):
        """Waits for a log line matching regex `pattern`; returns the re.Match. On timeout
        (or exit) raises AssertionError carrying the log's tail."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if not self.running() or time.monotonic() >= deadline:
                why = "exited" if not self.running() else f"timed out after {timeout:.1f}s"
                tail = "\n".join(self.log_text().splitlines()[-20:])
                raise AssertionError(f"litestream {why} waiting for /{pattern}/; log tail:\n{tail}")
            time.sleep(0.1)

    def stop(self, grace_seconds=5):
        """SIGTERM to the group, SIGKILL after `grace_seconds`; returns a StopResult."""
        return _stop(self.proc, grace_seconds)


def free_tcp_port():
    """A loopback TCP port that was free a moment ago (for Litestream's `addr:`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_metrics(url, timeout=5):
    """GETs a Prometheus text page; returns {metric name: [(labels, value), ...]} where
    labels is the raw `{...}` text ("" when none)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode("utf-8", "replace")
    series = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if m and not line.startswith("#"):
            series.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return series


# --- ltxguard ---------------------------------------------------------------------------

def run_ltxguard(*args, timeout=60, env=None, binary=None):
    """Runs ltxguard with `args` (stdin /dev/null, output captured, own process group,
    whole group killed after `timeout` seconds, which then fails the test). Returns a
    subprocess.CompletedProcess with text stdout/stderr."""
    cmd = [binary or ltxguard_bin()] + [str(a) for a in args]
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise AssertionError(f"{' '.join(cmd)} did not finish in {timeout}s\n"
                             f"stdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_json(*args, **kw):
    """run_ltxguard(*args) whose stdout must be one JSON document. Returns
    (CompletedProcess, parsed). Raises AssertionError with the output when it is not JSON."""
    proc = run_ltxguard(*args, **kw)
    try:
        return proc, json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"stdout of {' '.join(proc.args)} is not JSON ({e}); exit "
                             f"{proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


# --- scenarios --------------------------------------------------------------------------

@dataclasses.dataclass
class Scenario:
    """A running incident setup: an app writing to `db` on the `db_fs` mount while a
    Litestream (real or double) stages into `meta_dir` and replicates to `replica_dir`."""
    root: str            # temp dir with config, logs and app status (not on db_fs)
    db_fs: str           # mount point holding the database (and the meta dir)
    replica_fs: str      # mount point holding the replica ("" when there is none)
    db: str
    meta_dir: str
    replica_dir: str
    config: str
    litestream: Litestream
    app: AppWriter       # None when the scenario runs no app (scenario_05_staging default)
    metrics_url: str = ""  # Litestream's /metrics ("" when the config has no addr:)

    def metric(self, name):
        """The value of the first series of metric `name` on metrics_url (None if absent)."""
        found = scrape_metrics(self.metrics_url).get(name)
        return found[0][1] if found else None

    def meta_bytes(self):
        return dir_bytes(self.meta_dir)

    def wal_bytes(self):
        try:
            return os.stat(self.db + "-wal").st_size
        except FileNotFoundError:
            return 0


def meta_dir_03(db_path):
    """Litestream's default meta dir next to a database: /d/app.db -> /d/.app.db-litestream."""
    d, name = os.path.split(db_path)
    return os.path.join(d, f".{name}-litestream")


def _scenario_03(testcase, db_fs_bytes, replica_fs_bytes, app_rate_bytes_per_sec, db_bytes,
                 row_bytes):
    root = temp_dir(testcase, prefix="ltxg-scn-")
    db_fs = tmpfs(testcase, db_fs_bytes)
    replica_fs = tmpfs(testcase, replica_fs_bytes)
    db = os.path.join(db_fs, "app.db")
    make_db(db, db_bytes)
    replica_dir = os.path.join(replica_fs, "replica")
    addr = f"127.0.0.1:{free_tcp_port()}"
    config = write_litestream_config(os.path.join(root, "litestream.yml"), [
        {"path": db, "replicas": [{"type": "file", "path": replica_dir}]}], addr=addr)
    ls = Litestream(testcase, config, log_path=os.path.join(root, "litestream.log"))
    # The first sync starts a generation and streams the snapshot to the replica; only
    # then is the replica "advancing" and the stage set.
    ls.wait_for_log(r'msg="write snapshot"', 15)
    wait_until(lambda: list_files(replica_dir, ".snapshot.lz4"), 15,
               message="the initial snapshot in the replica")
    app = AppWriter.at_rate(testcase, db, app_rate_bytes_per_sec, row_bytes=row_bytes)
    return Scenario(root=root, db_fs=db_fs, replica_fs=replica_fs, db=db,
                    meta_dir=meta_dir_03(db), replica_dir=replica_dir, config=config,
                    litestream=ls, app=app, metrics_url=f"http://{addr}/metrics")


def scenario_03_healthy(testcase, db_fs_bytes=64 * MiB, replica_fs_bytes=256 * MiB,
                        app_rate_bytes_per_sec=256 * KiB, db_bytes=4 * MiB, row_bytes=16 * KiB):
    """Real Litestream 0.3.13, a `file` replica on a roomy tmpfs of its own, the app writing
    `app_rate_bytes_per_sec`. Returns once the snapshot is in the replica and the app runs."""
    require_root(testcase)
    return _scenario_03(testcase, db_fs_bytes, replica_fs_bytes, app_rate_bytes_per_sec,
                        db_bytes, row_bytes)


def scenario_03_stuck_replica(testcase, db_fs_bytes=24 * MiB, replica_fs_bytes=3 * MiB,
                              app_rate_bytes_per_sec=1 * MiB, db_bytes=None, row_bytes=16 * KiB):
    """Real Litestream 0.3.13 whose `file` replica sits on a tiny tmpfs of its own that the
    app's writes fill within seconds; from then on the shadow WAL grows in the meta dir on
    the DB's tmpfs until that fills too (see README.md for the measured timeline). The
    database is small enough (default a quarter of the replica fs) for the snapshot to fit."""
    require_root(testcase)
    if db_bytes is None:
        db_bytes = replica_fs_bytes // 4
    return _scenario_03(testcase, db_fs_bytes, replica_fs_bytes, app_rate_bytes_per_sec,
                        db_bytes, row_bytes)


def scenario_05_staging(testcase, fs_bytes=48 * MiB, db_bytes=20 * MiB,
                        rate_bytes_per_sec=4 * MiB, mode="0.5.15", app_rate_bytes_per_sec=0,
                        meta_path=None, metrics=False):
    """The Litestream 0.5 first-sync staging, reproduced by the TEST DOUBLE
    `litestream05_double` (0.5 cannot be built here): a real SQLite WAL database of
    `db_bytes` on a tmpfs of `fs_bytes`, and the double holding a read transaction while it
    writes <meta>/ltx/0/0000000000000001-0000000000000001.ltx.tmp at `rate_bytes_per_sec`
    (renamed to .ltx when complete, then copied to the replica), printing the log lines of
    Litestream `mode`. With app_rate_bytes_per_sec > 0 an AppWriter runs too. The replica
    dir is outside the tmpfs, under `root`. metrics=True adds `addr:` (metrics_url)."""
    require_root(testcase)
    binary = double_bin("litestream05_double")
    require_executable(testcase, binary, "litestream05_double (build target litestream05_double)")
    root = temp_dir(testcase, prefix="ltxg-scn05-")
    db_fs = tmpfs(testcase, fs_bytes)
    db = os.path.join(db_fs, "app.db")
    make_db(db, db_bytes)
    replica_dir = os.path.join(root, "replica")
    entry = {"path": db}
    if meta_path:
        entry["meta_path"] = meta_path
    entry["replicas"] = [{"type": "file", "path": replica_dir}]
    addr = f"127.0.0.1:{free_tcp_port()}" if metrics else None
    config = write_litestream_config(os.path.join(root, "litestream.yml"), [entry], addr=addr)
    ls = Litestream(testcase, config, binary=binary,
                    extra_args=["-mode", mode, "-rate", str(int(rate_bytes_per_sec))],
                    log_path=os.path.join(root, "litestream.log"))
    app = None
    if app_rate_bytes_per_sec:
        app = AppWriter.at_rate(testcase, db, app_rate_bytes_per_sec)
    return Scenario(root=root, db_fs=db_fs, replica_fs="", db=db,
                    meta_dir=meta_path or meta_dir_03(db), replica_dir=replica_dir,
                    config=config, litestream=ls, app=app,
                    metrics_url=f"http://{addr}/metrics" if addr else "")
