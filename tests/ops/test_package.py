"""The Debian package: CPack builds ltxguard_<version>_<arch>.deb from this build tree, it
installs on this machine with apt, and the installed files work: /usr/bin/ltxguard --version
and check, the man page (man -w), the bash completion, the units (systemd-analyze verify with
the installed man page), the rules and dashboard. The package is purged afterwards, also when
the test fails. Needs root; refuses to touch an ltxguard package that was installed before."""

import fnmatch
import glob
import os
import re
import shutil
import tempfile
import unittest

import opslib

PREFIX = "/usr"
FILES = [
    "usr/bin/ltxguard",
    "usr/share/man/man1/ltxguard.1.gz",
    "usr/lib/systemd/system/ltxguard-watch.service",
    "usr/lib/systemd/system/litestream-guarded.service",
    "usr/share/ltxguard/ltxguard.rules.yml",
    "usr/share/ltxguard/ltxguard-dashboard.json",
    "usr/share/ltxguard/alertmanager.example.yml",
    "usr/share/ltxguard/policy.example.yml",
    "usr/share/ltxguard/systemd/litestream.service.d/ltxguard-preflight.conf",
    "usr/share/bash-completion/completions/ltxguard",
    "usr/share/doc/ltxguard/alerts.md",
]


def dpkg_excluded(path):
    """True when dpkg's path-exclude (slim container images drop /usr/share/man and doc) keeps
    `path` off the disk; the last matching path-exclude/path-include line decides."""
    rules = []
    for conf in sorted(glob.glob("/etc/dpkg/dpkg.cfg.d/*")):
        try:
            text = opslib.read(conf)
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            kind, _, pattern = line.strip().partition("=")
            if kind in ("path-exclude", "path-include"):
                rules.append((kind, pattern.strip()))
    excluded = False
    for kind, pattern in rules:
        if fnmatch.fnmatch(path, pattern):
            excluded = kind == "path-exclude"
    return excluded


def installed_version():
    r = opslib.run(["dpkg-query", "-W", "-f=${Status}", "ltxguard"])
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root: installs the package with apt")
        for tool in ("cpack", "dpkg-deb", "apt-get", "dpkg"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} not found")
        if installed_version():
            raise AssertionError("an ltxguard package is already installed; this test installs and "
                                 "purges its own, so it refuses to replace that one")
        # Built once for both tests (cpack installs the build tree and runs dpkg-shlibdeps).
        cls.out = tempfile.mkdtemp(prefix="ltxg-ops-deb-")
        cls.addClassCleanup(shutil.rmtree, cls.out, ignore_errors=True)
        config = os.path.join(opslib.build_dir(), "CPackConfig.cmake")
        r = opslib.run(["cpack", "--config", config, "-G", "DEB", "-B", cls.out], timeout=600)
        if r.returncode != 0:
            raise AssertionError(f"cpack failed:\n{r.stdout}{r.stderr}")
        debs = glob.glob(os.path.join(cls.out, "ltxguard_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one .deb, got {os.listdir(cls.out)}")
        cls.deb = debs[0]

    def purge(self):
        opslib.run(["dpkg", "--purge", "ltxguard"], timeout=120)

    def test_package_metadata_and_contents(self):
        name = os.path.basename(self.deb)
        self.assertRegex(name, rf"^ltxguard_{opslib.project_version()}_[a-z0-9]+\.deb$")
        info = opslib.run(["dpkg-deb", "-I", self.deb]).stdout
        # Dependencies come from dpkg-shlibdeps: the shared libraries the binary links.
        fields = dict(re.findall(r"^ (Depends|Recommends): (.*)$", info, re.M))
        for lib in ("libc6", "libstdc++6", "libyaml-cpp0.7", "libfmt9"):
            self.assertIn(lib, fields.get("Depends", ""))
        # libsystemd is opened on first use, so it is recommended, not linked; nor is OpenSSL.
        self.assertNotIn("libsystemd0", fields.get("Depends", ""))
        self.assertNotIn("libssl", fields.get("Depends", ""))
        self.assertIn("libsystemd0", fields.get("Recommends", ""))
        listing = opslib.run(["dpkg-deb", "-c", self.deb]).stdout
        for path in FILES:
            self.assertIn("./" + path, listing)
        # The drop-in is an example: installing the package must not change litestream.service.
        self.assertNotIn("system/litestream.service.d", listing)
        print(f"\npackage {name}: {os.path.getsize(self.deb)} bytes")

    def test_installs_and_runs(self):
        self.addCleanup(self.purge)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        env.pop("LITESTREAM_CONFIG", None)
        r = opslib.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "./" +
                        os.path.basename(self.deb)], cwd=self.out, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(installed_version())
        for path in FILES:
            if not dpkg_excluded("/" + path):
                self.assertTrue(os.path.exists("/" + path), path)
        # Units installed with the binary's real path.
        unit = opslib.read("/usr/lib/systemd/system/ltxguard-watch.service")
        self.assertIn("ExecStart=/usr/bin/ltxguard watch", unit)

        r = opslib.run(["/usr/bin/ltxguard", "--version"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], f"ltxguard {opslib.project_version()}")

        # No Litestream on this host: check reports its rules (a verdict, not a failure to run).
        r = opslib.run(["/usr/bin/ltxguard", "check"], env=env, cwd=self.out)
        self.assertIn(r.returncode, (0, 1, 2, 3), r.stdout + r.stderr)
        for rule in ("litestream-version:", "unit-user:", "metrics-addr:"):
            self.assertIn(rule, r.stdout)

        man_page = "/usr/share/man/man1/ltxguard.1.gz"
        man_usable = shutil.which("man") is not None and not dpkg_excluded(man_page)
        if man_usable:
            r = opslib.run(["man", "-w", "ltxguard"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), man_page)

        # With the man page installed, verify also resolves Documentation=man:ltxguard(1).
        r = opslib.run(["systemd-analyze", "verify", *([] if man_usable else ["--man=no"]),
                        "/usr/lib/systemd/system/ltxguard-watch.service"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")

        self.purge()
        self.assertFalse(installed_version())
        self.assertFalse(os.path.exists("/usr/bin/ltxguard"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
