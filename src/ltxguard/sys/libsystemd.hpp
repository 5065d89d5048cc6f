// libsystemd (sd-daemon, sd-journal), loaded with dlopen on first use rather than linked, the
// way systemd loads its optional libraries: a watcher logging to stderr outside systemd never
// maps libsystemd and what it pulls in (libgcrypt, libgpg-error, liblzma, libzstd, libcap).
#pragma once

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include <string>

namespace ltxguard::sys {

// The entry points ltxguard uses, named after the sd_ function without the prefix. Typed from
// libsystemd-dev's prototypes, so a signature that does not match is a compile error. Members
// are never null in a table libsystemd() returns.
struct LibSystemd {
  decltype(&::sd_notify) notify = nullptr;
  decltype(&::sd_watchdog_enabled) watchdog_enabled = nullptr;
  // The real sd_journal_sendv: no CODE_FILE/CODE_LINE/CODE_FUNC of the caller are added.
  decltype(&::sd_journal_sendv) journal_sendv = nullptr;
  decltype(&::sd_journal_open) journal_open = nullptr;
  decltype(&::sd_journal_open_directory) journal_open_directory = nullptr;
  decltype(&::sd_journal_open_files) journal_open_files = nullptr;
  decltype(&::sd_journal_close) journal_close = nullptr;
  decltype(&::sd_journal_get_usage) journal_get_usage = nullptr;
  decltype(&::sd_journal_set_data_threshold) journal_set_data_threshold = nullptr;
  decltype(&::sd_journal_add_match) journal_add_match = nullptr;
  decltype(&::sd_journal_add_disjunction) journal_add_disjunction = nullptr;
  decltype(&::sd_journal_seek_tail) journal_seek_tail = nullptr;
  decltype(&::sd_journal_seek_cursor) journal_seek_cursor = nullptr;
  decltype(&::sd_journal_next) journal_next = nullptr;
  decltype(&::sd_journal_previous) journal_previous = nullptr;
  decltype(&::sd_journal_get_cursor) journal_get_cursor = nullptr;
  decltype(&::sd_journal_test_cursor) journal_test_cursor = nullptr;
  decltype(&::sd_journal_get_realtime_usec) journal_get_realtime_usec = nullptr;
  decltype(&::sd_journal_get_data) journal_get_data = nullptr;
};

// The library dlopen'ed by default.
inline constexpr const char* kLibSystemdName = "libsystemd.so.0";
// Test and diagnostic override of the library loaded, read once by the first libsystemd()
// call: LTXGUARD_LIBSYSTEMD=/nonexistent.so plays a host without libsystemd. Ignored in a
// setuid/setgid process (secure_getenv).
inline constexpr const char* kLibSystemdEnv = "LTXGUARD_LIBSYSTEMD";

// The library, loaded (RTLD_NOW | RTLD_LOCAL) and resolved on the first call from any thread;
// later calls return the same result and never retry. Never unloaded. nullptr when it cannot
// be loaded or lacks one of the symbols: libsystemd_error() says why. Callers decide first
// whether they need systemd at all, so that nothing is loaded for a process outside it.
[[nodiscard]] const LibSystemd* libsystemd();

// Why libsystemd() is nullptr, as dlerror wrote it ("libsystemd.so.0: cannot open shared object
// file: No such file or directory"); empty when it loaded. Loads like libsystemd().
[[nodiscard]] const std::string& libsystemd_error();

}  // namespace ltxguard::sys
