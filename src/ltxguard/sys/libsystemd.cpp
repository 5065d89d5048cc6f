#include "ltxguard/sys/libsystemd.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace ltxguard::sys {
namespace {

struct Loaded {
  LibSystemd table;
  bool ok = false;
  std::string error;
};

std::string last_dlerror(const char* fallback) {
  const char* e = ::dlerror();
  return e != nullptr ? std::string(e) : std::string(fallback);
}

template <typename F>
bool resolve(void* handle, const char* symbol, F* out, std::string* error) {
  (void)::dlerror();
  void* p = ::dlsym(handle, symbol);
  if (p == nullptr) {
    *error = last_dlerror(symbol);
    return false;
  }
  *out = reinterpret_cast<F>(p);
  return true;
}

Loaded load() {
  Loaded l;
  const char* name = ::secure_getenv(kLibSystemdEnv);
  if (name == nullptr || *name == '\0') name = kLibSystemdName;
  void* handle = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    l.error = last_dlerror(name);
    return l;
  }
  LibSystemd& t = l.table;
  std::string& e = l.error;
// The member is the symbol without "sd_": the name cannot drift from the field it fills.
#define LTXGUARD_SD_SYM(member) resolve(handle, "sd_" #member, &t.member, &e)
  l.ok = LTXGUARD_SD_SYM(notify) && LTXGUARD_SD_SYM(watchdog_enabled) &&
         LTXGUARD_SD_SYM(journal_sendv) && LTXGUARD_SD_SYM(journal_open) &&
         LTXGUARD_SD_SYM(journal_open_directory) && LTXGUARD_SD_SYM(journal_open_files) &&
         LTXGUARD_SD_SYM(journal_close) && LTXGUARD_SD_SYM(journal_get_usage) &&
         LTXGUARD_SD_SYM(journal_set_data_threshold) && LTXGUARD_SD_SYM(journal_add_match) &&
         LTXGUARD_SD_SYM(journal_add_disjunction) && LTXGUARD_SD_SYM(journal_seek_tail) &&
         LTXGUARD_SD_SYM(journal_seek_cursor) && LTXGUARD_SD_SYM(journal_next) &&
         LTXGUARD_SD_SYM(journal_previous) && LTXGUARD_SD_SYM(journal_get_cursor) &&
         LTXGUARD_SD_SYM(journal_test_cursor) && LTXGUARD_SD_SYM(journal_get_realtime_usec) &&
         LTXGUARD_SD_SYM(journal_get_data);
#undef LTXGUARD_SD_SYM
  if (!l.ok) {
    // A library without one of them (not libsystemd, or too old) is not used at all.
    l.table = LibSystemd{};
    ::dlclose(handle);
  }
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();  // C++11 guarantees one initialization across threads
  return l;
}

}  // namespace

const LibSystemd* libsystemd() {
  const Loaded& l = loaded();
  return l.ok ? &l.table : nullptr;
}

const std::string& libsystemd_error() { return loaded().error; }

}  // namespace ltxguard::sys
