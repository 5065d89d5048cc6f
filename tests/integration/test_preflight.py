"""`ltxguard preflight` on real small filesystems: real SQLite databases on tmpfs mounts of a
few MiB (and a second tmpfs for `meta-path`), an ext4 loop image with its 5 % root reserve,
the projection checked against LTX snapshots really staged by the test-side writer, every
bad policy and config input with its exact one-line error, the exit codes, and the systemd
drop-in that runs the preflight before Litestream starts.

The model is pinned with --litestream-version (0.5.16, or 0.3.13 for the real 0.3 test), and
every threshold comes from a policy file written here (/etc/ltxguard/policy.yml is not on CI).
Numbers are asserted on the JSON; the text output only has to carry the equation."""

import os
import re
import shutil
import sqlite3
import subprocess
import unittest

import ltxg
from ltxg import KiB, MiB

V05 = "0.5.16"
V03 = "0.3.13"
MINUS = "\u2212"

# Thresholds small enough for filesystems of a few MiB: a fixed reserve, a fixed app WAL
# growth (charged twice under 0.5: the WAL on the DB's filesystem, the catch-up L0 on the
# meta dir's), and a warning line of 1 MiB of headroom.
RESERVE = 1 * MiB
GROWTH = 256 * KiB
WARN_AT = 1 * MiB
SMALL_POLICY = f"""reserve_bytes: {RESERVE}
wal_growth_bytes: {GROWTH}
warn_at: {WARN_AT}
critical_at: 0
"""

DROP_IN = os.path.join(ltxg.source_dir(), "deploy", "systemd", "litestream.service.d",
                       "ltxguard-preflight.conf")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def preflight(*args):
    return ltxg.run_ltxguard("preflight", *args, timeout=60)


def preflight_json(*args):
    return ltxg.run_json("preflight", "--json", *args, timeout=60)


def filesystem(report, mount):
    found = [f for f in report["filesystems"] if f["mount"] == mount]
    if len(found) != 1:
        mounts = [f["mount"] for f in report["filesystems"]]
        raise AssertionError(f"no single filesystem {mount} in {mounts}")
    return found[0]


def term(fs, label):
    """Bytes of the term `label` on filesystem entry `fs`, None when it has none."""
    found = [t["bytes"] for t in fs["terms"] if t["label"] == label]
    return found[0] if found else None


def assert_balances(tc, fs):
    """headroom = available − Σ terms, exactly."""
    charged = sum(t["bytes"] for t in fs["terms"])
    tc.assertEqual(fs["headroom_bytes"], fs["available_bytes"] - charged, fs)


def make_full_page_db(path, size_bytes, page_size):
    """A WAL database whose every leaf page is one row of random bytes filling the page
    (blob = page size − 40: record header ≤ 5 bytes, the payload stays at most U − 35 so it
    never spills to an overflow page). Unlike ltxg.make_db's 64 KiB rows, which leave big
    pages partly empty (zeros LZ4 squeezes), this is the incompressible worst case at every
    page size. Returns the page count."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"PRAGMA page_size={int(page_size)}")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("CREATE TABLE pages(id INTEGER PRIMARY KEY, data BLOB)")
        conn.execute("BEGIN")
        for _ in range(int(size_bytes) // page_size):
            conn.execute("INSERT INTO pages(data) VALUES (?)", (os.urandom(page_size - 40),))
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


class PreflightCase(unittest.TestCase):
    """A DB tmpfs per test, a file replica on a roomy tmpfs of its own (its upload state is
    then measurable: nothing is staged yet, so nothing waits for upload)."""

    def setUp(self):
        ltxg.require_root(self)
        self.root = ltxg.temp_dir(self)
        self.replica_fs = ltxg.tmpfs(self, 64 * MiB)
        self.policy = write(os.path.join(self.root, "policy.yml"), SMALL_POLICY)

    def db_on_tmpfs(self, fs_bytes, db_bytes, **kw):
        fs = ltxg.tmpfs(self, fs_bytes)
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, db_bytes, **kw)
        return fs, db

    def config(self, db, meta_path=None, name="litestream.yml"):
        entry = {"path": db, "replicas": [{"type": "file",
                                           "path": os.path.join(self.replica_fs, "replica")}]}
        if meta_path:
            entry["meta_path"] = meta_path
        return ltxg.write_litestream_config(os.path.join(self.root, name), [entry])


class PreflightTmpfsTest(PreflightCase):
    def test_db_that_cannot_fit_is_critical_with_the_equation(self):
        fs, db = self.db_on_tmpfs(8 * MiB, 5 * MiB)
        config = self.config(db)
        avail = ltxg.avail_bytes(fs)
        proc, report = preflight_json("--config", config, "--policy", self.policy,
                                      "--litestream-version", V05)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertEqual(report["verdict"], "critical")
        self.assertEqual(report["exit_code"], 2)
        self.assertEqual(report["unknowns"], [])
        d = report["databases"][0]
        self.assertEqual((d["path"], d["model"], d["page_size_bytes"]), (db, "0.5", 4096))
        self.assertEqual(d["db_bytes"], os.path.getsize(db))
        self.assertEqual(d["replica_backlog_bytes"], 0)
        f = filesystem(report, fs)
        self.assertEqual(f["available_bytes"], avail)  # tmpfs: no root reserve
        self.assertEqual(term(f, "projected staging"), d["snapshot_max_bytes"])
        self.assertEqual(term(f, "catch-up L0"), GROWTH)
        self.assertEqual(term(f, "app WAL growth"), GROWTH)
        self.assertEqual(term(f, "reserve"), RESERVE)
        self.assertEqual(f["reserve_bytes"], RESERVE)
        assert_balances(self, f)
        self.assertEqual(f["headroom_bytes"],
                         avail - d["snapshot_max_bytes"] - 2 * GROWTH - RESERVE)
        self.assertLess(f["headroom_bytes"], 0)
        self.assertEqual(f["verdict"], "critical")
        self.assertTrue(f["equation"].endswith("\u2192 CRITICAL: initial sync cannot fit"),
                        f["equation"])
        move = f"{fs}: move meta-path of app.db to a filesystem with at least "
        self.assertTrue(any(a.startswith(move) for a in report["advice"]), report["advice"])

        text = preflight("--config", config, "--policy", self.policy, "--litestream-version", V05)
        self.assertEqual(text.returncode, 2)
        eq = re.search(rf"^  available \S+ \S+ {MINUS} projected staging .* = {MINUS}\S+ \S+ "
                       r"\u2192 CRITICAL: initial sync cannot fit$", text.stdout, re.M)
        self.assertIsNotNone(eq, text.stdout)
        self.assertIn(f" {MINUS} reserve 1.0 MiB = {MINUS}", eq.group(0))
        self.assertIn("\nverdict: critical (exit 2)\n", text.stdout)

    def test_db_that_fits_is_ok(self):
        fs, db = self.db_on_tmpfs(16 * MiB, 3 * MiB)
        proc, report = preflight_json("--config", self.config(db), "--policy", self.policy,
                                      "--litestream-version", V05)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual((report["verdict"], report["unknowns"]), ("ok", []))
        f = filesystem(report, fs)
        assert_balances(self, f)
        self.assertGreaterEqual(f["headroom_bytes"], WARN_AT)
        self.assertTrue(f["equation"].endswith("\u2192 OK"), f["equation"])
        replica = filesystem(report, self.replica_fs)
        self.assertEqual(term(replica, "file replica copy"),
                         report["databases"][0]["snapshot_max_bytes"])
        self.assertEqual(term(replica, "reserve"), 0)  # no database there

    def test_db_that_fits_without_headroom_warns(self):
        # 8 MiB − 3 MiB DB − 3 MiB staging − 2 × 256 KiB − 1 MiB reserve ≈ 0.45 MiB < warn_at
        fs, db = self.db_on_tmpfs(8 * MiB, 3 * MiB)
        proc, report = preflight_json("--config", self.config(db), "--policy", self.policy,
                                      "--litestream-version", V05)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(report["verdict"], "warning")
        f = filesystem(report, fs)
        assert_balances(self, f)
        self.assertGreaterEqual(f["headroom_bytes"], 0)
        self.assertLess(f["headroom_bytes"], WARN_AT)
        self.assertTrue(f["equation"].endswith("\u2192 WARNING: headroom under warn_at 1.0 MiB"),
                        f["equation"])
        self.assertIn(f"{fs}: headroom ", " ".join(report["advice"]))

    def test_meta_dir_moved_to_a_roomy_filesystem_is_ok(self):
        fs, db = self.db_on_tmpfs(8 * MiB, 5 * MiB)
        before = preflight("--config", self.config(db), "--policy", self.policy,
                           "--litestream-version", V05, "--json")
        self.assertEqual(before.returncode, 2, before.stdout + before.stderr)

        meta_fs = ltxg.tmpfs(self, 32 * MiB)
        meta = os.path.join(meta_fs, "app.db-litestream")  # not created: Litestream does that
        config = self.config(db, meta_path=meta, name="moved.yml")
        proc, report = preflight_json("--config", config, "--policy", self.policy,
                                      "--litestream-version", V05)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(report["verdict"], "ok")
        snapshot = report["databases"][0]["snapshot_max_bytes"]
        on_db = filesystem(report, fs)
        self.assertEqual([t["label"] for t in on_db["terms"] if t["bytes"]],
                         ["app WAL growth", "reserve"])
        self.assertEqual(on_db["headroom_bytes"], on_db["available_bytes"] - GROWTH - RESERVE)
        on_meta = filesystem(report, meta_fs)
        self.assertEqual(term(on_meta, "projected staging"), snapshot)
        self.assertEqual(term(on_meta, "catch-up L0"), GROWTH)
        self.assertEqual(term(on_meta, "reserve"), 0)
        self.assertEqual(on_meta["headroom_bytes"], on_meta["available_bytes"] - snapshot - GROWTH)
        for f in (on_db, on_meta):
            assert_balances(self, f)
            self.assertEqual(f["verdict"], "ok")
        self.assertFalse(os.path.exists(meta), "preflight must not create the meta dir")

    def test_unknown_version_is_exit_3_never_ok(self):
        fs, db = self.db_on_tmpfs(16 * MiB, 3 * MiB)
        missing = os.path.join(self.root, "no-such-litestream")
        proc, report = preflight_json("--config", self.config(db), "--policy", self.policy,
                                      "--litestream-bin", missing)
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertEqual(report["verdict"], "unknown")
        self.assertEqual(report["unknowns"], [
            f"{db}: Litestream version unknown (`{missing} version` failed: {missing}: program not "
            "found (No such file or directory); no staging on disk): pass --litestream-version"])
        self.assertEqual(filesystem(report, fs)["verdict"], "unknown")

    def test_json_is_one_document_and_changes_nothing(self):
        fs, db = self.db_on_tmpfs(16 * MiB, 1 * MiB)
        before = ltxg.tree_hashes(ltxg.db_files(db))
        proc, report = preflight_json("--config", self.config(db), "--policy", self.policy,
                                      "--litestream-version", V05)
        self.assertEqual(proc.stderr, "")
        self.assertEqual(list(report), ["verdict", "exit_code", "databases", "filesystems",
                                        "advice", "unknowns"])
        self.assertEqual(report["exit_code"], proc.returncode)
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(db)), before)


class PreflightRootReserveTest(unittest.TestCase):
    def test_app_as_normal_user_loses_exactly_the_root_reserved_blocks(self):
        mnt = ltxg.ext4_loop(self, 64 * MiB)
        root = ltxg.temp_dir(self)
        policy = write(os.path.join(root, "policy.yml"),
                       f"reserve_bytes: {RESERVE}\nwal_growth_bytes: {GROWTH}\nwarn_at: 256KiB\n")
        reserved = ltxg.free_bytes(mnt) - ltxg.avail_bytes(mnt)
        self.assertGreater(reserved, 0, "ext4 image without a root reserve")
        # A database sized so that the staging fits only inside the root reserve: headroom
        # about −reserved/2 for a normal user and +reserved/2 for root (ratio ≤ 1.015).
        db_bytes = (ltxg.avail_bytes(mnt) - 2 * GROWTH - RESERVE + reserved // 2) * 1000 // 2015
        db = os.path.join(mnt, "app.db")
        ltxg.make_db(db, db_bytes)
        config = ltxg.write_litestream_config(os.path.join(root, "litestream.yml"), [
            {"path": db, "replicas": [{"type": "file", "path": os.path.join(root, "replica")}]}])
        os.sync()

        def run(user):
            st = os.statvfs(mnt)
            proc, report = preflight_json("--config", config, "--policy", policy,
                                          "--litestream-version", V05, "--app-user", user)
            st_after = os.statvfs(mnt)
            self.assertEqual((st.f_bfree, st.f_bavail), (st_after.f_bfree, st_after.f_bavail),
                             "the filesystem changed during the preflight")
            return proc, filesystem(report, mnt), st

        nobody, fs_nobody, st = run("nobody")
        as_root, fs_root, st_root = run("root")
        self.assertEqual((st.f_bfree, st.f_bavail), (st_root.f_bfree, st_root.f_bavail))
        free, avail = st.f_bfree * st.f_frsize, st.f_bavail * st.f_frsize
        self.assertEqual(fs_nobody["available_bytes"], avail)
        self.assertEqual(fs_root["available_bytes"], free)
        self.assertEqual(fs_nobody["headroom_bytes"] - fs_root["headroom_bytes"], -(free - avail))
        self.assertEqual(fs_nobody["terms"], fs_root["terms"])
        print(f"\n  ext4 64 MiB, db {os.path.getsize(db)} B: root reserve {free - avail} B; headroom "
              f"nobody {fs_nobody['headroom_bytes']} B (exit {nobody.returncode}), root "
              f"{fs_root['headroom_bytes']} B (exit {as_root.returncode})")
        self.assertEqual((nobody.returncode, fs_nobody["verdict"]), (2, "critical"), nobody.stdout)
        self.assertEqual((as_root.returncode, fs_root["verdict"]), (0, "ok"), as_root.stdout)
        note = [n for n in fs_nobody["notes"]
                if n.startswith("Litestream runs as root: it can also fill")]
        self.assertEqual(len(note), 1, fs_nobody["notes"])


class PreflightProjectionTest(unittest.TestCase):
    """The projection against LTX snapshots of real databases staged by the test-side
    writer (tests/support/ltx_writer, Litestream 0.5's frame and block encoders), both
    encodings: never below what is staged, at most 10 % above it for incompressible pages."""

    PAGE_SIZES = (1024, 4096, 16384, 65536)

    def setUp(self):
        self.tool = ltxg.double_bin("ltx_write_tool")
        ltxg.require_executable(self, self.tool, "ltx_write_tool (build target ltx_write_tool)")
        self.root = ltxg.temp_dir(self)
        self.policy = write(os.path.join(self.root, "policy.yml"), "")

    def staged(self, db):
        """Bytes of a full snapshot of `db` per encoding, checked against the file written."""
        out = {}
        for enc in ("frame", "block"):
            ltx = os.path.join(self.root, "staged", f"{os.path.basename(db)}.{enc}.ltx")
            os.makedirs(os.path.dirname(ltx), exist_ok=True)
            proc = subprocess.run([self.tool, "snapshot", db, ltx, enc], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            out[enc] = int(proc.stdout)
            self.assertEqual(out[enc], os.path.getsize(ltx))
            os.remove(ltx)
        return out

    def projected(self, db):
        """(snapshot_max_bytes, the projected staging term) from the preflight JSON."""
        _proc, report = preflight_json("--db", db, "--policy", self.policy, "--litestream-version", V05)
        d = report["databases"][0]
        staging = [t["bytes"] for f in report["filesystems"] for t in f["terms"]
                   if t["label"] == "projected staging"]
        self.assertEqual(len(staging), 1, report)
        self.assertEqual(d["db_bytes"], os.path.getsize(db))
        return d["snapshot_max_bytes"], staging[0]

    def measure(self, name, make):
        db = os.path.join(self.root, name)
        make(db)
        actual = self.staged(db)
        snapshot_max, staging = self.projected(db)
        self.assertEqual(snapshot_max, staging)
        worst = max(actual.values())
        return {"db": os.path.getsize(db), "frame": actual["frame"], "block": actual["block"],
                "projected": staging, "ratio": staging / worst}

    def print_table(self, title, rows):
        print(f"\n  {title}\n  {'page':>6} {'db bytes':>10} {'frame':>10} {'block':>10} "
              f"{'projected':>10} {'proj/max':>8}")
        for ps, r in rows:
            print(f"  {ps:>6} {r['db']:>10} {r['frame']:>10} {r['block']:>10} {r['projected']:>10} "
                  f"{r['ratio']:>8.4f}")

    def test_projection_bounds_incompressible_snapshots_within_10_percent(self):
        rows = []
        for ps in self.PAGE_SIZES:
            r = self.measure(f"full{ps}.db", lambda p: make_full_page_db(p, 8 * MiB, ps))
            rows.append((ps, r))
        self.print_table("random pages filled to the brim (incompressible: the worst case)", rows)
        for ps, r in rows:
            with self.subTest(page_size=ps):
                self.assertGreaterEqual(r["projected"], r["frame"])
                self.assertGreaterEqual(r["projected"], r["block"])
                self.assertLessEqual(r["projected"], 1.10 * max(r["frame"], r["block"]))

    def test_projection_is_never_below_harness_databases(self):
        # ltxg.make_db stores 64 KiB random rows: at 64 KiB pages every row spills to an
        # overflow page and leaves most of its leaf page zero, so LZ4 stages ~14 % less than
        # the database; the bound still holds, the 10 % closeness is not expected there.
        rows = []
        for ps in self.PAGE_SIZES:
            rows.append((ps, self.measure(f"harness{ps}.db",
                                          lambda p: ltxg.make_db(p, 8 * MiB, page_size=ps))))
        zeros = self.measure("zeros4096.db", lambda p: ltxg.make_db(p, 8 * MiB, random=False))
        self.print_table("ltxg.make_db (64 KiB random rows)", rows)
        self.print_table("ltxg.make_db(random=False): compressible; the projection is a "
                         "worst-case bound", [(4096, zeros)])
        for ps, r in rows + [(4096, zeros)]:
            with self.subTest(page_size=ps):
                self.assertGreaterEqual(r["projected"], max(r["frame"], r["block"]))
        self.assertGreater(zeros["ratio"], 10, "a zero-filled database should stage far less")


class PreflightLitestream03Test(unittest.TestCase):
    def test_stuck_replica_backlog_and_shadow_wal_projection(self):
        """Real Litestream 0.3.13 with its file replica on a full 3 MiB tmpfs: the shadow WAL
        piles up in the meta dir. The preflight sees the backlog (already on disk, inside
        `available`) and projects the 0.3 staging as twice the WAL high-water mark."""
        scn = ltxg.scenario_03_stuck_replica(self)
        ltxg.wait_until(lambda: ltxg.free_bytes(scn.replica_fs) == 0, 20, message="replica tmpfs full")
        ltxg.wait_until(lambda: ltxg.dir_bytes(scn.meta_dir) > 2 * MiB, 20,
                        message="shadow WAL beyond the replica")
        policy = write(os.path.join(scn.root, "policy.yml"),
                       f"reserve_bytes: {RESERVE}\nwal_growth_bytes: 1MiB\nwarn_at: 1MiB\n")
        proc, report = preflight_json("--config", scn.config, "--policy", policy,
                                      "--litestream-version", V03)
        self.assertIn(proc.returncode, (0, 1, 2), proc.stdout + proc.stderr)
        d = report["databases"][0]
        self.assertEqual(d["model"], "0.3")
        self.assertGreater(d["staged_bytes"], 2 * MiB)
        self.assertGreater(d["replica_backlog_bytes"], 0)
        self.assertLessEqual(d["replica_backlog_bytes"], d["staged_bytes"])
        f = filesystem(report, scn.db_fs)
        hwm = max(d["wal_bytes"], 1 * MiB)
        self.assertEqual(term(f, "projected staging"), 2 * hwm)
        self.assertEqual(term(f, "app WAL growth"), hwm - d["wal_bytes"])
        assert_balances(self, f)
        backlog_note = [n for n in f["notes"] if "staged but not yet uploaded" in n]
        self.assertEqual(backlog_note, [f"app.db: {human_exact(d['replica_backlog_bytes'])} staged but "
                                        "not yet uploaded (on disk now, inside 'available')"])
        print(f"\n  0.3.13 stuck replica: staged {d['staged_bytes']} B, backlog "
              f"{d['replica_backlog_bytes']} B, WAL {d['wal_bytes']} B, headroom "
              f"{f['headroom_bytes']} B, verdict {report['verdict']}")


def human_exact(n):
    """ltxguard's human_bytes(n) + " (n bytes)", for sizes under 1 GiB."""
    for unit, size in (("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.1f} {unit} ({n} bytes)"
    return f"{n} B ({n} bytes)"


class PreflightBadInputTest(unittest.TestCase):
    """Each malformed input stops before any verdict with one line on stderr and nothing on
    stdout, --json or not."""

    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 256 * KiB)
        self.config = ltxg.write_litestream_config(os.path.join(self.root, "litestream.yml"), [
            {"path": self.db, "replicas": [{"type": "file", "path": os.path.join(self.root, "r")}]}])

    def assert_error(self, args, code, line):
        for extra in ((), ("--json",)):
            proc = preflight(*args, *extra)
            self.assertEqual((proc.returncode, proc.stderr, proc.stdout), (code, line + "\n", ""))

    def assert_policy_error(self, text, message):
        policy = write(os.path.join(self.root, "policy.yml"), text)
        self.assert_error(("--config", self.config, "--policy", policy, "--litestream-version", V05),
                          65, f"ltxguard: {policy}:{message}")

    def test_unknown_key(self):
        self.assert_policy_error("warn_at: 5%\nreserve_byte: 1GiB\n", "2: unknown key 'reserve_byte'")

    def test_not_a_size(self):
        self.assert_policy_error("max_staging_bytes: lots\n",
                                 "1: max_staging_bytes: expected a size like 2GiB, got 'lots'")

    def test_negative_and_exponent_sizes(self):
        self.assert_policy_error("reserve_bytes: -5\n",
                                 "1: reserve_bytes: expected a size like 2GiB, got '-5'")
        self.assert_policy_error("min_free_bytes: 1e9\n",
                                 "1: min_free_bytes: expected a size like 2GiB, got '1e9'")

    def test_duplicate_key(self):
        self.assert_policy_error("warn_at: 1GiB\nwarn_at: 2GiB\n",
                                 "2: duplicate key 'warn_at' (first on line 1)")

    def test_reserve_bytes_with_reserve_percent(self):
        self.assert_policy_error("reserve_bytes: 1MiB\nreserve_percent: 5\n",
                                 "2: reserve_percent: cannot be combined with reserve_bytes (line 1): "
                                 "reserve_bytes replaces the computed reserve")

    def test_critical_above_warn(self):
        self.assert_policy_error("warn_at: 1MiB\ncritical_at: 2MiB\n",
                                 "2: critical_at: 2.0 MiB is above warn_at 1.0 MiB (line 1): "
                                 "critical must be the lower headroom")

    def test_ratio_out_of_range(self):
        self.assert_policy_error("staging_overhead_ratio: 0.9\n",
                                 "1: staging_overhead_ratio: must be between 1.0 and 16, got 0.9")

    def test_invalid_yaml(self):
        self.assert_policy_error("warn_at: 1MiB\nreserve_bytes: [\n",
                                 "3: invalid YAML: end of sequence flow not found")

    def test_values_that_cannot_hold_on_the_measured_filesystem(self):
        ltxg.require_root(self)
        fs = ltxg.tmpfs(self, 8 * MiB)
        db = os.path.join(fs, "app.db")
        ltxg.make_db(db, 256 * KiB)
        config = ltxg.write_litestream_config(os.path.join(self.root, "small.yml"), [
            {"path": db, "replicas": [{"type": "file", "path": os.path.join(fs, "r")}]}])
        for text, message in [
            ("reserve_bytes: 30GiB\n", f"1: reserve_bytes: 30.0 GiB (32212254720 bytes) is larger "
                                       f"than the filesystem {fs} (8.0 MiB)"),
            ("warn_at: 1MiB\ncritical_at: 50%\n", f"2: critical_at: 4.0 MiB (4194304 bytes) is above "
                                                  f"warn_at 1.0 MiB (1048576 bytes) on {fs}: critical "
                                                  "must be the lower headroom"),
        ]:
            with self.subTest(policy=text):
                policy = write(os.path.join(self.root, "policy.yml"), text)
                self.assert_error(("--config", config, "--policy", policy, "--litestream-version", V05),
                                  65, f"ltxguard: {policy}:{message}")

    def test_malformed_litestream_configs(self):
        for text, message in [
            ("dbs: [\n", "2: end of sequence flow not found"),
            ("dbs: 5\n", "1: dbs: expected a list of databases, found a scalar"),
            (f"dbs:\n  - path: {self.db}\n    replicas: 5\n",
             "3: dbs[0].replicas: expected a list, found a scalar"),
            (f"dbs:\n  - path: {self.db}\n    replicas:\n      - type: file\n        path: [a]\n",
             "5: dbs[0].replicas[0].path: expected a string, found a list"),
        ]:
            with self.subTest(config=text):
                config = write(os.path.join(self.root, "bad.yml"), text)
                self.assert_error(("--config", config, "--litestream-version", V05), 65,
                                  f"ltxguard: {config}:{message}")

    def test_missing_inputs_are_66(self):
        gone = os.path.join(self.root, "gone")
        self.assert_error(("--config", gone + ".yml", "--litestream-version", V05), 66,
                          f"ltxguard: {gone}.yml: cannot read file: not found")
        self.assert_error(("--db", self.db, "--policy", gone + ".yml", "--litestream-version", V05), 66,
                          f"ltxguard: {gone}.yml: cannot read file: not found")
        self.assert_error(("--db", gone + ".db", "--litestream-version", V05), 66,
                          f"ltxguard: {gone}.db: database not found")

    def test_bad_command_lines_are_64(self):
        self.assert_error(("--db", self.db, "--app-user", "no-such-user-ltxg",
                           "--litestream-version", V05), 64,
                          "ltxguard: --app-user: no such user 'no-such-user-ltxg'")
        empty = write(os.path.join(self.root, "empty.yml"), "dbs: []\n")
        self.assert_error(("--config", empty, "--litestream-version", V05), 64,
                          "ltxguard: no database: pass --db or a Litestream config that lists one")
        proc = preflight("--db", self.db, "--bogus")
        self.assertEqual(proc.returncode, 64)
        self.assertIn("--bogus", proc.stderr)


class PreflightSystemdTest(unittest.TestCase):
    """deploy/systemd/litestream.service.d/ltxguard-preflight.conf on Litestream's shipped
    unit: systemd-analyze accepts it, and its command starts on 0/1/3 and refuses on 2/65."""

    SHIPPED_UNIT = ("[Unit]\nDescription=Litestream\n\n[Service]\nRestart=always\n"
                    "ExecStart=/usr/bin/litestream replicate\n\n[Install]\nWantedBy=multi-user.target\n")

    def drop_in(self):
        with open(DROP_IN) as f:
            return f.read()

    def run_condition(self, config, policy, litestream_bin):
        """Runs the drop-in's ExecCondition= command as systemd would (`$$` is a literal `$`
        in unit files), with this build's ltxguard, the given config and Litestream binary,
        and --policy added (the unit relies on /etc/ltxguard/policy.yml)."""
        lines = [l for l in self.drop_in().splitlines() if l.startswith("ExecCondition=")]
        self.assertEqual(len(lines), 1)
        m = re.fullmatch(r"ExecCondition=/bin/sh -c '(.*)'", lines[0])
        self.assertIsNotNone(m, lines[0])
        script = m.group(1).replace("$$", "$")
        for shipped, here in [
                ("/usr/bin/ltxguard preflight ",
                 f"{ltxg.ltxguard_bin()} preflight --policy {policy} "),
                ("/etc/litestream.yml", config), ("/usr/bin/litestream", litestream_bin)]:
            self.assertIn(shipped, script)
            script = script.replace(shipped, here)
        return subprocess.run(["/bin/sh", "-c", script], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    def test_systemd_analyze_verify_accepts_the_drop_in(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze not installed")
        text = self.drop_in()
        settings = [l for l in text.splitlines() if l and not l.startswith("#")]
        self.assertEqual(settings[0], "[Service]")
        self.assertEqual([l.split("=", 1)[0] for l in settings[1:]], ["ExecCondition"])
        root = ltxg.temp_dir(self)
        # verify checks that every command exists: point them at this build.
        unit = self.SHIPPED_UNIT.replace("/usr/bin/litestream", ltxg.ltxguard_bin())
        write(os.path.join(root, "litestream.service"), unit)
        write(os.path.join(root, "litestream.service.d", "ltxguard-preflight.conf"),
              text.replace("/usr/bin/ltxguard", ltxg.ltxguard_bin()))
        proc = subprocess.run([analyze, "verify", os.path.join(root, "litestream.service")],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertEqual((proc.returncode, proc.stderr), (0, ""), proc.stdout)
        # The check is real: a typo in the drop-in is reported.
        write(os.path.join(root, "litestream.service.d", "ltxguard-preflight.conf"),
              text.replace("ExecCondition=", "ExecConditon="))
        proc = subprocess.run([analyze, "verify", os.path.join(root, "litestream.service")],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertIn("Unknown key 'ExecConditon'", proc.stderr)

    def test_condition_starts_on_ok_warning_unknown_and_refuses_critical_and_bad_policy(self):
        ltxg.require_root(self)
        root = ltxg.temp_dir(self)
        # A stand-in answering `version` like a 0.5.16 release build (it is not Litestream).
        v05 = write(os.path.join(root, "bin", "litestream"), f"#!/bin/sh\necho {V05}\n")
        os.chmod(v05, 0o755)
        gone = os.path.join(root, "bin", "gone")  # version unknown: preflight exits 3
        replica_fs = ltxg.tmpfs(self, 64 * MiB)
        policy = write(os.path.join(root, "policy.yml"), SMALL_POLICY)
        bad_policy = write(os.path.join(root, "bad-policy.yml"), "reserve_byte: 1GiB\n")
        configs = {}
        for name, fs_bytes, db_bytes in [("fits", 16 * MiB, 3 * MiB), ("thin", 8 * MiB, 3 * MiB),
                                         ("too big", 8 * MiB, 5 * MiB)]:
            fs = ltxg.tmpfs(self, fs_bytes)
            db = os.path.join(fs, "app.db")
            ltxg.make_db(db, db_bytes)
            n = len(configs)
            configs[name] = ltxg.write_litestream_config(os.path.join(root, f"{n}.yml"), [
                {"path": db, "replicas": [{"type": "file", "path": os.path.join(replica_fs, str(n))}]}])
        for config, pol, binary, want_exit, want_out in [
            (configs["fits"], policy, v05, 0, "\nverdict: ok (exit 0)\n"),
            (configs["thin"], policy, v05, 0, "\nverdict: warning (exit 1)\n"),
            (configs["fits"], policy, gone, 0, "\nverdict: unknown (exit 3)\n"),
            (configs["too big"], policy, v05, 2, "\nverdict: critical (exit 2)\n"),
            (configs["fits"], bad_policy, v05, 65, ""),
        ]:
            with self.subTest(config=config, policy=pol, litestream=binary):
                proc = self.run_condition(config, pol, binary)
                self.assertEqual(proc.returncode, want_exit, proc.stdout + proc.stderr)
                self.assertIn(want_out, proc.stdout)
                if want_exit == 65:
                    self.assertEqual(proc.stderr,
                                     f"ltxguard: {bad_policy}:1: unknown key 'reserve_byte'\n")


if __name__ == "__main__":
    unittest.main()
