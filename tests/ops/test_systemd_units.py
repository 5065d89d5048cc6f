"""deploy/systemd: `systemd-analyze verify` passes on every unit and on the drop-in (attached to
Litestream's shipped litestream.service) without a single warning, and fails on deliberately
broken copies; the units say what the issue asks for (notify + watchdog, hardening, the `run`
exit codes systemd must not restart), and `ltxguard check` accepts the supervised unit.

verify needs every ExecStart= binary to exist: the copies name the built ltxguard and the
Litestream binary of the test setup (or /bin/true) instead of /usr/bin/..."""

import json
import os
import re
import shutil
import unittest

import opslib

SYSTEMD = opslib.src("deploy", "systemd")
UNITS = ["ltxguard-watch.service", "litestream-guarded.service"]
DROPIN = os.path.join("litestream.service.d", "ltxguard-preflight.conf")


def parse_unit(text):
    """{(section, key): [values]} of a unit file (comments and blank lines skipped)."""
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def seconds(span):
    m = re.fullmatch(r"(\d+)(s|min)?", span)
    return int(m.group(1)) * (60 if m.group(2) == "min" else 1)


class VerifyTest(unittest.TestCase):
    def setUp(self):
        self.analyze = opslib.require_tool(self, "systemd-analyze")
        self.root = opslib.temp_dir(self)
        litestream = os.environ.get("LITESTREAM_BIN", "")
        self.litestream = litestream if os.access(litestream, os.X_OK) else shutil.which("true")
        os.makedirs(os.path.join(self.root, "litestream.service.d"))
        for name in UNITS + [DROPIN]:
            self.install(name, opslib.read(os.path.join(SYSTEMD, name)))
        self.install("litestream.service", opslib.read(opslib.src("tests", "ops", "testdata",
                                                                  "litestream.service")))

    def install(self, name, text):
        text = text.replace("/usr/bin/ltxguard", opslib.ltxguard_bin())
        text = text.replace("/usr/bin/litestream", self.litestream)
        with open(os.path.join(self.root, name), "w") as f:
            f.write(text)

    def verify(self, *units):
        env = dict(os.environ, SYSTEMD_UNIT_PATH=self.root + ":", SYSTEMD_LOG_COLOR="0")
        return opslib.run([self.analyze, "verify", "--man=no", *units], env=env, cwd=self.root)

    def assert_clean(self, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "systemd-analyze warned")

    def test_units_verify_without_warnings(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                self.assert_clean(self.verify(unit))

    def test_dropin_verifies_on_litestreams_unit(self):
        self.assert_clean(self.verify("litestream.service"))

    def test_misspelt_key_is_caught(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                text = opslib.read(os.path.join(SYSTEMD, unit))
                self.install(unit, text.replace("ProtectSystem=", "ProtectSytem="))
                r = self.verify(unit)
                self.assertIn("Unknown key", r.stdout + r.stderr)

    def test_missing_binary_is_caught(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                text = opslib.read(os.path.join(SYSTEMD, unit))
                self.install(unit, text.replace("/usr/bin/ltxguard", "/nonexistent/ltxguard"))
                r = self.verify(unit)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("/nonexistent/ltxguard", r.stdout + r.stderr)

    def test_broken_dropin_is_caught(self):
        text = opslib.read(os.path.join(SYSTEMD, DROPIN))
        self.install(DROPIN, text.replace("ExecCondition=", "ExecConditon="))
        r = self.verify("litestream.service")
        self.assertIn("ltxguard-preflight.conf", r.stdout + r.stderr)


class UnitContentTest(unittest.TestCase):
    def unit(self, name):
        return parse_unit(opslib.read(os.path.join(SYSTEMD, name)))

    def test_watch_is_notify_with_watchdog_and_hardened(self):
        u = self.unit("ltxguard-watch.service")
        self.assertEqual(u[("Service", "Type")], ["notify"])
        self.assertGreater(seconds(u[("Service", "WatchdogSec")][0]), 0)
        self.assertEqual(u[("Service", "ProtectSystem")], ["strict"])
        self.assertEqual(u[("Service", "ReadWritePaths")], ["/var/lib/ltxguard"])
        self.assertEqual(u[("Service", "NoNewPrivileges")], ["yes"])
        self.assertEqual(set(" ".join(u[("Service", "CapabilityBoundingSet")]).split()),
                         {"CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"})
        self.assertIn("watch", u[("Service", "ExecStart")][0].split())

    def test_guarded_unit_runs_litestream_under_the_supervisor(self):
        u = self.unit("litestream-guarded.service")
        self.assertEqual(
            u[("Service", "ExecStart")],
            ["/usr/bin/ltxguard run --state-dir /var/lib/ltxguard --listen 127.0.0.1:9097 -- "
             "/usr/bin/litestream replicate -config /etc/litestream.yml"])
        self.assertEqual(u[("Service", "Restart")], ["on-failure"])
        self.assertLessEqual({"10", "11", "12"},
                             set(u[("Service", "RestartPreventExitStatus")][0].split()))
        self.assertEqual(u[("Service", "KillMode")], ["mixed"])
        # Above the supervisor's 10 s SIGTERM grace, with room for the evidence bundle.
        self.assertGreater(seconds(u[("Service", "TimeoutStopSec")][0]), 10)
        self.assertEqual(u[("Service", "StateDirectory")], ["ltxguard"])
        self.assertIn("litestream.service", u[("Unit", "Conflicts")][0].split())
        text = opslib.read(os.path.join(SYSTEMD, "litestream-guarded.service"))
        for code in ("10", "11", "12", "64-73"):  # each exit code of `run` is explained
            self.assertRegex(text, rf"\n#\s+{code}\s+\w")
        self.assertIn("128+N when it was killed by signal N", text)

    def test_dropin_keeps_exec_condition(self):
        u = self.unit(DROPIN)
        self.assertIn("ltxguard preflight", u[("Service", "ExecCondition")][0])
        self.assertNotIn(("Service", "ExecStartPre"), u)

    def test_ltxguard_check_accepts_the_guarded_unit(self):
        r = opslib.run([opslib.ltxguard_bin(), "check", "--json", "--unit",
                        os.path.join(SYSTEMD, "litestream-guarded.service")],
                       env={k: v for k, v in os.environ.items() if k != "LITESTREAM_CONFIG"})
        self.assertLess(r.returncode, 64, r.stderr)
        findings = {f["id"]: f for f in json.loads(r.stdout)["findings"]}
        for rule in ("unit-restart", "unit-watchdog"):
            self.assertEqual(findings[rule]["status"], "ok", findings[rule])


if __name__ == "__main__":
    unittest.main(verbosity=2)
