"""`ltxguard run`: the latched alarm across restarts, `ltxguard alarm status/clear`, signals and
exit statuses. The children are the Litestream 0.5 TEST DOUBLE (tests/doubles/
litestream05_double; Litestream 0.5 cannot be built here) and shell scripts named `litestream`
that misbehave on purpose (supervisor.fake_litestream); neither is Litestream."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402
import supervisor as sv  # noqa: E402
from ltxg import MiB  # noqa: E402


def run_args(state, *extra, version="0.5.10"):
    return ["--state-dir", state, "--litestream-version", version, "--log-format", "text", *extra]


def write_policy(root, text):
    path = os.path.join(root, "policy.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def deaf_disk_full_body(tmp):
    """A stand-in body that ignores SIGTERM, logs 0.5's disk-full line for `tmp` after 1 s and
    goes on running: 0.3.13 after a replica ENOSPC, as far as signals go."""
    return ("trap '' TERM\nsleep 1\nprintf '%s\\n' '" + sv.DISK_FULL_LINE.format(tmp=tmp) + "' >&2\n"
            "while :; do sleep 0.1; done")


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


class StopTest(unittest.TestCase):
    def test_child_ignoring_sigterm_is_killed_after_the_grace(self):
        fs, db, config, root = sv.small_db_setup(self)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        script = sv.fake_litestream(self, deaf_disk_full_body(tmp))
        state = os.path.join(root, "state")
        policy = write_policy(root, "stop_grace_seconds: 2\n")
        # A 30 s interval: only the disk-full line itself can make the stop come this soon.
        run = sv.Run(self, run_args(state, "--policy", policy, "--interval", "30"),
                     [script, "replicate", "-config", config], marker=script)
        self.assertEqual(run.wait(30), 12, run.stderr())
        elapsed = time.monotonic() - run.started
        stop = run.event_lines("protective_stop")[0]
        stopped = run.event_lines("litestream_stopped")[0]
        self.assertIn(f"event=protective_stop condition=disk_full db={db} ", stop)
        self.assertIn("errno=28", stop)
        self.assertRegex(stopped, r'^time=\S+ level=ERROR msg="Litestream killed by SIGKILL after SIGTERM, then '
                                  r'SIGKILL: SIGTERM was ignored for the whole grace in 2\.\d s" event=litestream_stopped ')
        grace = sv.log_unix(stopped) - sv.log_unix(stop)
        self.assertGreaterEqual(grace, 1.9)
        self.assertLess(grace, 3.5)
        started = sv.log_unix(run.event_lines("litestream_started")[0])
        self.assertLess(sv.log_unix(stop) - started, 3.0, "the disk-full line must be acted on at once")
        self.assertLess(elapsed, 10)
        self.assertIn(sv.DISK_FULL_LINE.format(tmp=tmp), run.stderr())  # passed through unchanged
        self.assertRegex(sv.alarm_doc(state)["stop_outcome"], r"^killed by SIGKILL after SIGTERM, then SIGKILL: "
                                                              r"SIGTERM was ignored for the whole grace in 2\.\d s$")
        self.assertTrue(gone(run.child_pid()))
        self.assertEqual(sv.pids_mentioning(script), [])

    def test_a_wrapper_that_does_not_exec_has_its_litestream_stopped_too(self):
        # Field test: `run -- wrapper.sh replicate ...` where the script runs Litestream as a
        # child. SIGTERM ended the shell, the wedged Litestream went on, and run said stopped.
        fs, db, config, root = sv.small_db_setup(self)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        inner = sv.fake_litestream(self, deaf_disk_full_body(tmp))
        wrapper = os.path.join(ltxg.temp_dir(self), "wrapper.sh")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\n# ltxguard test wrapper that runs its child without exec\n"{inner}" "$@"\n')
        os.chmod(wrapper, 0o755)
        state = os.path.join(root, "state")
        policy = write_policy(root, "stop_grace_seconds: 2\n")
        run = sv.Run(self, run_args(state, "--policy", policy, "--interval", "30"),
                     [wrapper, "replicate", "-config", config], marker=inner)
        self.assertEqual(run.wait(30), 12, run.stderr())
        stopped = run.event_lines("litestream_stopped")[0]
        self.assertRegex(stopped, r'level=ERROR msg="Litestream killed by SIGTERM after SIGTERM, then SIGKILL for '
                                  r'what it left in its process group: SIGTERM was ignored for the whole grace')
        self.assertEqual(sv.pids_mentioning(inner), [])

    def test_a_child_eating_the_reserve_during_the_grace_is_killed_at_once(self):
        # 0.3.13 after a replica ENOSPC: ignores SIGTERM and goes on writing. A 30 s grace must
        # not give it 30 s: the grace ends once half the room above the reserve is gone.
        fs, db, config, root = sv.small_db_setup(self)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        hog = os.path.join(fs, "hog")
        script = sv.fake_litestream(self, "trap '' TERM\nprintf '%s\\n' '" + sv.DISK_FULL_LINE.format(tmp=tmp)
                                    + f"' >&2\nwhile :; do head -c 1048576 /dev/zero >> {hog}; sleep 0.05; done")
        state, tf = os.path.join(root, "state"), ltxg.temp_dir(self)
        policy = write_policy(root, "stop_grace_seconds: 30\n")
        run = sv.Run(self, run_args(state, "--policy", policy, "--textfile", tf),
                     [script, "replicate", "-config", config], marker=script)
        self.assertEqual(run.wait(30), 12, run.stderr())
        stop, stopped = run.event_lines("protective_stop")[0], run.event_lines("litestream_stopped")[0]
        self.assertIn('msg="Litestream killed by SIGKILL after SIGTERM, then SIGKILL: it went on filling the '
                      'disk (grace cut short) in ', stopped)
        self.assertLess(sv.log_unix(stopped) - sv.log_unix(stop), 10)
        reserve = sv.metric(sv.read_textfile(tf), "ltxguard_reserve_bytes", mount=fs)
        free_at_kill = ltxg.avail_bytes(fs)
        self.assertGreater(free_at_kill, reserve, "killed before the app's reserve was touched")
        self.assertLess(free_at_kill, sv.FS_BYTES - 16 * MiB, "the hog did write during the grace")
        size = os.path.getsize(hog)
        time.sleep(0.5)
        self.assertEqual(os.path.getsize(hog), size, "nothing writes after the kill")

    def test_remove_staging_tmp_on_stop_removes_the_in_flight_file_after_the_bundle(self):
        tool = ltxg.double_bin("ltx_write_tool")
        ltxg.require_executable(self, tool, "ltx_write_tool")
        fs, db, config, root = sv.small_db_setup(self, db_bytes=4 * MiB)
        with open(db, "rb") as f:
            pages = int.from_bytes(f.read(100)[28:32], "big")  # SQLite header: database size in pages
        level0 = os.path.join(ltxg.meta_dir_03(db), "ltx", "0")
        os.makedirs(level0)
        tmp = os.path.join(level0, sv.SNAPSHOT + ".tmp")
        # A real snapshot of the database, cut in the middle: an interrupted staging write.
        full = os.path.join(root, "full.ltx")
        ltxg._run_quiet([tool, "snapshot", db, full])
        with open(full, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read(os.path.getsize(full) // 2))
        other = os.path.join(level0, "0000000000000002-0000000000000002.ltx")
        with open(other, "wb") as f:
            f.write(b"not ours to judge")
        app_files = ltxg.tree_hashes(ltxg.db_files(db))
        script = sv.fake_litestream(self, f"exec 3<>'{tmp}'\nprintf '%s\\n' '"
                                    + sv.DISK_FULL_LINE.format(tmp=tmp) + "' >&2\nwhile :; do sleep 0.1; done")
        state = os.path.join(root, "state")
        policy = write_policy(root, "remove_staging_tmp_on_stop: true\n")
        run = sv.Run(self, run_args(state, "--policy", policy), [script, "replicate", "-config", config],
                     marker=script)
        self.assertEqual(run.wait(30), 12, run.stderr())
        removed = run.event_lines("staging_tmp_removed")
        self.assertEqual(len(removed), 1, run.stderr())
        self.assertIn(f"removed {tmp} (", removed[0])
        self.assertFalse(os.path.exists(tmp))
        self.assertTrue(os.path.exists(other), "only the stopped Litestream's *.tmp goes")
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(db)), app_files)
        events = run.events()
        self.assertLess(events.index("evidence_written"), events.index("staging_tmp_removed"))
        # The bundle holds what went: the .tmp's LTX header, read before it was removed.
        bundle = next(p for p in sv.alarm_doc(state)["evidence_files"] if p.endswith(".json"))
        with open(bundle) as f:
            files = {e["path"]: e for e in json.load(f)["staging"]["files"]}
        self.assertEqual((files[tmp]["kind"], files[tmp]["state"]), ("ltx_tmp", "incomplete"))
        self.assertEqual(files[tmp]["ltx"]["commit_pages"], pages)

    def test_sigterm_and_sigint_to_ltxguard_stop_the_child_and_exit_0(self):
        sv.require_double(self)
        fs, db, config, root = sv.small_db_setup(self, fs_bytes=1024 * MiB, db_bytes=8 * MiB)
        tf = ltxg.temp_dir(self)
        state = os.path.join(root, "state")
        run = sv.Run(self, run_args(state, "--interval", "0.5", "--textfile", tf, version="0.5.15"),
                     sv.double_child(config, "0.5.15"), marker=config)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        ltxg.wait_until(lambda: os.path.exists(tmp) or not run.running(), 15, message="staging")
        run.proc.send_signal(signal.SIGTERM)
        self.assertEqual(run.wait(20), 0, run.stderr())
        self.assertIn("signal 15: stopping Litestream", run.event_lines("run_stopping")[0])
        self.assertRegex(run.event_lines("litestream_stopped")[0], r"level=INFO msg=\"Litestream exited 0 after SIGTERM")
        self.assertIn('msg="litestream shut down"', run.stderr())
        self.assertNotIn("protective_stop", run.events())
        self.assertIsNone(sv.alarm_doc(state))
        self.assertEqual(sv.pids_mentioning(config), [])
        series = sv.read_textfile(tf)
        self.assertEqual(sv.metric(series, "ltxguard_litestream_up"), 0)
        self.assertEqual(sv.metric(series, "ltxguard_alarm_latched"), 0)

        script = sv.fake_litestream(self, "while :; do sleep 0.1; done")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        run.wait_for_event("litestream_started", 15)
        run.proc.send_signal(signal.SIGINT)
        self.assertEqual(run.wait(20), 0, run.stderr())
        self.assertIn("signal 2: stopping Litestream", run.event_lines("run_stopping")[0])
        self.assertIn("killed by SIGTERM after SIGTERM", run.event_lines("litestream_stopped")[0])
        self.assertIsNone(sv.alarm_doc(state))


class ExitStatusTest(unittest.TestCase):
    def test_a_child_that_exits_passes_its_status_and_output_on(self):
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        script = sv.fake_litestream(self, "echo 'to stdout'\necho 'to stderr' >&2\nsleep 0.5\nexit 3")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        self.assertEqual(run.wait(20), 3, run.stderr())
        self.assertEqual(run.stdout(), "to stdout\n")
        self.assertIn("\nto stderr\n", run.stderr())
        self.assertRegex(run.event_lines("litestream_exited")[0],
                         r'level=ERROR msg="Litestream exited 3 on its own" event=litestream_exited .*exit_status=3')
        self.assertIsNone(sv.alarm_doc(state))

    def test_a_wrapped_litestream_is_asked_for_its_version_the_way_it_is_started(self):
        # `sh stand-in replicate ...`: no "litestream" on argv[0] and none needed on PATH; the
        # model comes from `sh stand-in version` (the fake prints 0.5.10).
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        script = sv.fake_litestream(self, "sleep 0.5\nexit 0")
        run = sv.Run(self, ["--state-dir", state, "--log-format", "text"],
                     ["sh", script, "replicate", "-config", config], marker=script,
                     env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        self.assertEqual(run.wait(20), 0, run.stderr())
        self.assertIn("Litestream model 0.5 (0.5.10)", run.event_lines("watch_started")[0])

    def test_a_child_killed_from_outside_gives_128_plus_the_signal(self):
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        script = sv.fake_litestream(self, "while :; do sleep 0.1; done")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        run.wait_for_event("litestream_started", 15)
        os.kill(run.child_pid(), signal.SIGKILL)
        self.assertEqual(run.wait(20), 128 + 9, run.stderr())
        self.assertIn('msg="Litestream killed by SIGKILL on its own"', run.event_lines("litestream_exited")[0])
        self.assertIn("exit_status=137", run.event_lines("litestream_exited")[0])
        self.assertIsNone(sv.alarm_doc(state))

    def test_ltxguard_killed_with_sigkill_takes_litestream_down_with_sigterm(self):
        # kill -9 or the OOM killer leaves no chance to stop the child: the kernel's
        # parent-death signal must, or Litestream goes on filling the disk unguarded.
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        got_term = os.path.join(root, "got-sigterm")
        script = sv.fake_litestream(self, f"trap 'touch {got_term}; exit 0' TERM\nwhile :; do sleep 0.1; done")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        run.wait_for_event("litestream_started", 15)
        child = run.child_pid()
        self.assertIsNotNone(child)
        self.assertFalse(gone(child))
        run.proc.send_signal(signal.SIGKILL)
        run.wait(20)
        ltxg.wait_until(lambda: sv.pids_mentioning(script) == [], 10, message="Litestream to end")
        self.assertTrue(os.path.exists(got_term), "the child did not get SIGTERM")


class OutputTest(unittest.TestCase):
    def test_a_stdout_nobody_reads_does_not_stall_the_supervisor(self):
        # A paused pager or a stuck log collector: the child's output is dropped there, the
        # supervisor goes on sampling and still answers SIGTERM.
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        script = sv.fake_litestream(self, "while :; do echo 'level=INFO msg=\"chatty line to fill a pipe\"'; done")
        err_path = os.path.join(root, "stderr")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([ltxg.ltxguard_bin(), "run", *run_args(state), "--",
                                     script, "replicate", "-config", config],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                    start_new_session=True)

        def cleanup():
            if proc.poll() is None:
                sv.kill_group_and_pid(proc.pid)
                proc.wait(timeout=10)
            proc.stdout.close()
            for pid in sv.pids_mentioning(script):
                sv.kill_group_and_pid(pid)
        self.addCleanup(cleanup)

        def stderr():
            with open(err_path, errors="replace") as f:
                return f.read()
        ltxg.wait_until(lambda: "event=output_dropped" in stderr() or proc.poll() is not None, 20,
                        message="event=output_dropped")
        self.assertIsNone(proc.poll(), stderr())
        self.assertRegex(stderr(), r'level=WARN msg="our stdout or stderr is not being read.*'
                                   r'event=output_dropped .*stdout_dropped_bytes=[1-9]')
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("ltxguard run stalled on its full stdout:\n" + stderr()[-2000:])
        self.assertEqual(code, 0, stderr()[-2000:])
        self.assertIn("event=litestream_stopped", stderr())


class AlarmTest(unittest.TestCase):
    def test_the_alarm_survives_a_restart_and_clears_only_after_a_passing_preflight(self):
        s = sv.double_stop_scenario(self, "0.5.15")
        s.start_filler()
        self.assertEqual(s.run.wait(60), 12, s.run.stderr())
        s.filler.join()
        alarm = sv.alarm_doc(s.state_dir)
        self.assertTrue(alarm["latched"])
        # What run preflighted with, for `alarm clear` to preflight the same way.
        self.assertEqual((alarm["config_path"], alarm["policy_path"], alarm["litestream_version"]),
                         (s.config, "", "0.5.15"))

        # A restart (systemd Restart=always) does not start Litestream again.
        again = sv.Run(self, ["--state-dir", s.state_dir, "--litestream-version", "0.5.15", "--log-format", "text"],
                       sv.double_child(s.config, "0.5.15"), marker=s.config)
        self.assertEqual(again.wait(20), 11, again.stderr())
        refused = again.event_lines("alarm_latched_refused")
        self.assertEqual(len(refused), 1, again.stderr())
        self.assertIn(f"not starting Litestream: alarm latched in {s.state_dir} (cannot_fit: ", refused[0])
        self.assertNotIn("litestream_started", again.events())
        self.assertNotIn("msg=litestream version=", again.stderr())
        self.assertEqual(sv.pids_mentioning(s.config), [])
        self.assertFalse(os.path.exists(s.tmp))

        status = ltxg.run_ltxguard("alarm", "status", "--state-dir", s.state_dir)
        self.assertEqual(status.returncode, 2, status.stderr)
        self.assertIn("ALARM LATCHED since ", status.stdout)
        self.assertIn(f"  database:   {s.db}\n", status.stdout)
        self.assertIn("  condition:  cannot_fit\n", status.stdout)
        self.assertIn(f"  reason:     {alarm['reason']}\n", status.stdout)
        self.assertIn(f"  evidence:   {alarm['evidence_files'][0]}\n", status.stdout)
        proc, doc = sv.alarm_status(s.state_dir)
        self.assertEqual((proc.returncode, doc["latched"], doc["alarm"]["condition"]), (2, True, "cannot_fit"))
        # Field test: the printed command lacked --config and failed. It is run as printed below.
        printed = re.search(r"then `(ltxguard alarm clear [^`]*)`", status.stdout).group(1)
        self.assertEqual(printed, f"ltxguard alarm clear --state-dir {s.state_dir} --config {s.config} "
                                  "--litestream-version 0.5.15")
        self.assertIn(f"run `ltxguard cleanup --db {s.db} --config {s.config} --state-dir {s.state_dir}` ",
                      status.stdout)
        clear_args = shlex.split(printed)[1:]

        # The disk is still full: a fresh preflight is critical, the alarm stays.
        refused = ltxg.run_ltxguard(*clear_args)
        self.assertEqual(refused.returncode, 2, refused.stdout + refused.stderr)
        self.assertIn("ltxguard: alarm stays latched: the preflight exits 2", refused.stderr)
        self.assertTrue(sv.alarm_doc(s.state_dir)["latched"])
        no_reason = ltxg.run_ltxguard(*clear_args, "--force")
        self.assertEqual(no_reason.returncode, 64)
        self.assertEqual(no_reason.stderr, "ltxguard: alarm clear --force needs --reason TEXT (it is logged)\n")
        self.assertTrue(sv.alarm_doc(s.state_dir)["latched"])

        os.unlink(s.filler.path)
        cleared = ltxg.run_ltxguard(*clear_args)
        self.assertEqual(cleared.returncode, 0, cleared.stdout + cleared.stderr)
        self.assertRegex(cleared.stdout, r"alarm cleared: preflight passed \(exit [01]\)\n$")
        after = sv.alarm_doc(s.state_dir)
        self.assertFalse(after["latched"])
        self.assertRegex(after["cleared_how"], r"^preflight passed \(exit [01]\)$")
        self.assertEqual(after["reason"], alarm["reason"])  # the last stop stays on record
        self.assertEqual(sv.alarm_status(s.state_dir)[0].returncode, 0)

        restarted = sv.Run(self, ["--state-dir", s.state_dir, "--litestream-version", "0.5.15",
                                  "--log-format", "text", "--interval", "0.5"],
                           sv.double_child(s.config, "0.5.15"), marker=s.config)
        ltxg.wait_until(lambda: os.path.exists(s.tmp) or not restarted.running(), 15,
                        message="the double staging again")
        restarted.proc.send_signal(signal.SIGTERM)
        self.assertEqual(restarted.wait(20), 0, restarted.stderr())
        self.assertEqual(s.app.counts()["failed"], 0)

    def test_force_clear_needs_a_reason_and_keeps_it(self):
        fs, db, config, root = sv.small_db_setup(self)
        with open(config) as f:
            text = f.read()
        with open(config, "w") as f:
            f.write("secret-access-key: CANARYSECRETKEY0123456789abcdef\n" + text)
        tmp = os.path.join(ltxg.meta_dir_03(db), "ltx", "0", sv.SNAPSHOT + ".tmp")
        secret_line = ('time=2026-01-01T00:00:00.000Z level=ERROR msg="monitor error" db=app.db replica=s3 '
                       'error="signature mismatch for CANARYSECRETKEY0123456789abcdef"')
        script = sv.fake_litestream(self, f"printf '%s\\n' '{secret_line}' >&2\nsleep 0.5\n"
                                          f"printf '%s\\n' '{sv.DISK_FULL_LINE.format(tmp=tmp)}' >&2\n"
                                          "while :; do sleep 0.1; done")
        state = os.path.join(root, "state")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        self.assertEqual(run.wait(30), 12, run.stderr())
        alarm = sv.alarm_doc(state)
        self.assertEqual(alarm["condition"], "disk_full")
        self.assertRegex(alarm["stop_outcome"], r"^killed by SIGTERM after SIGTERM in ")
        # The child's output passes through unchanged; what ltxguard writes itself is redacted.
        self.assertIn(secret_line, run.stderr())
        log = next(p for p in alarm["evidence_files"] if p.endswith("litestream-output.log"))
        with open(log) as f:
            kept = f.read()
        self.assertIn('error="signature mismatch for [REDACTED]"', kept)
        self.assertIn("no space left on device", kept)
        for path in sv.files_below(state):
            with open(path, errors="replace") as f:
                self.assertNotIn("CANARYSECRETKEY", f.read(), path)

        reason = "disk replaced by ops; staging budget re-checked by hand"
        cleared = ltxg.run_ltxguard("alarm", "clear", "--state-dir", state, "--force", "--reason", reason)
        self.assertEqual(cleared.returncode, 0, cleared.stderr)
        self.assertEqual(cleared.stdout, f"alarm cleared: forced: {reason}\n")
        self.assertRegex(cleared.stderr, r"level=WARN msg=\"alarm cleared: forced: disk replaced by ops; staging "
                                         r"budget re-checked by hand\" event=alarm_cleared ")
        after = sv.alarm_doc(state)
        self.assertEqual((after["latched"], after["cleared_how"]), (False, f"forced: {reason}"))
        self.assertGreater(after["cleared_at_ms"], alarm["latched_at_ms"])

        quick = sv.fake_litestream(self, "exit 0")
        run = sv.Run(self, run_args(state), [quick, "replicate", "-config", config], marker=quick)
        self.assertEqual(run.wait(20), 0, run.stderr())
        self.assertEqual(len(run.event_lines("litestream_started")), 1)

    def test_an_unreadable_alarm_file_keeps_litestream_down(self):
        fs, db, config, root = sv.small_db_setup(self)
        state = os.path.join(root, "state")
        os.mkdir(state)
        with open(os.path.join(state, "alarm.json"), "w") as f:
            f.write("{not json")
        script = sv.fake_litestream(self, "exit 0")
        run = sv.Run(self, run_args(state), [script, "replicate", "-config", config], marker=script)
        self.assertEqual(run.wait(20), 11, run.stderr())
        self.assertIn("cannot be read as an alarm state", run.event_lines("alarm_latched_refused")[0])
        self.assertNotIn("litestream_started", run.events())
        self.assertEqual(ltxg.run_ltxguard("alarm", "status", "--state-dir", state).returncode, 2)

    def write_alarm(self, state, **fields):
        doc = {"latched": True, "latched_at_ms": 1795625317486, "condition": "cannot_fit",
               "reason": "remaining staging cannot fit", "headroom_bytes": -1, "stop_outcome": "exited 0",
               "evidence_files": [], "evidence_note": "", "cleared_at_ms": 0, "cleared_how": ""}
        doc.update(fields)
        with open(os.path.join(state, "alarm.json"), "w") as f:
            json.dump(doc, f)

    def test_clear_preflights_with_what_run_recorded_unless_flags_say_otherwise(self):
        fs, db, config, root = sv.small_db_setup(self)
        state = ltxg.temp_dir(self)
        self.write_alarm(state, db_path=db, config_path=config, policy_path="", litestream_bin="",
                         litestream_version="0.5.15")
        status = ltxg.run_ltxguard("alarm", "status", "--state-dir", state)
        self.assertEqual(status.returncode, 2, status.stderr)
        printed = f"ltxguard alarm clear --state-dir {state} --config {config} --litestream-version 0.5.15"
        self.assertIn(f"then `{printed}` (it runs a fresh preflight first).\n", status.stdout)

        # An explicit flag wins over the recorded one: this config does not exist.
        missing = os.path.join(root, "missing.yml")
        refused = ltxg.run_ltxguard("alarm", "clear", "--state-dir", state, "--config", missing)
        self.assertEqual(refused.returncode, 66, refused.stdout + refused.stderr)
        self.assertIn(f"ltxguard: {missing}: cannot read file: not found\n", refused.stderr)
        self.assertIn("ltxguard: alarm stays latched: the preflight could not run: the database, the Litestream "
                      "config or the policy is missing or unreadable (exit 66, its error is above).", refused.stderr)
        self.assertNotIn("Free space", refused.stderr)
        self.assertTrue(sv.alarm_doc(state)["latched"])

        # Nothing but the state dir: the rest comes from alarm.json.
        cleared = ltxg.run_ltxguard("alarm", "clear", "--state-dir", state)
        self.assertEqual(cleared.returncode, 0, cleared.stdout + cleared.stderr)
        self.assertTrue(cleared.stdout.startswith(
            f"preflight with what `ltxguard run` used (from alarm.json): --db {db} --config {config} "
            "--litestream-version 0.5.15\n"), cleared.stdout)
        self.assertRegex(cleared.stdout, r"alarm cleared: preflight passed \(exit [01]\)\n$")
        self.assertFalse(sv.alarm_doc(state)["latched"])

    def test_an_alarm_file_from_before_the_recorded_inputs_still_clears(self):
        fs, db, config, root = sv.small_db_setup(self)
        state = ltxg.temp_dir(self)
        self.write_alarm(state, db_path=db)  # no config_path, policy_path, litestream_*
        status = ltxg.run_ltxguard("alarm", "status", "--state-dir", state)
        self.assertEqual(status.returncode, 2, status.stderr)
        self.assertIn(f"then `ltxguard alarm clear --state-dir {state} --db {db}` (it runs a fresh preflight "
                      "first).\n", status.stdout)
        cleared = ltxg.run_ltxguard("alarm", "clear", "--state-dir", state, "--db", db, "--config", config,
                                    "--litestream-version", "0.5.15")
        self.assertEqual(cleared.returncode, 0, cleared.stdout + cleared.stderr)
        self.assertFalse(sv.alarm_doc(state)["latched"])

    def test_a_preflight_that_cannot_run_is_not_called_a_full_disk(self):
        # Field test: with nothing to preflight, clear said "Free space or change the policy".
        if os.path.exists("/etc/litestream.yml"):
            self.skipTest("/etc/litestream.yml exists: the preflight would read it")
        state = ltxg.temp_dir(self)
        self.write_alarm(state)  # no database recorded
        refused = ltxg.run_ltxguard("alarm", "clear", "--state-dir", state, env={"LITESTREAM_CONFIG": ""})
        self.assertEqual(refused.returncode, 64, refused.stdout + refused.stderr)
        self.assertIn("ltxguard: no database: pass --db or a Litestream config that lists one\n"
                      "ltxguard: alarm stays latched: the preflight could not run: no database to check, or a bad "
                      "option (exit 64, its error is above). Fix that (pass --db, --config, --policy as "
                      "`ltxguard run` had them), or clear with --force --reason TEXT.\n", refused.stderr)
        self.assertNotIn("Free space", refused.stderr)
        self.assertTrue(sv.alarm_doc(state)["latched"])

    def test_alarm_status_keeps_each_field_on_its_line(self):
        state = ltxg.temp_dir(self)
        with open(os.path.join(state, "alarm.json"), "w") as f:
            json.dump({"version": 1, "latched": True, "latched_at_ms": 1795625317486,
                       "db_path": "/d/app.db\nALARM CLEARED", "condition": "full",
                       "reason": "x\n  evidence:   /forged", "evidence_files": ["/e/1.json\r"]}, f)
        proc = ltxg.run_ltxguard("alarm", "status", "--state-dir", state)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("  database:   /d/app.db\\nALARM CLEARED\n", proc.stdout)
        self.assertIn("  reason:     x\\n  evidence:   /forged\n", proc.stdout)
        self.assertIn("  evidence:   /e/1.json\\r\n", proc.stdout)
        self.assertFalse(any(line.startswith("ALARM CLEARED") for line in proc.stdout.splitlines()))


if __name__ == "__main__":
    unittest.main()
