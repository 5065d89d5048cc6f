"""Helpers shared by the hostile-input tests (test_hostile*.py): `ltxguard watch` in the
background, and checks that an output stays one record per line."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import ltxg


class Watch:
    """`ltxguard watch` in the background with a record file, an HTTP port and its stderr."""

    def __init__(self, tc, *args, interval="0.5", duration=None, log_format="text", listen=True, env=None,
                 record_dir=None):
        out = ltxg.temp_dir(tc)
        self.port = ltxg.free_tcp_port() if listen else None
        self.record = os.path.join(record_dir or out, "record.jsonl")
        self.stderr_path = os.path.join(out, "stderr")
        # --force: the record may share a filesystem with the database here; where it matters
        # (a full record filesystem) the test gives it one of its own.
        cmd = [ltxg.ltxguard_bin(), "watch", *args, "--record", self.record, "--force", "--interval", interval,
               "--log-format", log_format]
        if listen:
            cmd += ["--listen", f"127.0.0.1:{self.port}"]
        if duration is not None:
            cmd += ["--duration", str(duration)]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.err = open(self.stderr_path, "wb")
        tc.addCleanup(self.err.close)
        self.started = time.time()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=full_env, start_new_session=True)
        tc.addCleanup(self.kill)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait(self, timeout):
        return self.proc.wait(timeout=timeout)

    def raw_records(self):
        try:
            with open(self.record, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def records(self):
        return [json.loads(line) for line in self.raw_records().splitlines(keepends=True)
                if line.endswith(b"\n")]

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read()

    def get(self, path, timeout=5):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


PROM_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? '
                       r'[-+0-9.eEaInf]+$')


def assert_prometheus_text(tc, body, strict=True):
    """Every line of a /metrics or textfile body is a comment or one well-formed sample: a
    newline or quote in a label value would break it (and let a value inject a series). With
    strict, Prometheus' own parser (promtool, when installed) must accept the whole page too:
    it refuses, for one, a label value that is not UTF-8, and then the whole scrape is lost."""
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#") or not line:
            continue
        tc.assertRegex(line, PROM_LINE)
    promtool = shutil.which("promtool")
    if strict and promtool:
        proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
        tc.assertEqual(proc.returncode, 0, (proc.stdout + proc.stderr).decode("utf-8", "replace"))


def assert_logfmt_lines(tc, err):
    """Every stderr line of --log-format text is one record: nothing a path or a log line
    holds can start a line of its own."""
    for line in err.decode("utf-8", "replace").splitlines():
        tc.assertRegex(line, r"^time=\S+ level=(INFO|WARN|ERROR|DEBUG) ", line)
