#!/usr/bin/env python3
"""Writes ltxguard(1) from the built binary's own help, so every verb and flag is in the man
page as the binary has it: `ltxguard --help`, then `ltxguard VERB --help` for every verb (and
`ltxguard VERB SUB --help` for verbs with subcommands). The exit codes come from
docs/exit-codes.md. Deterministic (no date), so the package builds reproducibly.

Usage: ltxguard_man.py BINARY EXIT_CODES_MD OUTPUT VERSION
"""

import re
import subprocess
import sys

HELP_COLUMN = 30  # CLI11 prints an option's description from this column


def run_help(binary, *words):
    out = subprocess.run([binary, *words, "--help"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=30, check=True)
    return out.stdout


class Help:
    """One CLI11 help page: first line, usage, positionals and options as [head, description],
    subcommands as (name, description), and footer lines (text after the sections)."""

    def __init__(self, text):
        lines = text.splitlines()
        self.description = lines[0].strip() if lines else ""
        self.usage = ""
        self.positionals, self.options, self.subcommands, self.footer = [], [], [], []
        section = None
        lines.append("")
        for i, line in enumerate(lines[1:-1], start=1):
            if not line.strip():
                continue
            if line.startswith("Usage: "):
                # "Usage: /path/to/ltxguard run [OPTIONS] command..." -> "run [OPTIONS] command..."
                self.usage = line.split(" ", 2)[2] if line.count(" ") >= 2 else ""
                continue
            if not line.startswith(" "):
                if re.fullmatch(r"[A-Z][A-Za-z ]*:", line.strip()):
                    section = line.strip().rstrip(":").lower()
                else:
                    self.footer.append(line.strip())
                continue
            entries = {"options": self.options, "positionals": self.positionals}.get(section)
            if entries is not None:
                if re.match(r"^  \S", line):
                    # A head too long for the column puts its description on the next line.
                    below = lines[i + 1].startswith(" " * HELP_COLUMN)
                    if below or len(line) <= HELP_COLUMN:
                        entries.append([line.strip(), ""])
                    else:
                        entries.append([line[:HELP_COLUMN].strip(), line[HELP_COLUMN:].strip()])
                elif entries:
                    entries[-1][1] = (entries[-1][1] + " " + line.strip()).strip()
            elif section == "subcommands" and re.match(r"^  \S", line):
                name, _, desc = line.strip().partition(" ")
                self.subcommands.append((name, desc.strip()))


def esc(text):
    """Text safe in roff: backslashes, and hyphens as \\- (man(7): they are minus signs here)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in (".", "'") else text


def option_head(head):
    """'--db TEXT ... REQUIRED' -> bold flags, italic value types."""
    words = []
    for word in head.split(" "):
        flags = word.split(",")
        if all(f.startswith("-") for f in flags if f):
            words.append(",".join(f"\\fB{esc(f)}\\fR" for f in flags))
        elif re.match(r"^[A-Z]+(:.*)?$", word):
            words.append(f"\\fI{esc(word)}\\fR")
        else:
            words.append(esc(word))
    return " ".join(words)


def exit_codes(markdown):
    """The rows of the table in docs/exit-codes.md: (code, name, meaning)."""
    rows = []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d+", cells[0]):
            rows.append((cells[0], cells[1].replace("`", ""), cells[2].replace("`", "")))
    return rows


def verb_section(out, binary, words):
    page = Help(run_help(binary, *words))
    out.append(f".SS {esc(' '.join(words))}")
    out.append(f"\\fBltxguard {esc(page.usage)}\\fR")
    out.append(".PP")
    out.append(esc(page.description))
    for head, desc in page.positionals:
        name, _, rest = head.partition(" ")
        out += [".TP", f"\\fI{esc(name)}\\fR {esc(rest)}".rstrip(), esc(desc)]
    for head, desc in page.options:
        if head.startswith("-h,--help"):
            continue
        out += [".TP", option_head(head), esc(desc)]
    for line in page.footer:
        out += [".PP", esc(line)]
    for name, _ in page.subcommands:
        verb_section(out, binary, [*words, name])


def main():
    binary, exit_codes_md, output, version = sys.argv[1:5]
    top = Help(run_help(binary))
    description, verbs = top.description, top.subcommands
    if not verbs:
        sys.exit(f"ltxguard_man: `{binary} --help` lists no subcommands")
    out = [
        f'.TH LTXGUARD 1 "" "ltxguard {esc(version)}" "User Commands"',
        ".SH NAME",
        "ltxguard \\- " + esc(description.partition(": ")[2] or description),
        ".SH SYNOPSIS",
        "\\fBltxguard\\fR \\fIVERB\\fR [\\fIOPTIONS\\fR]",
        ".br",
        "\\fBltxguard \\-\\-version\\fR",
        ".SH DESCRIPTION",
        "ltxguard is for hosts where an application, its SQLite database and Litestream share a "
        "disk. It proves whether Litestream's local staging fills the disk, checks that the "
        "next initial sync fits before Litestream starts, watches the staging while it runs, "
        "and stops Litestream before the application's reserve of free space is breached.",
        ".PP",
        "Verbs:",
    ]
    for name, desc in verbs:
        out += [".TP", f"\\fB{esc(name)}\\fR", esc(desc)]
    out.append(".SH COMMANDS")
    for name, _ in verbs:
        verb_section(out, binary, [name])
    out.append(".SH EXIT STATUS")
    with open(exit_codes_md, encoding="utf-8") as f:
        rows = exit_codes(f.read())
    if not rows:
        sys.exit(f"ltxguard_man: no exit code table in {exit_codes_md}")
    for code, name, meaning in rows:
        out += [".TP", f"\\fB{code}\\fR {esc(name)}", esc(meaning)]
    out += [
        ".SH FILES",
        ".TP", "\\fI/etc/litestream.yml\\fR", "Litestream's config (or \\fB$LITESTREAM_CONFIG\\fR, or \\fB\\-\\-config\\fR).",
        ".TP", "\\fI/etc/ltxguard/policy.yml\\fR", "The storage policy (reserve, caps, lead time); example in \\fI/usr/share/ltxguard/policy.example.yml\\fR.",
        ".TP", "\\fI/var/lib/ltxguard\\fR", "State: the latched alarm, evidence bundles, watch records.",
        ".TP", "\\fI/lib/systemd/system/ltxguard\\-watch.service\\fR, \\fIlitestream\\-guarded.service\\fR",
        "The watcher as a sidecar, and Litestream supervised by \\fBltxguard run\\fR.",
        ".TP", "\\fI/usr/share/ltxguard/\\fR",
        "Prometheus alert rules, Grafana dashboard, Alertmanager route and the preflight drop\\-in for litestream.service.",
        ".TP", "\\fI/usr/share/doc/ltxguard/alerts.md\\fR", "What each alert means and what to do.",
        ".SH SEE ALSO",
        "\\fBlitestream\\fR(1), \\fBsystemd.service\\fR(5), \\fBsqlite3\\fR(1)",
    ]
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
