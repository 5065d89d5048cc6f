"""Shared helpers for the tests of deploy/ and packaging (Python 3 stdlib only).

Paths come from the environment CTest sets (LTXGUARD_BIN, LTXGUARD_BUILD_DIR,
LTXGUARD_SOURCE_DIR, LITESTREAM_BIN), falling back to the source tree this file sits in.
"""

import os
import re
import shutil
import subprocess
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))


def source_dir():
    return os.environ.get("LTXGUARD_SOURCE_DIR") or os.path.dirname(os.path.dirname(_HERE))


def build_dir():
    return os.environ.get("LTXGUARD_BUILD_DIR") or os.path.join(source_dir(), "build")


def ltxguard_bin():
    return os.environ.get("LTXGUARD_BIN") or os.path.join(build_dir(), "src", "ltxguard")


def src(*parts):
    return os.path.join(source_dir(), *parts)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(cmd, timeout=120, **kw):
    """Runs cmd, returns CompletedProcess with text stdout/stderr; never raises on exit status."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def temp_dir(testcase):
    path = tempfile.mkdtemp(prefix="ltxg-ops-")
    testcase.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def require_tool(testcase, name):
    path = shutil.which(name)
    if path is None:
        testcase.fail(f"{name} not found: scripts/setup installs it")
    return path


def project_version():
    m = re.search(r"project\(ltxguard VERSION (\d+\.\d+\.\d+)", read(src("CMakeLists.txt")))
    return m.group(1)


def github_anchor(heading):
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to -."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def markdown_anchors(text):
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


# --- the alert rules file (parsed for our own layout; promtool validates the YAML) ---------

def rule_blocks(text):
    """[(alert name, block text)] for each `- alert:` entry of a rules file."""
    starts = [m for m in re.finditer(r"^\s*- alert: (\S+)\s*$", text, re.M)]
    blocks = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        # A following group header ends the block too.
        group = re.search(r"^\s*- name: ", text[m.end():end], re.M)
        if group:
            end = m.end() + group.start()
        blocks.append((m.group(1), text[m.start():end]))
    return blocks


def yaml_scalar(block, key):
    """The value of `key:` in block: inline, quoted, or a folded/literal block scalar."""
    m = re.search(rf"^(\s*){re.escape(key)}:[ \t]*(.*)$", block, re.M)
    if m is None:
        return None
    indent, rest = len(m.group(1)), m.group(2).strip()
    if rest in (">-", ">", "|", "|-"):
        lines = []
        for line in block[m.end() + 1:].splitlines():
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            lines.append(line.strip())
        return (" " if rest.startswith(">") else "\n").join(l for l in lines if l)
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "\"'":
        return rest[1:-1]
    return rest


def rule_exprs(text):
    """Every `expr:` of a rules file."""
    return [yaml_scalar(block, "expr") for _, block in rule_blocks(text)]


# --- PromQL metric names -----------------------------------------------------------------

_PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                 "group_right", "offset", "bool", "inf", "nan", "atan2"}


def promql_metric_names(expr):
    """Metric names in a PromQL expression (Grafana variables allowed): identifiers that are
    not functions, keywords, label names in {...} or in by/on/ignoring/group_x lists."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # string literals
    e = re.sub(r"\$\{?\w+\}?", "", e)                       # $instance, ${datasource}, $__range
    e = re.sub(r"\{[^}]*\}", "", e)                          # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                         # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"(?<![A-Za-z0-9_:])\d[\d.]*(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*", " ", e)  # 1e9, 10m
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group(0)
        after = e[m.end():].lstrip()
        if word.lower() in _PROMQL_WORDS or after.startswith("("):
            continue
        names.add(word)
    return names
