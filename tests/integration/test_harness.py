"""Tests of the integration harness (ltxg.py, app_writer.py) itself: every other
integration test trusts its sizes, counts, cleanups and timeouts."""

import os
import struct
import sqlite3
import subprocess
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402
from ltxg import KiB, MiB  # noqa: E402


def inner_case():
    """A throw-away TestCase whose cleanups a test runs itself (doCleanups) to check them.
    Defined inside a function so the test loader does not collect it."""

    class Inner(unittest.TestCase):
        def runTest(self):
            pass

    return Inner()


class MakeDbTest(unittest.TestCase):
    def test_makes_wal_database_of_requested_size(self):
        path = os.path.join(ltxg.temp_dir(self), "app.db")
        pages = ltxg.make_db(path, 3 * MiB)
        size = os.path.getsize(path)
        self.assertEqual(size, pages * 4096)
        self.assertGreaterEqual(size, 3 * MiB)
        self.assertLess(size, 3 * MiB + 128 * KiB)
        with open(path, "rb") as f:
            header = f.read(100)
        self.assertEqual(header[:16], b"SQLite format 3\x00")
        self.assertEqual(int.from_bytes(header[16:18], "big"), 4096)
        self.assertEqual(header[18:20], b"\x02\x02")  # WAL mode
        self.assertEqual(os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0, 0)

    def test_random_content_is_incompressible_and_zeros_are_not(self):
        d = ltxg.temp_dir(self)
        rnd, zero = os.path.join(d, "r.db"), os.path.join(d, "z.db")
        ltxg.make_db(rnd, 1 * MiB, page_size=8192)
        ltxg.make_db(zero, 1 * MiB, random=False, wal=False)
        with open(rnd, "rb") as f:
            data = f.read()
        self.assertGreater(len(zlib.compress(data, 1)), 0.95 * len(data))
        with open(zero, "rb") as f:
            data = f.read()
        self.assertLess(len(zlib.compress(data, 1)), 0.05 * len(data))
        with open(rnd, "rb") as f:
            self.assertEqual(int.from_bytes(f.read(18)[16:18], "big"), 8192)
        with open(zero, "rb") as f:
            self.assertEqual(f.read(20)[18:20], b"\x01\x01")  # rollback journal


class ConfigTest(unittest.TestCase):
    def test_real_litestream_reads_written_config(self):
        ltxg.require_executable(self, ltxg.litestream_bin(), "Litestream 0.3.13")
        d = ltxg.temp_dir(self)
        config = ltxg.write_litestream_config(os.path.join(d, "c.yml"), [
            {"replicas": [{"type": "file", "path": os.path.join(d, "r r")}],
             "path": os.path.join(d, "a b.db"), "meta_path": os.path.join(d, "meta")}],
            addr="127.0.0.1:1")
        with open(config) as f:
            text = f.read()
        self.assertIn('  - path: "', text)
        self.assertIn('    meta-path: "', text)
        out = subprocess.run([ltxg.litestream_bin(), "databases", "-config", config],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(os.path.join(d, "a b.db"), out.stdout)
        self.assertRegex(out.stdout, r"\bfile\b")


class FilesystemTest(unittest.TestCase):
    def setUp(self):
        ltxg.require_root(self)

    def test_tmpfs_fills_with_enospc_and_is_gone_after_cleanup(self):
        inner = inner_case()
        mnt = ltxg.tmpfs(inner, 1 * MiB)
        self.addCleanup(inner.doCleanups)
        self.assertTrue(os.path.ismount(mnt))
        self.assertEqual(ltxg.free_bytes(mnt), 1 * MiB)
        with self.assertRaises(OSError) as cm:
            with open(os.path.join(mnt, "fill"), "wb") as f:
                for _ in range(2 * 16):
                    f.write(b"\xff" * (64 * KiB))
                    f.flush()
        self.assertEqual(cm.exception.errno, 28)  # ENOSPC
        self.assertEqual(ltxg.free_bytes(mnt), 0)
        self.assertEqual(ltxg.dir_bytes(mnt), 1 * MiB)
        inner.doCleanups()
        self.assertFalse(os.path.ismount(mnt))
        self.assertFalse(os.path.exists(mnt))

    def test_ext4_loop_has_root_reserve_and_detaches(self):
        inner = inner_case()
        mnt = ltxg.ext4_loop(inner, 32 * MiB)
        self.addCleanup(inner.doCleanups)
        self.assertTrue(os.path.ismount(mnt))
        self.assertGreater(ltxg.free_bytes(mnt), ltxg.avail_bytes(mnt) + 1 * MiB)
        device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", mnt], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL).stdout.strip()
        self.assertTrue(device.startswith("/dev/loop"), device)
        inner.doCleanups()
        self.assertFalse(os.path.exists(mnt))
        listed = subprocess.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
        self.assertNotIn(f"{device} ", listed + " ")


class ProcessTest(unittest.TestCase):
    def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(self):
        d = ltxg.temp_dir(self)
        fake = os.path.join(d, "stubborn")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\ntrap '' TERM\necho \"started $*\"\nwhile :; do sleep 0.1; done\n")
        os.chmod(fake, 0o755)
        ls = ltxg.Litestream(self, os.path.join(d, "c.yml"), binary=fake)
        m = ls.wait_for_log(r"started replicate -config (\S+)", 10)
        self.assertEqual(m.group(1), os.path.join(d, "c.yml"))
        stop = ls.stop(grace_seconds=1)
        self.assertFalse(stop.exited_on_sigterm)
        self.assertEqual(stop.returncode, -9)
        self.assertGreaterEqual(stop.seconds, 1.0)
        with self.assertRaisesRegex(AssertionError, r"exited waiting for /never/"):
            ls.wait_for_log("never", 5)

    def test_run_ltxguard_kills_the_whole_group_on_timeout(self):
        d = ltxg.temp_dir(self)
        marker = os.path.join(d, "late")
        start = time.monotonic()
        with self.assertRaisesRegex(AssertionError, r"did not finish in 1s"):
            ltxg.run_ltxguard("-c", f"(sleep 3; touch {marker}) & sleep 30", binary="/bin/sh",
                              timeout=1)
        self.assertLess(time.monotonic() - start, 5)
        time.sleep(3.5)
        self.assertFalse(os.path.exists(marker), "a grandchild survived the timeout")

    def test_run_json_parses_stdout_or_fails_with_it(self):
        proc, doc = ltxg.run_json('{"verdict": "ok"}', binary="/bin/echo")
        self.assertEqual((proc.returncode, doc), (0, {"verdict": "ok"}))
        with self.assertRaisesRegex(AssertionError, r"is not JSON.*\n.*\nnot json"):
            ltxg.run_json("not json", binary="/bin/echo")

    def test_tree_hashes_detect_change_and_missing_file(self):
        d = ltxg.temp_dir(self)
        db = os.path.join(d, "app.db")
        ltxg.make_db(db, 256 * KiB)
        before = ltxg.tree_hashes(ltxg.db_files(db))
        self.assertIsNotNone(before[db])
        self.assertIsNone(before[db + "-wal"])
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(db)), before)
        conn = sqlite3.connect(db)
        conn.execute("INSERT INTO blobs(data) VALUES (x'00')")
        conn.commit()
        after = ltxg.tree_hashes(ltxg.db_files(db))
        conn.close()
        self.assertIsNotNone(after[db + "-wal"])
        self.assertNotEqual(after, before)


class AppWriterTest(unittest.TestCase):
    def setUp(self):
        ltxg.require_root(self)

    def test_counts_sqlite_full_separately_on_a_full_tmpfs(self):
        mnt = ltxg.tmpfs(self, 6 * MiB)
        db = os.path.join(mnt, "app.db")
        ltxg.make_db(db, 1 * MiB)
        app = ltxg.AppWriter.at_rate(self, db, 4 * MiB)
        counts = ltxg.wait_until(lambda: (lambda c: c if c["full"] >= 3 else None)(app.counts()),
                                 20, message="3 SQLITE_FULL commits")
        self.assertGreater(counts["ok"], 0)
        self.assertEqual(counts["other_errors"], 0, counts["last_error"])
        self.assertEqual(counts["failed"], counts["full"])
        self.assertEqual(counts["last_error"], "database or disk is full")
        self.assertEqual(ltxg.free_bytes(mnt), 0)
        final = app.stop()
        self.assertEqual(final["state"], "stopped")
        self.assertGreaterEqual(final["full"], counts["full"])
        self.assertFalse(app.running())

    def test_run_as_nobody_is_refused_by_ext4_reserve_that_root_can_still_use(self):
        mnt = ltxg.ext4_loop(self, 32 * MiB)
        d = os.path.join(mnt, "app")
        os.mkdir(d)
        os.chmod(d, 0o777)
        db = os.path.join(d, "app.db")
        ltxg.make_db(db, 1 * MiB)
        os.chmod(db, 0o666)
        app = ltxg.AppWriter.at_rate(self, db, 4 * MiB, run_as="nobody")
        ltxg.wait_until(lambda: app.counts()["full"] > 0, 30, message="SQLITE_FULL for nobody")
        self.assertGreater(ltxg.free_bytes(mnt), 512 * KiB)
        with open(os.path.join(mnt, "root-still-writes"), "wb") as f:
            f.write(os.urandom(256 * KiB))
            f.flush()
            os.fsync(f.fileno())


class Scenario05Test(unittest.TestCase):
    """Uses the Litestream 0.5 TEST DOUBLE (0.5 cannot be built here)."""

    def setUp(self):
        ltxg.require_root(self)

    def test_staging_grows_at_rate_while_app_wal_grows(self):
        rate = 4 * MiB
        s = ltxg.scenario_05_staging(self, fs_bytes=48 * MiB, db_bytes=12 * MiB,
                                     rate_bytes_per_sec=rate, app_rate_bytes_per_sec=256 * KiB,
                                     metrics=True)
        tmp = os.path.join(s.meta_dir, "ltx", "0", "0000000000000001-0000000000000001.ltx.tmp")
        ltxg.wait_until(lambda: os.path.exists(tmp) and os.path.getsize(tmp) > 0, 15,
                        message=".ltx.tmp")
        a, ta, wal_a = os.path.getsize(tmp), time.monotonic(), s.wal_bytes()
        time.sleep(1.0)
        b, tb, wal_b = os.path.getsize(tmp), time.monotonic(), s.wal_bytes()
        self.assertAlmostEqual((b - a) / (tb - ta) / rate, 1.0, delta=0.3)
        self.assertGreater(wal_b, wal_a, "the app's WAL should grow while staging holds a read tx")
        final = tmp[:-len(".tmp")]
        ltxg.wait_until(lambda: os.path.exists(final), 15, message="the .ltx rename")
        self.assertFalse(os.path.exists(tmp))
        # The app kept writing before the double's read transaction began: size the snapshot
        # by its own header (page size, commit), not by the database as created.
        with open(final, "rb") as f:
            header = f.read(16)
        page_size, commit = struct.unpack(">II", header[8:16])
        db_bytes = page_size * commit
        self.assertGreaterEqual(db_bytes, 12 * MiB)
        self.assertGreater(os.path.getsize(final), db_bytes)
        self.assertLess(os.path.getsize(final), db_bytes * 1.02)
        self.assertEqual(s.app.counts()["failed"], 0)
        self.assertIn("litestream_txid", ltxg.scrape_metrics(s.metrics_url))


if __name__ == "__main__":
    unittest.main(verbosity=2)
