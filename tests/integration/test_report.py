"""`ltxguard report` on a real record: `ltxguard watch --record` sees a tmpfs go from ok to
warning, critical, ENOSPC and wedged while the Litestream 0.5 TEST DOUBLE (real LTX bytes,
not Litestream) stages a snapshot that cannot fit; the page is then rendered by headless
Chromium (Debian `chromium`) and checked: no console error, no fetch, the chart is drawn.

Set LTXGUARD_REPORT_PNG=/path/report.png to keep the screenshot (docs/report.png comes
from here)."""

import html.parser
import json
import os
import shutil
import signal
import struct
import subprocess
import time
import unittest
import zlib

import ltxg
from ltxg import KiB, MiB

WINDOW = (1200, 900)
# Series colours in the page's CSS (output/report_html.cpp).
AVAIL_RGB = (0x1F, 0x77, 0xB4)
STAGING_RGB = (0xFF, 0x7F, 0x0E)
RESERVE_RGB = (0xD6, 0x27, 0x28)
WEDGED_RGB = (0x6A, 0x1B, 0x9A)


def chromium_bin():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(tc, *args, timeout=90):
    """Headless Chromium (as root it needs --no-sandbox) with its own profile dir, killed
    with its process group on timeout. Returns (returncode, stdout, stderr)."""
    profile = ltxg.temp_dir(tc, prefix="ltxg-chromium-")
    cmd = [chromium_bin(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--metrics-recording-only", "--no-default-browser-check",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env={**os.environ, "HOME": profile})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"chromium did not finish in {timeout}s: {err.decode(errors='replace')[-2000:]}")
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def read_png(path):
    """A minimal PNG decoder (8-bit RGB/RGBA, not interlaced: what Chromium writes).
    Returns (width, height, channels, rows) with rows as bytearrays."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0 and color in (2, 6), ihdr
    ch = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * ch
    rows, prev = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        ftype, cur = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if ftype == 1:
            for i in range(ch, stride):
                cur[i] = (cur[i] + cur[i - ch]) & 0xFF
        elif ftype == 2:
            cur = bytearray((a + b) & 0xFF for a, b in zip(cur, prev))
        elif ftype == 3:
            for i in range(stride):
                left = cur[i - ch] if i >= ch else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                a = cur[i - ch] if i >= ch else 0
                b, c = prev[i], prev[i - ch] if i >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 0xFF
        rows.append(cur)
        prev = cur
    return width, height, ch, rows


def count_near(rows, ch, rgb, tolerance=24, region=None):
    """Pixels within `tolerance` (per channel) of `rgb`, in region (x0, y0, x1, y1) if given."""
    n = 0
    x0, y0, x1, y1 = region or (0, 0, len(rows[0]) // ch, len(rows))
    r0, g0, b0 = rgb
    for y in range(y0, y1):
        row = rows[y]
        for x in range(x0, x1):
            i = x * ch
            if abs(row[i] - r0) <= tolerance and abs(row[i + 1] - g0) <= tolerance and abs(row[i + 2] - b0) <= tolerance:
                n += 1
    return n


class PageAudit(html.parser.HTMLParser):
    """Everything in the page that could make a browser fetch or run something."""

    FETCHING_ATTRS = {"src", "href", "xlink:href", "srcset", "poster", "data", "action", "formaction",
                      "background", "ping"}

    def __init__(self):
        super().__init__()
        self.tags = {}
        self.fetching = []
        self.handlers = []
        self.styles = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in self.FETCHING_ATTRS:
                self.fetching.append((tag, name, value))
            if name.startswith("on"):
                self.handlers.append((tag, name))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


class ReportFromRealRecordTest(unittest.TestCase):
    """Uses tests/doubles/litestream05_double, the Litestream 0.5 TEST DOUBLE."""

    def record_incident(self):
        """An 18 MiB database on a 32 MiB tmpfs, the app committing: the watcher warns at
        once (the pending 0.5 snapshot cannot fit above the reserve); ~2 s later the double
        starts staging it at 2 MiB/s: critical, ENOSPC, wedged."""
        binary = ltxg.double_bin("litestream05_double")
        ltxg.require_executable(self, binary, "litestream05_double (build target litestream05_double)")
        root = ltxg.temp_dir(self, prefix="ltxg-report-")
        db_fs = ltxg.tmpfs(self, 32 * MiB)
        db = os.path.join(db_fs, "app.db")
        ltxg.make_db(db, 18 * MiB)
        config = ltxg.write_litestream_config(os.path.join(root, "litestream.yml"), [
            {"path": db, "replicas": [{"type": "file", "path": os.path.join(root, "replica")}]}])
        log = os.path.join(root, "litestream.log")
        open(log, "w").close()
        record = os.path.join(root, "record.jsonl")
        watch = subprocess.Popen([ltxg.ltxguard_bin(), "watch", "--db", db, "--config", config, "--log", log,
                                  "--record", record, "--interval", "0.5", "--duration", "60",
                                  "--litestream-version", "0.5.12", "--log-format", "json"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        self.addCleanup(lambda: watch.poll() is None and (watch.kill(), watch.wait()))

        def states():
            try:
                with open(record) as f:
                    return [json.loads(l)["databases"][0]["state"] for l in f if l.endswith("\n")]
            except FileNotFoundError:
                return []

        ltxg.AppWriter.at_rate(self, db, 64 * KiB)
        ltxg.wait_until(lambda: len(states()) >= 4, 15, message="four watch samples")
        ltxg.Litestream(self, config, binary=binary, extra_args=["-mode", "0.5.12", "-rate", str(2 * MiB)],
                        log_path=log)
        ltxg.wait_until(lambda: "wedged" in states(), 40, message="state wedged")
        time.sleep(2)
        watch.send_signal(signal.SIGTERM)
        self.assertEqual(watch.wait(timeout=15), 0)
        s = states()
        self.assertEqual(s[0], "warning")
        self.assertLess(s.index("warning"), s.index("critical"))
        self.assertLess(s.index("critical"), s.index("wedged"))
        return record, root

    def test_page_of_a_real_incident_renders_in_chromium(self):
        ltxg.require_root(self)
        if not chromium_bin():
            self.skipTest("chromium not installed (scripts/setup installs Debian's chromium)")
        record, root = self.record_incident()
        out = os.path.join(root, "report.html")
        proc = ltxg.run_ltxguard("report", "--record", record, "--out", out)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stderr, r"^ltxguard: wrote .*report\.html \(\d+ samples, 1 database\(s\), verdict FAILED\)\n$")
        with open(out, encoding="utf-8") as f:
            page = f.read()

        # Nothing to fetch or run: no URL anywhere, no fetching attribute, no script or handler.
        audit = PageAudit()
        audit.feed(page)
        self.assertNotIn("http://", page)
        self.assertNotIn("https://", page)
        self.assertEqual(audit.fetching, [])
        self.assertEqual(audit.handlers, [])
        for tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignobject"):
            self.assertNotIn(tag, audit.tags, tag)
        self.assertEqual(audit.tags.get("svg"), 1)
        self.assertFalse(any("url(" in s or "@import" in s or "@font-face" in s for s in audit.styles))
        self.assertIn("default-src 'none'", page)

        started = time.monotonic()
        rc, dom, err = run_chromium(self, "--dump-dom", f"file://{out}")
        dom_seconds = time.monotonic() - started
        self.assertEqual(rc, 0, err[-2000:])
        self.assertNotIn("Uncaught", err)
        self.assertNotIn("ERROR:CONSOLE", err)
        self.assertNotIn("Refused to", err)  # a CSP violation: something tried to load
        self.assertIn('<svg class="timeline"', dom)
        for css in ("s-avail", "s-reserve", "s-staging", "s-wal"):
            start = dom.index(f'<path class="series {css}" d="M')
            d = dom[start:dom.index('"', dom.index('d="', start) + 3)]
            self.assertGreaterEqual(d.count(" L"), 10 if css != "s-reserve" else 1, css)
        for css in ("ev-warning", "ev-critical", "ev-enospc", "ev-wedged"):
            self.assertIn(f'<g class="marker {css}"', dom)
        self.assertIn("app-visible free ", dom)
        self.assertIn(">FAILED</span>", dom)

        png = os.path.join(root, "report.png")
        started = time.monotonic()
        rc, _, err = run_chromium(self, f"--screenshot={png}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                                  "--hide-scrollbars", f"file://{out}")
        shot_seconds = time.monotonic() - started
        self.assertEqual(rc, 0, err[-2000:])
        self.assertNotIn("Uncaught", err)
        self.assertNotIn("ERROR:CONSOLE", err)
        self.assertNotIn("Refused to", err)
        width, height, ch, rows = read_png(png)
        self.assertEqual((width, height), WINDOW)
        # The chart is drawn: each series' colour covers pixels on the first screen.
        self.assertGreater(count_near(rows, ch, AVAIL_RGB), 300)
        self.assertGreater(count_near(rows, ch, STAGING_RGB), 300)
        self.assertGreater(count_near(rows, ch, RESERVE_RGB), 200)
        self.assertGreater(count_near(rows, ch, WEDGED_RGB), 100)  # state band and markers
        # ... across the time axis: free space and staging span most of the chart's width.
        for rgb in (AVAIL_RGB, STAGING_RGB):
            xs = [x for y in range(height) for x in range(width)
                  if abs(rows[y][x * ch] - rgb[0]) <= 24 and abs(rows[y][x * ch + 1] - rgb[1]) <= 24
                  and abs(rows[y][x * ch + 2] - rgb[2]) <= 24]
            self.assertGreater(max(xs) - min(xs), 0.6 * width, rgb)
        print(f"chromium: --dump-dom {dom_seconds:.1f} s, --screenshot {shot_seconds:.1f} s, "
              f"png {os.path.getsize(png) // 1024} KiB")
        keep = os.environ.get("LTXGUARD_REPORT_PNG")
        if keep:
            shutil.copyfile(png, keep)


class ReportInputTest(unittest.TestCase):
    def setUp(self):
        self.root = ltxg.temp_dir(self)
        self.record = os.path.join(self.root, "record.jsonl")
        sample = {"time_ms": 1_700_000_000_000,
                  "filesystems": [{"mount": "/data", "dev": 1, "total_bytes": 100 * MiB, "free_bytes": 10 * MiB,
                                   "avail_bytes": 10 * MiB, "inodes_free": 10, "reserve_bytes": 1 * MiB}],
                  "databases": [{"db": "/data/<script>alert(1)</script>.db", "db_fs_dev": 1, "staging_fs_dev": 1,
                                 "wal_bytes": 4096, "staging_bytes": 0, "state": "ok", "reason": "fine",
                                 "headroom_bytes": 9 * MiB, "seconds_to_reserve_breach": None,
                                 "remaining_staging_bytes": 0, "disk_full_events_total": 0,
                                 "stop_recommended": False}],
                  "events": []}
        with open(self.record, "w") as f:
            f.write(json.dumps(sample) + "\n")

    def test_page_goes_to_stdout_without_out(self):
        proc = ltxg.run_ltxguard("report", "--record", self.record)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        self.assertTrue(proc.stdout.startswith("<!DOCTYPE html>"))
        self.assertIn("/data/&lt;script&gt;alert(1)&lt;/script&gt;.db", proc.stdout)
        self.assertNotIn("<script", proc.stdout)

    def test_missing_record_is_66(self):
        missing = os.path.join(self.root, "missing.jsonl")
        proc = ltxg.run_ltxguard("report", "--record", missing)
        self.assertEqual(proc.returncode, 66)
        self.assertEqual(proc.stderr, f"ltxguard: {missing}: cannot open (No such file or directory)\n")

    def test_symlink_fifo_and_directory_are_refused_with_66(self):
        link = os.path.join(self.root, "link.jsonl")
        os.symlink(self.record, link)
        proc = ltxg.run_ltxguard("report", "--record", link)
        self.assertEqual(proc.returncode, 66)
        self.assertEqual(proc.stderr, f"ltxguard: {link}: refusing to follow a symlink (Too many levels of symbolic links)\n")
        fifo = os.path.join(self.root, "fifo")
        os.mkfifo(fifo)
        proc = ltxg.run_ltxguard("report", "--record", fifo, timeout=10)  # must not block on the open
        self.assertEqual(proc.returncode, 66)
        self.assertEqual(proc.stderr, f"ltxguard: {fifo}: not a regular file\n")
        proc = ltxg.run_ltxguard("report", "--record", self.root)
        self.assertEqual(proc.returncode, 66)
        self.assertEqual(proc.stderr, f"ltxguard: {self.root}: not a regular file\n")

    def test_record_without_a_valid_sample_is_65(self):
        bad = os.path.join(self.root, "bad.jsonl")
        with open(bad, "w") as f:
            f.write("hello\n{\"time_ms\": 1}\n")
        proc = ltxg.run_ltxguard("report", "--record", bad)
        self.assertEqual(proc.returncode, 65)
        self.assertEqual(proc.stderr, f"ltxguard: {bad}: no valid sample in the record (2 line(s), line 1: not JSON); "
                                      "is it a watch --record file?\n")
        open(bad, "w").close()
        proc = ltxg.run_ltxguard("report", "--record", bad)
        self.assertEqual(proc.returncode, 65)
        self.assertIn("no valid sample in the record (no lines)", proc.stderr)

    def test_unwritable_out_is_73_and_a_symlinked_out_is_replaced_not_followed(self):
        out = os.path.join(self.root, "no-such-dir", "report.html")
        proc = ltxg.run_ltxguard("report", "--record", self.record, "--out", out)
        self.assertEqual(proc.returncode, 73)
        self.assertRegex(proc.stderr, r"^ltxguard: .*no-such-dir/\.report\.html\.tmp-\w{6}: cannot create temporary "
                                      r"file \(No such file or directory\)\n$")
        target = os.path.join(self.root, "precious.txt")
        with open(target, "w") as f:
            f.write("keep me")
        link = os.path.join(self.root, "report.html")
        os.symlink(target, link)
        proc = ltxg.run_ltxguard("report", "--record", self.record, "--out", link)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(os.path.islink(link))
        with open(target) as f:
            self.assertEqual(f.read(), "keep me")
        with open(link) as f:
            self.assertIn("<svg class=\"timeline\"", f.read())


if __name__ == "__main__":
    unittest.main()
