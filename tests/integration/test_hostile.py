"""Hostile input (issue 9): what a disk, a log, a process table or a local attacker can hand
ltxguard. Special files, huge sparse files, churn, newlines and invalid UTF-8 in the meta dir
and in paths; a DB path that is a symlink; /proc hidden; no journal; a Litestream /metrics that
hangs or trickles; a `litestream` that prints junk or never answers; canary credentials in the
config, the environment, URLs and Litestream's log lines, checked in every output of `watch`.

Already covered elsewhere (not repeated here): symlinks and FIFOs named like staging in
`evidence` (test_evidence.EvidenceBadInputTest), a DB symlink into another directory in
`evidence` (same), invalid UTF-8 in Litestream's log (same), an empty journal directory in
`evidence` (EvidenceJournalTest), a missing Litestream binary in `preflight` and `check`
(test_preflight, test_check), canaries in `evidence` and `check` output (test_evidence,
test_check), a non-loopback --listen (test_watch), and at unit level: walks over FIFOs,
sockets, symlink loops and swapped directories (sys/filesystem_test), read_prefix refusing
devices and FIFOs, run_command timeouts (sys/command_test), logger escaping (output/logger_test).
"""

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import time
import unittest

import ltxg
from hostile import Watch, assert_logfmt_lines, assert_prometheus_text
from ltxg import KiB, MiB

TESTDATA = os.path.join(ltxg.source_dir(), "tests", "testdata", "ltx")
SNAPSHOT = os.path.join(TESTDATA, "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.ltx")


def evidence_json(*args, timeout=60, env=None):
    proc, doc = ltxg.run_json("evidence", "--json", "--samples", "2", "--interval", "0.2", *args,
                              timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"evidence exited {proc.returncode}: {proc.stderr}")
    return doc


class MetaDirSpecialFilesTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)
        self.level0 = os.path.join(self.root, ".app.db-litestream", "ltx", "0")
        os.makedirs(self.level0)

    def test_devices_and_sockets_named_like_staging_are_reported_never_opened(self):
        ltxg.require_root(self)
        strace = shutil.which("strace")
        if strace is None:
            self.fail("strace is not installed (scripts/setup installs it)")
        zero = os.path.join(self.level0, "0000000000000001-0000000000000001.ltx.tmp")
        os.mknod(zero, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
        block = os.path.join(self.level0, "0000000000000002-0000000000000002.ltx")
        os.mknod(block, stat.S_IFBLK | 0o600, os.makedev(7, 0))  # a loop device
        sock_path = os.path.join(self.level0, "0000000000000003-0000000000000003.ltx")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(sock_path)
        sock.listen(1)
        trace = os.path.join(self.root, "trace")
        proc = subprocess.run([strace, "-f", "-qq", "-o", trace, "-e", "trace=open,openat,openat2,connect",
                               ltxg.ltxguard_bin(), "evidence", "--db", self.db, "--json", "--samples", "2",
                               "--interval", "0.2"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        kinds = sorted(f["kind"] for f in doc["staging"]["files"])
        self.assertEqual(kinds, ["block device", "char device", "socket"])
        self.assertEqual(doc["staging"]["bytes"], 0)
        with open(trace) as f:
            for line in f:
                for p in (zero, block, sock_path):
                    self.assertNotIn(f'"{p}"', line, "a special file was opened or connected to")
        # watch walks the same tree every tick.
        w = Watch(self, "--db", self.db, duration=1.5, interval="0.3", listen=False)
        self.assertEqual(w.wait(30), 0, w.stderr())
        self.assertGreaterEqual(len(w.records()), 3)
        self.assertEqual({r["databases"][0]["staging_bytes"] for r in w.records()}, {0})

    def test_huge_sparse_staging_file_is_not_read_through(self):
        tmp = os.path.join(self.level0, "0000000000000001-0000000000000001.ltx.tmp")
        with open(SNAPSHOT, "rb") as src, open(tmp, "wb") as f:
            f.write(src.read(4096))  # a real header and first pages, then a 1 TiB hole
            f.truncate(1 << 40)
        start = time.time()
        doc = evidence_json("--db", self.db)
        self.assertLess(time.time() - start, 20)
        [f] = doc["staging"]["files"]
        self.assertEqual(f["kind"], "ltx_tmp")
        self.assertEqual(f["state"], "incomplete")
        self.assertEqual(f["bytes"], 1 << 40)
        self.assertLess(f["allocated_bytes"], 1 * MiB)
        start = time.time()
        w = Watch(self, "--db", self.db, duration=1.5, interval="0.3", listen=False)
        self.assertEqual(w.wait(30), 0, w.stderr())
        self.assertLess(time.time() - start, 10)
        self.assertGreaterEqual(len(w.records()), 4)

    def test_files_appearing_growing_and_vanishing_mid_scan(self):
        stop = threading.Event()
        gen = os.path.join(self.root, ".app.db-litestream", "generations", "0123456789abcdef", "wal")
        os.makedirs(gen)
        grower = os.path.join(self.level0, "0000000000000001-0000000000000001.ltx.tmp")

        def churn():
            i = 0
            with open(SNAPSHOT, "rb") as f:
                head = f.read(8192)
            with open(grower, "wb") as g:
                g.write(head)
                while not stop.is_set():
                    i += 1
                    name = f"{i:016x}-{i:016x}.ltx"
                    p = os.path.join(self.level0, name)
                    with open(p, "wb") as f:
                        f.write(head[: i % 8192])
                    d = os.path.join(gen, f"sub{i % 7}")
                    try:
                        os.mkdir(d)
                        os.rmdir(d)
                    except OSError:
                        pass
                    seg = os.path.join(gen, f"{i % 50:08x}.wal")
                    with open(seg, "wb") as f:
                        f.write(b"\0" * 4096)
                    if i % 3 == 0:
                        os.unlink(p)
                        os.unlink(seg)
                    if i % 2 == 0:
                        for old in os.listdir(self.level0):
                            if old != os.path.basename(grower):
                                try:
                                    os.unlink(os.path.join(self.level0, old))
                                except FileNotFoundError:
                                    pass
                    g.write(os.urandom(4096))
                    g.flush()
                    if i % 512 == 0:
                        g.truncate(8192)  # a restarted snapshot: the file shrinks mid-scan
                        g.seek(8192)

        t = threading.Thread(target=churn, daemon=True)
        t.start()
        self.addCleanup(t.join, 10)
        self.addCleanup(stop.set)
        w = Watch(self, "--db", self.db, interval="0.1", listen=False, duration=3)
        for _ in range(3):
            doc = evidence_json("--db", self.db)
            self.assertIn(doc["staging"]["layout"], ("0.3", "0.5"))
        self.assertEqual(w.wait(30), 0, w.stderr())
        self.assertGreaterEqual(len(w.records()), 10)
        stop.set()


class PathsWithNewlinesAndInvalidUtf8Test(unittest.TestCase):
    """A directory, a DB and staging names holding a newline, a forged log record and bytes
    that are not UTF-8: every output stays one record per line and parses."""

    INJECTED = "level=ERROR msg=injected"

    def setUp(self):
        base = ltxg.temp_dir(self)
        root = os.path.join(base.encode(), b"dir\nlevel=ERROR msg=injected\xff\xfe")
        os.mkdir(root)
        self.db = os.path.join(root, b"app\n\xc3(.db")
        ltxg.make_db(self.db.decode("utf-8", "surrogateescape"), 64 * KiB)
        meta = os.path.join(root, b".app\n\xc3(.db-litestream", b"ltx", b"0")
        os.makedirs(meta)
        with open(SNAPSHOT, "rb") as f:
            head = f.read(2000)
        for name in (b"0000000000000001-0000000000000001.ltx.tmp",
                     b"x\ny.ltx", b"\xff\xfe.ltx.tmp", b"0000000000000001-0000000000000001.ltx\n" + self.INJECTED.encode()):
            with open(os.path.join(meta, name), "wb") as f:
                f.write(head)

    def evidence(self, *extra):
        cmd = [ltxg.ltxguard_bin(), "evidence", "--db", self.db, "--samples", "1", *extra]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def test_evidence_json_and_every_watch_output_stay_well_formed(self):
        doc = json.loads(self.evidence("--json").decode("utf-8"))
        self.assertEqual(len(doc["staging"]["files"]), 4)
        self.assertIn("\n", doc["db"]["path"])
        dbs = self.db.decode("utf-8", "surrogateescape")
        textfile = ltxg.temp_dir(self)
        for fmt in ("text", "json"):
            w = Watch(self, "--db", dbs, "--textfile", textfile, duration=2, interval="0.3", log_format=fmt)
            ltxg.wait_until(lambda: len(w.records()) >= 2, 20, message="two samples")
            status, body = w.get("/metrics")
            self.assertEqual(status, 200)
            assert_prometheus_text(self, body, strict=False)
            self.assertEqual(w.wait(30), 0, w.stderr())
            err = w.stderr()
            self.assertTrue(err)
            if fmt == "text":
                assert_logfmt_lines(self, err)
            else:
                for line in err.decode("utf-8").splitlines():
                    json.loads(line)
            for line in w.raw_records().splitlines():
                json.loads(line)
            self.assertGreater(w.records()[-1]["databases"][0]["staging_bytes"], 0)
        with open(os.path.join(textfile, "ltxguard.prom"), "rb") as f:
            assert_prometheus_text(self, f.read(), strict=False)

    def test_metrics_with_such_a_path_are_still_accepted_by_prometheus(self):
        textfile = ltxg.temp_dir(self)
        w = Watch(self, "--db", self.db.decode("utf-8", "surrogateescape"), "--textfile", textfile, duration=1,
                  interval="0.3")
        ltxg.wait_until(lambda: w.records(), 20, message="a sample")
        status, body = w.get("/metrics")
        self.assertEqual(w.wait(30), 0, w.stderr())
        assert_prometheus_text(self, body)
        with open(os.path.join(textfile, "ltxguard.prom"), "rb") as f:
            assert_prometheus_text(self, f.read())

    def test_evidence_text_and_markdown_keep_a_path_on_its_line(self):
        for extra in ([], ["--public"]):
            for line in self.evidence(*extra).decode("utf-8", "replace").splitlines():
                self.assertFalse(line.startswith(self.INJECTED), line)
                self.assertFalse(line.startswith("\ufffd(.db"), line)

    def run_bytes(self, *args):
        proc = subprocess.run([ltxg.ltxguard_bin(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60)
        self.assertLess(proc.returncode, 64, proc.stderr)
        self.assertGreater(len(proc.stdout), 0, proc.stderr)
        return proc

    def test_cleanup_preflight_and_runbook_keep_a_path_on_its_line(self):
        for args in (["cleanup", "--db", self.db],
                     ["preflight", "--db", self.db, "--litestream-version", "0.5.15"],
                     ["runbook", "--db", self.db]):
            out = self.run_bytes(*args).stdout
            self.assertNotIn(b"\xff", out, args[0])
            for line in out.decode("utf-8").splitlines():
                self.assertFalse(line.startswith(self.INJECTED), (args[0], line))
                self.assertFalse(line.lstrip("|` -").startswith("\ufffd(.db"), (args[0], line))
                self.assertFalse(line.lstrip("|` -").startswith("(.db"), (args[0], line))

    def test_cleanup_apply_journals_paths_that_are_not_utf8(self):
        # nlohmann throws on invalid UTF-8 unless told to replace it: the journal must not abort
        # the apply half-way.
        state = ltxg.temp_dir(self)
        proc = self.run_bytes("cleanup", "--db", self.db, "--apply", "--state-dir", state, "--force")
        with open(os.path.join(state, "cleanup-journal.jsonl"), "rb") as f:
            lines = [json.loads(line) for line in f.read().decode("utf-8").splitlines()]
        events = [l["event"] for l in lines]
        self.assertEqual(events[0], "apply_start")
        self.assertEqual(events[-1], "apply_end")
        self.assertIn("removed", events, proc.stdout)
        self.assertTrue(all("\ufffd" in l["path"] for l in lines if l["event"] == "removed"), lines)


class DatabaseSymlinkTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)

    def test_watch_and_preflight_refuse_a_symlink_into_another_directory(self):
        other = ltxg.temp_dir(self)
        target = os.path.join(other, "real.db")
        ltxg.make_db(target, 64 * KiB)
        link = os.path.join(self.root, "link.db")
        os.symlink(target, link)
        want = (f"ltxguard: {link}: database path is a symlink into another directory ({target}); "
                "pass the real path")
        for verb in (["watch", "--duration", "1"], ["preflight", "--litestream-version", "0.5.15"]):
            proc = ltxg.run_ltxguard(*verb, "--db", link)
            self.assertEqual(proc.returncode, 65, proc.stderr)
            self.assertEqual(proc.stderr.strip(), want)

    def test_dangling_and_looping_symlinks_are_refused(self):
        dangling = os.path.join(self.root, "gone.db")
        os.symlink(os.path.join(self.root, "nothing.db"), dangling)
        loop = os.path.join(self.root, "loop.db")
        os.symlink(loop, loop)
        for link in (dangling, loop):
            for verb in (["evidence", "--samples", "1"], ["watch", "--duration", "1"]):
                proc = ltxg.run_ltxguard(*verb, "--db", link)
                self.assertEqual(proc.returncode, 65, proc.stderr)
                self.assertEqual(proc.stderr.strip(), f"ltxguard: {link}: database path is a dangling symlink")

    def test_symlink_in_the_same_directory_measures_the_wal_sqlite_uses(self):
        # SQLite resolves the symlink: a connection through link.db writes app.db-wal.
        import sqlite3
        link = os.path.join(self.root, "link.db")
        os.symlink("app.db", link)
        conn = sqlite3.connect(link, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO blobs(data) VALUES (randomblob(300000))")
        self.assertFalse(os.path.exists(link + "-wal"))
        wal = os.path.getsize(self.db + "-wal")
        doc = evidence_json("--db", link)
        self.assertEqual(doc["wal"]["bytes"], wal)


class ProcAndJournalUnavailableTest(unittest.TestCase):
    """/proc replaced by an empty tmpfs and the journal directories hidden, inside a private
    mount namespace (`unshare --mount`): nothing outside the namespace changes."""

    def in_namespace(self, *args, timeout=60):
        ltxg.require_root(self)
        if shutil.which("unshare") is None:
            self.skipTest("unshare not installed")
        script = ("set -e; mount --make-rprivate /; mount -t tmpfs none /proc; "
                  "for d in /run/log/journal /var/log/journal; do [ -d $d ] && mount -t tmpfs none $d; done; "
                  'exec "$@"')
        cmd = ["unshare", "--mount", "--", "sh", "-c", script, "sh", ltxg.ltxguard_bin(), *args]
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)

    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)
        os.makedirs(os.path.join(self.root, ".app.db-litestream", "ltx", "0"))
        shutil.copy(SNAPSHOT, os.path.join(self.root, ".app.db-litestream", "ltx", "0",
                                           "0000000000000001-0000000000000001.ltx"))

    def evidence(self):
        proc = self.in_namespace("evidence", "--db", self.db, "--json", "--samples", "2", "--interval", "0.2")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def watch_records(self):
        rec = os.path.join(ltxg.temp_dir(self), "rec.jsonl")
        proc = self.in_namespace("watch", "--db", self.db, "--duration", "1.5", "--interval", "0.3", "--record", rec,
                                 "--force", "--log-format", "text")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(rec) as f:
            return [json.loads(line) for line in f]

    def test_evidence_and_watch_work_without_proc_or_journal(self):
        doc = self.evidence()
        self.assertEqual(doc["litestream"]["processes"], [])
        self.assertFalse(doc["log"]["available"])
        self.assertNotEqual(doc["log"]["why_unavailable"], "")
        self.assertEqual(doc["staging"]["layout"], "0.5")
        self.assertGreater(doc["staging"]["bytes"], 0)
        self.assertEqual(doc["db"]["page_size_bytes"], 4096)
        self.assertGreater(doc["filesystems"][0]["total_bytes"], 0)  # statvfs needs no /proc
        records = self.watch_records()
        self.assertGreaterEqual(len(records), 3)
        self.assertGreater(records[-1]["filesystems"][0]["total_bytes"], 0)
        self.assertGreater(records[-1]["databases"][0]["staging_bytes"], 0)
        self.assertTrue(os.path.exists("/proc/self/mountinfo"))  # the host's /proc is untouched

    # A /proc that is not procfs lists no process: that is "unknown", never "Litestream is
    # not running" (sys/proc.cpp refuses it).
    def test_unreadable_proc_is_unknown_not_no_litestream(self):
        doc = self.evidence()
        self.assertRegex(doc["litestream"]["proc_note"], r"/proc")
        self.assertIsNone(self.watch_records()[-1]["databases"][0]["litestream_alive"])
        text = self.in_namespace("evidence", "--db", self.db, "--samples", "1")
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertRegex(text.stdout, r"litestream .*; processes unknown \(/proc")
        self.assertNotIn("process(es) running", text.stdout)

    def test_watch_without_a_journal_keeps_sampling(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        empty = ltxg.temp_dir(self)
        w = Watch(self, "--db", db, "--journal-dir", empty, duration=2, interval="0.3", listen=False)
        self.assertEqual(w.wait(30), 0, w.stderr())
        self.assertGreaterEqual(len(w.records()), 5)
        # Said once, not once a tick.
        self.assertLessEqual(w.stderr().count(b"log_unreadable"), 1, w.stderr())


class HangingMetricsServer:
    """A TCP listener on loopback standing in for Litestream's /metrics: `silent` accepts and
    never answers; `trickle` answers a byte every 100 ms, forever."""

    def __init__(self, tc, mode):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.mode = mode
        self.stop = threading.Event()
        self.accepted = 0
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        tc.addCleanup(self.close)

    def serve(self):
        self.sock.settimeout(0.05)
        last = time.time()
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
                self.accepted += 1
                self.conns.append(c)
            except socket.timeout:
                pass
            if self.mode == "trickle" and time.time() - last >= 0.1:
                last = time.time()
                for c in list(self.conns):
                    try:
                        c.send(b"H")
                    except OSError:
                        self.conns.remove(c)
                        c.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


class MetricsEndpointHangingTest(unittest.TestCase):
    def check_ticks(self, mode):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        server = HangingMetricsServer(self, mode)
        config = ltxg.write_litestream_config(os.path.join(root, "ls.yml"),
                                              [{"path": db, "replicas": [{"type": "s3", "bucket": "b", "path": "p"}]}],
                                              addr=f"127.0.0.1:{server.port}")
        w = Watch(self, "--db", db, "--config", config, "--litestream-version", "0.3.13", duration=6,
                  interval="1", listen=False)
        self.assertEqual(w.wait(40), 0, w.stderr())
        times = [r["time_ms"] / 1000 for r in w.records()]
        self.assertGreater(server.accepted, 2, "the endpoint was scraped")
        self.assertGreaterEqual(len(times), 6, times)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # The first interval starts after the first sample (scrape included); then the
        # schedule holds: a scrape costs at most its 300 ms deadline, inside the tick.
        self.assertLess(gaps[0], 2.0, gaps)
        self.assertLess(max(gaps[1:]), 1.5, gaps)
        self.assertLess(times[0] - w.started, 3.0)

    def test_silent_endpoint_keeps_the_tick(self):
        self.check_ticks("silent")

    def test_trickling_endpoint_keeps_the_tick(self):
        self.check_ticks("trickle")

    def test_evidence_gives_up_on_a_silent_endpoint(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        server = HangingMetricsServer(self, "trickle")
        config = ltxg.write_litestream_config(os.path.join(root, "ls.yml"),
                                              [{"path": db, "replicas": [{"type": "s3", "bucket": "b", "path": "p"}]}],
                                              addr=f"127.0.0.1:{server.port}")
        start = time.time()
        doc = evidence_json("--db", db, "--config", config, "--litestream-bin", "/nonexistent/litestream")
        self.assertLess(time.time() - start, 15)
        self.assertRegex(doc["metrics"]["note"], "no answer within")


class FakeLitestreamBinaryTest(unittest.TestCase):
    """Programs called `litestream` that are not Litestream: the version is not guessed from
    junk, and one that never answers is killed (with its children) after the 5 s deadline."""

    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)
        self.marker = f"ltxg-hostile-{os.getpid()}-{time.time_ns()}"

    def fake(self, body):
        d = os.path.join(self.root, "bin")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "litestream")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def leftovers(self):
        out = subprocess.run(["pgrep", "-f", self.marker], capture_output=True, text=True).stdout
        return out.split()

    def test_junk_is_not_a_version(self):
        junk = self.fake("printf 'v9.9.9-not\\n\\377\\376 level=ERROR msg=injected\\n'; head -c 100000 /dev/urandom\n")
        doc = evidence_json("--db", self.db, "--litestream-bin", junk)
        self.assertIsNone(doc["litestream"]["version"])
        self.assertIn("printed something that is not a Litestream version", doc["litestream"]["version_note"])
        proc = ltxg.run_ltxguard("preflight", "--db", self.db, "--litestream-bin", junk)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)

    def test_hanging_version_is_killed_within_the_deadline(self):
        hang = self.fake(f"sleep 300 # {self.marker}\n")
        self.addCleanup(lambda: subprocess.run(["pkill", "-9", "-f", self.marker]))
        for args in (["evidence", "--db", self.db, "--samples", "1", "--json"],
                     ["preflight", "--db", self.db, "--json"],
                     ["check", "--json", "--unit", os.devnull],
                     ["watch", "--db", self.db, "--duration", "0.5"]):
            start = time.time()
            proc = ltxg.run_ltxguard(*args, "--litestream-bin", hang, timeout=30)
            elapsed = time.time() - start
            self.assertLess(elapsed, 12, args)
            self.assertNotIn(proc.returncode, (70, -9), proc.stderr)
            self.assertEqual(self.leftovers(), [], f"{args[0]} left the fake litestream running")
            if args[0] == "evidence":
                self.assertIn("timed out", json.loads(proc.stdout)["litestream"]["version_note"])


class CredentialsInWatchOutputTest(unittest.TestCase):
    """Canary secrets in the config, the environment, replica URLs, Litestream's log lines and
    its replica errors never reach watch's logs, record, /metrics, /healthz or textfile."""

    CANARIES = ["CANARYSECRETKEY0123456789abcdef", "CANARYACCESSKEYID77", "CANARYENVSECRET55",
                "CANARYURLPASSWORD99", "CANARYSSECKEY123", "CANARYSESSIONTOKEN42", "CANARYLOGTOKEN31"]

    def test_no_canary_reaches_any_watch_output(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        level0 = os.path.join(root, ".app.db-litestream", "ltx", "0")
        os.makedirs(level0)
        shutil.copy(os.path.join(TESTDATA, "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001"
                                           ".ltx.tmp-truncated"),
                    os.path.join(level0, "0000000000000001-0000000000000001.ltx.tmp"))
        config = os.path.join(root, "litestream.yml")
        with open(config, "w") as f:
            f.write(f"""access-key-id: CANARYACCESSKEYID77
secret-access-key: CANARYSECRETKEY0123456789abcdef
dbs:
  - path: {db}
    replicas:
      - name: s3
        type: s3
        bucket: canary-bucket-name
        path: backups/app
        secret-access-key: ${{CANARY_ENV}}
        sse-customer-key: CANARYSSECKEY123
      - name: sftp
        url: sftp://user:CANARYURLPASSWORD99@backup.example.com/srv/app
""")
        log = os.path.join(root, "litestream.log")
        open(log, "w").close()
        env = {"CANARY_ENV": "CANARYENVSECRET55", "AWS_SESSION_TOKEN": "CANARYSESSIONTOKEN42",
               "AWS_SECRET_ACCESS_KEY": "CANARYSECRETKEY0123456789abcdef"}
        textfile = ltxg.temp_dir(self)
        outputs = []
        for fmt in ("text", "json"):
            w = Watch(self, "--db", db, "--config", config, "--log", log, "--textfile", textfile,
                      "--litestream-version", "0.5.12", interval="0.3", log_format=fmt, env=env)
            ltxg.wait_until(lambda: len(w.records()) >= 1, 20, message="the first sample")
            lines = [
                'time=2026-01-01T00:00:01Z level=ERROR msg="sync error" db=app.db error="sync: write ltx from db: '
                'encode ltx frame (pgno=5): write page data: write /x.ltx.tmp: no space left on device '
                'AWS_SECRET_ACCESS_KEY=CANARYENVSECRET55" consecutive_errors=3 backoff=4s',
                'time=2026-01-01T00:00:02Z level=ERROR msg="monitor error" db=app.db replica=sftp '
                'error="dial sftp://user:CANARYURLPASSWORD99@backup.example.com: no space left on device"',
                '{"time":"2026-01-01T00:00:03Z","level":"ERROR","msg":"disk full while staging ltx file, replication '
                'paused until space is freed","db":"app.db","error":"PUT https://s3/x?X-Amz-Security-Token='
                'CANARYSESSIONTOKEN42&X-Amz-Credential=CANARYACCESSKEYID77 token=CANARYLOGTOKEN31: no space left on device",'
                '"path":"/x.ltx.tmp"}',
                'time=2026-01-01T00:00:04Z level=WARN msg="attempting temp file cleanup due to persistent disk errors" '
                'db=app.db secret=CANARYSECRETKEY0123456789abcdef',
            ]
            with open(log, "a") as f:
                f.write("\n".join(lines) + "\n")
            ltxg.wait_until(lambda: any(r["databases"][0]["new_log_lines"] for r in w.records()), 20,
                            message="the log lines read")
            time.sleep(0.7)
            for path in ("/metrics", "/healthz"):
                outputs.append(w.get(path)[1])
            w.proc.terminate()
            w.wait(15)
            outputs += [w.stderr(), w.raw_records()]
            with open(os.path.join(textfile, "ltxguard.prom"), "rb") as f:
                outputs.append(f.read())
            self.assertIn(b"disk_full", w.stderr())  # the lines were read and acted on
        for out in outputs:
            for canary in self.CANARIES:
                self.assertNotIn(canary.encode(), out)


if __name__ == "__main__":
    unittest.main()
