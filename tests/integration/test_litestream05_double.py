"""The Litestream 0.5 TEST DOUBLE (tests/doubles/litestream05_double.cpp), not Litestream.

Litestream 0.5 cannot be built here; the double stages real LTX bytes in the real 0.5 layout
and prints the upstream 0.5 log lines. These tests pin down each mode's disk-full behaviour
on a real tmpfs that a real SQLite database cannot be snapshotted into, and a complete
snapshot when there is room (verified by the independent decoder ltxinspect.py).
"""

import os
import re
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402

KiB, MiB = ltxg.KiB, ltxg.MiB
NAME = "0000000000000001-0000000000000001.ltx"
LTXINSPECT = os.path.join(ltxg.source_dir(), "tests", "testdata", "ltx", "ltxinspect.py")
STARTUP = [r'^time=\S+ level=INFO msg=litestream version={mode} level=""$',
           r'^time=\S+ level=INFO msg="initialized db" path={db}$',
           r'^time=\S+ level=INFO msg="replicating to" type=file sync-interval=1s path={replica}$']


def ltxinspect_ok(path):
    proc = subprocess.run([sys.executable, LTXINSPECT, path], capture_output=True, text=True,
                          timeout=120)
    return proc.returncode == 0, proc.stdout


class DoubleTest(unittest.TestCase):
    def start(self, mode, fs_bytes, db_bytes, rate, filler_bytes=0, addr=None, env=None):
        ltxg.require_root(self)
        binary = ltxg.double_bin("litestream05_double")
        ltxg.require_executable(self, binary, "litestream05_double")
        self.mnt = ltxg.tmpfs(self, fs_bytes)
        self.db = os.path.join(self.mnt, "app.db")
        ltxg.make_db(self.db, db_bytes)
        self.filler = os.path.join(self.mnt, "filler")
        if filler_bytes:
            with open(self.filler, "wb") as f:
                f.write(os.urandom(filler_bytes))
        self.root = ltxg.temp_dir(self)
        self.replica = os.path.join(self.root, "replica")
        config = ltxg.write_litestream_config(
            os.path.join(self.root, "litestream.yml"),
            [{"path": self.db, "replicas": [{"type": "file", "path": self.replica}]}], addr=addr)
        self.level0 = os.path.join(ltxg.meta_dir_03(self.db), "ltx", "0")
        self.tmp = os.path.join(self.level0, NAME + ".tmp")
        self.ls = ltxg.Litestream(self, config, binary=binary, env=env,
                                  extra_args=["-mode", mode, "-rate", str(rate)])
        self.mode = mode
        return self.ls

    def tmp_size(self):
        try:
            return os.path.getsize(self.tmp)
        except FileNotFoundError:
            return -1

    def assert_startup_lines(self):
        lines = self.ls.log_lines()
        for i, rx in enumerate(STARTUP):
            self.assertRegex(lines[i], rx.format(mode=re.escape(self.mode), db=re.escape(self.db),
                                                 replica=re.escape(self.replica)))

    def enospc_error(self, tmp=None):
        t = re.escape(tmp or self.tmp)
        return (rf'encode ltx frame \(pgno=\d+\): write(?: page data)?: write {t}: '
                rf'no space left on device')


class DiskFullModesTest(DoubleTest):
    # 8 MiB tmpfs, ~5 MiB database of random blobs: the ~5 MiB snapshot cannot fit in ~3 MiB.

    def test_0_5_3_retries_every_second_and_saw_tooths(self):
        ls = self.start("0.5.3", 8 * MiB, 5 * MiB, rate=16 * MiB)
        sizes, deadline = [], time.monotonic() + 6
        while time.monotonic() < deadline:
            sizes.append(self.tmp_size())
            time.sleep(0.02)
        peaks = sum(1 for a, b in zip(sizes, sizes[1:]) if a > 2 * MiB and b < 64 * KiB)
        self.assertGreaterEqual(peaks, 2, "the staging file should fill the disk and vanish "
                                          "again, repeatedly")
        errors = ls.log_lines(r"level=ERROR")
        self.assertGreaterEqual(len(errors), 3, ls.log_text())
        rx = (r'^time=\S+ level=ERROR msg="sync error" db=app\.db error="sync: write ltx from db: '
              + self.enospc_error() + r'"$')
        for line in errors:
            self.assertRegex(line, rx)
        self.assertNotIn("consecutive_errors", ls.log_text())
        self.assertTrue(ls.running())
        self.assert_startup_lines()

    def test_0_5_10_backs_off_rate_limits_and_sweeps(self):
        ls = self.start("0.5.10", 8 * MiB, 5 * MiB, rate=32 * MiB)
        ls.wait_for_log(r"attempting temp file cleanup due to persistent disk errors", 20)
        errors = ls.log_lines(r"level=ERROR")
        self.assertEqual(len(errors), 1, "one ERROR per 30 s at most: " + ls.log_text())
        self.assertRegex(errors[0], r'^time=\S+ level=ERROR msg="sync error" db=app\.db '
                         r'error="sync: write ltx from db: ' + self.enospc_error() +
                         r'" consecutive_errors=1 backoff=1s$')
        self.assertRegex(ls.log_lines(r"level=WARN")[0], r'^time=\S+ level=WARN msg="attempting '
                         r'temp file cleanup due to persistent disk errors" db=app\.db$')
        self.assertEqual(self.tmp_size(), -1)
        self.assertTrue(ls.running())

    def test_0_5_12_is_silent_and_leaves_the_tmp_open(self):
        ls = self.start("0.5.12", 8 * MiB, 5 * MiB, rate=16 * MiB)
        ltxg.wait_until(lambda: ltxg.free_bytes(self.mnt) < 64 * KiB, 15, message="disk full")
        last = [-2]

        def settled():
            size, last[0] = last[0], self.tmp_size()
            return size == last[0]

        ltxg.wait_until(settled, 5, interval=0.5, message="the staging file to stop growing")
        size = self.tmp_size()
        self.assertGreater(size, 2 * MiB)
        time.sleep(3)
        self.assertEqual(self.tmp_size(), size, "no retries")
        self.assertEqual(len(ls.log_lines()), 3, ls.log_text())
        self.assert_startup_lines()
        fds = [os.readlink(os.path.join(f"/proc/{ls.pid}/fd", fd))
               for fd in os.listdir(f"/proc/{ls.pid}/fd")]
        self.assertIn(self.tmp, fds)
        self.assertTrue(ls.running())
        stop = ls.stop()
        self.assertTrue(stop.exited_on_sigterm)
        self.assertEqual(stop.returncode, 0)

    def test_0_5_15_reports_disk_full_and_recovers_when_space_is_freed(self):
        port = ltxg.free_tcp_port()
        ls = self.start("0.5.15", 8 * MiB, 3 * MiB, rate=32 * MiB, filler_bytes=3 * MiB,
                        addr=f"127.0.0.1:{port}", env={"LTXGUARD_DOUBLE_MAX_BACKOFF_MS": "500"})
        url = f"http://127.0.0.1:{port}/metrics"
        m = ls.wait_for_log(r"msg=\"disk full while staging.*", 15)
        t = re.escape(self.tmp)
        self.assertRegex(m.group(0), r'msg="disk full while staging ltx file, replication paused '
                         r'until space is freed" db=app\.db error="sync: stage-write ltx file '
                         + t + r': disk full: ' + self.enospc_error() + r'" path=' + t +
                         r' txid=0000000000000001 consecutive_errors=1 backoff=500ms '
                         r'max_backoff=500ms$')
        series = ltxg.scrape_metrics(url)
        self.assertEqual(series["litestream_disk_full"], [(f'{{db="{self.db}"}}', 1.0)])
        self.assertEqual(series["litestream_txid"][0][1], 0.0)
        os.unlink(self.filler)
        done = os.path.join(self.level0, NAME)
        replica = os.path.join(self.replica, "ltx", "0", NAME)
        ltxg.wait_until(lambda: os.path.exists(replica), 15, message="the replica copy")
        ls.wait_for_log(r'level=INFO msg="sync recovered" db=app\.db previous_errors=\d+', 5)
        self.assertTrue(ltxinspect_ok(done)[0])
        self.assertTrue(ltxinspect_ok(replica)[0])
        series = ltxg.scrape_metrics(url)
        self.assertEqual(series["litestream_disk_full"][0][1], 0.0)
        self.assertEqual(series["litestream_txid"][0][1], 1.0)
        self.assertEqual(self.tmp_size(), -1)


class SnapshotCompletesTest(DoubleTest):
    def test_every_mode_stages_a_verifiable_snapshot_and_replicates_it(self):
        for mode in ("0.5.3", "0.5.10", "0.5.12", "0.5.15"):
            with self.subTest(mode=mode):
                ls = self.start(mode, 32 * MiB, 4 * MiB, rate=64 * MiB,
                                env={"LOG_LEVEL": "debug"})
                replica = os.path.join(self.replica, "ltx", "0", NAME)
                ltxg.wait_until(lambda: os.path.exists(replica), 15, message="the replica copy")
                ok, out = ltxinspect_ok(os.path.join(self.level0, NAME))
                self.assertTrue(ok, out)
                pages = sqlite3.connect(self.db).execute("PRAGMA page_count").fetchone()[0]
                self.assertIn(f'"page_count": {pages},', out)
                self.assertIn('"lz4-frame(flag=0)"', out)
                self.assertTrue(ltxinspect_ok(replica)[0])
                self.assertEqual(ltxg.list_files(ltxg.meta_dir_03(self.db)), [f"ltx/0/{NAME}"])
                ls.wait_for_log(r'level=DEBUG msg="ltx file uploaded" db=app\.db replica=file '
                                r'filename=\S+ minTXID=0000000000000001 maxTXID=0000000000000001$', 5)
                stop = ls.stop()
                self.assertEqual((stop.exited_on_sigterm, stop.returncode), (True, 0))
                self.assertRegex(ls.log_lines()[-1], r'level=INFO msg="litestream shut down"$')
                self.doCleanups()

    def test_read_transaction_blocks_checkpoints_until_the_snapshot_is_uploaded(self):
        self.start("0.5.15", 32 * MiB, 4 * MiB, rate=1 * MiB)
        ltxg.wait_until(lambda: self.tmp_size() > 0, 10, message="staging to start")
        app = sqlite3.connect(self.db, timeout=0.2, isolation_level=None)
        app.execute("INSERT INTO blobs(data) VALUES (?)", (os.urandom(8 * KiB),))
        busy, _, _ = app.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        self.assertEqual(busy, 1, "the double's read transaction must block the checkpoint")
        self.assertGreater(os.path.getsize(self.db + "-wal"), 0)
        replica = os.path.join(self.replica, "ltx", "0", NAME)
        ltxg.wait_until(lambda: os.path.exists(replica), 15, message="the replica copy")
        ltxg.wait_until(lambda: app.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0,
                        5, message="the checkpoint once the snapshot is uploaded")
        self.assertEqual(os.path.getsize(self.db + "-wal"), 0)
        app.close()


class CliTest(unittest.TestCase):
    def test_version_and_help_say_what_it_is(self):
        binary = ltxg.double_bin("litestream05_double")
        ltxg.require_executable(self, binary, "litestream05_double")
        run = lambda *a, env=None: subprocess.run([binary, *a], capture_output=True, text=True,
                                                  timeout=10, env={**os.environ, **(env or {})})
        self.assertEqual(run("version").stdout, "0.5.15\n")
        self.assertEqual(run("version", env={"LTXGUARD_DOUBLE_MODE": "0.5.3"}).stdout, "0.5.3\n")
        self.assertIn("test double, not Litestream", run("--help").stdout)
        bad = run("replicate", "-config", "/nonexistent", "-mode", "0.4.0")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("unknown -mode 0.4.0", bad.stderr)


if __name__ == "__main__":
    unittest.main()
