# Installation of the resources (systemd unit, default config, desktop entry,
# man pages) and the CPack configuration of the Debian package.
# Included once from the top CMakeLists.txt, after the targets exist.
#
#   cmake --install build --prefix /opt/prawmp     # any prefix
#   cpack --config build/CPackConfig.cmake -G DEB  # praw-multiprocess_<version>_<arch>.deb
#
# The programs, the library, headers, CMake package and pkg-config file are
# installed by the CMakeLists.txt of daemon/, client/, gui/ and core/.

include(GNUInstallDirs)

set(PRAWMP_RESOURCES_DIR ${PROJECT_SOURCE_DIR}/resources)

# Where systemd and systemd-sysusers look, relative to the prefix:
# /usr/lib/systemd/system for the package, /usr/local/lib/systemd/system for
# a /usr/local installation (both on systemd's search path).
set(PRAWMP_INSTALL_SYSTEMDUNITDIR lib/systemd/system CACHE STRING
    "Where the systemd unit goes (relative to the prefix, or absolute)")
set(PRAWMP_INSTALL_SYSUSERSDIR lib/sysusers.d CACHE STRING
    "Where the sysusers.d file for the service's user goes (relative to the prefix, or absolute)")

# ---- Man pages: the version comes from the project, the text is checked
# against --help by tests/tst_packaging.cpp. Installed gzipped, as Debian does.
# The date in the page footer: the configure date (or $SOURCE_DATE_EPOCH).
string(TIMESTAMP PRAWMP_MAN_DATE "%Y-%m-%d" UTC)
foreach(page praw-multiprocess.1 praw-multiprocess-client.1)
  configure_file(${PRAWMP_RESOURCES_DIR}/man/${page} ${CMAKE_BINARY_DIR}/man/${page} @ONLY)
  file(ARCHIVE_CREATE OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
       PATHS ${CMAKE_BINARY_DIR}/man/${page} FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9)
  install(FILES ${CMAKE_BINARY_DIR}/man/${page}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()

# ---- Desktop entry of the dashboard (the icons are installed by gui/).
if(TARGET praw-multiprocess-gui)
  install(FILES ${PRAWMP_RESOURCES_DIR}/praw-multiprocess-gui.desktop
          DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
endif()

# ---- systemd unit, sysusers.d entry, default config: their paths depend on
# the prefix chosen at install time (`cmake --install --prefix`, CPack), so
# cmake/InstallSystemFiles.cmake places them then. With the prefix /usr the
# config goes to /etc/praw-multiprocess.ini, otherwise to PREFIX/etc.
if(TARGET praw-multiprocess)
  install(CODE "
    set(PRAWMP_RESOURCES_DIR \"${PRAWMP_RESOURCES_DIR}\")
    set(PRAWMP_STAGING_DIR \"${CMAKE_BINARY_DIR}/install-staging\")
    set(PRAWMP_INSTALL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    set(PRAWMP_INSTALL_SYSTEMDUNITDIR \"${PRAWMP_INSTALL_SYSTEMDUNITDIR}\")
    set(PRAWMP_INSTALL_SYSUSERSDIR \"${PRAWMP_INSTALL_SYSUSERSDIR}\")")
  install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/InstallSystemFiles.cmake)
endif()

# Debian's place for a package's documents: /usr/share/doc/<package>, with
# the licence (BSD-2-Clause) and the machine-readable copyright file that
# names the libraries the programs use and their licences.
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${CMAKE_CURRENT_LIST_DIR}/debian/copyright
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/praw-multiprocess)

# ---- CPack: one Debian package with the programs, the library (+ headers,
# CMake and pkg-config files), the unit, the config and the desktop entry.
set(PRAWMP_PACKAGE_MAINTAINER "praw-multiprocess maintainers <praw-multiprocess@localhost>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_PACKAGE_NAME praw-multiprocess)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${PRAWMP_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_VENDOR "praw-multiprocess")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION [=[
Many programs (bots, scrapers, moderation tools, Qt apps) that use the
Reddit API under one OAuth client id share one rate budget. praw-multiprocess
is one small HTTP/1.1 proxy that every process sends its requests through:
it keeps to the shared budget announced in Reddit's X-Ratelimit-* headers,
caches repeated reads and merges identical requests in flight. It re-creates
PRAW's praw-multiprocess request server in C++/Qt 6.

This package holds the daemon (with a systemd unit), the command-line
client, the desktop dashboard and the core library for Qt applications.]=])
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_STRIP_FILES ON)
set(CPACK_VERBATIM_VARIABLES ON)

# Install with DESTDIR and the real prefix, so that InstallSystemFiles.cmake
# sees /usr and places the config in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # praw-multiprocess_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# shlibs for libprawmp_core.so.N (and the ldconfig trigger).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# Depends: computed from the binaries by dpkg-shlibdeps (libqt6core6,
# libqt6network6, libqt6widgets6, libqt6charts6, libhiredis0.14...;
# llhttp is compiled in). Without dpkg-dev, a list for Debian 12.
find_program(PRAWMP_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(PRAWMP_DPKG_SHLIBDEPS)
if(PRAWMP_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # libprawmp_core is part of the package itself.
  get_target_property(PRAWMP_CORE_BINARY_DIR prawmp_core BINARY_DIR)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PRAWMP_CORE_BINARY_DIR})
else()
  set(PRAWMP_DEB_DEPENDS
      "libc6 (>= 2.34)" "libstdc++6 (>= 12)" "libqt6core6 (>= 6.4)" "libqt6network6 (>= 6.4)"
      "libhiredis0.14 (>= 0.14)")
  if(TARGET praw-multiprocess-gui)
    list(APPEND PRAWMP_DEB_DEPENDS "libqt6gui6 (>= 6.4)" "libqt6widgets6 (>= 6.4)"
         "libqt6charts6 (>= 6.4)")
  endif()
  string(JOIN ", " CPACK_DEBIAN_PACKAGE_DEPENDS ${PRAWMP_DEB_DEPENDS})
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")

# Maintainer scripts: create the service user, mark the config private on
# first install, let systemd know. The config file is a conffile.
set(PRAWMP_DEB_CONTROL_DIR ${CMAKE_BINARY_DIR}/deb-control)
foreach(script postinst prerm postrm)
  file(COPY ${CMAKE_CURRENT_LIST_DIR}/debian/${script} DESTINATION ${PRAWMP_DEB_CONTROL_DIR}
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                        WORLD_READ WORLD_EXECUTE)
endforeach()
file(WRITE ${PRAWMP_DEB_CONTROL_DIR}/conffiles "/etc/praw-multiprocess.ini\n")
# The package ships a shared library: refresh the linker cache.
file(WRITE ${PRAWMP_DEB_CONTROL_DIR}/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PRAWMP_DEB_CONTROL_DIR}/postinst ${PRAWMP_DEB_CONTROL_DIR}/prerm
    ${PRAWMP_DEB_CONTROL_DIR}/postrm ${PRAWMP_DEB_CONTROL_DIR}/conffiles
    ${PRAWMP_DEB_CONTROL_DIR}/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# `cpack --config build/CPackSourceConfig.cmake`: the sources, without build trees.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/\\.cache/" "\\.swp$" "~$")

include(CPack)
