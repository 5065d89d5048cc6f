"""`ltxguard cleanup` on real layouts: the real Litestream 0.3.13 (stuck file replica, the
measured recovery end to end) and the Litestream 0.5 staging reproduced by the TEST DOUBLE
litestream05_double (Litestream 0.5 cannot be built here; it writes real LTX bytes in the real
layout). Refusals (Litestream running, a file held open, state dir missing, read-only or on the
full disk, a bind mount over the meta dir), planted symlinks and hard links, and the DB, -wal
and -shm hashed before and after every cleanup."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

import ltxg
from ltxg import KiB, MiB

sys.path.insert(0, os.path.join(ltxg.source_dir(), "tests", "testdata", "ltx"))
import ltxinspect  # noqa: E402  (independent CRC-64/ISO)

TMP_REL = "ltx/0/0000000000000001-0000000000000001.ltx.tmp"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def item(doc, rel):
    for i in doc["items"]:
        if i["rel_path"] == rel:
            return i
    raise AssertionError(f"no plan item {rel}: {[i['rel_path'] for i in doc['items']]}")


def journal(state):
    with open(os.path.join(state, "cleanup-journal.jsonl")) as f:
        return [json.loads(line) for line in f]


def evidence_dirs(state):
    root = os.path.join(state, "evidence")
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


def hold_open(testcase, path):
    """A process (not Litestream) holding `path` open until cleanup."""
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys, time; f = open(sys.argv[1], 'rb'); print('open', flush=True); "
                             "time.sleep(120)", path],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True)
    testcase.addCleanup(proc.stdout.close)
    testcase.addCleanup(ltxg._kill_group, proc)
    assert proc.stdout.readline().strip() == b"open"
    return proc


def bind_mount(testcase, source, target):
    """Returns the unmount function (also registered as cleanup). os.path.ismount cannot see a
    bind mount within one filesystem, so this does not use the harness's _unmount."""
    subprocess.run(["mount", "--bind", source, target], check=True, stdin=subprocess.DEVNULL)
    state = {"mounted": True}

    def unmount():
        if state["mounted"]:
            subprocess.run(["umount", target], check=True, stdin=subprocess.DEVNULL)
            state["mounted"] = False

    testcase.addCleanup(unmount)
    return unmount


class Cleanup05DoubleTest(unittest.TestCase):
    """0.5 layout from the TEST DOUBLE (not Litestream): mode 0.5.12, the #1310 wedge that leaves
    the in-flight snapshot open in place, on a tmpfs too small for it."""

    def test_refusals_attacks_and_quarantine_of_the_abandoned_snapshot(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=36 * MiB, db_bytes=20 * MiB,
                                     rate_bytes_per_sec=8 * MiB, mode="0.5.12")
        # Targets an attacker would like a root tool to delete, on the same filesystem (so
        # hard links work), and planted look-alikes in the real layout, made before it fills.
        outside = os.path.join(s.db_fs, "outside")
        os.mkdir(outside)
        precious = os.path.join(outside, "precious")
        with open(precious, "w") as f:
            f.write("keep me")
        ltx0 = os.path.join(s.meta_dir, "ltx", "0")
        os.makedirs(ltx0, exist_ok=True)
        link_rel = "ltx/0/0000000000000002-0000000000000002.ltx.tmp"
        hard_rel = "ltx/0/0000000000000003-0000000000000003.ltx.tmp"
        os.symlink(precious, os.path.join(s.meta_dir, link_rel))
        os.link(precious, os.path.join(s.meta_dir, hard_rel))
        with open(os.path.join(s.meta_dir, "notes.txt"), "w") as f:
            f.write("operator notes")
        # A decoy tree to bind-mount over the meta dir later (same filesystem: st_dev cannot tell).
        decoy = os.path.join(outside, "decoy")
        os.makedirs(os.path.join(decoy, "ltx", "0"))
        decoy_file = os.path.join(decoy, TMP_REL)
        with open(decoy_file, "wb") as f:
            f.write(b"LTX1" + bytes(96))
        tmp = os.path.join(s.meta_dir, TMP_REL)
        ltxg.wait_until(lambda: os.path.exists(tmp) and ltxg.avail_bytes(s.db_fs) < 64 * KiB, 30,
                        message="the double to fill the disk")
        db_before = ltxg.tree_hashes(ltxg.db_files(s.db))
        state = ltxg.tmpfs(self, 8 * MiB)
        base = ["cleanup", "--db", s.db, "--config", s.config, "--litestream-version", "0.5.12"]

        # Litestream running: everything under the meta dir is do-not-touch; --apply refuses.
        proc, plan = ltxg.run_json(*base, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(plan["litestream"]["running"])
        self.assertEqual(item(plan, TMP_REL)["class"], "do-not-touch")
        self.assertEqual(item(plan, TMP_REL)["class_if_stopped"], "safe")
        proc = ltxg.run_ltxguard(*base, "--apply", "--state-dir", state)
        self.assertEqual(proc.returncode, 75, proc.stderr)
        self.assertIn(f"refusing to apply: Litestream is running for this database: pid {s.litestream.pid} (",
                      proc.stderr)
        self.assertTrue(os.path.exists(tmp))
        self.assertEqual(os.listdir(state), [])

        # A crash (SIGKILL) leaves the in-flight snapshot behind.
        os.killpg(s.litestream.pid, signal.SIGKILL)
        s.litestream.proc.wait(10)
        tmp_size = os.path.getsize(tmp)
        tmp_sha = sha256(tmp)
        with open(tmp, "rb") as f:
            header = f.read(100)
        self.assertEqual(header[:4], b"LTX1")

        # Another process holding the file open: refused, and named.
        holder = hold_open(self, tmp)
        proc = ltxg.run_ltxguard(*base, "--apply", "--state-dir", state)
        self.assertEqual(proc.returncode, 75, proc.stderr)
        self.assertRegex(proc.stderr, rf"refusing to apply: pid {holder.pid} \([^)]*\) has {tmp} open")
        ltxg._kill_group(holder)

        # The state dir: missing, read-only, on the full filesystem; a quarantine there too.
        for args, code, text in [
                (["--state-dir", os.path.join(state, "missing")], 66, "state directory does not exist"),
                (["--state-dir", s.db_fs], 73, "state directory is on the filesystem under pressure"),
                (["--state-dir", state, "--quarantine", outside], 73, "moving files there frees nothing")]:
            proc = ltxg.run_ltxguard(*base, "--apply", *args)
            self.assertEqual(proc.returncode, code, f"{args}: {proc.stderr}")
            self.assertIn(text, proc.stderr)
        read_only = ltxg.tmpfs(self, 1 * MiB)
        subprocess.run(["mount", "-o", "remount,ro", read_only], check=True)
        proc = ltxg.run_ltxguard(*base, "--apply", "--state-dir", read_only)
        self.assertEqual(proc.returncode, 73, proc.stderr)
        self.assertIn("state directory is not writable (Read-only file system)", proc.stderr)
        self.assertTrue(os.path.exists(tmp))
        self.assertEqual(evidence_dirs(state), [])

        # A bind mount over the meta dir.
        unmount = bind_mount(self, decoy, s.meta_dir)
        proc = ltxg.run_ltxguard(*base, "--apply", "--state-dir", state)
        self.assertEqual(proc.returncode, 77, proc.stderr)
        self.assertIn(": is a bind mount of /outside/decoy", proc.stderr)
        with open(decoy_file, "rb") as f:
            self.assertEqual(f.read(), b"LTX1" + bytes(96))
        unmount()
        self.assertTrue(os.path.exists(tmp))

        # The plan for the stopped Litestream, then apply into a quarantine on another filesystem.
        proc, plan = ltxg.run_json(*base, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(plan["litestream"]["running"])
        self.assertEqual(item(plan, TMP_REL)["class"], "safe")
        self.assertEqual(item(plan, link_rel)["class"], "do-not-touch")
        self.assertIn("a symlink", item(plan, link_rel)["reason"])
        self.assertEqual(item(plan, hard_rel)["class"], "do-not-touch")
        self.assertIn("has 2 hard links", item(plan, hard_rel)["reason"])
        self.assertEqual(item(plan, "notes.txt")["class"], "do-not-touch")
        self.assertEqual([i["kind"] for i in plan["items"][:3]], ["database", "wal", "shm"])
        self.assertTrue(all(i["class"] == "do-not-touch" for i in plan["items"][:3]))
        reset = plan["items"][-1]
        self.assertEqual(reset["path"], f"litestream reset {s.db}")
        self.assertIn("budget after reset: critical", reset["reason"])

        quarantine = ltxg.tmpfs(self, 32 * MiB)
        avail_before = ltxg.avail_bytes(s.db_fs)
        started = time.monotonic()
        proc, doc = ltxg.run_json(*base, "--apply", "--state-dir", state, "--quarantine", quarantine, "--json")
        seconds = time.monotonic() - started
        # Exit 2: the snapshot cannot fit next to the database, so restarting would refill it.
        self.assertEqual(proc.returncode, 2, proc.stderr)
        ap = doc["apply"]
        self.assertTrue(ap["restart_would_fill"])
        self.assertIn("restarting Litestream now would fill the disk again", ap["verdict_line"])
        self.assertTrue(ap["next_step"].startswith("do not start Litestream yet: "), ap["next_step"])
        self.assertEqual([(a["rel_path"], a["action"]) for a in ap["actions"]], [(TMP_REL, "quarantined")])
        copy = ap["actions"][0]["destination"]
        self.assertTrue(copy.startswith(quarantine + "/ltxguard-cleanup-"), copy)
        self.assertEqual(sha256(copy), tmp_sha)
        self.assertFalse(os.path.exists(tmp))
        reclaimed = ltxg.avail_bytes(s.db_fs) - avail_before
        self.assertGreaterEqual(reclaimed, tmp_size - 4096)

        # Nothing else moved: the planted files, the target outside, the database files.
        self.assertTrue(os.path.islink(os.path.join(s.meta_dir, link_rel)))
        self.assertEqual(os.stat(os.path.join(s.meta_dir, hard_rel)).st_nlink, 2)
        with open(precious) as f:
            self.assertEqual(f.read(), "keep me")
        self.assertTrue(os.path.exists(os.path.join(s.meta_dir, "notes.txt")))
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(s.db)), db_before)

        # Evidence first: the bundle and the plan with the header, then the journal.
        (stamp,) = evidence_dirs(state)
        bundle = os.path.join(state, "evidence", stamp)
        names = sorted(os.listdir(bundle))
        self.assertEqual(len([n for n in names if n.startswith("ltxguard-evidence-")]), 2, names)
        with open(os.path.join(bundle, "cleanup-plan.json")) as f:
            recorded = item(json.load(f), TMP_REL)
        self.assertEqual(recorded["header"]["hex"], header.hex())
        lines = journal(state)
        self.assertEqual([l["event"] for l in lines], ["apply_start", "quarantined", "apply_end"])
        moved = lines[1]
        self.assertEqual(moved["path"], tmp)
        self.assertEqual(moved["size_bytes"], tmp_size)
        self.assertEqual(moved["class"], "safe")
        self.assertEqual(moved["header_crc64"], f"{ltxinspect.crc64(header):016x}")
        self.assertEqual(moved["destination"], copy)
        print(f"\n0.5 double: quarantined {tmp_size} B abandoned snapshot, reclaimed {reclaimed} B, "
              f"apply took {seconds:.2f} s", file=sys.stderr)


class CleanupSymlinkedMetaDirTest(unittest.TestCase):
    def test_meta_path_that_is_a_symlink_is_never_followed(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 256 * KiB)
        target = os.path.join(root, "elsewhere")
        os.makedirs(os.path.join(target, "ltx", "0"))
        victim = os.path.join(target, TMP_REL)
        with open(victim, "wb") as f:
            f.write(b"LTX1" + bytes(96))
        meta = os.path.join(root, "meta-link")
        os.symlink(target, meta)
        config = ltxg.write_litestream_config(os.path.join(root, "litestream.yml"), [
            {"path": db, "meta_path": meta, "replicas": [{"type": "file", "path": os.path.join(root, "r")}]}])
        state = ltxg.temp_dir(self)
        before = ltxg.tree_hashes(ltxg.db_files(db))
        proc, doc = ltxg.run_json("cleanup", "--db", db, "--config", config, "--apply", "--state-dir", state,
                                  "--force", "--json", "--litestream-version", "0.5.12")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(doc["next_step"].startswith("nothing to apply"), doc["next_step"])
        self.assertIn("the meta dir walk was incomplete", " ".join(doc["notes"]))
        self.assertTrue(os.path.exists(victim))
        self.assertEqual(evidence_dirs(state), [])
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(db)), before)


class CleanupLatchedAlarmTest(unittest.TestCase):
    def test_next_step_clears_the_latched_alarm_before_starting_litestream(self):
        # Field test: after a protective stop, cleanup --apply said `systemctl start litestream`
        # while `ltxguard run` would refuse (exit 11) until the alarm is cleared.
        fs = ltxg.tmpfs(self, 64 * MiB)
        root = ltxg.temp_dir(self)
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, 1 * MiB)
        tmp = os.path.join(fs, ".app.db-litestream", TMP_REL)
        os.makedirs(os.path.dirname(tmp))
        with open(tmp, "wb") as f:
            f.write(b"LTX1" + bytes(4096))  # an abandoned in-flight snapshot: safe once stopped
        config = ltxg.write_litestream_config(os.path.join(root, "litestream.yml"), [
            {"path": db, "replicas": [{"type": "file", "path": os.path.join(root, "replica")}]}])
        state = os.path.join(root, "state")
        os.mkdir(state)
        with open(os.path.join(state, "alarm.json"), "w") as f:
            json.dump({"latched": True, "latched_at_ms": 1795625317486, "db_path": db, "condition": "cannot_fit",
                       "reason": "remaining staging cannot fit", "config_path": config, "policy_path": "",
                       "litestream_bin": "", "litestream_version": "0.5.12"}, f)
        proc, doc = ltxg.run_json("cleanup", "--db", db, "--config", config, "--litestream-version", "0.5.12",
                                  "--apply", "--state-dir", state, "--json")
        self.assertIn(proc.returncode, (0, 1), proc.stdout + proc.stderr)
        self.assertEqual([(a["rel_path"], a["action"]) for a in doc["apply"]["actions"]], [(TMP_REL, "removed")])
        clear = f"ltxguard alarm clear --state-dir {state} --config {config} --litestream-version 0.5.12"
        self.assertTrue(doc["apply"]["next_step"].startswith(
            "first clear the latched alarm (`ltxguard run` keeps Litestream stopped until then): "
            f"`{clear}`; then start Litestream again (`systemctl start litestream`;"), doc["apply"]["next_step"])

        # The command works as printed.
        cleared = ltxg.run_ltxguard(*clear.split()[1:])
        self.assertEqual(cleared.returncode, 0, cleared.stdout + cleared.stderr)
        with open(os.path.join(state, "alarm.json")) as f:
            self.assertFalse(json.load(f)["latched"])


class Cleanup03RecoveryTest(unittest.TestCase):
    """The real Litestream 0.3.13, its file replica on a tiny tmpfs: the measured recovery."""

    def test_stuck_replica_recovery_end_to_end(self):
        t0 = time.monotonic()
        # 80 MiB for the database's disk: room for several shadow WAL indexes, so that the ones
        # the replica holds after catching up are worth more than the next generation needs.
        s = ltxg.scenario_03_stuck_replica(self, db_fs_bytes=80 * MiB)
        ltxg.wait_until(lambda: s.app.counts()["full"] > 0, 60, interval=0.25,
                        message="the app's first SQLITE_FULL")
        full_after = time.monotonic() - t0
        state = ltxg.tmpfs(self, 8 * MiB)
        base = ["cleanup", "--db", s.db, "--config", s.config, "--litestream-bin", ltxg.litestream_bin()]

        # Litestream (real 0.3.13) running: do-not-touch, and --apply refuses.
        proc, plan = ltxg.run_json(*base, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(plan["litestream"]["running"])
        self.assertTrue(all(i["class"] == "do-not-touch" for i in plan["items"] if i["kind"] != "action"))
        proc = ltxg.run_ltxguard(*base, "--apply", "--state-dir", state)
        self.assertEqual(proc.returncode, 75, proc.stderr)
        self.assertIn(f"Litestream is running for this database: pid {s.litestream.pid} (", proc.stderr)
        self.assertEqual(os.listdir(state), [])

        # Stop it: after the replica's ENOSPC, 0.3.13 ignores SIGTERM; SIGKILL after 3 s.
        stop1 = s.litestream.stop(3)
        # Fix the cause (the replica's disk), start Litestream: the replica catches up, but the
        # database's disk stays full (the shadow WAL it cannot trim fills it).
        subprocess.run(["mount", "-o", "remount,size=160m", s.replica_fs], check=True)
        ls2 = ltxg.Litestream(self, s.config, log_path=os.path.join(s.root, "litestream-2.log"))
        ls2.wait_for_log(r'msg="wal segment written"', 30)
        time.sleep(2)
        stop2 = ls2.stop(5)
        fast = s.app.stop()

        db_before = ltxg.tree_hashes(ltxg.db_files(s.db))
        proc, plan = ltxg.run_json(*base, "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(plan["litestream"]["running"])
        safe = [i for i in plan["items"] if i["class"] == "safe"]
        self.assertGreaterEqual(len(safe), 1, json.dumps(plan, indent=1))
        for i in safe:
            self.assertEqual(i["kind"], "shadow_wal")
            self.assertIn("which every replica already holds (file at index", i["reason"])
        kept = [i["rel_path"] for i in plan["items"] if i["rel_path"] and i["class"] != "safe"]
        self.assertIn("generation", kept)

        free_before = ltxg.free_bytes(s.db_fs)
        started = time.monotonic()
        proc, doc = ltxg.run_json(*base, "--apply", "--state-dir", state, "--json")
        apply_seconds = time.monotonic() - started
        ap = doc["apply"]
        self.assertEqual(ap["skipped_files"], 0, proc.stderr)
        self.assertEqual(sorted(a["rel_path"] for a in ap["actions"]), sorted(i["rel_path"] for i in safe))
        reclaimed = ltxg.free_bytes(s.db_fs) - free_before
        self.assertGreaterEqual(reclaimed, sum(i["allocated_bytes"] for i in safe) - 4096)
        for i in safe:
            self.assertFalse(os.path.exists(os.path.join(s.meta_dir, i["rel_path"])))
        for rel in kept:
            self.assertTrue(os.path.exists(os.path.join(s.meta_dir, rel)), rel)
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(s.db)), db_before)
        events = [l["event"] for l in journal(state)]
        self.assertEqual(events, ["apply_start"] + ["removed"] * len(safe) + ["apply_end"])
        for line in journal(state)[1:-1]:
            self.assertEqual(line["header_bytes"], 32)  # the WAL header: magic, page size, salts
            self.assertIn(line["header_hex"][:8], ("377f0682", "377f0683"))
        print(f"\n0.3.13 recovery: app SQLITE_FULL {full_after:.1f} s after start; stop 1 "
              f"{'SIGTERM' if stop1.exited_on_sigterm else 'SIGKILL'} {stop1.seconds:.1f} s, stop 2 "
              f"{'SIGTERM' if stop2.exited_on_sigterm else 'SIGKILL'} {stop2.seconds:.2f} s; app ok "
              f"{fast['ok']} full {fast['full']}; apply removed {len(safe)} segment(s), reclaimed "
              f"{reclaimed} B in {apply_seconds:.2f} s; exit {proc.returncode}: {ap['verdict_line']}; "
              f"{[f['equation'] for f in (ap['budget'] or {}).get('filesystems', [])]}", file=sys.stderr)
        # The budget decides whether restarting fits; the next step says what to do.
        self.assertIn(proc.returncode, (0, 1), ap["verdict_line"] + " / " + ap["next_step"])
        self.assertTrue(ap["next_step"].startswith("start Litestream again"), ap["next_step"])

        # Restart: Litestream replicates again and the app writes again.
        ls3 = ltxg.Litestream(self, s.config, log_path=os.path.join(s.root, "litestream-3.log"))
        app = ltxg.AppWriter.at_rate(self, s.db, 64 * KiB)
        ls3.wait_for_log(r'msg="wal segment written"', 30)
        ltxg.wait_until(lambda: app.counts()["ok"] >= 20, 30, message="20 commits after the recovery")
        ls3.wait_for_log(r'msg="wal segment written".*\n(.*\n)*.*msg="wal segment written"', 15)
        final = app.stop()
        self.assertEqual(final["full"], 0, final)
        self.assertEqual(final["other_errors"], 0, final)
        ls3.stop(5)
        self.assertEqual(ls3.log_lines(r"level=ERROR"), [])
        conn = sqlite3.connect(s.db)
        try:
            self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            conn.close()


if __name__ == "__main__":
    unittest.main()
