"""`ltxguard evidence` on real files: read-only proof (syscall trace), redaction of canary
secrets, bad input, the real Litestream 0.3.13 with a stuck and a healthy file replica, and
the 0.5 layout staged by the Litestream 0.5 test double (real LTX bytes; not Litestream)."""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

import ltxg
from ltxg import KiB, MiB


def evidence(*args, window=("--samples", "2", "--interval", "0.5"), **kw):
    proc, doc = ltxg.run_json("evidence", "--json", *window, *args, **kw)
    if proc.returncode != 0:
        raise AssertionError(f"evidence exited {proc.returncode}: {proc.stderr}")
    return doc


class EvidenceReadOnlyTest(unittest.TestCase):
    def test_never_reads_past_the_header_and_changes_nothing(self):
        strace = shutil.which("strace")
        if strace is None:
            self.fail("strace is not installed (scripts/setup installs it)")
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 2 * MiB)
        # An open WAL with frames, as a live app leaves it: keep a connection writing.
        import sqlite3
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("INSERT INTO blobs(data) VALUES (randomblob(200000))")
        self.addCleanup(conn.close)
        before = ltxg.tree_hashes(ltxg.db_files(db))
        self.assertIsNotNone(before[db + "-wal"])
        trace = os.path.join(root, "trace.txt")
        proc = subprocess.run([strace, "-f", "-y", "-qq", "-o", trace,
                               "-e", "trace=open,openat,openat2,read,pread64,readv,preadv,preadv2,mmap,"
                                     "sendfile,copy_file_range,splice,truncate,ftruncate,unlink,unlinkat,rename,renameat,renameat2",
                               ltxg.ltxguard_bin(), "evidence", "--db", db, "--samples", "2",
                               "--interval", "0.2", "--json"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        json.loads(proc.stdout)
        after = ltxg.tree_hashes(ltxg.db_files(db))
        self.assertEqual(before, after)

        with open(trace) as f:
            lines = f.read().splitlines()
        db_reads = 0
        for line in lines:
            for path in ltxg.db_files(db):
                if f"<{path}>" not in line and f'"{path}"' not in line:
                    continue
                call = re.sub(r"^\d+\s+", "", line)
                if call.startswith(("open", "openat")):
                    self.assertNotRegex(call, r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", line)
                    self.assertEqual(path, db, f"only the database itself may be opened: {line}")
                elif call.startswith(("read(", "pread64(")):
                    m = re.search(r"= (\d+)$", call)
                    self.assertIsNotNone(m, line)
                    db_reads += int(m.group(1))
                    if call.startswith("pread64("):
                        off = int(call.rsplit(",", 1)[1].split(")")[0])
                        self.assertEqual(off, 0, line)
                elif not call.startswith("+++") and "resumed" not in call:
                    self.fail(f"unexpected syscall on an application file: {line}")
        self.assertLessEqual(db_reads, 100, "bytes read from the database")
        self.assertGreater(db_reads, 0, "the header must have been read (trace sanity)")


class EvidenceRedactionTest(unittest.TestCase):
    CANARIES = ["CANARYSECRETKEY0123456789abcdef", "CANARYACCESSKEYID77", "CANARYENVSECRET55",
                "canary-bucket-name", "CANARYURLPASSWORD99", "CANARYSSECKEY123", "CANARYSESSIONTOKEN42"]

    def test_no_canary_reaches_any_output(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 256 * KiB)
        config = os.path.join(root, "litestream.yml")
        with open(config, "w") as f:
            f.write(f"""access-key-id: CANARYACCESSKEYID77
secret-access-key: CANARYSECRETKEY0123456789abcdef
dbs:
  - path: {db}
    replicas:
      - type: s3
        bucket: canary-bucket-name
        path: backups/app
        secret-access-key: ${{CANARY_ENV}}
        sse-customer-key: CANARYSSECKEY123
      - url: sftp://user:CANARYURLPASSWORD99@backup.example.com/srv/app
""")
        log = os.path.join(root, "litestream.log")
        with open(log, "w") as f:
            f.write('time=2026-01-01T00:00:00Z level=INFO msg=litestream version=v0.3.13\n')
            f.write('time=2026-01-01T00:00:01Z level=ERROR msg="sync error" db=/x error="AWS_SECRET_ACCESS_KEY=CANARYENVSECRET55 denied"\n')
            f.write('time=2026-01-01T00:00:02Z level=ERROR msg="monitor error" error="PUT https://canary-bucket-name.s3.amazonaws.com/x?X-Amz-Credential=CANARYACCESSKEYID77&X-Amz-Security-Token=CANARYSESSIONTOKEN42 failed"\n')
            f.write('time=2026-01-01T00:00:03Z level=ERROR msg="sync error" error="sftp://user:CANARYURLPASSWORD99@backup.example.com: no space left on device"\n')
        out_dir = ltxg.temp_dir(self)
        env = {"CANARY_ENV": "CANARYENVSECRET55", "AWS_SESSION_TOKEN": "CANARYSESSIONTOKEN42"}
        outputs = []
        for extra in (["--json"], [], ["--public"], ["--json", "--out", out_dir, "--force"]):
            proc = ltxg.run_ltxguard("evidence", "--db", db, "--config", config, "--log", log,
                                     "--samples", "1", *extra, env=env)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            outputs += [proc.stdout, proc.stderr]
        written = os.listdir(out_dir)
        self.assertTrue(any(n.endswith(".json") for n in written), written)
        for name in written:
            with open(os.path.join(out_dir, name)) as f:
                outputs.append(f.read())
        for text in outputs:
            for canary in self.CANARIES:
                self.assertNotIn(canary, text)
        # The log was read and counted, not dropped to hide the secrets.
        doc = json.loads(outputs[0])
        self.assertEqual(doc["log"]["lines_read"], 4)
        self.assertEqual(doc["log"]["disk_full_lines"], 1)
        self.assertEqual(doc["litestream"]["version"] is None or isinstance(doc["litestream"]["version"], str), True)

    def test_show_replica_paths_reveals_paths_but_never_secrets(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        replica = os.path.join(root, "replica-dir-visible")
        config = ltxg.write_litestream_config(os.path.join(root, "ls.yml"),
                                              [{"path": db, "replicas": [{"type": "file", "path": replica}]}])
        hidden = evidence("--db", db, "--config", config)
        self.assertNotIn("replica-dir-visible", json.dumps(hidden))
        shown = evidence("--db", db, "--config", config, "--show-replica-paths")
        self.assertIn("replica-dir-visible", json.dumps(shown))

    def test_public_summary_has_no_paths_or_hostname(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "secret-project", "app.db")
        os.makedirs(os.path.dirname(db))
        ltxg.make_db(db, 64 * KiB)
        proc = ltxg.run_ltxguard("evidence", "--db", db, "--public", "--samples", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("app.db", proc.stdout)
        self.assertNotIn("secret-project", proc.stdout)
        self.assertNotIn(root, proc.stdout)
        host = os.uname().nodename
        if len(host) >= 4:
            self.assertNotIn(host, proc.stdout)
        self.assertIn("| staging_is_driver |", proc.stdout)


class EvidenceBadInputTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 64 * KiB)

    def run_bad(self, *args):
        proc = ltxg.run_ltxguard("evidence", "--samples", "1", *args)
        self.assertEqual(proc.stdout, "")
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        return proc.returncode, proc.stderr.strip()

    def test_missing_database(self):
        rc, err = self.run_bad("--db", os.path.join(self.root, "nope.db"))
        self.assertEqual(rc, 66)
        self.assertEqual(err, f"ltxguard: {self.root}/nope.db: database not found")

    def test_missing_config(self):
        rc, err = self.run_bad("--db", self.db, "--config", os.path.join(self.root, "none.yml"))
        self.assertEqual(rc, 66)
        self.assertEqual(err, f"ltxguard: {self.root}/none.yml: cannot read file: not found")

    def test_malformed_yaml(self):
        config = os.path.join(self.root, "bad.yml")
        with open(config, "w") as f:
            f.write("dbs:\n  - path: /x\n    replicas: [\n")
        rc, err = self.run_bad("--db", self.db, "--config", config)
        self.assertEqual(rc, 65)
        self.assertRegex(err, rf"^ltxguard: {re.escape(config)}:\d+: ")

    def test_symlink_into_another_tree(self):
        other = ltxg.temp_dir(self)
        target = os.path.join(other, "real.db")
        ltxg.make_db(target, 64 * KiB)
        link = os.path.join(self.root, "link.db")
        os.symlink(target, link)
        rc, err = self.run_bad("--db", link)
        self.assertEqual(rc, 65)
        self.assertEqual(err, f"ltxguard: {link}: database path is a symlink into another directory "
                              f"({target}); pass the real path")

    def test_log_lines_with_invalid_utf8_do_not_break_the_json(self):
        log = os.path.join(self.root, "bad.log")
        with open(log, "wb") as f:
            f.write(b'level=ERROR msg="sync error" error="write /d/\xff\xfe.wal.tmp: no space left on device"\n')
        doc = evidence("--db", self.db, "--log", log)
        self.assertEqual(doc["log"]["disk_full_lines"], 1)
        self.assertEqual(len(doc["log"]["lines"]), 1)

    def test_symlinks_and_fifos_in_the_meta_dir_are_reported_never_followed(self):
        level0 = os.path.join(self.root, ".app.db-litestream", "ltx", "0")
        os.makedirs(level0)
        big = os.path.join(ltxg.temp_dir(self), "outside.bin")
        with open(big, "wb") as f:
            f.truncate(64 * MiB)
        os.symlink(big, os.path.join(level0, "0000000000000001-0000000000000001.ltx.tmp"))
        os.mkfifo(os.path.join(level0, "0000000000000002-0000000000000002.ltx"))
        doc = evidence("--db", self.db)
        kinds = sorted(f["kind"] for f in doc["staging"]["files"])
        self.assertEqual(kinds, ["fifo", "symlink"])
        self.assertEqual(doc["staging"]["bytes"], 0)
        self.assertEqual(doc["staging"]["in_flight_bytes"], 0)
        self.assertNotIn(big, json.dumps(doc))

    def test_not_a_database_is_reported_not_fatal(self):
        junk = os.path.join(self.root, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"hello world" * 100)
        doc = evidence("--db", junk)
        self.assertIn("header_error", doc["db"])

    def test_out_dir_on_the_pressured_filesystem_is_refused_without_force(self):
        out = os.path.join(self.root, "out")
        os.mkdir(out)
        rc, err = self.run_bad("--db", self.db, "--out", out)
        self.assertEqual(rc, 65)
        self.assertIn("output directory is on the filesystem under pressure", err)
        proc = ltxg.run_ltxguard("evidence", "--db", self.db, "--out", out, "--force", "--samples", "1")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(sorted(n.rsplit(".", 1)[1] for n in os.listdir(out)), ["json", "txt"])


class EvidenceJournalTest(unittest.TestCase):
    def test_reads_a_copied_journal_directory(self):
        remote = "/lib/systemd/systemd-journal-remote"
        ltxg.require_executable(self, remote, "systemd-journal-remote")
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        jdir = os.path.join(root, "journal")
        os.mkdir(jdir)
        entries = []
        msgs = ['level=INFO msg=litestream version=v0.3.13',
                'level=ERROR msg="sync error" db=/d/app.db error="sync wal: cannot copy to shadow wal: write temp shadow wal: write /d/.app.db-litestream/generations/0123456789abcdef/wal/00000002.wal.tmp: no space left on device"',
                'level=ERROR msg="sync error" db=/d/app.db error="sync wal: cannot copy to shadow wal: write temp shadow wal: write /d/.app.db-litestream/generations/0123456789abcdef/wal/00000002.wal.tmp: no space left on device"']
        t = 1767225600000000
        for i, m in enumerate(msgs):
            entries.append(f"__REALTIME_TIMESTAMP={t + i}\n__MONOTONIC_TIMESTAMP={i + 1}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                           f"_SYSTEMD_UNIT=litestream.service\nPRIORITY=3\nMESSAGE={m}\n")
        entries.append(f"__REALTIME_TIMESTAMP={t + 9}\n__MONOTONIC_TIMESTAMP=10\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                       f"_SYSTEMD_UNIT=other.service\nMESSAGE=no space left on device\n")
        subprocess.run([remote, "-o", os.path.join(jdir, "x.journal"), "-"], input="\n".join(entries),
                       text=True, check=True, capture_output=True, timeout=30)
        doc = evidence("--db", db, "--journal-dir", jdir)
        self.assertTrue(doc["log"]["available"])
        self.assertEqual(doc["log"]["lines_read"], 3)
        self.assertEqual(doc["log"]["disk_full_lines"], 2)
        self.assertIs(doc["verdict"]["visible_in_logs"], True)
        self.assertEqual(doc["litestream"]["version_source"] in ("binary", "log"), True)

    def test_absent_journal_is_reported_not_an_error(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        empty = ltxg.temp_dir(self)
        doc = evidence("--db", db, "--journal-dir", empty)
        self.assertFalse(doc["log"]["available"])
        self.assertNotEqual(doc["log"]["why_unavailable"], "")
        self.assertIsNone(doc["verdict"]["visible_in_logs"])


class EvidenceLitestream03Test(unittest.TestCase):
    """The real Litestream 0.3.13 on tmpfs."""

    def test_stuck_file_replica_makes_staging_the_driver(self):
        s = ltxg.scenario_03_stuck_replica(self, db_fs_bytes=24 * MiB, replica_fs_bytes=3 * MiB)
        # The replica fills within ~3 s; then the shadow WAL grows in the meta dir.
        ltxg.wait_until(lambda: ltxg.dir_bytes(s.meta_dir) > 4 * MiB, 40,
                        message="shadow WAL growth in the meta dir")
        # The default window: 3 samples, 1 s apart.
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path,
                       "--litestream-bin", ltxg.litestream_bin(), window=())
        self.assertEqual(doc["staging"]["layout"], "0.3")
        self.assertEqual(doc["litestream"]["version"], "0.3.13")
        self.assertIs(doc["verdict"]["staging_is_driver"], True, doc["verdict"]["reasons"])
        self.assertIs(doc["verdict"]["staging_fits"], False, doc["verdict"]["reasons"])
        rep = doc["replicas"][0]
        self.assertTrue(rep["known"])
        self.assertGreater(rep["backlog_bytes"], 1 * MiB)
        kinds = {f["kind"] for f in doc["staging"]["files"]}
        self.assertTrue(kinds & {"shadow_wal", "shadow_wal_tmp"}, kinds)

    def test_healthy_replica_is_not_the_driver(self):
        s = ltxg.scenario_03_healthy(self)
        time.sleep(3)
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path,
                       "--litestream-bin", ltxg.litestream_bin(), window=())
        self.assertEqual(doc["staging"]["layout"], "0.3")
        self.assertIs(doc["verdict"]["staging_is_driver"], False, doc["verdict"]["reasons"])
        self.assertIs(doc["verdict"]["staging_fits"], True, doc["verdict"]["reasons"])
        self.assertIs(doc["verdict"]["wal_blocked"], False)
        self.assertIs(doc["verdict"]["visible_in_logs"], False)
        self.assertEqual(doc["log"]["disk_full_lines"], 0)
        self.assertTrue(any(p["pid"] == s.litestream.pid for p in doc["litestream"]["processes"]),
                        doc["litestream"]["processes"])


class EvidenceLitestream05Test(unittest.TestCase):
    """The 0.5 layout, staged by tests/doubles/litestream05_double: a TEST DOUBLE writing real
    LTX bytes in the real layout (Litestream 0.5 cannot be built here)."""

    def tmp_file(self, doc):
        tmps = [f for f in doc["staging"]["files"] if f["kind"] == "ltx_tmp"]
        self.assertEqual(len(tmps), 1, doc["staging"]["files"])
        return tmps[0]

    def test_initial_sync_that_cannot_fit_is_proven(self):
        # 32 MiB disk, 18 MiB database: the ~18 MiB snapshot cannot fit in what is left.
        s = ltxg.scenario_05_staging(self, fs_bytes=32 * MiB, db_bytes=18 * MiB,
                                     rate_bytes_per_sec=6 * MiB, mode="0.5.12")
        tmp = os.path.join(s.meta_dir, "ltx", "0", "0000000000000001-0000000000000001.ltx.tmp")
        ltxg.wait_until(lambda: os.path.exists(tmp) and os.path.getsize(tmp) > 4 * MiB, 20,
                        message="the staging file growing")
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path)
        self.assertEqual(doc["staging"]["layout"], "0.5")
        f = self.tmp_file(doc)
        self.assertEqual(f["state"], "incomplete")
        self.assertEqual(f["ltx"]["min_txid"], 1)
        self.assertGreater(f["ltx"]["expected_final_bytes"], 18 * MiB)
        self.assertIs(doc["verdict"]["staging_is_driver"], True, doc["verdict"]["reasons"])
        self.assertIs(doc["verdict"]["staging_fits"], False, doc["verdict"]["reasons"])
        self.assertGreater(doc["staging"]["remaining_bytes"], 0)
        # 0.5.12: disk full and nothing in the log.
        ltxg.wait_until(lambda: ltxg.free_bytes(s.db_fs) < 256 * KiB, 20, message="disk full")
        time.sleep(1)
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path)
        self.assertIs(doc["verdict"]["wal_blocked"], True, doc["verdict"]["reasons"])
        self.assertIs(doc["verdict"]["visible_in_logs"], False, doc["verdict"]["reasons"])
        self.assertEqual(self.tmp_file(doc)["state"], "incomplete")
        self.assertTrue(any(h["pid"] == s.litestream.pid for h in doc["litestream"]["staging_holders"]),
                        doc["litestream"]["staging_holders"])

    def test_disk_full_lines_of_0_5_15_are_counted(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=24 * MiB, db_bytes=14 * MiB,
                                     rate_bytes_per_sec=8 * MiB, mode="0.5.15")
        ltxg.wait_until(lambda: "disk full while staging ltx file" in s.litestream.log_text(), 20,
                        message="the 0.5.15 disk-full line")
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path)
        self.assertGreaterEqual(doc["log"]["disk_full_lines"], 1)
        self.assertIs(doc["verdict"]["visible_in_logs"], True)

    def test_completed_snapshot_is_complete_and_fits(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=64 * MiB, db_bytes=8 * MiB,
                                     rate_bytes_per_sec=32 * MiB, mode="0.5.15")
        done = os.path.join(s.meta_dir, "ltx", "0", "0000000000000001-0000000000000001.ltx")
        ltxg.wait_until(lambda: os.path.exists(done), 20, message="the snapshot renamed to .ltx")
        doc = evidence("--db", s.db, "--config", s.config, "--log", s.litestream.log_path)
        files = [f for f in doc["staging"]["files"] if f["kind"] == "ltx"]
        self.assertEqual([f["state"] for f in files], ["complete"])
        self.assertIs(doc["verdict"]["staging_is_driver"] in (True, False), True)
        self.assertIs(doc["verdict"]["wal_blocked"], False)

    def test_truncated_ltx_is_a_finding_not_an_error(self):
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 64 * KiB)
        level0 = os.path.join(root, ".app.db-litestream", "ltx", "0")
        os.makedirs(level0)
        src = os.path.join(ltxg.source_dir(), "tests", "testdata", "ltx",
                           "synthetic-v3block-l0-snapshot-0000000000000001-0000000000000001.truncated-before-trailer.ltx")
        shutil.copy(src, os.path.join(level0, "0000000000000001-0000000000000001.ltx"))
        doc = evidence("--db", db)
        self.assertEqual(doc["staging"]["layout"], "0.5")
        [f] = doc["staging"]["files"]
        self.assertEqual(f["state"], "incomplete")
        self.assertNotEqual(f["ltx"]["reason"], "")


if __name__ == "__main__":
    unittest.main()
