#!/usr/bin/env python3
"""The "application" of the integration tests: commits rows of random bytes to a SQLite
WAL database at a steady pace and counts what SQLite accepted and refused.

Run by ltxg.AppWriter as its own process, so that SQLite's locking between it and
Litestream is the real cross-process one. Status (JSON) is written atomically to --status
every second, on SIGUSR1 and on exit (SIGTERM, SIGINT or --max-seconds). The status file
must live on a filesystem other than the database's: the database's may be full.
"""

import argparse
import json
import os
import signal
import sqlite3
import sys
import time

SQLITE_FULL = 13


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", required=True)
    p.add_argument("--status", required=True, help="JSON status file (not on the DB's filesystem)")
    p.add_argument("--row-bytes", type=int, default=16384)
    p.add_argument("--interval-seconds", type=float, default=0.0625)
    p.add_argument("--busy-timeout-ms", type=int, default=5000)
    # An orphaned writer must not run forever if the test runner itself was killed.
    p.add_argument("--max-seconds", type=float, default=600.0)
    return p.parse_args(argv)


class Writer:
    def __init__(self, args):
        self.args = args
        self.stop_requested = False
        self.status_requests = 0
        self.status_requests_written = 0
        self.started_unix = time.time()
        self.counts = {
            "ok": 0,            # committed
            "ok_bytes": 0,      # payload bytes committed
            "failed": 0,        # every refused commit, SQLITE_FULL included
            "full": 0,          # refused with SQLITE_FULL ("database or disk is full")
            "other_errors": 0,  # refused for any other reason (busy, I/O error, ...)
            "last_error": None,
            "first_full_unix": None,
            "last_full_unix": None,
            "first_ok_after_full_unix": None,
        }

    def on_sigterm(self, signum, frame):
        self.stop_requested = True

    def on_sigusr1(self, signum, frame):
        self.status_requests += 1

    def write_status(self, state):
        doc = dict(self.counts)
        doc.update({
            "pid": os.getpid(),
            "state": state,
            "requests": self.status_requests,
            "started_unix": self.started_unix,
            "written_unix": time.time(),
            "row_bytes": self.args.row_bytes,
            "interval_seconds": self.args.interval_seconds,
        })
        tmp = f"{self.args.status}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.args.status)
        self.status_requests_written = self.status_requests

    def commit_one(self, conn):
        payload = os.urandom(self.args.row_bytes)
        try:
            conn.execute("INSERT INTO app_rows(data) VALUES (?)", (payload,))
        except sqlite3.Error as e:
            now = time.time()
            self.counts["failed"] += 1
            self.counts["last_error"] = str(e)
            code = getattr(e, "sqlite_errorcode", None)
            if code == SQLITE_FULL or "database or disk is full" in str(e):
                self.counts["full"] += 1
                self.counts["last_full_unix"] = now
                if self.counts["first_full_unix"] is None:
                    self.counts["first_full_unix"] = now
            else:
                self.counts["other_errors"] += 1
            if conn.in_transaction:
                try:
                    conn.rollback()
                except sqlite3.Error:
                    pass
            return
        self.counts["ok"] += 1
        self.counts["ok_bytes"] += len(payload)
        if self.counts["last_full_unix"] is not None and self.counts["first_ok_after_full_unix"] is None:
            self.counts["first_ok_after_full_unix"] = time.time()

    def run(self):
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.signal(signal.SIGINT, self.on_sigterm)
        signal.signal(signal.SIGUSR1, self.on_sigusr1)
        # Autocommit: every INSERT is its own transaction, i.e. one WAL commit.
        conn = sqlite3.connect(self.args.db, isolation_level=None, timeout=self.args.busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout={int(self.args.busy_timeout_ms)}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            print(f"app_writer: journal_mode is {mode}, not wal", file=sys.stderr)
            return 2
        conn.execute("CREATE TABLE IF NOT EXISTS app_rows(id INTEGER PRIMARY KEY, data BLOB)")
        self.write_status("running")

        interval = self.args.interval_seconds
        deadline = time.monotonic() + self.args.max_seconds
        next_commit = time.monotonic()
        last_status = time.monotonic()
        while not self.stop_requested and time.monotonic() < deadline:
            now = time.monotonic()
            if next_commit > now:
                time.sleep(next_commit - now)
                if self.stop_requested:
                    break
            self.commit_one(conn)
            next_commit += interval
            # After a long stall (busy wait, full disk) keep the pace instead of bursting.
            if time.monotonic() - next_commit > 1.0:
                next_commit = time.monotonic()
            if self.status_requests != self.status_requests_written or time.monotonic() - last_status >= 1.0:
                self.write_status("running")
                last_status = time.monotonic()
        conn.close()
        self.write_status("stopped")
        return 0


def main(argv):
    return Writer(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
