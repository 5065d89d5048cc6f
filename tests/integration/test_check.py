"""`ltxguard check` on real files: a bad setup (Litestream's shipped unit, metrics on all
interfaces, auto-recover, a secret in clear) fails with the expected lines, a good one (meta
dir on its own tmpfs, limited restarts, watchdog under a supervisor) passes, malformed inputs
stop with their one-line error, and --json names every rule.

`litestream version` is answered by a two-line shell script printing a version string: it
exercises ltxguard's version parsing and rules, it is not Litestream."""

import json
import os
import unittest

import ltxg
from ltxg import KiB, MiB

RULE_IDS = ["litestream-version", "unit-user", "unit-restart", "unit-watchdog", "metrics-addr",
            "metrics-loopback", "meta-dir-placement", "replica-same-filesystem", "db-path-symlink", "auto-recover",
            "policy-reserve", "replica-credentials", "legacy-config-keys", "l0-retention", "config-issues"]

CANARY_SECRET = "CanarySecretValue123"

# Litestream's own etc/litestream.service (v0.3.13 and v0.5.16 ship the same file).
SHIPPED_UNIT = """[Unit]
Description=Litestream

[Service]
Restart=always
ExecStart=/usr/bin/litestream replicate

[Install]
WantedBy=multi-user.target
"""

GOOD_UNIT = """[Unit]
Description=Litestream under ltxguard
StartLimitIntervalSec=10min
StartLimitBurst=5

[Service]
Type=notify
User=litestream
Restart=always
WatchdogSec=30s
ExecStart=/usr/bin/ltxguard run -- /usr/bin/litestream replicate
"""


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def version_script(root, version):
    """A stand-in that answers `version` like a Litestream release build (not Litestream)."""
    return write(os.path.join(root, "bin", "litestream"), f"#!/bin/sh\necho {version}\n", 0o755)


def check(*args):
    return ltxg.run_ltxguard("check", *args, timeout=60)


def finding_lines(stdout):
    """{id: line} for the tab-indented finding lines."""
    out = {}
    for line in stdout.splitlines():
        if line.startswith("\t"):
            rule, _, _ = line[1:].partition(": ")
            out[rule] = line
    return out


class CheckBadSetupTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.db = os.path.join(self.root, "app.db")
        ltxg.make_db(self.db, 256 * KiB)
        self.config = write(os.path.join(self.root, "litestream.yml"), (
            'addr: ":9090"\n'
            "dbs:\n"
            f"  - path: {self.db}\n"
            "    replica:\n"
            "      type: s3\n"
            "      bucket: ltxg-test-bucket\n"
            "      path: app\n"
            "      access-key-id: AKIAIOSFODNN7EXAMPLE\n"
            f"      secret-access-key: {CANARY_SECRET}\n"
            "      auto-recover: true\n"))
        self.unit = write(os.path.join(self.root, "litestream.service"), SHIPPED_UNIT)
        self.policy = write(os.path.join(self.root, "policy.yml"), "")
        self.bin = version_script(self.root, "0.5.12")
        self.args = ["--config", self.config, "--unit", self.unit, "--policy", self.policy,
                     "--litestream-bin", self.bin]

    def test_fails_with_the_expected_lines(self):
        proc = check(*self.args)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertEqual(proc.stderr, "")
        self.assertEqual(proc.stdout.splitlines()[0],
                         f"Litestream setup (config {self.config}, unit {self.unit}, "
                         f"policy {self.policy}):")
        lines = finding_lines(proc.stdout)
        self.assertEqual(list(lines), RULE_IDS)
        self.assertTrue(lines["metrics-loopback"].startswith(
            "\tmetrics-loopback: FAILED (addr :9090 is not a loopback address: /metrics and "
            "/debug/pprof are reachable from the network; hint: bind it to 127.0.0.1:<port>"),
            lines["metrics-loopback"])
        self.assertTrue(lines["auto-recover"].startswith(
            f"\tauto-recover: FAILED ({self.config}: dbs[0].replica.auto-recover (line 10) enabled: "
            "on a missing or corrupt LTX file Litestream resets its local state and stages a new "
            "full snapshot (~1x the database) next to the app, with only a warning in the log; "
            "hint: set auto-recover: false"), lines["auto-recover"])
        self.assertTrue(lines["litestream-version"].startswith(
            "\tlitestream-version: WARNING (Litestream 0.5.12 is older than 0.5.15: "),
            lines["litestream-version"])
        self.assertTrue(lines["unit-user"].startswith(
            f"\tunit-user: WARNING ({self.unit}: no User= in [Service], so Litestream runs as root; "),
            lines["unit-user"])
        self.assertTrue(lines["unit-restart"].startswith(
            f"\tunit-restart: WARNING ({self.unit}:5: Restart=always without StartLimitIntervalSec= "
            "or StartLimitBurst="), lines["unit-restart"])
        self.assertTrue(lines["unit-watchdog"].startswith(
            f"\tunit-watchdog: WARNING ({self.unit}: no WatchdogSec=:"), lines["unit-watchdog"])
        meta = os.path.join(self.root, ".app.db-litestream")
        self.assertTrue(lines["meta-dir-placement"].startswith(
            f"\tmeta-dir-placement: WARNING ({self.db}: meta dir {meta} is on the database's "
            "filesystem"), lines["meta-dir-placement"])
        self.assertTrue(lines["replica-credentials"].startswith(
            f"\treplica-credentials: WARNING ({self.config} holds a replica credential in clear; "),
            lines["replica-credentials"])
        for ok in ["metrics-addr", "policy-reserve", "legacy-config-keys", "l0-retention",
                   "config-issues", "db-path-symlink"]:
            self.assertEqual(lines[ok], f"\t{ok}: OK")
        self.assertNotIn(CANARY_SECRET, proc.stdout)

    def test_json_names_every_rule(self):
        proc = check("--json", *self.args)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual(doc["status"], "failed")
        self.assertEqual([f["id"] for f in doc["findings"]], RULE_IDS)
        by_id = {f["id"]: f for f in doc["findings"]}
        self.assertEqual(by_id["metrics-loopback"]["status"], "failed")
        self.assertEqual(by_id["unit-user"]["status"], "warning")
        self.assertEqual(by_id["metrics-addr"]["status"], "ok")
        self.assertEqual(doc["inputs"]["litestream_version"], "0.5.12")
        for f in doc["findings"]:
            self.assertEqual(set(f), {"id", "status", "message", "hint"})
        self.assertNotIn(CANARY_SECRET, proc.stdout)

    def test_symlinked_database_path_fails_with_the_real_path(self):
        # Litestream 0.3.13 measured: it opens <link>-wal, SQLite writes <target>-wal, so
        # replication never starts.
        link = os.path.join(self.root, "link.db")
        os.symlink("app.db", link)
        with open(self.config) as f:
            text = f.read().replace(f"path: {self.db}\n", f"path: {link}\n")
        write(self.config, text)
        doc = json.loads(check("--json", *self.args).stdout)
        f = {x["id"]: x for x in doc["findings"]}["db-path-symlink"]
        self.assertEqual(f["status"], "failed")
        self.assertEqual(f["message"], f"{link}: a symlink to {self.db}: SQLite writes {self.db}-wal, "
                                       f"Litestream looks for {link}-wal and cannot replicate")
        self.assertEqual(f["hint"], f"set path: {self.db} (the file the link resolves to) in the Litestream config")

    def test_drop_in_fixes_the_user(self):
        write(self.unit + ".d/10-user.conf", "[Service]\nUser=litestream\n")
        lines = finding_lines(check(*self.args).stdout)
        self.assertEqual(lines["unit-user"], "\tunit-user: OK")


class CheckGoodSetupTest(unittest.TestCase):
    def test_passes_with_meta_dir_on_its_own_filesystem(self):
        # The meta dir and the file replica both off the database's filesystem.
        meta_fs = ltxg.tmpfs(self, 8 * MiB)  # needs root; skips otherwise
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 256 * KiB)
        config = write(os.path.join(root, "litestream.yml"), (
            "addr: 127.0.0.1:9090\n"
            "dbs:\n"
            f"  - path: {db}\n"
            f"    meta-path: {meta_fs}/app-meta\n"
            "    replica:\n"
            "      type: file\n"
            f"      path: {meta_fs}/replica\n"))
        unit = write(os.path.join(root, "litestream.service"), GOOD_UNIT)
        policy = write(os.path.join(root, "policy.yml"), "")
        proc = check("--config", config, "--unit", unit, "--policy", policy,
                     "--litestream-bin", version_script(root, "0.5.16"))
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(finding_lines(proc.stdout), {i: f"\t{i}: OK" for i in RULE_IDS})


class CheckPlacementTest(unittest.TestCase):
    def test_file_replica_on_the_database_filesystem_warns_with_0_3_hints(self):
        # Field test: preflight charged a second full copy to the database's disk for this
        # replica, check said nothing; its meta-dir hint described 0.5 staging for a 0.3.13.
        root = ltxg.temp_dir(self)
        db = os.path.join(root, "app.db")
        ltxg.make_db(db, 256 * KiB)
        replica = os.path.join(root, "backup", "app")  # neither directory exists yet
        config = write(os.path.join(root, "litestream.yml"), (
            "addr: 127.0.0.1:9090\n"
            "dbs:\n"
            f"  - path: {db}\n"
            "    replicas:\n"
            "      - type: file\n"
            f"        path: {replica}\n"))
        unit = write(os.path.join(root, "litestream.service"), GOOD_UNIT)
        policy = write(os.path.join(root, "policy.yml"), "")
        proc, doc = ltxg.run_json("check", "--json", "--config", config, "--unit", unit, "--policy", policy,
                                  "--litestream-bin", version_script(root, "0.3.13"))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        by_id = {f["id"]: f for f in doc["findings"]}
        self.assertEqual(by_id["replica-same-filesystem"], {
            "id": "replica-same-filesystem", "status": "warning",
            "message": f"{db}: file replica {replica} is on the database's filesystem: it needs a second full "
                       "copy of the database on the disk the app needs",
            "hint": "put the file replica on another disk, or replicate off the host (s3, sftp, ...): ltxguard "
                    "preflight charges its full copy against this filesystem, and when the replica fills it the "
                    "app gets ENOSPC too"})
        meta = by_id["meta-dir-placement"]
        self.assertEqual(meta["status"], "warning")
        self.assertIn("Litestream 0.3.13 keeps its shadow WAL there, which grows at the app's WAL rate without "
                      "bound while a replica does not advance", meta["hint"])
        self.assertNotIn(".ltx.tmp", meta["hint"])
        self.assertNotIn("snapshot", meta["hint"])


class CheckBadInputTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.policy = write(os.path.join(self.root, "policy.yml"), "")
        self.unit = write(os.path.join(self.root, "litestream.service"), SHIPPED_UNIT)
        self.config = write(os.path.join(self.root, "litestream.yml"),
                            f"dbs:\n  - path: {self.root}/app.db\n")
        self.bin = version_script(self.root, "0.5.16")

    def run_check(self, config=None, unit=None, policy=None):
        return check("--config", config or self.config, "--unit", unit or self.unit,
                     "--policy", policy or self.policy, "--litestream-bin", self.bin)

    def test_malformed_config_exits_65_with_its_line(self):
        bad = write(os.path.join(self.root, "bad.yml"), "dbs:\n  - /srv/app.db\n")
        proc = self.run_check(config=bad)
        self.assertEqual(proc.returncode, 65)
        self.assertEqual(proc.stdout, "")
        self.assertEqual(proc.stderr,
                         f"ltxguard: {bad}:2: dbs[0]: expected a mapping, found a scalar\n")

    def test_missing_config_exits_66(self):
        missing = os.path.join(self.root, "none.yml")
        proc = self.run_check(config=missing)
        self.assertEqual(proc.returncode, 66)
        self.assertEqual(proc.stderr, f"ltxguard: {missing}: cannot read file: not found\n")

    def test_malformed_unit_exits_65_with_its_line(self):
        bad = write(os.path.join(self.root, "bad.service"), "[Service]\nUser=app\ngarbage\n")
        proc = self.run_check(unit=bad)
        self.assertEqual(proc.returncode, 65)
        self.assertEqual(proc.stderr, f"ltxguard: {bad}:3: expected Key=Value, got 'garbage'\n")

    def test_malformed_drop_in_exits_65_with_its_line(self):
        drop_in = write(self.unit + ".d/override.conf", "User=root\n")
        proc = self.run_check()
        self.assertEqual(proc.returncode, 65)
        self.assertEqual(proc.stderr, f"ltxguard: {drop_in}:1: assignment outside of a section\n")

    def test_malformed_policy_exits_65_with_its_line(self):
        bad = write(os.path.join(self.root, "bad-policy.yml"), "reserve_bytes: 1GiB\nreserve_byte: 2\n")
        proc = self.run_check(policy=bad)
        self.assertEqual(proc.returncode, 65)
        self.assertEqual(proc.stderr, f"ltxguard: {bad}:2: unknown key 'reserve_byte'\n")

    def test_policy_that_cannot_protect_fails(self):
        small = write(os.path.join(self.root, "small.yml"), "reserve_bytes: 1MiB\n")
        proc = self.run_check(policy=small)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        line = finding_lines(proc.stdout)["policy-reserve"]
        self.assertTrue(line.startswith(
            f"\tpolicy-reserve: FAILED ({self.root}/app.db: {small}:1: reserve_bytes 1.0 MiB is "
            "smaller than the app's WAL headroom "), line)

    def test_unknown_version_is_reported_not_guessed(self):
        proc = check("--config", self.config, "--unit", self.unit, "--policy", self.policy,
                     "--litestream-bin", os.path.join(self.root, "no-such-litestream"))
        line = finding_lines(proc.stdout)["litestream-version"]
        self.assertTrue(line.startswith("\tlitestream-version: UNKNOWN (Litestream version unknown: "),
                        line)
        self.assertEqual(proc.returncode, 3, proc.stdout)  # unknown outranks the unit's warnings


if __name__ == "__main__":
    unittest.main()
