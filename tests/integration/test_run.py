"""`ltxguard run`, the supervisor, against the Litestream 0.5 first sync on real tmpfs.

Litestream 0.5 cannot be built here: the child is the TEST DOUBLE
tests/doubles/litestream05_double (real LTX bytes in the real layout, the 0.5.12 silence and the
0.5.15 ERROR lines; not Litestream), and the application is a real SQLite writer (app_writer.py)
committing at a steady rate. Each case is measured once without ltxguard, so a scenario that
stopped being dangerous fails here instead of passing for the wrong reason. The real 0.3.13
incident is in test_run_litestream03.py; alarms, signals and exit statuses in test_run_alarm.py.
"""

import os
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402
import supervisor as sv  # noqa: E402
from ltxg import KiB, MiB  # noqa: E402

# In the config and in the environment of every run below; none may reach the evidence.
CANARIES = ["CANARYACCESSKEYID77", "CANARYSECRETKEY0123456789abcdef", "CANARYENVSECRET55"]
SECRETS_TOP = "access-key-id: CANARYACCESSKEYID77\nsecret-access-key: CANARYSECRETKEY0123456789abcdef\n"
SECRETS_ENV = {"LITESTREAM_SECRET_ACCESS_KEY": "CANARYENVSECRET55"}


def note(msg):
    """Measured numbers go to stderr, next to the verdict in CI logs."""
    print(f"  measured: {msg}", file=sys.stderr, flush=True)


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class PreflightRefusalTest(unittest.TestCase):
    """The database is larger than the free space: the first sync can never fit."""

    FS, DB = 48 * MiB, 30 * MiB  # ~18 MiB free for a ~30 MiB snapshot
    APP_SECONDS = 5

    def setup_fs(self):
        fs = ltxg.tmpfs(self, self.FS)
        root = ltxg.temp_dir(self)
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, self.DB)
        return fs, root, db, sv.double_config(root, [db])

    def test_without_ltxguard_the_app_gets_sqlite_full(self):
        binary = sv.require_double(self)
        fs, root, db, config = self.setup_fs()
        ls = ltxg.Litestream(self, config, binary=binary,
                             extra_args=["-mode", "0.5.12", "-rate", str(8 * MiB)])
        app = ltxg.AppWriter.at_rate(self, db, sv.APP_RATE)
        started = time.monotonic()
        ltxg.wait_until(lambda: ltxg.avail_bytes(fs) == 0, 20, message="the staging to fill the disk")
        full_after = time.monotonic() - started
        time.sleep(self.APP_SECONDS)
        counts = app.counts()
        note(f"without ltxguard (double 0.5.12, {self.DB // MiB} MiB DB, {self.FS // MiB} MiB tmpfs, "
             f"app {sv.APP_RATE // KiB} KiB/s): disk full after {full_after:.1f} s; "
             f"{self.APP_SECONDS} s later {counts['ok']} commits ok, {counts['failed']} failed "
             f"({counts['full']} SQLITE_FULL)")
        self.assertGreater(counts["full"], 0, counts)
        self.assertEqual(ltxg.avail_bytes(fs), 0)
        self.assertTrue(ls.running())  # silent and alive: only df shows it
        self.assertEqual(ls.log_lines("level=ERROR"), [])

    def test_under_ltxguard_the_double_never_starts_and_the_app_keeps_writing(self):
        binary = sv.require_double(self)
        fs, root, db, config = self.setup_fs()
        app = ltxg.AppWriter.at_rate(self, db, sv.APP_RATE)
        started = time.monotonic()
        for mode in ("0.5.12", "0.5.15"):
            with self.subTest(mode=mode):
                state = os.path.join(root, f"state-{mode}")
                run = sv.Run(self, ["--state-dir", state, "--litestream-version", mode, "--log-format", "text"],
                             sv.double_child(config, mode, rate=8 * MiB), marker=config)
                self.assertEqual(run.wait(30), 10, run.stderr())
                err = run.stderr()
                self.assertRegex(err, r"available [\d.]+ MiB − projected staging [\d.]+ MiB .* = −[\d.]+ MiB "
                                      r"→ CRITICAL: initial sync cannot fit")
                self.assertEqual(len(run.event_lines("preflight_refused")), 1, err)
                self.assertIn("level=ERROR", run.event_lines("preflight_refused")[0])
                self.assertNotIn("litestream_started", run.events())
                self.assertNotIn("msg=litestream version=", err)  # the double's first line
                self.assertEqual(sv.pids_mentioning(config), [])
                self.assertFalse(os.path.exists(ltxg.meta_dir_03(db)))
                self.assertIsNone(sv.alarm_doc(state), "a refusal is not a stop: nothing latched")
                self.assertEqual(sv.alarm_status(state)[0].returncode, 0)
        time.sleep(max(0.0, self.APP_SECONDS - (time.monotonic() - started)))
        counts = app.counts()
        self.assertGreater(counts["ok"], 10)
        self.assertEqual(counts["failed"], 0, counts["last_error"])
        app.stop()
        self.assertTrue(sv.integrity_ok(db))


class RuntimeStopTest(unittest.TestCase):
    """The snapshot fits at the start (the preflight passes), then another writer takes the room
    it needs: Litestream must be stopped while the app still has its reserve."""

    def test_without_ltxguard_the_filler_and_staging_fill_the_disk(self):
        binary = sv.require_double(self)
        fs = ltxg.tmpfs(self, sv.FS_BYTES)
        root = ltxg.temp_dir(self)
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, sv.DB_BYTES)
        ls = ltxg.Litestream(self, sv.double_config(root, [db]), binary=binary,
                             extra_args=["-mode", "0.5.12", "-rate", str(sv.STAGING_RATE)])
        app = ltxg.AppWriter.at_rate(self, db, sv.APP_RATE)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        ltxg.wait_until(lambda: os.path.exists(tmp), 10, message="staging to start")
        filler = sv.Filler(self, os.path.join(fs, "filler"), sv.FILLER_BYTES, sv.FILLER_RATE)
        filler.join()
        ltxg.wait_until(lambda: app.counts()["full"] > 0, 40, interval=0.5,
                        message="the app's first SQLITE_FULL")
        counts = app.counts()
        note(f"runtime fill without ltxguard (double 0.5.12): app {counts['failed']} failed commits "
             f"({counts['full']} SQLITE_FULL), staging {os.path.getsize(tmp) / MiB:.1f} MiB")
        self.assertEqual(ltxg.avail_bytes(fs), 0)
        self.assertTrue(ls.running())

    def check_stop(self, s, mode):
        """Runs the filler and checks everything a protective stop must leave behind."""
        s.start_filler()
        self.assertEqual(s.run.wait(60), 12, s.run.stderr())
        s.filler.join()
        min_avail = s.monitor.stop()  # until the filler is done: the app must keep its reserve
        time.sleep(1)  # the app commits a few more rows on what is left
        counts = s.app.counts()
        err = s.run.stderr()
        tf = sv.read_textfile(s.textfile_dir)
        reserve = sv.metric(tf, "ltxguard_reserve_bytes", mount=s.fs)
        note(f"{mode}: stop with {s.filler.written / MiB:.0f} MiB filler; min app-visible free "
             f"{min_avail / MiB:.2f} MiB vs reserve {reserve / MiB:.2f} MiB; app {counts['ok']} ok, "
             f"{counts['failed']} failed")

        self.assertEqual(counts["failed"], 0, counts["last_error"])
        self.assertGreater(counts["ok"], 10)
        self.assertGreaterEqual(min_avail, reserve, "free space went below the reserve before the stop")
        # Without the stop the 16 MiB snapshot could not fit in what the filler left.
        self.assertLess(ltxg.avail_bytes(s.fs), os.path.getsize(s.db))

        stop = s.run.event_lines("protective_stop")
        self.assertEqual(len(stop), 1, err)
        self.assertRegex(stop[0], rf'^time=\S+ level=ERROR msg="stopping Litestream \(pid \d+\) to protect the '
                                  rf'application\'s reserve: cannot_fit: remaining staging write .* cannot fit on '
                                  rf'{s.fs}: .*" event=protective_stop condition=cannot_fit db={s.db} '
                                  rf'headroom_bytes=-\d+ ')
        self.assertRegex(s.run.event_lines("litestream_stopped")[0], r"Litestream exited 0 after SIGTERM in \d")
        self.assertIn('msg="litestream shut down"', err)  # the double's own last line, passed through
        self.assertNotIn("disk full while staging", err, "stopped before Litestream hit ENOSPC")
        self.assertEqual(sv.pids_mentioning(s.config), [])

        alarm = sv.alarm_doc(s.state_dir)
        self.assertTrue(alarm["latched"])
        self.assertEqual((alarm["db_path"], alarm["condition"]), (s.db, "cannot_fit"))
        self.assertLess(alarm["headroom_bytes"], 0)
        self.assertRegex(alarm["stop_outcome"], r"^exited 0 after SIGTERM in \d")
        names = sorted(os.path.basename(p) for p in alarm["evidence_files"])
        self.assertEqual(len(names), 3, alarm)
        self.assertEqual(names[0], "litestream-output.log")
        self.assertRegex(names[1], r"^ltxguard-evidence-\d+\.json$")
        self.assertRegex(names[2], r"^ltxguard-evidence-\d+\.txt$")
        evidence_dir = os.path.dirname(alarm["evidence_files"][0])
        self.assertEqual(os.path.dirname(evidence_dir), os.path.join(s.state_dir, "evidence"))
        self.assertRegex(os.path.basename(evidence_dir), r"^\d{8}T\d{6}Z$")
        texts = {}
        for path in sv.files_below(s.state_dir) + [os.path.join(s.textfile_dir, "ltxguard.prom")]:
            with open(path, errors="replace") as f:
                texts[path] = f.read()
        for path, text in texts.items():
            for canary in CANARIES:
                self.assertNotIn(canary, text, path)
        with open(next(p for p in alarm["evidence_files"] if p.endswith(".log"))) as f:
            self.assertIn('msg="initialized db"', f.read())  # the child's lines, kept

        # After the stop the process is gone; the textfile holds its last word.
        self.assertEqual(sv.metric(tf, "ltxguard_alarm_latched"), 1)
        self.assertEqual(sv.metric(tf, "ltxguard_litestream_up"), 0)
        self.assertEqual(sv.metric(tf, "ltxguard_protective_stops_total", db=s.db, condition="cannot_fit"), 1)

        s.app.stop()
        self.assertTrue(sv.integrity_ok(s.db))

    def test_0_5_12_silent_staging_is_stopped_before_the_reserve_and_the_ballast_released(self):
        s = sv.double_stop_scenario(self, "0.5.12", extra_top=SECRETS_TOP, env=SECRETS_ENV,
                                    policy="ballast_bytes: 4MiB\n")
        ballast = os.path.join(s.fs, ".ltxguard-ballast")
        self.assertEqual(os.stat(ballast).st_blocks * 512, 4 * MiB)
        self.assertIn(f"event=ballast_created bytes=4194304 path={ballast}", s.run.event_lines("ballast_created")[0])
        self.check_stop(s, "0.5.12")
        self.assertFalse(os.path.exists(ballast))
        events = s.run.events()
        # The app gets the room back first, before Litestream is even signalled.
        self.assertLess(events.index("protective_stop"), events.index("ballast_released"))
        self.assertLess(events.index("ballast_released"), events.index("litestream_stopped"))

    def test_0_5_15_is_stopped_before_the_reserve_and_metrics_show_the_supervision(self):
        s = sv.double_stop_scenario(self, "0.5.15", listen=True, extra_top=SECRETS_TOP, env=SECRETS_ENV)
        m = ltxg.scrape_metrics(f"http://127.0.0.1:{s.port}/metrics")
        self.assertEqual(m["ltxguard_litestream_up"], [("", 1.0)])
        self.assertEqual(m["ltxguard_alarm_latched"], [("", 0.0)])
        self.assertNotIn("ltxguard_protective_stops_total", m)
        self.assertEqual(http_get(s.port, "/healthz")[0], 200)
        self.check_stop(s, "0.5.15")


class HealthySyncTest(unittest.TestCase):
    # A first sync that fits with 26 MiB to spare: its own staging rate, extrapolated, would
    # breach the reserve within the lead time, but the snapshot's end is known and fits.
    def test_a_healthy_initial_sync_that_fits_is_not_stopped(self):
        s = sv.double_stop_scenario(self, "0.5.15", rate=2 * sv.MiB)
        replica = os.path.join(s.root, "replica-0", "ltx", "0", sv.SNAPSHOT)
        ltxg.wait_until(lambda: os.path.exists(replica) or not s.run.running(), 30,
                        message="the snapshot in the replica")
        self.assertEqual(s.run.event_lines("protective_stop"), [])
        self.assertTrue(s.run.running())
        s.run.proc.terminate()
        self.assertEqual(s.run.wait(20), 0, s.run.stderr())
        self.assertEqual(s.app.counts()["failed"], 0)


class SeveralDatabasesTest(unittest.TestCase):
    def test_the_stop_names_the_database_whose_snapshot_cannot_fit(self):
        sv.require_double(self)
        # a.db on a roomy tmpfs of its own (a small fs would see a.db's finished snapshot write
        # forecast as a breach, see test_a_healthy_initial_sync_that_fits_is_not_stopped).
        fs_a = ltxg.tmpfs(self, 256 * MiB)
        fs_b = ltxg.tmpfs(self, sv.FS_BYTES)
        root = ltxg.temp_dir(self)
        db_a, db_b = os.path.join(fs_a, "a.db"), os.path.join(fs_b, "b.db")
        ltxg.make_db(db_a, 1 * MiB)
        ltxg.make_db(db_b, sv.DB_BYTES)
        config = sv.double_config(root, [db_a, db_b])
        state, tf = os.path.join(root, "state"), ltxg.temp_dir(self)
        # No --db: every database of the child's -config is watched, each with its own budget.
        run = sv.Run(self, ["--state-dir", state, "--interval", "0.5", "--litestream-version", "0.5.15",
                            "--textfile", tf, "--log-format", "text"],
                     sv.double_child(config, "0.5.15", rate=1 * MiB), marker=config)
        tmp_b = os.path.join(ltxg.meta_dir_03(db_b), "ltx", "0", sv.SNAPSHOT + ".tmp")
        ltxg.wait_until(lambda: os.path.exists(tmp_b) or not run.running(), 15, message="b.db's staging")
        monitor = sv.FreeSpaceMonitor(self, fs_b)
        filler = sv.Filler(self, os.path.join(fs_b, "filler"), sv.FILLER_BYTES, sv.FILLER_RATE)
        self.assertEqual(run.wait(60), 12, run.stderr())
        filler.join()
        replica_a = os.path.join(root, "replica-0", "ltx", "0", sv.SNAPSHOT)
        self.assertTrue(os.path.exists(replica_a), "a.db's snapshot (1 MiB at 1 MiB/s) was not stopped")
        stop = run.event_lines("protective_stop")
        self.assertEqual(len(stop), 1, run.stderr())
        self.assertIn(f"condition=cannot_fit db={db_b} ", stop[0])
        self.assertIn(f"cannot fit on {fs_b}:", stop[0])
        self.assertEqual(sv.alarm_doc(state)["db_path"], db_b)
        tfs = sv.read_textfile(tf)
        self.assertEqual(sv.metric(tfs, "ltxguard_protective_stops_total", db=db_b, condition="cannot_fit"), 1)
        self.assertIsNone(sv.metric(tfs, "ltxguard_protective_stops_total", db=db_a))
        self.assertGreaterEqual(monitor.stop(), sv.metric(tfs, "ltxguard_reserve_bytes", mount=fs_b))
        # a.db's snapshot completed and stays; b.db's in-flight one was abandoned by the double.
        self.assertEqual(ltxg.list_files(ltxg.meta_dir_03(db_a)), [f"ltx/0/{sv.SNAPSHOT}"])
        self.assertEqual(ltxg.list_files(ltxg.meta_dir_03(db_b), ".ltx"), [])


if __name__ == "__main__":
    unittest.main()
