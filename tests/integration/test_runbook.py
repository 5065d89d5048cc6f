"""`ltxguard runbook`: the generic text is docs/runbook.md; a host runbook on the Litestream 0.5
layout (staged by the TEST DOUBLE litestream05_double: Litestream 0.5 cannot be built here)
carries this host's paths, plan and budget, and no secret, key id or bucket name."""

import os
import unittest

import ltxg
from ltxg import KiB, MiB

TMP_REL = "ltx/0/0000000000000001-0000000000000001.ltx.tmp"
ANCHORS = ["capture-evidence", "stop-litestream-safely", "cleanup", "budget-before-restart", "policy",
           "what-not-to-do"]
CANARIES = ["s3cr3t-canary-value", "AKIAIOSFODNN7EXAMPLE", "canary-bucket-name"]


class RunbookGenericTest(unittest.TestCase):
    def test_generic_runbook_is_docs_runbook_md(self):
        proc = ltxg.run_ltxguard("runbook", "--generic")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(ltxg.source_dir(), "docs", "runbook.md")) as f:
            self.assertEqual(proc.stdout, f.read(),
                             "regenerate docs/runbook.md with `ltxguard runbook --generic > docs/runbook.md`")
        html = ltxg.run_ltxguard("runbook", "--generic", "--format", "html")
        self.assertEqual(html.returncode, 0, html.stderr)
        for a in ANCHORS:
            self.assertIn(f'<h2 id="{a}">', html.stdout)

    def test_bad_format_and_missing_db_are_usage_errors(self):
        self.assertEqual(ltxg.run_ltxguard("runbook", "--generic", "--format", "pdf").returncode, 64)
        proc = ltxg.run_ltxguard("runbook")
        self.assertEqual(proc.returncode, 64)
        self.assertIn("runbook needs --db PATH (or --generic)", proc.stderr)


class RunbookHostTest(unittest.TestCase):
    def test_host_runbook_on_the_05_layout_redacts_secrets(self):
        s = ltxg.scenario_05_staging(self, fs_bytes=36 * MiB, db_bytes=20 * MiB,
                                     rate_bytes_per_sec=8 * MiB, mode="0.5.12")
        tmp = os.path.join(s.meta_dir, TMP_REL)
        ltxg.wait_until(lambda: os.path.exists(tmp) and ltxg.avail_bytes(s.db_fs) < 64 * KiB, 30,
                        message="the double to fill the disk")
        # The operator's config: the double's file replica plus an S3 one with credentials.
        config = ltxg.write_litestream_config(os.path.join(s.root, "with-s3.yml"), [
            {"path": s.db, "replicas": [
                {"type": "file", "path": s.replica_dir},
                {"type": "s3", "bucket": "canary-bucket-name", "path": "backups/app",
                 "access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "s3cr3t-canary-value"}]}])
        before = ltxg.tree_hashes(ltxg.db_files(s.db) + [tmp])
        proc = ltxg.run_ltxguard("runbook", "--db", s.db, "--config", config, "--litestream-version", "0.5.12")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        md = proc.stdout
        for a in ANCHORS:
            self.assertIn(f'<a id="{a}"></a>', md)
        self.assertIn(f"database `{s.db}`: 20.0 MiB", md)
        self.assertIn(f"running: `pid {s.litestream.pid} (", md)
        self.assertIn(f"| do-not-touch (safe once stopped) | ", md)
        self.assertIn(f"`{TMP_REL}`", md)
        self.assertIn(f"`litestream reset {s.db}`", md)
        self.assertIn("→ CRITICAL: initial sync cannot fit", md)
        self.assertIn(f"ltxguard evidence --db {s.db} --config {config} --out", md)
        self.assertIn("max_staging_bytes: ", md)
        html = ltxg.run_ltxguard("runbook", "--db", s.db, "--config", config, "--litestream-version", "0.5.12",
                                 "--format", "html")
        self.assertEqual(html.returncode, 0, html.stderr)
        self.assertIn('<h2 id="budget-before-restart">', html.stdout)
        for out in (md, html.stdout, proc.stderr, html.stderr):
            for canary in CANARIES:
                self.assertNotIn(canary, out)
        # It only reads.
        self.assertEqual(ltxg.tree_hashes(ltxg.db_files(s.db) + [tmp]), before)


if __name__ == "__main__":
    unittest.main()
