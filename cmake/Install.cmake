# What `cmake --install` lays out, the Debian package CPack builds from it (`make package`),
# and the build facts `ltxguard --version` prints. Included from the top CMakeLists.txt after
# the targets exist.
#
#   <prefix>/bin/ltxguard
#   <prefix>/share/man/man1/ltxguard.1.gz                 generated from the binary's --help
#   <prefix>/lib/systemd/system/{ltxguard-watch,litestream-guarded}.service
#   <prefix>/share/ltxguard/                              rules, dashboard, Alertmanager route,
#                                                         policy example, preflight drop-in
#   <prefix>/share/bash-completion/completions/ltxguard
#   <prefix>/share/doc/ltxguard/                          alerts.md (the alerts' runbook_url)

# --- --version: commit and build type, for version.cpp only (a new commit recompiles one file)
find_package(Git QUIET)
set(LTXGUARD_GIT_COMMIT "unknown")
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${PROJECT_SOURCE_DIR} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE git_commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE git_rc ERROR_QUIET)
  if(git_rc EQUAL 0 AND git_commit MATCHES "^[0-9a-f]+$")
    set(LTXGUARD_GIT_COMMIT ${git_commit})
  endif()
endif()
set(ltxguard_build_type "${CMAKE_BUILD_TYPE}")
if(NOT ltxguard_build_type)
  set(ltxguard_build_type "none")
endif()
set_property(SOURCE ${PROJECT_SOURCE_DIR}/src/ltxguard/cmd/version.cpp
             TARGET_DIRECTORY ltxguard_cmd APPEND PROPERTY COMPILE_DEFINITIONS
             LTXGUARD_GIT_COMMIT="${LTXGUARD_GIT_COMMIT}"
             LTXGUARD_BUILD_TYPE="${ltxguard_build_type}")

# --- man page: every verb and flag from the built binary's help, exit codes from the docs
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(ltxguard_man ${PROJECT_BINARY_DIR}/ltxguard.1)
add_custom_command(
  OUTPUT ${ltxguard_man}.gz
  # A sanitizer build's binary must not fail the man page over a leak report at exit.
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
          $<TARGET_FILE:Python3::Interpreter> ${PROJECT_SOURCE_DIR}/cmake/ltxguard_man.py
          $<TARGET_FILE:ltxguard> ${PROJECT_SOURCE_DIR}/docs/exit-codes.md ${ltxguard_man}
          ${PROJECT_VERSION}
  COMMAND gzip -9nf ${ltxguard_man}
  DEPENDS ltxguard ${PROJECT_SOURCE_DIR}/cmake/ltxguard_man.py
          ${PROJECT_SOURCE_DIR}/docs/exit-codes.md
  COMMENT "Generating ltxguard.1 from ltxguard --help"
  VERBATIM)
add_custom_target(manpage ALL DEPENDS ${ltxguard_man}.gz)

# --- install layout (the binary itself: src/CMakeLists.txt)
install(FILES ${ltxguard_man}.gz DESTINATION share/man/man1)

# The units name /usr/bin/ltxguard (what the package installs); rewritten at install time to
# the prefix actually installed into, so `cmake --install --prefix /usr/local` stays runnable.
# CPack installs with its own prefix (/usr), which is why this is not done at configure time.
set(ltxguard_unit_dir ${PROJECT_BINARY_DIR}/install-units)
foreach(unit ltxguard-watch.service litestream-guarded.service
        litestream.service.d/ltxguard-preflight.conf)
  get_filename_component(unit_name ${unit} NAME)
  install(CODE "
    file(READ \"${PROJECT_SOURCE_DIR}/deploy/systemd/${unit}\" text)
    string(REPLACE \"/usr/bin/ltxguard\" \"\${CMAKE_INSTALL_PREFIX}/bin/ltxguard\" text \"\${text}\")
    file(WRITE \"${ltxguard_unit_dir}/${unit_name}\" \"\${text}\")")
endforeach()
install(FILES ${ltxguard_unit_dir}/ltxguard-watch.service
              ${ltxguard_unit_dir}/litestream-guarded.service
        DESTINATION lib/systemd/system)
# The drop-in changes how litestream.service starts: shipped as an example to copy into
# /etc/systemd/system/litestream.service.d/, never activated by installing the package.
install(FILES ${ltxguard_unit_dir}/ltxguard-preflight.conf
        DESTINATION share/ltxguard/systemd/litestream.service.d)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/prometheus/ltxguard.rules.yml
              ${PROJECT_SOURCE_DIR}/deploy/grafana/ltxguard-dashboard.json
              ${PROJECT_SOURCE_DIR}/deploy/policy.example.yml
        DESTINATION share/ltxguard)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/alertmanager/ltxguard.example.yml
        DESTINATION share/ltxguard RENAME alertmanager.example.yml)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/bash-completion/ltxguard
        DESTINATION share/bash-completion/completions)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/alerts.md
              ${PROJECT_SOURCE_DIR}/docs/exit-codes.md ${PROJECT_SOURCE_DIR}/docs/policy.md
              ${PROJECT_SOURCE_DIR}/docs/watch-model.md
        DESTINATION share/doc/ltxguard)

# --- Debian package: `make package` (cpack -G DEB in the build dir) -> ltxguard_<ver>_<arch>.deb
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ltxguard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ltxguard maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "keeps Litestream's local staging from filling the disk the application needs")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "For hosts where an application, its SQLite database and Litestream share a disk:\n\
proves whether Litestream's staging fills the disk, preflights the initial sync,\n\
watches the staging (Prometheus /metrics, sd_notify), and stops Litestream before\n\
the application's reserve of free space is breached. Ships systemd units,\n\
Prometheus alert rules and a Grafana dashboard.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libsystemd is opened on first use (journald logging, the journal, sd_notify), so shlibdeps
# does not see it; without it ltxguard logs to stderr and reads logs from files only.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libsystemd0")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "litestream, prometheus, prometheus-alertmanager")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The RelWithDebInfo binary carries ~10x its size in debug info; the package does not.
set(CPACK_STRIP_FILES ON)
include(CPack)
