"""Cross-check of the test-side LTX writer (tests/support/ltx_writer.cpp, driven through
tests/doubles/ltx_write_tool) against the independent Python decoder
tests/testdata/ltx/ltxinspect.py, on real SQLite databases at several page sizes.

What the writer stages is what the Litestream 0.5 test double stages, and the unit tests
check the C++ parser against the writer: this test closes the loop with code that shares
nothing with either. Needs no root.
"""

import json
import os
import sqlite3
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ltxg  # noqa: E402

LTX_DIR = os.path.join(ltxg.source_dir(), "tests", "testdata", "ltx")
sys.path.insert(0, LTX_DIR)
import ltxinspect  # noqa: E402


def ltx_pages(buf):
    """{pgno: page bytes} of a v3 LTX file, decoded with ltxinspect's LZ4 routines."""
    p, pages = 100, {}
    while True:
        pgno, flags = struct.unpack_from(">IH", buf, p)
        p += 6
        if pgno == 0:
            return pages
        if flags & 1:
            (n,) = struct.unpack_from(">I", buf, p)
            pages[pgno] = ltxinspect.lz4_block_decompress(buf[p + 4:p + 4 + n])
            p += 4 + n
        else:
            pages[pgno], p, _ = ltxinspect.lz4_frame_decode(buf, p)


class LtxCrosscheckTest(unittest.TestCase):
    def setUp(self):
        self.tool = ltxg.double_bin("ltx_write_tool")
        ltxg.require_executable(self, self.tool, "ltx_write_tool")
        self.dir = ltxg.temp_dir(self)

    def make_db(self, page_size, encoding):
        """A WAL database whose newest rows are still only in the WAL: an app connection
        stays open (closing the last one would checkpoint) until cleanup."""
        path = os.path.join(self.dir, f"app-{page_size}-{encoding}.db")
        conn = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(conn.close)
        conn.execute(f"PRAGMA page_size={page_size}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)")
        for i in range(40):
            body = os.urandom(3000) if i % 2 else (b"lorem ipsum %d " % i) * 200
            conn.execute("INSERT INTO t(body) VALUES (?)", (body,))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for i in range(10):
            conn.execute("INSERT INTO t(body) VALUES (?)", (os.urandom(2000),))
        self.assertGreater(os.path.getsize(path + "-wal"), 0)
        return path, conn

    def test_writer_output_verifies_with_ltxinspect(self):
        for page_size in (512, 1024, 4096, 16384, 65536):
            for encoding in ("frame", "block"):
                with self.subTest(page_size=page_size, encoding=encoding):
                    db, conn = self.make_db(page_size, encoding)
                    out = os.path.join(self.dir, f"{page_size}-{encoding}.ltx")
                    proc = subprocess.run([self.tool, "snapshot", db, out, encoding],
                                          capture_output=True, text=True, timeout=60)
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    self.assertEqual(int(proc.stdout), os.path.getsize(out))
                    check = subprocess.run([sys.executable, os.path.join(LTX_DIR, "ltxinspect.py"), out],
                                           capture_output=True, text=True, timeout=120)
                    self.assertEqual(check.returncode, 0, check.stdout)
                    doc = json.loads(check.stdout)
                    pages = conn.execute("PRAGMA page_count").fetchone()[0]
                    self.assertEqual(doc["layout"], "v3")
                    self.assertEqual(doc["page_count"], pages)
                    self.assertEqual(doc["header"]["page_size"], page_size)
                    self.assertEqual(doc["header"]["commit"], pages)
                    self.assertEqual(doc["header"]["flags"], 2)
                    self.assertEqual(doc["header"]["wal_offset"], 32)
                    self.assertTrue(doc["quick_structure_v2v3"]["ok"])
                    self.assertEqual(doc["page_encodings"], ["lz4-block(flag=0x0001)"] if encoding == "block"
                                     else ["lz4-frame(flag=0)"])
                    if encoding == "frame":
                        self.assertIs(doc["lz4_frame_content_checksums_ok"], True)
                    # The pages are the database as SQLite sees it, WAL frames included.
                    with open(out, "rb") as f:
                        decoded = ltx_pages(f.read())
                    image = conn.serialize()
                    self.assertEqual(sorted(decoded), list(range(1, pages + 1)))
                    self.assertEqual(b"".join(decoded[p] for p in sorted(decoded)), image)

    def test_tool_fails_cleanly_on_a_missing_database(self):
        proc = subprocess.run([self.tool, "snapshot", os.path.join(self.dir, "none.db"),
                               os.path.join(self.dir, "x.ltx")], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("ltx_write_tool: ", proc.stderr)


if __name__ == "__main__":
    unittest.main()
