"""deploy/alertmanager/ltxguard.example.yml: amtool accepts it, every alert of the rules file
reaches the receiver its severity calls for, and the inhibit rules name alerts that exist."""

import re
import unittest

import opslib

CONFIG = opslib.src("deploy", "alertmanager", "ltxguard.example.yml")
RULES = opslib.src("deploy", "prometheus", "ltxguard.rules.yml")
RECEIVER = {"critical": "ltxguard-pager", "warning": "ltxguard-chat"}


class AlertmanagerExampleTest(unittest.TestCase):
    def setUp(self):
        self.amtool = opslib.require_tool(self, "amtool")

    def route(self, receiver, *labels):
        return opslib.run([self.amtool, "config", "routes", "test", f"--config.file={CONFIG}",
                           f"--verify.receivers={receiver}", *labels])

    def test_amtool_accepts_the_config(self):
        r = opslib.run([self.amtool, "check-config", CONFIG])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)
        self.assertIn("2 inhibit rules", r.stdout)

    def test_every_alert_reaches_the_receiver_of_its_severity(self):
        blocks = opslib.rule_blocks(opslib.read(RULES))
        self.assertGreaterEqual(len(blocks), 12)
        for name, block in blocks:
            severity = opslib.yaml_scalar(block, "severity")
            with self.subTest(alert=name, severity=severity):
                r = self.route(RECEIVER[severity], f"alertname={name}", f"severity={severity}")
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_other_alerts_stay_on_the_default_receiver(self):
        r = self.route("default", "alertname=NodeFilesystemSpaceFillingUp", "severity=critical")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_wrong_receiver_is_reported(self):
        r = self.route("ltxguard-chat", "alertname=LtxguardStagingWillNotFit", "severity=critical")
        self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_inhibit_rules_name_existing_alerts(self):
        alerts = {name for name, _ in opslib.rule_blocks(opslib.read(RULES))}
        text = opslib.read(CONFIG)
        inhibit = text[text.index("inhibit_rules:"):text.index("receivers:")]
        named = set()
        for m in re.finditer(r'alertname\s*=~?\s*\\?"([^"\\]+)\\?"', inhibit):
            named.update(m.group(1).split("|"))
        self.assertGreaterEqual(len(named), 4, named)
        self.assertLessEqual(named, alerts)


if __name__ == "__main__":
    unittest.main(verbosity=2)
