"""Faults on ltxguard's own writes and attacks on its HTTP endpoint (issue 9).

ENOSPC comes from a tiny tmpfs filled to the last byte. EIO comes from an ext4 image on a
loop device whose capacity is cut under the mounted filesystem (`losetup -c`): every
writeback past the new end fails and fsync returns EIO. (The kernel here has no
device-mapper, so a dm `error` target is not available.) The supervisor's state file is
tested with the supervisor, not here.

Already covered elsewhere: write_textfile on a full filesystem keeps the old file
(output/textfile_test), the logger counts writes to a full device or closed pipe and never
blocks (output/logger_test), unknown paths, other methods, overlong lines and a slow client at
the HttpServer level (output/http_server_test), a non-loopback --listen refused (test_watch).
"""

import errno
import json
import os
import socket
import subprocess
import threading
import time
import unittest

import ltxg
from ltxg import KiB, MiB
from hostile import Watch, assert_prometheus_text


def fill(mount):
    """Fills `mount` to the last byte with one file (unbuffered, so the ENOSPC is seen here);
    returns its path."""
    path = os.path.join(mount, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return path


def eio_mount(tc):
    """An ext4 on a loop device, and a function that cuts the device to 2 MiB under it: from
    then on, writes that reach the device (fsync, writeback) fail with EIO."""
    mnt = ltxg.ext4_loop(tc, 64 * MiB)
    dev = subprocess.run(["findmnt", "-n", "-o", "SOURCE", mnt], capture_output=True, text=True,
                         check=True).stdout.strip()
    with open(f"/sys/block/{os.path.basename(dev)}/loop/backing_file") as f:
        image = f.read().strip()

    def cut():
        subprocess.run(["sync"], check=True)
        os.truncate(image, 2 * MiB)
        subprocess.run(["losetup", "-c", dev], check=True, capture_output=True)

    return mnt, cut


def small_db(tc):
    root = ltxg.temp_dir(tc)
    db = os.path.join(root, "app.db")
    ltxg.make_db(db, 64 * KiB)
    return db


class EvidenceOutFaultTest(unittest.TestCase):
    def run_out(self, db, out):
        proc = ltxg.run_ltxguard("evidence", "--db", db, "--samples", "1", "--json", "--out", out)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        return proc.returncode, proc.stderr.strip()

    def test_full_output_directory_fails_cleanly_and_keeps_the_old_bundle(self):
        db = small_db(self)
        out = ltxg.tmpfs(self, 64 * KiB)
        old = os.path.join(out, "ltxguard-evidence-1.json")
        with open(old, "w") as f:
            f.write('{"earlier": "bundle"}\n')
        fill(out)
        before = sorted(os.listdir(out))
        rc, err = self.run_out(db, out)
        self.assertEqual(rc, 73, err)  # EX_CANTCREAT
        self.assertRegex(err, r"^ltxguard: .*: cannot (write|create temporary file|fsync).*No space left on device")
        self.assertEqual(sorted(os.listdir(out)), before, "no partial or temporary file is left")
        with open(old) as f:
            self.assertEqual(f.read(), '{"earlier": "bundle"}\n')

    def eio_run(self):
        db = small_db(self)
        out, cut = eio_mount(self)
        before = sorted(os.listdir(out))
        cut()
        rc, err = self.run_out(db, out)
        return rc, err, before, sorted(os.listdir(out))

    def test_eio_on_the_output_directory_fails_cleanly(self):
        rc, err, before, after = self.eio_run()
        self.assertRegex(err, r"^ltxguard: .*: cannot fsync \(Input/output error\)$")
        self.assertEqual(after, before)

    def test_eio_on_the_output_directory_exits_cantcreat(self):
        rc, err, _, _ = self.eio_run()
        self.assertEqual(rc, 73, err)  # docs/exit-codes.md: an output file cannot be written


class WatchWriteFaultTest(unittest.TestCase):
    def test_full_record_filesystem_is_logged_once_and_watch_goes_on(self):
        db = small_db(self)
        rec_fs = ltxg.tmpfs(self, 256 * KiB)
        filler = fill(rec_fs)
        os.truncate(filler, os.path.getsize(filler) - 24 * KiB)  # room for a few records
        w = Watch(self, "--db", db, interval="0.1", duration=6, listen=False, log_format="json",
                  record_dir=rec_fs)
        ltxg.wait_until(lambda: b"record_write_failed" in w.stderr(), 20, message="the record write failure")
        freed_at = time.time()
        os.unlink(filler)
        self.assertEqual(w.wait(30), 0, w.stderr())
        events = [json.loads(line) for line in w.stderr().splitlines()]
        failures = [e for e in events if e.get("event") == "record_write_failed"]
        self.assertEqual(len(failures), 1, failures)  # one line per failure streak, not per tick
        self.assertIn("No space left on device", failures[0]["msg"])
        # (A line cut by the ENOSPC is test_full_record_filesystem_never_leaves_a_broken_line.)
        records = []
        for line in w.raw_records().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
        self.assertTrue(any(r["time_ms"] / 1000 > freed_at + 0.5 for r in records), "records resume")

    def test_full_record_filesystem_never_leaves_a_broken_line(self):
        db = small_db(self)
        rec_fs = ltxg.tmpfs(self, 256 * KiB)
        filler = fill(rec_fs)
        os.truncate(filler, os.path.getsize(filler) - 10000)  # not a multiple of a record line
        w = Watch(self, "--db", db, interval="0.1", duration=4, listen=False, record_dir=rec_fs)
        ltxg.wait_until(lambda: b"record_write_failed" in w.stderr(), 20, message="the record write failure")
        os.unlink(filler)
        self.assertEqual(w.wait(30), 0, w.stderr())
        for line in w.raw_records().splitlines(keepends=True):
            self.assertTrue(line.endswith(b"\n"))
            json.loads(line)

    def test_eio_under_the_record_is_logged_once_and_watch_goes_on(self):
        # Appends land in the page cache; the failed writeback aborts ext4's journal and the
        # filesystem turns read-only, so the append that notices fails (EIO or EROFS).
        db = small_db(self)
        mnt, cut = eio_mount(self)
        w = Watch(self, "--db", db, interval="0.2", duration=30, listen=False, log_format="json", record_dir=mnt)
        ltxg.wait_until(lambda: len(w.records()) >= 2, 20, message="the first records")
        cut()
        with open(os.path.join(mnt, "poke"), "wb") as f:  # make the kernel notice now
            f.write(b"x" * 65536)
            try:
                os.fsync(f.fileno())
            except OSError:
                pass
        ltxg.wait_until(lambda: b"record_write_failed" in w.stderr(), 25, message="the record write failure")
        time.sleep(1)
        self.assertIsNone(w.proc.poll(), "watch goes on")
        w.proc.terminate()
        self.assertEqual(w.wait(20), 0, w.stderr())
        events = [json.loads(line) for line in w.stderr().splitlines()]
        failures = [e for e in events if e.get("event") == "record_write_failed"]
        self.assertEqual(len(failures), 1, failures)
        self.assertRegex(failures[0]["msg"], r"Input/output error|Read-only file system")

    def check_textfile_fault(self, textfile, break_it, want_error):
        db = small_db(self)
        w = Watch(self, "--db", db, "--textfile", textfile, interval="0.2", duration=5, listen=False,
                  log_format="json")
        prom = os.path.join(textfile, "ltxguard.prom")
        ltxg.wait_until(lambda: os.path.exists(prom), 20, message="the first textfile")
        break_it()
        ltxg.wait_until(lambda: b"textfile_write_failed" in w.stderr(), 20, message="the textfile failure")
        with open(prom, "rb") as f:
            good = f.read()
        self.assertIn(b"ltxguard_build_info", good)
        assert_prometheus_text(self, good)
        self.assertEqual(w.wait(30), 0, w.stderr())
        events = [json.loads(line) for line in w.stderr().splitlines()]
        failures = [e for e in events if e.get("event") == "textfile_write_failed"]
        # Logged when the error starts or changes (ext4 goes read-only after an I/O error),
        # never once a tick.
        self.assertIn(want_error, failures[0]["msg"])
        self.assertLessEqual(len(failures), 3, failures)
        for a, b in zip(failures, failures[1:]):
            self.assertNotEqual(a["msg"], b["msg"])
        self.assertGreaterEqual(len(w.records()), 15, "sampling went on")
        leftovers = [n for n in os.listdir(textfile) if n.startswith(".ltxguard.prom")]
        self.assertEqual(leftovers, [])
        return prom

    def test_full_textfile_directory_keeps_the_last_good_file(self):
        mnt = ltxg.tmpfs(self, 64 * KiB)
        filler = []
        prom = self.check_textfile_fault(mnt, lambda: filler.append(fill(mnt)), "No space left on device")
        # Space back: the next run writes it again.
        os.unlink(filler[0])
        before = os.stat(prom).st_mtime_ns
        w = Watch(self, "--db", small_db(self), "--textfile", mnt, interval="0.2", duration=0.5, listen=False)
        self.assertEqual(w.wait(30), 0, w.stderr())
        self.assertGreater(os.stat(prom).st_mtime_ns, before)

    def test_eio_on_the_textfile_directory_is_logged_once(self):
        mnt, cut = eio_mount(self)
        self.check_textfile_fault(mnt, cut, "Input/output error")

    def test_log_on_a_full_device_does_not_stop_the_watch(self):
        db = small_db(self)
        out = ltxg.temp_dir(self)
        rec = os.path.join(out, "rec.jsonl")
        with open("/dev/full", "w") as full:
            proc = subprocess.run([ltxg.ltxguard_bin(), "watch", "--db", db, "--record", rec, "--force", "--duration", "1",
                                   "--interval", "0.2", "--log-format", "text"], stdin=subprocess.DEVNULL,
                                  stdout=full, stderr=full, timeout=30)
        self.assertEqual(proc.returncode, 0)
        with open(rec) as f:
            self.assertGreaterEqual(len([json.loads(line) for line in f]), 5)


class SlowLoris:
    """`count` connections that each send one more byte of an endless request header every
    second; `stop()` closes them."""

    def __init__(self, tc, port, count=50):
        self.socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            self.socks.append(s)
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.drip, daemon=True)
        self.thread.start()
        tc.addCleanup(self.stop)

    def drip(self):
        while not self.halt.wait(1.0):
            for s in list(self.socks):
                try:
                    s.send(b"a")
                except OSError:
                    pass  # dropped by the server: fine, it keeps the others busy

    def stop(self):
        self.halt.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def raw_request(port, data, timeout=5):
    """Sends raw bytes; returns the status code of the reply, or None when the server closed
    or reset the connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        try:
            head = s.recv(64)
        except OSError:
            return None
    if not head.startswith(b"HTTP/1.1 "):
        return None
    return int(head[9:12])


class HttpEndpointTest(unittest.TestCase):
    def setUp(self):
        self.db = small_db(self)

    def test_only_get_of_the_two_paths_is_answered(self):
        w = Watch(self, "--db", self.db, interval="0.2")
        ltxg.wait_until(lambda: w.records(), 20, message="the first sample")
        self.assertEqual(w.get("/metrics")[0], 200)
        self.assertEqual(w.get("/metrics?x=1")[0], 200)
        self.assertIn(w.get("/healthz")[0], (200, 503))
        for path in ("/", "/metrics/", "/metrics/../healthz", "/debug/pprof", "/%2e%2e/etc/passwd"):
            self.assertEqual(raw_request(w.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()), 404, path)
        for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"):
            self.assertEqual(raw_request(w.port, f"{method} /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                                         .encode()), 405, method)

    def test_listens_on_loopback_only(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("10.255.255.255", 9))
                ip = probe.getsockname()[0]
            except OSError:
                ip = ""
        if not ip or ip.startswith("127."):
            self.skipTest("this host has no non-loopback IPv4 address")
        w = Watch(self, "--db", self.db, interval="0.2")
        ltxg.wait_until(lambda: w.records(), 20, message="the first sample")
        self.assertEqual(w.get("/metrics")[0], 200)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((ip, w.port), timeout=2).close()

    def test_oversized_requests_are_refused(self):
        w = Watch(self, "--db", self.db, interval="0.5")
        ltxg.wait_until(lambda: w.records(), 20, message="the first sample")
        # Refused with its status, or (when the server's close outruns the reply) dropped.
        self.assertIn(raw_request(w.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n"),
                      (400, None))
        self.assertIn(raw_request(w.port, b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"), (414, None))
        self.assertIn(raw_request(w.port, b"POST /metrics HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n" +
                                  b"a" * 65536), (405, None))
        # The whole header section is bounded too (kHttpMaxHeaderBytes, 16 KiB): 20,000 short
        # header lines are refused.
        self.assertIn(raw_request(w.port, b"GET /metrics HTTP/1.1\r\n" + b"X: y\r\n" * 20000 + b"\r\n"),
                      (431, None))
        self.assertEqual(w.get("/metrics")[0], 200)

    def test_slowloris_does_not_block_sampling(self):
        # 50 clients trickling a header byte a second: each is dropped kHttpTimeoutSeconds after
        # it connected, and meanwhile neither the sampler nor a scrape waits for them.
        w = Watch(self, "--db", self.db, interval="1")
        ltxg.wait_until(lambda: w.records(), 20, message="the first sample")
        attack_start = time.time()
        loris = SlowLoris(self, w.port, 50)
        time.sleep(0.5)
        t0 = time.monotonic()
        self.assertEqual(w.get("/metrics", timeout=2)[0], 200)
        self.assertLess(time.monotonic() - t0, 1.0)
        time.sleep(7.5)
        loris.stop()
        attack_end = time.time()
        ltxg.wait_until(lambda: w.get("/metrics", timeout=2)[0] == 200, 10, interval=0.5,
                        message="/metrics answered after the attack")
        w.proc.terminate()
        self.assertEqual(w.wait(20), 0, w.stderr())
        times = [r["time_ms"] / 1000 for r in w.records()]
        during = [t for t in times if attack_start <= t <= attack_end]
        self.assertGreaterEqual(len(during), 7, times)
        gaps = [b - a for a, b in zip(times[1:], times[2:])]
        self.assertLess(max(gaps), 1.5, gaps)


if __name__ == "__main__":
    unittest.main()
