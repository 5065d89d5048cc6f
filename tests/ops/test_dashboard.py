"""deploy/grafana/ltxguard-dashboard.json is valid, its queries parse as PromQL, and every metric
name in it and in the alert rules is one that exists: ltxguard_* names as the built
`ltxguard watch` really serves them on /metrics, litestream_* names as Litestream exports them
(0.3.13 fixture, 0.5 source), node_* and up from Prometheus/node_exporter."""

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.request

import opslib

DASHBOARD = opslib.src("deploy", "grafana", "ltxguard-dashboard.json")
RULES = opslib.src("deploy", "prometheus", "ltxguard.rules.yml")

# Litestream 0.5 families (db.go and internal/internal.go of benbjohnson/litestream at
# 63225f17ccbb, litestream_disk_full since v0.5.15); 0.3.13's come from the fixture.
LITESTREAM_05 = {
    "litestream_db_size", "litestream_wal_size", "litestream_total_wal_bytes", "litestream_txid",
    "litestream_sync_count", "litestream_sync_error_count", "litestream_sync_seconds",
    "litestream_disk_full", "litestream_checkpoint_count", "litestream_checkpoint_error_count",
    "litestream_checkpoint_seconds", "litestream_compaction_verify_error_count",
    "litestream_replica_operation_total", "litestream_replica_operation_bytes",
    "litestream_replica_operation_duration_seconds", "litestream_replica_operation_errors_total",
    "litestream_l0_retention_files_total",
}


def litestream_names():
    fixture = opslib.read(opslib.src("tests", "testdata", "metrics", "litestream-0.3.13.txt"))
    return set(re.findall(r"^# TYPE (litestream_\w+) ", fixture, re.M)) | LITESTREAM_05


def dashboard_queries(dash):
    """(where, PromQL) for every panel target and every query variable."""
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", var["query"]["query"])
            out.append((f"variable {var['name']}", m.group(1)))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DashboardJsonTest(unittest.TestCase):
    def setUp(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            self.dash = json.load(f)

    def test_panels_are_well_formed(self):
        ids = [p["id"] for p in self.dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        self.assertEqual(self.dash["uid"], "ltxguard-staging")
        for panel in self.dash["panels"]:
            with self.subTest(panel=panel["title"]):
                self.assertEqual(set(panel["gridPos"]), {"x", "y", "w", "h"})
                self.assertLessEqual(panel["gridPos"]["x"] + panel["gridPos"]["w"], 24)
                if panel["type"] == "row":
                    continue
                self.assertEqual(panel["datasource"]["uid"], "${datasource}")
                self.assertTrue(panel["targets"])
                refs = [t["refId"] for t in panel["targets"]]
                self.assertEqual(len(refs), len(set(refs)))

    def test_dashboard_shows_what_the_issue_asks_for(self):
        exprs = " ".join(e for _, e in dashboard_queries(self.dash))
        for name in ["ltxguard_filesystem_avail_bytes", "ltxguard_reserve_bytes",
                     "ltxguard_staging_bytes", "ltxguard_headroom_bytes",
                     "ltxguard_seconds_to_reserve_breach", "ltxguard_state"]:
            self.assertIn(name, exprs)
        types = {p["type"] for p in self.dash["panels"]}
        self.assertIn("state-timeline", types)

    def test_every_query_is_valid_promql(self):
        promtool = opslib.require_tool(self, "promtool")
        lines = ["groups:", "  - name: dashboard", "    rules:"]
        for i, (_, expr) in enumerate(dashboard_queries(self.dash)):
            expr = expr.replace("$__range", "1h")
            expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
            lines += [f"      - record: dashboard_query_{i}", f"        expr: {json.dumps(expr)}"]
        path = os.path.join(opslib.temp_dir(self), "dashboard.rules.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = opslib.run([promtool, "check", "rules", path])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_promql_parse_rejects_a_broken_query(self):
        # The check above can fail: the same path with one unbalanced parenthesis.
        promtool = opslib.require_tool(self, "promtool")
        path = os.path.join(opslib.temp_dir(self), "broken.rules.yml")
        with open(path, "w") as f:
            f.write('groups:\n  - name: x\n    rules:\n      - record: q\n'
                    '        expr: "max by (db) (ltxguard_state"\n')
        self.assertNotEqual(opslib.run([promtool, "check", "rules", path]).returncode, 0)


class MetricNamesTest(unittest.TestCase):
    """Names used by the dashboard and the rules against what `ltxguard watch` serves."""

    @classmethod
    def setUpClass(cls):
        cls.exported = cls.scrape_watch()

    @classmethod
    def scrape_watch(cls):
        tmp = tempfile.mkdtemp(prefix="ltxg-ops-")
        db = os.path.join(tmp, "app.db")
        con = sqlite3.connect(db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t(x)")
        con.execute("INSERT INTO t VALUES (1)")
        con.commit()
        con.close()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "LITESTREAM_CONFIG"}
        proc = subprocess.Popen(
            [opslib.ltxguard_bin(), "watch", "--db", db, "--listen", f"127.0.0.1:{port}",
             "--duration", "3", "--interval", "0.5", "--log-format", "text"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env, start_new_session=True)
        body = ""
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and "ltxguard_state{" not in body:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                        body = r.read().decode()
                except OSError:
                    time.sleep(0.1)
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            err = proc.stderr.read()
            proc.stderr.close()
            shutil.rmtree(tmp, ignore_errors=True)
        if "ltxguard_state{" not in body:
            raise AssertionError(f"no /metrics from ltxguard watch; stderr:\n{err}")
        return set(re.findall(r"^# TYPE (\w+) ", body, re.M))

    def used_names(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        used = {}
        for where, expr in dashboard_queries(dash):
            for name in opslib.promql_metric_names(expr):
                used.setdefault(name, []).append(f"dashboard {where}")
        for expr in opslib.rule_exprs(opslib.read(RULES)):
            for name in opslib.promql_metric_names(expr):
                used.setdefault(name, []).append(f"rules: {expr}")
        return used

    def test_watch_serves_the_families_the_docs_name(self):
        self.assertGreaterEqual(len(self.exported), 15, self.exported)
        self.assertIn("ltxguard_headroom_bytes", self.exported)

    def test_every_ltxguard_name_used_is_exported(self):
        used = self.used_names()
        ours = {n for n in used if n.startswith("ltxguard_")}
        self.assertGreaterEqual(len(ours), 10, ours)
        for name in sorted(ours):
            with self.subTest(name=name):
                self.assertIn(name, self.exported, used[name])

    def test_every_other_name_is_litestreams_or_prometheus(self):
        known = litestream_names()
        for name, where in sorted(self.used_names().items()):
            if name.startswith("ltxguard_"):
                continue
            with self.subTest(name=name):
                if name.startswith("litestream_"):
                    self.assertIn(name, known, where)
                else:
                    self.assertTrue(name == "up" or name.startswith("node_"), (name, where))


if __name__ == "__main__":
    unittest.main(verbosity=2)
