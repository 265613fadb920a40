# Runs at install time (`cmake --install`, CPack), not at configure time:
# installs the files whose place or content depends on the final prefix.
#   - the systemd unit, its ExecStart naming PREFIX/bin/praw-multiprocess and
#     the config file below;
#   - the default config: /etc/praw-multiprocess.ini for the prefixes / and
#     /usr (the package), PREFIX/etc/praw-multiprocess.ini otherwise. An
#     existing config file is never overwritten (DESTDIR installs, such as
#     CPack's, always start empty);
#   - the sysusers.d entry for the service's user.
# Set by cmake/Packaging.cmake before this runs: PRAWMP_RESOURCES_DIR,
# PRAWMP_STAGING_DIR, PRAWMP_INSTALL_BINDIR, PRAWMP_INSTALL_SYSTEMDUNITDIR,
# PRAWMP_INSTALL_SYSUSERSDIR.

if(CMAKE_INSTALL_COMPONENT AND NOT CMAKE_INSTALL_COMPONENT STREQUAL "Unspecified")
  return()
endif()

string(REGEX REPLACE "/+$" "" _prawmp_prefix "${CMAKE_INSTALL_PREFIX}")
if(_prawmp_prefix STREQUAL "" OR _prawmp_prefix STREQUAL "/usr")
  set(_prawmp_sysconfdir "/etc")
else()
  set(_prawmp_sysconfdir "${_prawmp_prefix}/etc")
endif()

function(_prawmp_dir relative out)
  if(IS_ABSOLUTE "${relative}")
    set(${out} "${relative}" PARENT_SCOPE)
  else()
    set(${out} "${_prawmp_prefix}/${relative}" PARENT_SCOPE)
  endif()
endfunction()
_prawmp_dir("${PRAWMP_INSTALL_BINDIR}" _prawmp_bindir)
_prawmp_dir("${PRAWMP_INSTALL_SYSTEMDUNITDIR}" _prawmp_unitdir)
_prawmp_dir("${PRAWMP_INSTALL_SYSUSERSDIR}" _prawmp_sysusersdir)

# The unit as written names the package's paths; point it at this installation.
file(READ "${PRAWMP_RESOURCES_DIR}/praw-multiprocess.service" _prawmp_unit)
string(REPLACE "/usr/bin/praw-multiprocess " "${_prawmp_bindir}/praw-multiprocess "
       _prawmp_unit "${_prawmp_unit}")
string(REPLACE "/etc/praw-multiprocess.ini" "${_prawmp_sysconfdir}/praw-multiprocess.ini"
       _prawmp_unit "${_prawmp_unit}")
file(WRITE "${PRAWMP_STAGING_DIR}/praw-multiprocess.service" "${_prawmp_unit}")
file(INSTALL DESTINATION "${_prawmp_unitdir}" TYPE FILE
     FILES "${PRAWMP_STAGING_DIR}/praw-multiprocess.service")

file(INSTALL DESTINATION "${_prawmp_sysusersdir}" TYPE FILE
     RENAME praw-multiprocess.conf FILES "${PRAWMP_RESOURCES_DIR}/praw-multiprocess.sysusers")

if(EXISTS "$ENV{DESTDIR}${_prawmp_sysconfdir}/praw-multiprocess.ini")
  message(STATUS "Keeping: $ENV{DESTDIR}${_prawmp_sysconfdir}/praw-multiprocess.ini")
else()
  file(INSTALL DESTINATION "${_prawmp_sysconfdir}" TYPE FILE
       FILES "${PRAWMP_RESOURCES_DIR}/praw-multiprocess.ini")
endif()
