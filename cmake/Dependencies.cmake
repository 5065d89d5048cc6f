# Every third-party name lives here. All come from Debian bookworm packages
# (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(tl-expected CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED COMPONENTS core)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(libsystemd REQUIRED IMPORTED_TARGET libsystemd)
pkg_check_modules(libisal REQUIRED IMPORTED_TARGET libisal)
pkg_check_modules(liblz4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(httplib REQUIRED IMPORTED_TARGET cpp-httplib)

# yaml-cpp 0.7 exports a plain `yaml-cpp` target; give it a namespaced alias.
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp ALIAS yaml-cpp)
endif()

if(LTXGUARD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()
