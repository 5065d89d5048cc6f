"""What the binary says about itself: `--version` (version, commit, build type, compiler), the
generated man page ltxguard(1) (every verb and every flag of the built binary, renders without
warnings), and the bash completion (verbs, flags and choices as the binary lists them)."""

import gzip
import os
import re
import shutil
import subprocess
import unittest

import opslib

COMPLETION = opslib.src("deploy", "bash-completion", "ltxguard")


def help_text(*words):
    return opslib.run([opslib.ltxguard_bin(), *words, "--help"]).stdout


def verbs(*path):
    text = help_text(*path)
    if "Subcommands:" not in text:
        return []
    return re.findall(r"^  ([a-z][a-z-]*)\s", text.split("Subcommands:", 1)[1], re.M)


def flags(*path):
    text = help_text(*path).split("Options:", 1)[1].split("Subcommands:", 1)[0]
    out = []
    for m in re.finditer(r"^  (-\S+)", text, re.M):
        out += [f for f in m.group(1).split(",") if f]
    return out


def positionals(*path):
    text = help_text(*path)
    if "Positionals:" not in text:
        return []
    text = text.split("Positionals:", 1)[1].split("Options:", 1)[0]
    return re.findall(r"^  ([a-z][a-z_-]*)\s", text, re.M)


def footer(*path):
    """Unindented lines after the first that are neither `Usage:` nor a section header."""
    return [line for line in help_text(*path).splitlines()[1:]
            if line and not line.startswith((" ", "Usage: "))
            and not re.fullmatch(r"[A-Z][A-Za-z ]*:", line)]


def all_verb_paths():
    paths = []
    for verb in verbs():
        paths.append([verb])
        paths += [[verb, sub] for sub in verbs(verb)]
    return paths


class VersionTest(unittest.TestCase):
    def test_version_prints_version_commit_build_type_and_compiler(self):
        r = opslib.run([opslib.ltxguard_bin(), "--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], f"ltxguard {opslib.project_version()}")
        fields = dict(line.split(":", 1) for line in lines[1:])
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        self.assertEqual(set(fields), {"commit", "build type", "compiler"})
        self.assertRegex(fields["compiler"], r"^(GCC|clang) \d+\.\d+\.\d+, C\+\+20$")
        self.assertNotEqual(fields["build type"], "")
        commit = fields["commit"]
        if commit != "unknown":
            self.assertRegex(commit, r"^[0-9a-f]{12}$")
            git = shutil.which("git")
            if git and os.path.isdir(opslib.src(".git")):
                r = opslib.run([git, "-C", opslib.source_dir(), "cat-file", "-e", commit + "^{commit}"])
                self.assertEqual(r.returncode, 0, f"{commit} is no commit of this repository")


class ManPageTest(unittest.TestCase):
    def setUp(self):
        path = os.path.join(opslib.build_dir(), "ltxguard.1.gz")
        if not os.path.isfile(path):
            self.fail(f"{path} missing: build the `manpage` target (part of `all`)")
        self.path = path
        with gzip.open(path, "rt", encoding="utf-8") as f:
            self.roff = f.read()

    def test_every_verb_and_flag_is_documented(self):
        paths = all_verb_paths()
        self.assertGreaterEqual(len(paths), 4, paths)
        for path in paths:
            with self.subTest(verb=" ".join(path)):
                self.assertIn("\n.SS " + " ".join(path).replace("-", "\\-") + "\n", self.roff)
                section = self.roff.split("\n.SS " + " ".join(path).replace("-", "\\-") + "\n", 1)[1]
                section = section.split("\n.SS ", 1)[0].split("\n.SH ", 1)[0]
                for flag in flags(*path):
                    if flag in ("-h", "--help"):
                        continue
                    self.assertIn("\\fB" + flag.replace("-", "\\-") + "\\fR", section, flag)
                # Positionals and the text after the options (run's exit codes) too.
                for name in positionals(*path):
                    self.assertIn("\\fI" + name.replace("-", "\\-") + "\\fR", section, name)
                for line in footer(*path):
                    self.assertIn(line.replace("\\", "\\e").replace("-", "\\-"), section)

    def test_exit_codes_come_from_the_docs(self):
        doc = opslib.read(opslib.src("docs", "exit-codes.md"))
        codes = re.findall(r"^\| (\d+) \|", doc, re.M)
        self.assertIn("64", codes)
        status = self.roff.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
        for code in codes:
            self.assertIn(f"\\fB{code}\\fR", status)

    def test_renders_without_warnings(self):
        groff = opslib.require_tool(self, "groff")
        r = subprocess.run([groff, "-man", "-ww", "-z"], input=self.roff, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        man = shutil.which("man")
        if man:
            r = opslib.run([man, "-l", self.path], env=dict(os.environ, MANWIDTH="80", MANPAGER="cat"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("EXIT STATUS", r.stdout)


class CompletionTest(unittest.TestCase):
    def complete(self, *words):
        """COMPREPLY of the completion for the command line `words` (the last is completed)."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ltxguard; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        env = dict(os.environ, PATH=os.path.dirname(opslib.ltxguard_bin()) + ":" + os.environ["PATH"])
        r = opslib.run(["bash", "-c", script, "complete", COMPLETION, "ltxguard", *words], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        return [w for w in r.stdout.splitlines() if w]

    def test_registers_for_ltxguard(self):
        r = opslib.run(["bash", "-c", 'source "$1"; complete -p ltxguard', "x", COMPLETION])
        self.assertIn("-F _ltxguard ltxguard", r.stdout)

    def test_completes_every_verb(self):
        self.assertEqual(sorted(self.complete("")), sorted(verbs()))
        self.assertEqual(self.complete("wat"), ["watch"])

    def test_completes_the_flags_of_each_verb(self):
        for verb in verbs():
            with self.subTest(verb=verb):
                self.assertEqual(sorted(self.complete(verb, "--")),
                                 sorted(f for f in flags(verb) if f.startswith("--")))

    def test_completes_choices_of_a_flag(self):
        self.assertEqual(self.complete("watch", "--log-format", ""), ["auto", "journald", "text", "json"])
        self.assertEqual(self.complete("watch", "--log-format", "j"), ["journald", "json"])

    def test_completes_paths_for_path_flags(self):
        tmp = opslib.temp_dir(self)
        for name in ("app.db", "app.db-wal", "other"):
            open(os.path.join(tmp, name), "w").close()
        self.assertEqual(sorted(self.complete("watch", "--db", os.path.join(tmp, "app"))),
                         [os.path.join(tmp, "app.db"), os.path.join(tmp, "app.db-wal")])
        os.mkdir(os.path.join(tmp, "prom"))
        self.assertEqual(self.complete("watch", "--textfile", os.path.join(tmp, "p")),
                         [os.path.join(tmp, "prom")])

    def test_completes_a_command_after_double_dash(self):
        self.assertIn("bash", self.complete("run", "--", "bas"))


def logged_events():
    """Every event name the code logs: `log(Level::x, "name"`, `refuse(log, code, "name"` and
    the watch model's `WatchEvent`s."""
    names = set()
    cmd = opslib.src("src", "ltxguard", "cmd")
    for name in os.listdir(cmd):
        if name.endswith(".cpp"):
            text = opslib.read(os.path.join(cmd, name))
            names |= set(re.findall(r'Level::[a-z]+,\s*"([a-z_]+)"', text))
            names |= set(re.findall(r'refuse\(log,\s*\w+,\s*"([a-z_]+)"', text))
    model = opslib.read(opslib.src("src", "ltxguard", "model", "watch_model.cpp"))
    names |= set(re.findall(r'events\.push_back\(\s*\{[^,{}]+,\s*"([a-z_]+)"', model))
    return names


def crc64_iso(data):
    """Go's crc64.Checksum(data, crc64.MakeTable(crc64.ISO)), computed independently."""
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0xD800000000000000 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def message_id(event):
    return "%016x%016x" % (crc64_iso(f"ltxguard/{event}".encode()), crc64_iso(f"{event}/ltxguard".encode()))


class EventsDocTest(unittest.TestCase):
    def test_every_logged_event_is_documented_and_every_documented_one_is_logged(self):
        code = logged_events()
        # The scan must see the events users alert on, or it proves nothing.
        for must in ("protective_stop", "alarm_latched", "disk_full", "wedge", "state_change",
                     "preflight_refused", "litestream_exited", "output_dropped", "litestream_errors"):
            self.assertIn(must, code)
        doc = opslib.read(opslib.src("docs", "events.md"))
        documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, re.M))
        self.assertEqual(sorted(code - documented), [], "logged but not in docs/events.md")
        self.assertEqual(sorted(documented - code), [], "in docs/events.md but never logged")

    def test_every_documented_message_id_is_the_one_the_journal_gets(self):
        # The logger's MESSAGE_ID is derived from the event name (unit-tested against a known
        # value in logger_test); the doc's must be the same derivation for every row.
        self.assertEqual(message_id("reserve_breach"), "8c59ec4693c153ac0ddd4b86bfeebe3b")
        doc = opslib.read(opslib.src("docs", "events.md"))
        rows = re.findall(r"^\| `([a-z_]+)` \| [^|]+ \| `([0-9a-f]{32})` \|", doc, re.M)
        self.assertEqual(len(rows), len(re.findall(r"^\| `[a-z_]+` \|", doc, re.M)), "a row without a MESSAGE_ID")
        for event, documented in rows:
            self.assertEqual(documented, message_id(event), event)


if __name__ == "__main__":
    unittest.main(verbosity=2)
