"""The benchmark scripts in bench/ still run and measure what they claim (not how fast).

Runs evidence_vs_shell.py and scale.py at smoke sizes on tmpfs (~30 s), renders the plot
from their results, and checks the pure pieces of detection_latency.py (rule scaling,
node-mixin rules accepted by promtool) and of the strace byte counter. Timings are never
asserted: benchmarks report, `make bench` runs them at full size.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402

BENCH = os.path.join(ltxg.source_dir(), "bench")
sys.path.insert(0, BENCH)
import detection_latency  # noqa: E402
import evidence_vs_shell  # noqa: E402

MiB = ltxg.MiB


def run_bench(testcase, script, *args, timeout=120):
    env = dict(os.environ, LTXGUARD_BIN=ltxg.ltxguard_bin(), LTXGUARD_BUILD_DIR=ltxg.build_dir(),
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-u", os.path.join(BENCH, script), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=timeout)
    testcase.assertEqual(proc.returncode, 0, proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc.stdout


class BenchScriptsTest(unittest.TestCase):
    def setUp(self):
        ltxg.require_root(self)
        ltxg.require_executable(self, ltxg.ltxguard_bin(), "ltxguard")
        ltxg.require_executable(self, ltxg.double_bin("ltx_write_tool"), "ltx_write_tool")
        ltxg.require_executable(self, "/usr/bin/strace", "strace")
        self.results = ltxg.temp_dir(self)

    def test_evidence_vs_shell_and_scale_at_smoke_sizes_then_plot(self):
        out = run_bench(self, "evidence_vs_shell.py", "--fs", "tmpfs", "--db-bytes",
                        str(8 * MiB), "--files", "300", "--tmp-bytes", str(4 * MiB),
                        "--journal-litestream", "50", "--journal-other", "50", "--repeat", "1",
                        "--json", os.path.join(self.results, "evidence_vs_shell.json"))
        self.assertIn("ratio ltxguard/shell", out)
        with open(os.path.join(self.results, "evidence_vs_shell.json")) as f:
            ev = json.load(f)
        a, b = ev["cases"]["a"], ev["cases"]["b"]
        for case in (a, b):
            lg = case["checks"]["strace"]["ltxguard"]
            self.assertEqual(lg["db"], 100, "ltxguard reads exactly the 100-byte header")
            self.assertEqual((lg["db_mmaps"], lg["wal"], lg["shm"]), (0, 0, 0))
            self.assertTrue(lg["db_opens"] and all("O_RDONLY" in o for o in lg["db_opens"]))
            self.assertEqual(case["checks"]["strace"]["shell_verbatim"]["db"], 0)
            for mode in ("cold", "warm"):
                for name in ("shell_verbatim", "shell_fixed", "ltxguard"):
                    self.assertEqual(len(case["times"][mode][name]), 1)
        self.assertEqual(a["checks"]["found"]["ltxguard_files"], 301)  # + the generation file
        self.assertEqual(a["checks"]["found"]["ltxguard_layout"], "0.3")
        self.assertEqual(b["checks"]["found"]["ltxguard_in_flight_bytes"], 4 * MiB)
        self.assertIs(b["checks"]["found"]["ltxguard_lists_tmp"], True)
        self.assertEqual(a["checks"]["found"]["ltxguard_log_lines"], 50)
        self.assertIn(set(ev["ratios"]), [{"a_cold", "a_warm", "b_cold", "b_warm"}])

        out = run_bench(self, "scale.py", "--fs", "tmpfs", "--sizes", "10,100", "--repeat", "1",
                        "--min-watch-seconds", "0.5", "--max-watch-seconds", "1", "--no-cold",
                        "--json", os.path.join(self.results, "scale.json"))
        self.assertIn("log-log slope", out)
        with open(os.path.join(self.results, "scale.json")) as f:
            sc = json.load(f)
        self.assertEqual([p["files"] for p in sc["points"]], [0, 10, 100])
        self.assertEqual([p["evidence_file_count"] for p in sc["points"]], [1, 11, 101])
        for p in sc["points"]:
            self.assertGreater(p["watch_samples"][0], 2, "watch ran back-to-back ticks")
        self.assertIsNotNone(sc["curves"]["evidence_warm"])
        self.assertIsNone(sc["curves"]["evidence_cold"])

        svg = os.path.join(self.results, "benchmarks.svg")
        subprocess.run([sys.executable, os.path.join(BENCH, "plot.py"), "--results", self.results,
                        "--out", svg], check=True, capture_output=True, timeout=60)
        root = ET.parse(svg).getroot()
        texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
        self.assertIn("Evidence vs the incident brief's shell sequence", texts)
        self.assertIn("Scale: time vs staging files", texts)
        self.assertNotIn("Detection latency", texts)  # no result file: no panel


class BenchPiecesTest(unittest.TestCase):
    def test_rule_scaling_divides_for_range_and_lead_time(self):
        text = ("groups:\n  - name: x\n    rules:\n      # for: comments stay\n"
                "      - alert: A\n        expr: increase(m[15m]) > 0 and "
                "ltxguard_seconds_to_reserve_breach < 900\n        for: 1h30m\n")
        scaled, changes = detection_latency.scale_rules_text(text, 30.0)
        self.assertIn("increase(m[30000ms])", scaled)
        self.assertIn("ltxguard_seconds_to_reserve_breach < 30.0", scaled)
        self.assertIn("        for: 180000ms\n", scaled)
        self.assertIn("# for: comments stay", scaled)
        self.assertEqual(len(changes), 3)
        with self.assertRaises(ValueError):
            detection_latency.parse_duration("1 hour")

    def test_scaled_node_mixin_rules_pass_promtool(self):
        ltxg.require_executable(self, "/usr/bin/promtool", "promtool")
        text, sub = detection_latency.stock_rules_yaml(36.9)
        self.assertEqual(sub["FOR1H"], "97561ms")
        self.assertIn("predict_linear(node_filesystem_avail_bytes{job=\"node\",fstype!=\"\","
                      "mountpoint!=\"\"}[585366ms], 2341.5) < 0", text)
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "r.yml")
        with open(path, "w") as f:
            f.write(text)
        proc = subprocess.run(["/usr/bin/promtool", "check", "rules", path], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("4 rules found", proc.stdout)

    def test_strace_counter_follows_fds_and_resumed_calls(self):
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        log = os.path.join(d, "s.log")
        with open(log, "w") as f:
            f.write('10 openat(AT_FDCWD</d>, "app.db", O_RDONLY|O_NOFOLLOW|O_CLOEXEC) = 3</d/app.db>\n'
                    '10 read(3</d/app.db>, "SQLite format 3"..., 100 <unfinished ...>\n'
                    '11 read(4</etc/x>, "abc", 3) = 3\n'
                    '10 <... read resumed>) = 100\n'
                    '10 pread64(3</d/app.db>, ""..., 4096, 0) = 0\n'
                    '10 read(5</d/app.db-wal>, "x"..., 32) = 32\n'
                    '10 mmap(NULL, 4096, PROT_READ, MAP_SHARED, 3</d/app.db>, 0) = 0x7f0000\n')
        got = evidence_vs_shell.db_bytes_read(log, "/d/app.db")
        self.assertEqual((got["db"], got["wal"], got["shm"], got["db_mmaps"]), (100, 32, 0, 1))
        self.assertEqual(got["db_opens"], ["O_RDONLY|O_NOFOLLOW|O_CLOEXEC"])
        self.assertEqual(got["all_read_bytes"], 135)


if __name__ == "__main__":
    unittest.main(verbosity=2)
