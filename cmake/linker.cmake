# VOLLEY_LINKER picks the linker through the compiler driver (-fuse-ld=):
# `lld` or `mold`, or empty for the compiler's default (GNU ld). The CI
# presets set lld: a cold `./volley.sh test` links some 270 executables, and
# GNU ld takes about three times lld's CPU time for each (an ASan test:
# 0.9 s against 0.3 s). CMake 3.25, Debian 12's, has no CMAKE_LINKER_TYPE.
# A linker that is not installed stops the configure with the package to
# install, instead of a link error on the first target.
set(VOLLEY_LINKER "" CACHE STRING "Linker for -fuse-ld= (lld, mold), empty: the compiler's default")
set_property(CACHE VOLLEY_LINKER PROPERTY STRINGS "" lld mold)
if(NOT VOLLEY_LINKER STREQUAL "")
  if(NOT VOLLEY_LINKER MATCHES "^(lld|mold)$")
    message(FATAL_ERROR "VOLLEY_LINKER='${VOLLEY_LINKER}' is not one of '', 'lld', 'mold'")
  endif()
  # A cache entry per linker: switching VOLLEY_LINKER searches again.
  find_program(VOLLEY_LD_${VOLLEY_LINKER} ld.${VOLLEY_LINKER})
  if(NOT VOLLEY_LD_${VOLLEY_LINKER})
    message(FATAL_ERROR "VOLLEY_LINKER=${VOLLEY_LINKER}: ld.${VOLLEY_LINKER} is not installed "
                        "(Debian: apt-get install ${VOLLEY_LINKER}); or configure with -DVOLLEY_LINKER= "
                        "for the compiler's default linker")
  endif()
  add_link_options(-fuse-ld=${VOLLEY_LINKER})
endif()
