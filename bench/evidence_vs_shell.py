#!/usr/bin/env python3
"""`ltxguard evidence` next to the incident brief's manual sequence, timed side by side.

Two trees, each next to a real 1 GiB SQLite database on one filesystem (ext4 on a loop device
over a sparse image on the real disk by default, or a tmpfs):
  (a) a Litestream 0.3 meta dir with 100,000 shadow WAL segments
      `.app.db-litestream/generations/<gen>/wal/<index %08x>.wal` (4 KiB each);
  (b) a Litestream 0.5 meta dir holding one in-flight 1 GiB
      `ltx/0/0000000000000001-0000000000000001.ltx.tmp` (real LTX bytes: tests/doubles/
      ltx_write_tool encodes a snapshot of the database, cut at 1 GiB as a write in flight).
Both sides read the same real journal (100,000 entries, 20,000 of them Litestream's) from a
directory: `journalctl --directory J` for the shell, `--journal-dir J` for ltxguard.

The shell side runs the brief's seven lines verbatim (`df -h; df -i; du -sh DB WAL SHM
meta/ltx/0 | sort -h; find … -size +100M; journalctl -u litestream -n 300`) and a fixed
variant that covers what the verbatim one is blind to (`du -sh` of the whole meta dir,
`find -path "*/.*-litestream/*"`). ltxguard runs `evidence --samples 1 --interval 0` (one
snapshot, like the shell) with the config and the Litestream binary to ask for its version.

Cold runs drop the page/dentry/inode caches before every command (echo 3 > drop_caches);
warm runs follow an untimed warm-up of every command. Bytes read from the database are
counted with strace (-f -y: every read/pread/readv on an fd whose path is the database; any
mmap of it is reported too). Target from the issue: ltxguard <= 0.3x the shell's wall time,
and 100 bytes read from the database.
"""
import argparse
import json
import os
import re
import sys
import tempfile

import benchlib as bl
from benchlib import GiB, MiB

TARGET_RATIO = 0.3
LTX_TMP_NAME = "0000000000000001-0000000000000001.ltx.tmp"

# The incident brief's read-only evidence, verbatim, but for the journal source (both sides
# read the same copied journal directory: this machine runs no journald).
SHELL_VERBATIM = r'''
DB_DIR=$(dirname "$DB")
df -h "$DB_DIR"
df -i "$DB_DIR"
du -sh "$DB" "$DB-wal" "$DB-shm" "$DB_DIR"/.*-litestream/ltx/0 2>/dev/null | sort -h
find "$DB_DIR" -path ".*-litestream/ltx/0/*" -type f -size +100M -print 2>/dev/null
journalctl --directory "$JOURNAL_DIR" -u litestream -n 300 --no-pager 2>/dev/null || true
'''

# The same, with the blind spots fixed (litestream-facts.md): the whole meta dir for du (the
# 0.3 shadow WAL is not under ltx/0) and a -path pattern that matches absolute paths.
SHELL_FIXED = r'''
DB_DIR=$(dirname "$DB")
df -h "$DB_DIR"
df -i "$DB_DIR"
du -sh "$DB" "$DB-wal" "$DB-shm" "$DB_DIR"/.*-litestream 2>/dev/null | sort -h
find "$DB_DIR" -path "*/.*-litestream/*" -type f -size +100M -print 2>/dev/null
journalctl --directory "$JOURNAL_DIR" -u litestream -n 300 --no-pager 2>/dev/null || true
'''

READ_CALLS = ("read", "pread64", "readv", "preadv", "preadv2")
STRACE_CALLS = "openat,open,read,pread64,readv,preadv,preadv2,mmap,sendfile,copy_file_range,splice"
_CALL_RX = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)$")
_RESUMED_RX = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+<\.\.\. (\w+) resumed>(.*)$")
_RESULT_RX = re.compile(r"\)\s+=\s+(-?\d+|0x[0-9a-f]+)")
_FD_RX = re.compile(r"^(\d+)<([^>]*)>")
_OPENED_RX = re.compile(r"\)\s+=\s+\d+<([^>]*)>")


def db_bytes_read(strace_path, db):
    """From an `strace -f -y` log: bytes read from db, -wal and -shm, how they were opened,
    and whether db was mmapped."""
    out = {"db": 0, "wal": 0, "shm": 0, "db_opens": [], "db_mmaps": 0, "all_read_bytes": 0}
    pending = {}  # pid -> (call, args) of an <unfinished ...> call
    names = {db: "db", db + "-wal": "wal", db + "-shm": "shm"}
    with open(strace_path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = _RESUMED_RX.match(line)
            if m:
                pid, call, rest = m.groups()
                if pid not in pending:
                    continue
                call, args = pending.pop(pid)
                args = args + rest
            else:
                m = _CALL_RX.match(line)
                if not m:
                    continue
                pid, call, args = m.groups()
                if args.endswith("<unfinished ...>"):
                    pending[pid] = (call, args[: -len("<unfinished ...>")])
                    continue
            res = _RESULT_RX.search(args)
            if call in ("openat", "open"):
                opened = _OPENED_RX.search(args)
                if opened and opened.group(1) == db:
                    flags = re.search(r"\b(O_[A-Z]+(?:\|O_[A-Z]+)*)", args)
                    out["db_opens"].append(flags.group(1) if flags else "?")
                continue
            if call == "mmap":
                parts = args.split(",")
                if len(parts) >= 5:
                    fd = _FD_RX.match(parts[4].strip())
                    if fd and fd.group(2) in names:
                        out["db_mmaps"] += 1
                continue
            fd = _FD_RX.match(args)
            if not res or not fd or res.group(1).startswith("0x"):
                continue
            n = int(res.group(1))
            if n <= 0:
                continue
            if call in READ_CALLS:
                out["all_read_bytes"] += n
                key = names.get(fd.group(2))
                if key:
                    out[key] += n
            elif call in ("sendfile", "copy_file_range", "splice") and fd.group(2) in names:
                out[names[fd.group(2)]] += n
    return out


def straced(cmd, env, db, work):
    fd, log = tempfile.mkstemp(prefix="strace-", suffix=".log", dir=work)
    os.close(fd)
    full = ["strace", "-f", "-y", "-qq", "-e", "trace=" + STRACE_CALLS, "-e", "signal=none",
            "-o", log] + cmd
    _, proc = bl.timed(full, env=env)
    counts = db_bytes_read(log, db)
    os.unlink(log)
    counts["exit"] = proc.returncode
    counts["stdout"] = proc.stdout
    return counts


def build_trees(res, args, mnt, work):
    """Case (a) 0.3 segments and case (b) 0.5 .ltx.tmp, each with its own 1 GiB DB."""
    print(f"building a {args.db_bytes / GiB:.2f} GiB database ...", flush=True)
    template, pages = bl.make_template_db(res, args.db_bytes)
    cases = {}
    # (a) 0.3: shadow WAL segments.
    da = os.path.join(mnt, "a")
    os.mkdir(da)
    dba = os.path.join(da, "app.db")
    bl.copy_file(template, dba)
    print(f"building {args.files} shadow WAL segments of {args.file_bytes} B ...", flush=True)
    wal = bl.meta_03(dba)
    bl.make_segments(wal, 0, args.files, args.file_bytes)
    cases["a"] = {"db": dba, "what": f"0.3, {args.files} shadow WAL segments x "
                                     f"{args.file_bytes} B", "litestream_bin": bl.litestream03_bin()}
    # (b) 0.5: one in-flight LTX snapshot, real bytes, cut at tmp_bytes.
    db_dir = os.path.join(mnt, "b")
    os.mkdir(db_dir)
    dbb = os.path.join(db_dir, "app.db")
    bl.copy_file(template, dbb)
    level0 = os.path.join(bl.ltxg.meta_dir_03(dbb), "ltx", "0")
    os.makedirs(level0)
    tmp = os.path.join(level0, LTX_TMP_NAME)
    print(f"encoding an LTX snapshot into {args.tmp_bytes / GiB:.2f} GiB .ltx.tmp ...", flush=True)
    bl.run_quiet([bl.tool_bin("ltx_write_tool"), "snapshot", dbb, tmp, "frame"])
    if os.path.getsize(tmp) < args.tmp_bytes:
        sys.exit(f"the snapshot is {os.path.getsize(tmp)} B, less than --tmp-bytes")
    os.truncate(tmp, args.tmp_bytes)
    cases["b"] = {"db": dbb, "what": f"0.5, one {args.tmp_bytes / GiB:.2f} GiB .ltx.tmp",
                  "litestream_bin": bl.tool_bin("litestream05_double"), "tmp": tmp}
    for key, c in cases.items():
        c["config"] = bl.ltxg.write_litestream_config(
            os.path.join(work, f"litestream-{key}.yml"),
            [{"path": c["db"], "replicas": [{"type": "file",
                                              "path": os.path.join(work, f"replica-{key}")}]}])
    print("building the journal ...", flush=True)
    jdir = os.path.join(work, "journal")
    bl.build_journal(jdir, args.journal_litestream, args.journal_other, dba)
    os.sync()
    return cases, jdir, pages


def commands(case, jdir):
    env = {"DB": case["db"], "JOURNAL_DIR": jdir, "LC_ALL": "C"}
    lg = [bl.ltxguard_bin(), "evidence", "--db", case["db"], "--config", case["config"],
          "--journal-dir", jdir, "--samples", "1", "--interval", "0"]
    if os.access(case["litestream_bin"], os.X_OK):
        lg += ["--litestream-bin", case["litestream_bin"]]
    return {"shell_verbatim": ["bash", "-c", SHELL_VERBATIM],
            "shell_fixed": ["bash", "-c", SHELL_FIXED],
            "ltxguard": lg}, env


def measure(cases, jdir, args):
    names = ("shell_verbatim", "shell_fixed", "ltxguard")
    times = {k: {m: {n: [] for n in names} for m in args.modes} for k in cases}
    loads = []
    for key, case in cases.items():
        cmds, env = commands(case, jdir)
        for mode in args.modes:
            if mode == "warm":
                for n in names:
                    bl.timed(cmds[n], env=env)
            for rep in range(args.repeat):
                order = names[rep % 3:] + names[:rep % 3]  # rotate to spread drift evenly
                for n in order:
                    if mode == "cold":
                        bl.drop_caches()
                    t, proc = bl.timed(cmds[n], env=env)
                    if proc.returncode not in (0,) and n == "ltxguard":
                        raise RuntimeError(f"ltxguard evidence exited {proc.returncode}: "
                                           f"{proc.stderr[-500:]}")
                    times[key][mode][n].append(t)
                loads.append(bl.loadavg()[0])
            row = times[key][mode]
            print(f"  ({key}) {mode:4}: " + ", ".join(
                f"{n} {bl.fmt_summary(bl.summary(row[n]))}" for n in names), flush=True)
    return times, loads


def checks(cases, jdir, work):
    """What each side finds (one run each, outside the timing) and the DB bytes it reads."""
    out = {}
    for key, case in cases.items():
        cmds, env = commands(case, jdir)
        r = {}
        for n in ("shell_verbatim", "shell_fixed", "ltxguard"):
            r[n] = straced(cmds[n], env, case["db"], work)
        _, proc = bl.timed(cmds["ltxguard"] + ["--json"], env=env)
        doc = json.loads(proc.stdout)
        st = doc["staging"]
        found = {"ltxguard_files": st["file_count"], "ltxguard_bytes": st["bytes"],
                 "ltxguard_in_flight_bytes": st["in_flight_bytes"],
                 "ltxguard_layout": st["layout"],
                 "ltxguard_log_lines": doc["log"]["lines_read"],
                 "ltxguard_version": doc["litestream"].get("version")}
        if "tmp" in case:
            for n in ("shell_verbatim", "shell_fixed"):
                found[f"{n}_lists_tmp"] = case["tmp"] in r[n]["stdout"]
            found["ltxguard_lists_tmp"] = any(f["path"] == case["tmp"] for f in st["files"])
        for n in r:
            r[n].pop("stdout")
        out[key] = {"strace": r, "found": found}
    return out


def report(cases, times, chk, args):
    print()
    print(f"evidence_vs_shell: {args.fs}, DB {args.db_bytes / GiB:.2f} GiB, "
          f"repeat {args.repeat}, median [min..max]")
    ratios = {}
    for key, case in cases.items():
        print(f"({key}) {case['what']}")
        for mode in args.modes:
            row = {n: bl.summary(v) for n, v in times[key][mode].items()}
            lg = row["ltxguard"]["median"]
            rv = lg / row["shell_verbatim"]["median"]
            rf = lg / row["shell_fixed"]["median"]
            ratios[f"{key}_{mode}"] = {"vs_verbatim": rv, "vs_fixed": rf}
            print(f"  {mode:4}  shell (brief verbatim) {bl.fmt_summary(row['shell_verbatim'])}"
                  f" | shell (fixed) {bl.fmt_summary(row['shell_fixed'])}"
                  f" | ltxguard {bl.fmt_summary(row['ltxguard'])}")
            print(f"        ratio ltxguard/shell: {rv:.3f} (verbatim), {rf:.3f} (fixed); "
                  f"target <= {TARGET_RATIO}: {'MET' if rv <= TARGET_RATIO else 'MISSED'} "
                  f"(verbatim), {'MET' if rf <= TARGET_RATIO else 'MISSED'} (fixed)")
        s = chk[key]["strace"]
        lg = s["ltxguard"]
        print(f"  bytes read from the DB (strace): ltxguard {lg['db']} (opens: "
              f"{', '.join(lg['db_opens']) or 'none'}; mmaps {lg['db_mmaps']}; -wal {lg['wal']}, "
              f"-shm {lg['shm']}), shell verbatim {s['shell_verbatim']['db']}, shell fixed "
              f"{s['shell_fixed']['db']}; target = 100: "
              f"{'MET' if lg['db'] == 100 and lg['db_mmaps'] == 0 else 'MISSED'}")
        print(f"  all bytes read (strace): ltxguard {lg['all_read_bytes']}, shell verbatim "
              f"{s['shell_verbatim']['all_read_bytes']}, shell fixed "
              f"{s['shell_fixed']['all_read_bytes']}")
        print("  found: " + ", ".join(f"{k}={v}" for k, v in chk[key]["found"].items()))
    return ratios


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fs", choices=("ext4", "tmpfs"), default="ext4")
    ap.add_argument("--db-bytes", type=int, default=1 * GiB)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--file-bytes", type=int, default=4096)
    ap.add_argument("--tmp-bytes", type=int, default=1 * GiB)
    ap.add_argument("--journal-litestream", type=int, default=20_000)
    ap.add_argument("--journal-other", type=int, default=80_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="cold,warm", help="cold, warm or both")
    ap.add_argument("--json", default=bl.default_json("evidence_vs_shell"))
    args = ap.parse_args()
    args.modes = [m for m in args.modes.split(",") if m]
    if args.tmp_bytes > args.db_bytes:
        ap.error("--tmp-bytes must not exceed --db-bytes (it is a cut of the DB's snapshot)")
    bl.require([bl.ltxguard_bin(), bl.tool_bin("ltx_write_tool"), "/usr/bin/strace"])
    machine = bl.machine_info()
    fs_bytes = int(2.25 * args.db_bytes + args.tmp_bytes + args.files * (args.file_bytes + 4096)
                   + 256 * MiB)
    inodes = max(65536, int(args.files * 1.3) + 10000)
    with bl.Resources() as res:
        work = res.temp_dir(base="/var/tmp")
        mnt = res.filesystem(args.fs, fs_bytes, inodes)
        cases, jdir, pages = build_trees(res, args, mnt, work)
        print(f"timing on {args.fs} at {mnt} (load {bl.loadavg()}) ...", flush=True)
        times, loads = measure(cases, jdir, args)
        chk = checks(cases, jdir, work)
        ratios = report(cases, times, chk, args)
        print(f"load average (1 min) during the runs: {min(loads):.2f}..{max(loads):.2f}")
        doc = {"bench": "evidence_vs_shell", "machine": machine,
               "config": {k: (v if not callable(v) else None) for k, v in vars(args).items()},
               "fs": args.fs, "db_pages": pages, "target_ratio": TARGET_RATIO,
               "cases": {k: {"what": c["what"], "times": times[k],
                             "summary": {m: {n: bl.summary(v) for n, v in times[k][m].items()}
                                         for m in args.modes},
                             "checks": chk[k]} for k, c in cases.items()},
               "ratios": ratios, "loadavg_1m_during": [min(loads), max(loads)]}
        bl.write_result(args.json, doc)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(bl.main_guard(main))
