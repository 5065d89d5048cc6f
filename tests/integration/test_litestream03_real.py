"""The real Litestream 0.3.13 behaviour ltxguard relies on (see tests/integration/README.md
for the measured numbers). These tests run without ltxguard: they guard the facts, so a
different Litestream build that behaves otherwise fails here first.
"""

import datetime
import os
import re
import statistics
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402
from ltxg import KiB, MiB  # noqa: E402

# The per-second error of 0.3.13 once the meta dir's filesystem is full.
SHADOW_ENOSPC = (r'level=ERROR msg="sync error" db=\S+ error="sync wal: cannot copy to shadow '
                 r'wal: write temp shadow wal: write \S+\.wal\.tmp: no space left on device"')
LOG_TIME = re.compile(r"^time=(\S+)")


def log_unix(line):
    """Unix time of a 0.3.13 log line (`time=2024-01-02T03:04:05.678Z level=...`)."""
    return datetime.datetime.fromisoformat(LOG_TIME.match(line).group(1)).timestamp()


def note(msg):
    """Measured numbers go to stderr, so CI logs keep them next to the verdict."""
    print(f"  measured: {msg}", file=sys.stderr, flush=True)


class Litestream03HealthyTest(unittest.TestCase):
    def setUp(self):
        ltxg.require_root(self)
        ltxg.require_executable(self, ltxg.litestream_bin(), "Litestream 0.3.13")

    def test_file_replica_advances_and_sigterm_stops_it(self):
        s = ltxg.scenario_03_healthy(self, db_fs_bytes=64 * MiB, replica_fs_bytes=256 * MiB,
                                     app_rate_bytes_per_sec=256 * KiB)
        gen = ltxg.wait_until(lambda: ltxg.list_files(s.replica_dir, ".snapshot.lz4"), 10)[0]
        gen = gen.split("/")[1]
        self.assertRegex(gen, r"^[0-9a-f]{16}$")

        segments = lambda: ltxg.list_files(os.path.join(s.replica_dir, "generations", gen, "wal"),
                                           ".wal.lz4")
        first = ltxg.wait_until(lambda: len(segments()) >= 2 and segments(), 10)
        offset_before = s.metric("litestream_replica_wal_offset")
        time.sleep(3)
        later = segments()
        self.assertGreater(len(later), len(first), "replica stopped receiving WAL segments")
        self.assertGreater(s.metric("litestream_replica_wal_offset"), offset_before)
        # Shadow WAL of the same generation in the meta dir next to the database.
        shadow = ltxg.list_files(os.path.join(s.meta_dir, "generations", gen, "wal"), ".wal")
        self.assertTrue(shadow, f"no shadow WAL in {s.meta_dir}")
        with open(os.path.join(s.meta_dir, "generation")) as f:
            self.assertEqual(f.read().strip(), gen)

        log = s.litestream.log_text()
        self.assertNotIn("sync error", log)
        self.assertNotIn("level=ERROR", log)
        self.assertGreaterEqual(log.count('msg="wal segment written"'), 3)
        self.assertEqual(s.metric("litestream_sync_error_count"), 0)
        counts = s.app.counts()
        self.assertGreater(counts["ok"], 0)
        self.assertEqual(counts["failed"], 0, counts["last_error"])

        stop = s.litestream.stop(grace_seconds=10)
        self.assertTrue(stop.exited_on_sigterm, "healthy 0.3.13 should exit on SIGTERM")
        note(f"healthy: {len(later)} replica WAL segments after ~5 s at 256 KiB/s, "
             f"SIGTERM exit in {stop.seconds:.2f}s (rc {stop.returncode})")


class Litestream03StuckReplicaTest(unittest.TestCase):
    """A `file` replica on its own tiny tmpfs that the app's writes fill."""

    def setUp(self):
        ltxg.require_root(self)
        ltxg.require_executable(self, ltxg.litestream_bin(), "Litestream 0.3.13")

    def wait_replica_stuck(self, s):
        """Waits until the replica's filesystem is full; returns the monotonic time."""
        ltxg.wait_until(lambda: ltxg.free_bytes(s.replica_fs) == 0, 20,
                        message="the replica tmpfs to fill")
        return time.monotonic()

    def test_full_replica_is_silent_then_shadow_wal_fills_db_disk(self):
        app_rate = 1 * MiB
        s = ltxg.scenario_03_stuck_replica(self, db_fs_bytes=32 * MiB, replica_fs_bytes=3 * MiB,
                                           app_rate_bytes_per_sec=app_rate)
        t0 = time.monotonic()
        t_stuck = self.wait_replica_stuck(s)
        stuck_unix = time.time()
        ok_at_stall = s.app.counts()["ok"]
        time.sleep(0.5)  # let the in-flight replica write give up or block

        # Phase 1: replica full. Nothing is logged, the error counter stays 0, the
        # replica's position freezes while the shadow WAL keeps growing next to the DB.
        meta_a, free_a, ta = s.meta_bytes(), ltxg.free_bytes(s.db_fs), time.monotonic()
        offset_a = s.metric("litestream_replica_wal_offset")
        shadow_a = (s.metric("litestream_shadow_wal_index"), s.metric("litestream_shadow_wal_size"))
        time.sleep(2.0)
        meta_b, free_b, tb = s.meta_bytes(), ltxg.free_bytes(s.db_fs), time.monotonic()
        self.assertGreater(free_b, 0, "DB tmpfs filled too early to observe the silent phase")
        log = s.litestream.log_text()
        self.assertNotIn("level=ERROR", log)
        self.assertNotIn("level=WARN", log)
        self.assertEqual(s.metric("litestream_sync_error_count"), 0)
        self.assertEqual(s.metric("litestream_replica_wal_offset"), offset_a)
        self.assertNotEqual((s.metric("litestream_shadow_wal_index"),
                             s.metric("litestream_shadow_wal_size")), shadow_a)
        # The stuck signature: the replica's last line is a start without an end.
        replica_lines = s.litestream.log_lines(r"replica=file")
        self.assertIn('msg="write wal segment"', replica_lines[-1])
        meta_rate = (meta_b - meta_a) / (tb - ta)
        self.assertGreater(meta_rate, 0.8 * app_rate, "shadow WAL should grow at the app's WAL rate")
        self.assertLess(meta_rate, 3.0 * app_rate)
        self.assertLess(free_b, free_a, "free space on the DB tmpfs should fall")

        # Phase 2: the DB tmpfs fills; 0.3.13 logs ENOSPC once a second, without backoff.
        first_err = s.litestream.wait_for_log(r"(?m)^time=\S+ level=ERROR.*$", 30).group(0)
        s.litestream.wait_for_log(SHADOW_ENOSPC, 10)
        ltxg.wait_until(lambda: len(s.litestream.log_lines(SHADOW_ENOSPC)) >= 5, 10,
                        message="5 shadow-WAL ENOSPC lines")
        errors = s.litestream.log_lines(r"level=ERROR")
        gaps = [log_unix(b) - log_unix(a) for a, b in zip(errors, errors[1:])]
        self.assertAlmostEqual(statistics.median(gaps), 1.0, delta=0.2)
        # Full, though not at every instant: each failed attempt deletes its .wal.tmp, and the
        # next write (the app's or the retry's) takes the room again (CI once read 1.5 MiB).
        ltxg.wait_until(lambda: ltxg.free_bytes(s.db_fs) == 0, 10, interval=0.01,
                        message="the DB tmpfs full again")
        # The first DB-side error depends on which write hits the wall first: the shadow
        # copy (copy_file_range or .wal.tmp) or Litestream's own PASSIVE checkpoint.
        self.assertRegex(first_err, r'msg="sync error".*(no space left on device|'
                                    r'checkpoint: mode=PASSIVE err=database or disk is full)')

        # Phase 3: the application is refused.
        counts = ltxg.wait_until(lambda: (lambda c: c if c["full"] > 0 else None)(s.app.counts()),
                                 15, message="the app to get SQLITE_FULL")
        self.assertEqual(counts["last_error"], "database or disk is full")
        self.assertEqual(counts["other_errors"], 0, counts["last_error"])

        # Phase 4: SIGTERM does not stop it; only SIGKILL does.
        stop = s.litestream.stop(grace_seconds=5)
        self.assertFalse(stop.exited_on_sigterm, "0.3.13 exited on SIGTERM after replica ENOSPC")
        self.assertEqual(stop.returncode, -9)
        final = s.app.stop()
        note(f"stuck replica: replica full at +{t_stuck - t0:.1f}s, shadow WAL grew "
             f"{meta_rate / MiB:.2f} MiB/s (app payload {app_rate / MiB:.2f} MiB/s), "
             f"DB tmpfs free fell {(free_a - free_b) / (tb - ta) / MiB:.2f} MiB/s, first "
             f"ERROR +{log_unix(first_err) - stuck_unix:.1f}s after the stall, first app "
             f"SQLITE_FULL +{counts['first_full_unix'] - stuck_unix:.1f}s, commits "
             f"accepted after the stall (never replicated): "
             f"{final['ok'] - ok_at_stall}; error gap median {statistics.median(gaps):.2f}s")
        note(f"first ERROR: {first_err[first_err.index('level='):]}")

    def test_replica_too_small_for_snapshot_logs_monitor_error_each_second(self):
        # The other replica ENOSPC: the snapshot itself does not fit. Unlike a full WAL
        # segment this one is loud, retried every second, and SIGTERM still works.
        root = ltxg.temp_dir(self)
        db_fs = ltxg.tmpfs(self, 32 * MiB)
        replica_fs = ltxg.tmpfs(self, 2 * MiB)
        db = os.path.join(db_fs, "app.db")
        ltxg.make_db(db, 4 * MiB)
        config = ltxg.write_litestream_config(os.path.join(root, "litestream.yml"), [
            {"path": db, "replicas": [{"type": "file", "path": os.path.join(replica_fs, "r")}]}])
        ls = ltxg.Litestream(self, config)
        ltxg.AppWriter.at_rate(self, db, 256 * KiB)
        pattern = (r'level=ERROR msg="monitor error" db=\S+ replica=file error="write \S+/'
                   r'generations/[0-9a-f]{16}/snapshots/00000000\.snapshot\.lz4\.tmp: no space '
                   r'left on device"')
        ltxg.wait_until(lambda: len(ls.log_lines(pattern)) >= 3, 15,
                        message="3 snapshot ENOSPC lines")
        errors = ls.log_lines(pattern)
        gaps = [log_unix(b) - log_unix(a) for a, b in zip(errors, errors[1:])]
        self.assertAlmostEqual(statistics.median(gaps), 1.0, delta=0.3)
        self.assertEqual(len(ls.log_lines(r'msg="write snapshot"')), len(errors))
        self.assertEqual(ltxg.list_files(replica_fs, ".snapshot.lz4"), [])
        self.assertNotIn("sync error", ls.log_text())
        stop = ls.stop(grace_seconds=5)
        self.assertTrue(stop.exited_on_sigterm)

    def test_wedge_outlives_freed_replica_space(self):
        s = ltxg.scenario_03_stuck_replica(self, db_fs_bytes=64 * MiB, replica_fs_bytes=3 * MiB,
                                           app_rate_bytes_per_sec=512 * KiB)
        self.wait_replica_stuck(s)
        time.sleep(1.0)
        offset = s.metric("litestream_replica_wal_offset")
        lines = len(s.litestream.log_lines(r"replica=file"))
        # Give the replica 60 MiB more room: 0.3.13 stays blocked in the old write.
        subprocess.run(["mount", "-o", "remount,size=64m", s.replica_fs], check=True,
                       stdin=subprocess.DEVNULL, capture_output=True)
        self.assertGreater(ltxg.free_bytes(s.replica_fs), 60 * MiB)
        time.sleep(4.0)
        self.assertGreater(ltxg.free_bytes(s.db_fs), 0, "DB tmpfs filled; scenario too fast")
        self.assertEqual(s.metric("litestream_replica_wal_offset"), offset)
        self.assertEqual(len(s.litestream.log_lines(r"replica=file")), lines)
        self.assertGreater(ltxg.free_bytes(s.replica_fs), 60 * MiB)
        self.assertNotIn("level=ERROR", s.litestream.log_text())
        self.assertEqual(s.app.counts()["failed"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
