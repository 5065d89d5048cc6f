#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/) and dictionaries (fuzz/dict/).
Deterministic; rerun after changing a seed here. It only (over)writes its own seeds: the
regression inputs of fixed bugs (fuzz/corpus/<target>/regress-*) stay. LTX seeds use tests/testdata/ltx/make_synthetic.py's
encoder with 512-byte pages so they stay small; the real v1 fixture is copied as is."""
import os
import shutil
import sys

here = os.path.dirname(os.path.abspath(__file__))
src = os.path.dirname(here)
testdata = os.path.join(src, "tests", "testdata")
sys.path.insert(0, os.path.join(testdata, "ltx"))
import make_synthetic as ms  # noqa: E402


def write(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def ltx_seeds():
    ps = 512
    pages = [(p, bytes((p * 7 + i) % 251 for i in range(ps))) for p in (1, 2, 3)]
    hdr = ms.header_bytes(0x2, ps, 3, 1, 1, 1700000000000, 0, 32, 3 * (ps + 24), 1, 2)
    frame = ms.encode_ltx(hdr, pages, "frame")
    block = ms.encode_ltx(hdr, pages, "block")
    write("ltx", "snapshot-frame-512.ltx", frame)
    write("ltx", "snapshot-block-512.ltx", block)
    write("ltx", "snapshot-block-512.ltx.tmp", block[: len(block) // 2])
    inc_hdr = ms.header_bytes(0x2, ps, 5, 2, 4, 1700000001000, 0, 2000, 600, 1, 2)
    write("ltx", "incremental-block-512.ltx", ms.encode_ltx(inc_hdr, [(2, pages[1][1]), (5, b"\0" * ps)], "block"))
    write("ltx", "header-only.ltx", hdr)
    for name in ("litestream-fixture-ltxv1-000000000000000d-000000000000000d.ltx",
                 "synthetic-v3block-l0-incremental-0000000000000002-0000000000000002.ltx"):
        shutil.copy(os.path.join(testdata, "ltx", name), os.path.join(here, "corpus", "ltx", name))


def sqlite_seeds():
    with open(os.path.join(testdata, "ltx", "litestream-fixture-ltxv1-post-apply-state.db"), "rb") as f:
        write("names_and_header", "fixture-header", f.read(100))
    h = bytearray(b"SQLite format 3\0" + b"\0" * 84)
    h[16:18] = (1).to_bytes(2, "big")  # 65536
    h[18] = h[19] = 2
    h[24:28] = h[92:96] = (7).to_bytes(4, "big")
    h[28:32] = (123456).to_bytes(4, "big")
    write("names_and_header", "wal-64k", bytes(h))


LOG_LINES = {
    "03-startup": 'time=2026-11-25T14:15:05.839Z level=INFO msg=litestream version=v0.3.13',
    "03-segment": 'time=2026-11-25T14:15:08.842Z level=INFO msg="write wal segment" db=/tmp/a/app.db replica=fr position=f44ce0d2c5535af4/00000000:16512\n'
                  'time=2026-11-25T14:15:08.844Z level=INFO msg="wal segment written" db=/tmp/a/app.db replica=fr position=f44ce0d2c5535af4/00000000:16512 elapsed=1.48783ms sz=4120',
    "03-enospc": 'time=2026-11-25T14:15:30.814Z level=ERROR msg="sync error" db=/tmp/lsfull/app.db error="sync wal: cannot copy to shadow wal: write temp shadow wal: write /tmp/lsfull/.app.db-litestream/generations/3be24a4949c57ca0/wal/00000000.wal.tmp: no space left on device"',
    "03-json": '{"time":"2026-11-25T14:15:16.487705287Z","level":"INFO","msg":"litestream","version":"v0.3.13"}\n'
               '{"time":"2026-11-25T14:15:19.49Z","level":"INFO","msg":"wal segment written","db":"/tmp/a/app.db","replica":"fr","position":"eeda8768d29b3716/00000000:20632","elapsed":"1.365898ms","sz":4120}',
    "03-unstructured": '2023/10/01 12:00:00 /d/app.db(fr): monitor error: write /r/x.tmp: no space left on device',
    "05-startup": 'time=2025-10-01T12:00:00.000Z level=INFO msg=litestream version=0.5.2 level=""',
    "05-sync-error": 'time=2025-10-01T12:00:01.000Z level=ERROR msg="sync error" db=app.db error="sync: write ltx from db: encode ltx frame (pgno=1234): write page data: write /d/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx.tmp: no space left on device" consecutive_errors=3 backoff=4s',
    "05-disk-full": 'time=2025-10-01T12:00:02.000Z level=ERROR msg="disk full while staging ltx file, replication paused until space is freed" db=app.db error="sync: stage-write ltx file /d/x.ltx.tmp: disk full: encode ltx frame (pgno=5): write page data: write /d/x.ltx.tmp: no space left on device" path=/d/x.ltx.tmp txid=0000000000000001 consecutive_errors=4 backoff=8s max_backoff=5m0s',
    "05-cleanup": 'time=2025-10-01T12:00:03.000Z level=WARN msg="attempting temp file cleanup due to persistent disk errors" db=app.db',
    "05-recovered": 'time=2025-10-01T12:05:00.000Z level=INFO msg="sync recovered" db=app.db previous_errors=12',
    "05-json": '{"time":"2025-10-01T12:00:00Z","level":"INFO","msg":"litestream","version":"0.5.16","level":"debug"}\n'
               '{"time":"2025-10-01T12:00:01Z","level":"ERROR","msg":"sync error","db":"app.db","error":"sync: open database: unable to open database file","consecutive_errors":7,"backoff":64000000000}',
    "05-monitor": 'time=2025-10-01T12:00:04.000Z level=ERROR msg="monitor error" db=app.db replica=s3 error="operation error S3: PutObject, https response error StatusCode: 403"',
    "syslog-prefix": 'Oct  1 12:00:00 host litestream[42]: time=2025-10-01T12:00:01.000Z level=ERROR msg="sync error" db=app.db error="disk quota exceeded"',
}

CONFIGS = {
    "03-file": "dbs:\n  - path: /var/lib/app/app.db\n    replicas:\n      - type: file\n        path: /backup/app\n",
    "03-s3": "access-key-id: ${AWS_ACCESS_KEY_ID}\nsecret-access-key: literalsecret1234\naddr: 127.0.0.1:9090\n"
             "dbs:\n  - path: /d/app.db\n    meta-path: /meta/app\n    replicas:\n      - name: s3\n"
             "        url: s3://${BUCKET}/app?sse-customer-key=abcdefgh1234\n        retention: 24h\n"
             "      - url: sftp://user:pa55word@backup.example.com:22/srv/app\n        key-path: /etc/key\n",
    "05-dir": "logging:\n  type: json\n  level: debug\ndbs:\n  - dir: ${DIR}\n    pattern: \"*.db\"\n    recursive: true\n"
              "    watch: true\n    meta-dir: /var/lib/ls\n    replica:\n      type: s3\n      bucket: b\n      path: p\n"
              "      endpoint: http://minio:9000\n      region: us-east-1\n",
    "05-anchors": "x: &r\n  type: gs\n  bucket: gbucket\ndbs:\n  - path: ~/app.db\n    replica:\n      <<: *r\n      path: $1$$x\n"
                  "  - path: relative/app.db\n    replicas: [{url: 'abs://acct@container/p?sas-token=zzzzzzzz'}]\n",
    "secrets": "dbs:\n  - path: /d/a.db\n    replica:\n      type: webdav\n      url: webdavs://u:p4ssw0rd@dav.example.com/x\n"
               "      webdav-password: ${NESTED}\n      age:\n        identities:\n          - AGE-SECRET-KEY-1QQQQQQQQ\n"
               "      heartbeat-url: https://hc.example.com/ping/abcdef\n      exec: /bin/sh -c 'echo ${AWS_SECRET_ACCESS_KEY}'\n",
}

POLICIES = {
    "full": "reserve_percent: 7.5\napp_wal_headroom_bytes: 512MiB\nmax_staging_bytes: 40GiB\nmin_free_bytes: 1073741824\n"
            "staging_overhead_ratio: 1.03\nwal_growth_bytes: '256 MiB'\napp_write_bytes_per_second: 2MiB/s\n"
            "staging_write_bytes_per_second: 20MB/s\nwarn_at: 10%\ncritical_at: 2GiB\nlead_time_seconds: 600\n",
    "reserve": "# comment\nreserve_bytes: 1.5GiB\n",
    "size": "18446744073709551615",
    "size-unit": "0.999999999999999999 PiB",
}

MOUNTINFO = (
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "35 22 8:1 /var/lib/app\\040data /srv/my\\040db rw,noatime shared:1 master:2 - ext4 /dev/sda1 rw\n"
    "36 22 0:40 / /mnt/tab\\011dir rw - tmpfs tmpfs rw,size=1024k\n"
    "37 22 0:41 / /mnt/back\\134slash rw,nosuid - tmpfs  rw\n"
    "43 38 8:2 /sub /data/sub rw - xfs /dev/sda2 rw\n"
    "50 22 0:50 / /mnt/fuse rw,nosuid,nodev - fuse.sshfs user@host:/x rw,user_id=0\n"
)

UNITS = {
    "shipped.service": "[Unit]\nDescription=Litestream\n\n[Service]\nRestart=always\nExecStart=/usr/bin/litestream replicate\n\n[Install]\nWantedBy=multi-user.target\n",
    "hardened.service": "[Service]\nUser=litestream\nExecStartPre=\nExecStartPre=/usr/bin/ltxguard preflight \\\n  --db /d/app.db\n"
                        "Environment=\"A=1\" B=2\nTimeoutStopSec=1min 30s\nWatchdogSec=500ms\n; comment\nRestartSec=infinity\nNoNewPrivileges=yes\n",
}

NAMES = [
    "ltx/0/0000000000000001-0000000000000001.ltx.tmp", "ltx/9/00000000000000ff-0000000000000fff.ltx",
    "generations/0123456789abcdef/wal/00000002.wal.tmp", "generations/0123456789abcdef/wal/0000000a_00001000.wal.lz4",
    "generations/0123456789abcdef/snapshots/00000000.snapshot.lz4", "generation", "v0.3.13", "0.5.2",
    "v0.5.0-beta1", "(development build abc123-dirty)", "/d/x/d/x",
]

RECORD_LINE = (
    '{"time_ms":1795625317486,"filesystems":[{"mount":"/tmp/t","dev":38,"total_bytes":33554432,'
    '"free_bytes":14585856,"avail_bytes":14585856,"inodes_free":3085448,"reserve_bytes":3355444}],"databases":[{"db":'
    '"/tmp/t/app.db","db_fs_dev":38,"staging_fs_dev":38,"wal_bytes":32992,"staging_bytes":0,'
    '"in_flight":[{"rel_path":"ltx/0/0000000000000001-0000000000000001.ltx.tmp","bytes":50109,"expected_final_bytes":'
    '19120889}],"litestream_alive":true,"new_log_lines":0,"new_disk_full_lines":0,"state":"warning","reason":'
    '"remaining staging write 18.2 MiB cannot fit","headroom_bytes":-7834126,"seconds_to_reserve_breach":null,'
    '"remaining_staging_bytes":19064538,"projected_staging_bytes":19064538,"staging_peak_bytes":0,'
    '"disk_full_events_total":0,"stop_recommended":true}],"events":[{"kind":"remaining_write_cannot_fit","db":'
    '"/tmp/t/app.db","message":"remaining staging write 18.2 MiB cannot fit"}]}'
)

ALARM = ('{\n  "latched": true,\n  "latched_at_ms": 1764000000123,\n  "db_path": "/d/app.db",\n  "condition": "wedge",\n'
         '  "reason": "wedged: no upload for 30 s",\n  "headroom_bytes": -1024,\n  "stop_outcome": "exited 0 after SIGTERM",\n'
         '  "evidence_files": ["/var/lib/ltxguard/e.json"],\n  "evidence_note": "",\n  "cleared_at_ms": 0,\n  "cleared_how": ""\n}\n')

DICTS = {
    "ltx": ['"LTX1"', '"\\x04\\x22\\x4d\\x18"', '"\\x00\\x00\\x02\\x00"', '"\\x00\\x00\\x10\\x00"', '"\\x00\\x01"',
            '"\\x80\\x00\\x00\\x00\\x00\\x00\\x00\\x00"'],
    "log_line": ['"time="', '"level=ERROR"', '"level=INFO"', '"msg="', '"\\"sync error\\""', '"error="', '"db="',
                 '"version="', '"no space left on device"', '"disk quota exceeded"', '"consecutive_errors="',
                 '"{\\"time\\":"', '"{\\"level\\":"', '"\\"msg\\":"', '"\\"error\\":"', '"disk full while staging ltx file"',
                 '"attempting temp file cleanup"', '"write wal segment"', '"wal segment written"', '"sync recovered"',
                 '"monitor error"', '"replica="', '"position="', '"\\\\u00e9"', '"\\\\x41"'],
    "litestream_config": ['"dbs:"', '"- path: "', '"replicas:"', '"replica:"', '"url: "', '"type: "', '"meta-path: "',
                          '"meta-dir: "', '"dir: "', '"pattern: "', '"bucket: "', '"secret-access-key: "',
                          '"access-key-id: "', '"${AWS_SECRET_ACCESS_KEY}"', '"${BUCKET}"', '"$DIR"', '"${"', '"$$"',
                          '"s3://"', '"sftp://u:p@h/"', '"webdavs://"', '"<<: *"', '"&a "', '"addr: "', '"logging:"',
                          '"sse-customer-key"', '"password: "', '"age:"', '"identities:"', '"AGE-SECRET-KEY-1"',
                          '"AKIAABCDEFGHIJKLMNOP"', '"-----BEGIN PRIVATE KEY-----"', '"Authorization: "'],
    "policy": ['"reserve_bytes: "', '"reserve_percent: "', '"app_wal_headroom_bytes: "', '"max_staging_bytes: "',
               '"min_free_bytes: "', '"staging_overhead_ratio: "', '"wal_growth_bytes: "',
               '"app_write_bytes_per_second: "', '"staging_write_bytes_per_second: "', '"warn_at: "',
               '"critical_at: "', '"lead_time_seconds: "', '"GiB"', '"MiB"', '"PiB"', '"TB"', '"kB"', '"%"', '"/s"'],
    "systemd_unit": ['"[Service]"', '"[Unit]"', '"ExecStart="', '"User="', '"Restart="', '"Environment="',
                     '"\\\\\\x0a"', '"infinity"', '"min"', '"ms"', '"usec"', '"h"', '"yes"', '"off"'],
    "prom_text": ['"# HELP "', '"# TYPE "', '"{name=\\""', '"\\"}"', '"+Inf"', '"NaN"', '"litestream_"', '"_bucket"',
                  '"\\\\n"', '"\\\\\\""', '"1e+06"'],
    "mountinfo": ['" - "', '"shared:1"', '"master:2"', '"\\\\040"', '"\\\\134"', '"tmpfs"', '"ext4"'],
}


def main():
    ltx_seeds()
    sqlite_seeds()
    for name, text in LOG_LINES.items():
        write("log_line", name, text + "\n")
        write("logfmt", name, text)
    write("logfmt", "quoted", r'a=1 "b c"="x \"y\" \\ \n\t\x41\u00e9\U0001F600\101" bare d= e="unterminated')
    for name, text in CONFIGS.items():
        write("litestream_config", name + ".yml", text)
    # Duplicate keys through a self-alias: a use-after-free in the walk once (yaml-cpp's
    # Node::operator= rewrites the document); kept as seeds so each smoke run retries them.
    for i, text in enumerate(["&m {a: *m, a: 1}\n", "dbs: &m [{path: /x, path: *m}]\n",
                              "&m {dbs: *m, dbs: 1}\n"]):
        write("litestream_config", f"dup-self-alias{i}.yml", text)
        write("redaction", name, b"\x00\x01\x03\x00" + b"secret-value\x01\x02bucket-name\x00" + text.encode())
    write("redaction", "mixed", b"\x01\x00\x02\x01\x00aaaa/home/alice/x\x03\x00" +
          b"url=https://u:pw@10.1.2.3/?X-Amz-Credential=AKIAABCDEFGHIJKLMNOP&sig=zz\nAuthorization: Bearer t0k3n\n")
    for name, text in POLICIES.items():
        write("policy", name, text)
    write("mountinfo", "host", MOUNTINFO)
    with open(os.path.join(testdata, "metrics", "litestream-0.3.13.txt"), "rb") as f:
        write("prom_text", "litestream-0.3.13.txt", f.read())
    write("prom_text", "escapes", 'a{b="x\\"y\\\\z\\n",c=""} -Inf 1700000000000\n# TYPE h histogram\nh_bucket{le="+Inf"} 1e+06\n')
    for name, text in UNITS.items():
        write("systemd_unit", name, text)
    for i, n in enumerate(NAMES):
        write("names_and_header", f"name{i:02d}", n)
    later = RECORD_LINE.replace("1795625317486", "1795625318486").replace('"warning"', '"wedged"')
    write("watch_record", "two-samples", RECORD_LINE + "\n" + later + "\n")
    write("watch_record", "cut", RECORD_LINE + "\n" + later[:200])
    write("alarm_state", "latched.json", ALARM)
    write("alarm_state", "cleared.json", ALARM.replace('"cleared_at_ms": 0', '"cleared_at_ms": 1764000100000')
          .replace('"cleared_how": ""', '"cleared_how": "preflight ok (exit 0)"'))
    # What run preflighted with (absent from files written before these fields existed).
    write("alarm_state", "latched_with_inputs.json", ALARM.replace(
        '  "evidence_note": "",\n',
        '  "evidence_note": "",\n  "config_path": "/srv/litestream.yml",\n  "policy_path": "/srv/policy.yml",\n'
        '  "litestream_bin": "/opt/litestream/bin/litestream",\n  "litestream_version": "0.3.13",\n'))
    os.makedirs(os.path.join(here, "dict"), exist_ok=True)
    for target, entries in DICTS.items():
        with open(os.path.join(here, "dict", target + ".dict"), "w") as f:
            f.write("\n".join(entries) + "\n")


if __name__ == "__main__":
    main()
