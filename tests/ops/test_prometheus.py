"""deploy/prometheus/ltxguard.rules.yml: promtool accepts it, its unit tests in tests/prometheus/
pass (every alert firing and not firing), the tests can fail, every alert has the annotations
and a runbook anchor that exists, and docs/alerts.md quotes the minutes the node-mixin
comparison proves."""

import glob
import os
import re
import shutil
import unittest

import opslib

RULES = opslib.src("deploy", "prometheus", "ltxguard.rules.yml")
TESTS_DIR = opslib.src("tests", "prometheus")
ALERTS_DOC = opslib.src("docs", "alerts.md")
RUNBOOK_PREFIX = "file:///usr/share/doc/ltxguard/alerts.md#"


def test_files():
    return sorted(glob.glob(os.path.join(TESTS_DIR, "*.test.yml")))


def rule_test_cases(text):
    """[(eval minutes, alertname, firing?)] of every alert_rule_test entry in a test file."""
    cases = []
    for m in re.finditer(r"- eval_time: (\d+)m\b.*?\n\s+alertname: (\S+)\s*\n\s+exp_alerts:(.*)",
                         text):
        cases.append((int(m.group(1)), m.group(2), m.group(3).strip() != "[]"))
    return cases


class PromtoolTest(unittest.TestCase):
    def setUp(self):
        self.promtool = opslib.require_tool(self, "promtool")

    def test_rules_pass_promtool_check(self):
        r = opslib.run([self.promtool, "check", "rules", RULES,
                        os.path.join(TESTS_DIR, "node_mixin.rules.yml")])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        names = [name for name, _ in opslib.rule_blocks(opslib.read(RULES))]
        self.assertIn(f"SUCCESS: {len(names)} rules found", r.stdout)

    def test_rule_unit_tests_pass(self):
        files = test_files()
        self.assertGreaterEqual(len(files), 3, files)
        r = opslib.run([self.promtool, "test", "rules", *files])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("SUCCESS"), len(files), r.stdout)

    def mutated_copy(self, old, new):
        """The rules and tests copied to a temp tree (same relative paths), one rule changed."""
        root = opslib.temp_dir(self)
        shutil.copytree(TESTS_DIR, os.path.join(root, "tests", "prometheus"))
        os.makedirs(os.path.join(root, "deploy", "prometheus"))
        text = opslib.read(RULES)
        self.assertEqual(text.count(old), 1, old)
        with open(os.path.join(root, "deploy", "prometheus", "ltxguard.rules.yml"), "w") as f:
            f.write(text.replace(old, new))
        return os.path.join(root, "tests", "prometheus")

    def test_unit_tests_fail_when_a_rule_changes(self):
        for old, new, alert in [
            ("expr: ltxguard_headroom_bytes < 0\n        for: 1m",
             "expr: ltxguard_headroom_bytes < 0\n        for: 3m", "LtxguardStagingWillNotFit"),
            ("ltxguard_seconds_to_reserve_breach < 900", "ltxguard_seconds_to_reserve_breach < 600",
             "LtxguardReserveBreachForecast"),
            ("increase(litestream_sync_error_count[10m]) >= 3",
             "increase(litestream_sync_error_count[10m]) >= 1", "LitestreamSyncErrors"),
        ]:
            with self.subTest(alert=alert):
                tests = self.mutated_copy(old, new)
                r = opslib.run([self.promtool, "test", "rules",
                                *sorted(glob.glob(os.path.join(tests, "*.test.yml")))])
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(f"alertname: {alert}", r.stdout + r.stderr)


class RuleContentTest(unittest.TestCase):
    def setUp(self):
        self.blocks = opslib.rule_blocks(opslib.read(RULES))
        self.assertGreaterEqual(len(self.blocks), 12)

    def test_every_alert_is_tested_firing_and_not_firing(self):
        cases = [c for f in test_files() for c in rule_test_cases(opslib.read(f))]
        for name, _ in self.blocks:
            with self.subTest(alert=name):
                firing = [c for c in cases if c[1] == name]
                self.assertTrue(any(c[2] for c in firing), f"{name} never expected firing")
                self.assertTrue(any(not c[2] for c in firing), f"{name} never expected silent")

    def test_every_alert_has_severity_summary_description_and_runbook(self):
        anchors = opslib.markdown_anchors(opslib.read(ALERTS_DOC))
        for name, block in self.blocks:
            with self.subTest(alert=name):
                self.assertIn(opslib.yaml_scalar(block, "severity"), ("critical", "warning"))
                self.assertTrue(opslib.yaml_scalar(block, "summary"))
                description = opslib.yaml_scalar(block, "description")
                self.assertRegex(description, r"\{\{ (\$value|\$labels\.)")
                url = opslib.yaml_scalar(block, "runbook_url")
                self.assertEqual(url, RUNBOOK_PREFIX + name.lower())
                self.assertIn(name.lower(), anchors, f"docs/alerts.md has no section {name}")

    def test_alert_table_in_docs_lists_every_alert(self):
        doc = opslib.read(ALERTS_DOC)
        for name, _ in self.blocks:
            self.assertIn(f"| [{name}](#{name.lower()}) |", doc)


class NodeMixinComparisonTest(unittest.TestCase):
    """docs/alerts.md must quote what tests/prometheus/node_mixin_comparison.test.yml proves."""

    def first_firing(self, name):
        cases = rule_test_cases(opslib.read(os.path.join(TESTS_DIR, "node_mixin_comparison.test.yml")))
        firing = sorted(t for t, alert, fires in cases if alert == name and fires)
        silent = [t for t, alert, fires in cases if alert == name and not fires]
        self.assertTrue(firing, name)
        # Proven first: the same file asserts it silent one evaluation (1 minute) earlier.
        self.assertIn(firing[0] - 1, silent, f"{name}: no silent check at minute {firing[0] - 1}")
        return firing[0]

    def test_docs_quote_the_minutes_the_test_proves(self):
        ours = self.first_firing("LtxguardStagingWillNotFit")
        forecast = self.first_firing("LtxguardReserveBreachForecast")
        filling_up = self.first_firing("NodeFilesystemSpaceFillingUp")
        out_of_space = self.first_firing("NodeFilesystemAlmostOutOfSpace")
        self.assertLess(ours, forecast)
        self.assertLess(forecast, out_of_space)
        doc = opslib.read(ALERTS_DOC)
        self.assertIn(f"**{filling_up - ours} minutes earlier** than `NodeFilesystemSpaceFillingUp`", doc)
        self.assertIn(f"(minute {ours} against {filling_up})", doc)
        self.assertIn(f"{out_of_space - ours} minutes earlier than the first node-mixin alert", doc)
        self.assertIn(f"| {ours} | **LtxguardStagingWillNotFit**", doc)
        self.assertIn(f"| {forecast} | **LtxguardReserveBreachForecast**", doc)
        self.assertIn(f"| {filling_up} | **NodeFilesystemSpaceFillingUp**", doc)
        self.assertIn(f"{filling_up - forecast} minutes earlier than `NodeFilesystemSpaceFillingUp`", doc)

    def test_node_mixin_copy_names_its_upstream_commit(self):
        text = opslib.read(os.path.join(TESTS_DIR, "node_mixin.rules.yml"))
        self.assertRegex(text, r"node_exporter docs/node-mixin/alerts/alerts.libsonnet at commit\s+#?\s*[0-9a-f]{40}")
        self.assertIn("predict_linear(node_filesystem_avail_bytes", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
