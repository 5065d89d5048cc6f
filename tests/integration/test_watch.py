"""`ltxguard watch` on real tmpfs: the Litestream 0.5 test double (real LTX bytes, the 0.5 log
lines; not Litestream) filling the disk in its 0.5.12 and 0.5.15 modes, and the real
Litestream 0.3.13 with a file replica whose filesystem fills (silent in Litestream)."""

import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import ltxg
from ltxg import KiB, MiB


class Watcher:
    """ltxguard watch in the background, with its record file and HTTP port."""

    def __init__(self, tc, db, config, log, *extra, duration=40, interval="0.5"):
        self.port = ltxg.free_tcp_port()
        self.record = os.path.join(ltxg.temp_dir(tc), "record.jsonl")
        self.stderr_path = os.path.join(ltxg.temp_dir(tc), "watch.stderr")
        args = [ltxg.ltxguard_bin(), "watch", "--db", db, "--config", config, "--log", log,
                "--listen", f"127.0.0.1:{self.port}", "--record", self.record, "--log-format", "text",
                "--interval", interval, "--duration", str(duration), *extra]
        self.err = open(self.stderr_path, "w")
        tc.addCleanup(self.err.close)
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, start_new_session=True)
        tc.addCleanup(self.kill)
        ltxg.wait_until(lambda: self.records(), 15, message="the first watch sample")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def records(self):
        try:
            with open(self.record) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def states(self):
        return [r["databases"][0]["state"] for r in self.records()]

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200, body
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out


def metric(metrics, name, **labels):
    for key, value in metrics.items():
        if not key.startswith(name):
            continue
        rest = key[len(name):]
        if rest and rest[0] not in "{":
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            return value
    return None


class Watch05Test(unittest.TestCase):
    """Uses tests/doubles/litestream05_double, the Litestream 0.5 TEST DOUBLE."""

    def test_silent_fill_warns_before_the_reserve_and_ends_wedged(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=32 * MiB, db_bytes=18 * MiB,
                                     rate_bytes_per_sec=2 * MiB, mode="0.5.12")
        w = Watcher(self, s.db, s.config, s.litestream.log_path, "--litestream-version", "0.5.12")
        ltxg.wait_until(lambda: "wedged" in w.states(), 30, message="state wedged")
        records = w.records()
        # Warning came while the app still had room above its reserve.
        first_warning = next(r for r in records if r["databases"][0]["state"] == "warning")
        fs = first_warning["filesystems"][0]
        self.assertGreater(fs["avail_bytes"], fs["reserve_bytes"])
        self.assertTrue(first_warning["databases"][0]["stop_recommended"])
        states = [r["databases"][0]["state"] for r in records]
        self.assertLess(states.index("warning"), states.index("critical"))
        self.assertLess(states.index("critical"), states.index("wedged"))
        status, body = w.get("/healthz")
        self.assertEqual(status, 503)
        self.assertTrue(body.startswith("wedged: "), body)
        m = w.metrics()
        self.assertEqual(metric(m, "ltxguard_state", state="wedged"), 1)
        self.assertEqual(metric(m, "ltxguard_state", state="ok"), 0)
        self.assertLess(metric(m, "ltxguard_headroom_bytes", db=s.db), 0)
        self.assertGreater(metric(m, "ltxguard_staging_bytes", db=s.db), 4 * MiB)
        self.assertGreater(metric(m, "ltxguard_projected_staging_bytes", db=s.db), 18 * MiB)
        self.assertGreaterEqual(metric(m, "ltxguard_disk_full_events_total", db=s.db), 1)
        self.assertEqual(metric(m, "ltxguard_filesystem_avail_bytes", mount=s.db_fs), ltxg.avail_bytes(s.db_fs))
        self.assertGreater(metric(m, "ltxguard_reserve_bytes", mount=s.db_fs), 0)
        self.assertIsNotNone(metric(m, "ltxguard_seconds_to_reserve_breach", db=s.db))
        self.assertIsNotNone(metric(m, "ltxguard_build_info"))
        self.assertGreater(metric(m, "ltxguard_last_sample_timestamp_seconds"), time.time() - 10)
        err = w.stderr()
        self.assertRegex(err, r'level=ERROR msg="[^"]*disk full[^"]*" event=disk_full .*errno=28')
        self.assertRegex(err, r"level=ERROR msg=\"[^\"]*wedged: .* event=wedge")
        # Every change of state is logged, the critical one within seconds of the warning too.
        self.assertRegex(err, r'level=WARN msg="[^"]*ok -> warning[^"]*" event=state_change')
        self.assertRegex(err, r'level=ERROR msg="[^"]*warning -> critical[^"]*" event=state_change')
        # Each transition is logged once: no flood while the disk stays full.
        self.assertEqual(err.count("event=wedge "), 1, err)

    def test_0_5_15_disk_full_lines_are_events(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=24 * MiB, db_bytes=14 * MiB,
                                     rate_bytes_per_sec=8 * MiB, mode="0.5.15")
        w = Watcher(self, s.db, s.config, s.litestream.log_path, "--litestream-version", "0.5.15")
        ltxg.wait_until(lambda: any(r["databases"][0]["new_disk_full_lines"] > 0 for r in w.records()), 30,
                        message="a disk-full log line seen by the watcher")
        ltxg.wait_until(lambda: w.states()[-1] in ("critical", "wedged"), 10, message="critical")
        self.assertEqual(w.get("/healthz")[0], 503)
        self.assertGreaterEqual(metric(w.metrics(), "ltxguard_disk_full_events_total", db=s.db), 1)


class Watch03Test(unittest.TestCase):
    """The real Litestream 0.3.13."""

    def test_full_file_replica_is_wedged_within_10_seconds(self):
        s = ltxg.scenario_03_stuck_replica(self, db_fs_bytes=48 * MiB, replica_fs_bytes=3 * MiB)
        w = Watcher(self, s.db, s.config, s.litestream.log_path, "--litestream-bin", ltxg.litestream_bin(),
                    duration=60)
        ltxg.wait_until(lambda: ltxg.free_bytes(s.replica_fs) == 0, 20, message="the replica filesystem full")
        full_at = time.time()
        ltxg.wait_until(lambda: "wedged" in w.states(), 15, message="state wedged")
        wedged = next(r for r in w.records() if r["databases"][0]["state"] == "wedged")
        self.assertLessEqual(wedged["time_ms"] / 1000 - full_at, 10.0)
        self.assertIn("its filesystem is full", wedged["databases"][0]["reason"])
        self.assertEqual(w.get("/healthz")[0], 503)

    def test_healthy_replication_stays_ok(self):
        # The app's own growth (~0.8 MiB/s here) must not reach the reserve within the 300 s
        # lead time, or a warning would be right: a roomy (virtual) tmpfs.
        s = ltxg.scenario_03_healthy(self, db_fs_bytes=1024 * MiB)
        w = Watcher(self, s.db, s.config, s.litestream.log_path, "--litestream-bin", ltxg.litestream_bin(),
                    duration=8)
        w.proc.wait(timeout=30)
        self.assertEqual(w.proc.returncode, 0)
        states = w.states()
        self.assertGreaterEqual(len(states), 10)
        self.assertEqual(set(states), {"ok"})


class SpaceGuardTest(unittest.TestCase):
    def setUp(self):
        self.fs = ltxg.tmpfs(self, 64 * MiB)
        self.db = os.path.join(self.fs, "app.db")
        ltxg.make_db(self.db, 64 * KiB)
        self.log = os.path.join(ltxg.temp_dir(self), "litestream.log")
        open(self.log, "w").close()
        self.config = os.path.join(ltxg.temp_dir(self), "litestream.yml")
        with open(self.config, "w") as f:
            f.write(f"dbs:\n  - path: {self.db}\n    replicas:\n      - type: file\n        path: /nonexistent/replica\n")

    def watch(self):
        return Watcher(self, self.db, self.config, self.log, "--litestream-version", "0.5.12", interval="10")

    def test_a_sudden_fill_is_sampled_at_once_not_at_the_next_interval(self):
        # Free space is re-read every 100 ms between samples: losing half the room above the
        # reserve brings the next sample forward. With a 10 s interval the state must still
        # turn within a few seconds of the fill.
        w = self.watch()
        self.assertEqual(w.states(), ["ok"])
        with open(os.path.join(self.fs, "filler"), "wb") as f:
            f.write(b"\0" * (62 * MiB))
        filled_at = time.monotonic()
        ltxg.wait_until(lambda: "critical" in w.states(), 5, message="state critical within 5 s of the fill")
        self.assertLess(time.monotonic() - filled_at, 5)
        critical = next(r for r in w.records() if r["databases"][0]["state"] == "critical")
        self.assertLess(critical["filesystems"][0]["avail_bytes"], critical["filesystems"][0]["reserve_bytes"])
        self.assertLess(critical["time_ms"] - w.records()[0]["time_ms"], 9000)
        self.assertRegex(w.stderr(), r'level=ERROR msg="[^"]*ok -> critical[^"]*" event=state_change')

    def test_a_steady_disk_takes_no_extra_samples(self):
        w = self.watch()
        # Small writes (under the guard's 1 MiB) do not bring a sample forward.
        with open(os.path.join(self.fs, "small"), "wb") as f:
            f.write(b"\0" * (512 * KiB))
        time.sleep(3)
        self.assertEqual(len(w.records()), 1, w.records())


class WatchInputTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)

    def test_non_loopback_listen_is_refused(self):
        proc = ltxg.run_ltxguard("watch", "--db", self.db, "--listen", "0.0.0.0:0", "--duration", "1")
        self.assertEqual(proc.returncode, 65, proc.stderr)
        self.assertEqual(proc.stderr.strip(), "ltxguard: 0.0.0.0:0: refusing to listen on a non-loopback address "
                                              "(pass --listen-any to serve metrics to other hosts)")

    def test_record_on_the_watched_filesystem_is_refused_without_force(self):
        rec = os.path.join(self.root, "rec.jsonl")
        proc = ltxg.run_ltxguard("watch", "--db", self.db, "--record", rec, "--duration", "1")
        self.assertEqual(proc.returncode, 65, proc.stderr)
        self.assertIn("record file is on a watched filesystem", proc.stderr)
        proc = ltxg.run_ltxguard("watch", "--db", self.db, "--record", rec, "--force", "--duration", "1",
                                 "--interval", "0.2", "--log-format", "json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(rec) as f:
            lines = [json.loads(l) for l in f]
        self.assertGreaterEqual(len(lines), 3)
        self.assertEqual(lines[0]["databases"][0]["state"], "ok")
        started = json.loads(proc.stderr.splitlines()[0])
        self.assertEqual(started["level"], "INFO")
        self.assertEqual(started["event"], "watch_started")

    def test_litestream_error_lines_are_one_warning_per_episode(self):
        # 0.3.13's line when its S3 replica is unreachable (field test: 20 s of these and the
        # watcher said nothing until the disk was full).
        fs = ltxg.tmpfs(self, 16 * MiB)  # the record file must not share the watched filesystem
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, 64 * KiB)
        log = os.path.join(self.root, "litestream.log")
        open(log, "w").close()
        config = os.path.join(self.root, "litestream.yml")
        with open(config, "w") as f:
            f.write(f"dbs:\n  - path: {db}\n    replicas:\n      - url: s3://bucket/app\n")
        w = Watcher(self, db, config, log, "--litestream-version", "0.3.13", interval="0.3", duration=6)
        line = ('time=2026-11-25T23:40:00Z level=ERROR msg="monitor error" db=' + db +
                ' replica=s3 error="Get \\"http://127.0.0.1:4599/bucket\\": dial tcp 127.0.0.1:4599: connect: '
                'connection refused"\n')
        for _ in range(5):
            with open(log, "a") as f:
                f.write(line)
            time.sleep(0.4)
        self.assertEqual(w.proc.wait(timeout=30), 0, w.stderr())
        err = w.stderr()
        self.assertEqual(err.count("event=litestream_errors"), 1, err)
        self.assertRegex(err, r'level=WARN msg="[^"]*: Litestream logged 1 error line\(s\) in the last 30 s besides '
                              r'disk-full ones[^"]*" event=litestream_errors ERROR_LINES=1 db=')
        self.assertNotIn("protective_stop", err)

    def test_textfile_is_written_for_node_exporter(self):
        out = ltxg.temp_dir(self)
        proc = ltxg.run_ltxguard("watch", "--db", self.db, "--textfile", out, "--duration", "0.5",
                                 "--interval", "0.2")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(out, "ltxguard.prom")) as f:
            text = f.read()
        self.assertIn(f'ltxguard_state{{db="{self.db}",state="ok"}} 1', text)
        self.assertIn("ltxguard_build_info{", text)

    def test_sigterm_stops_cleanly(self):
        p = subprocess.Popen([ltxg.ltxguard_bin(), "watch", "--db", self.db, "--interval", "0.2"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        time.sleep(1)
        p.terminate()
        _, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("stopping on signal 15", err)


if __name__ == "__main__":
    unittest.main()
