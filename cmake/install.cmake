# cmake --install: headers, libraries and a package config, so that
# find_package(volley) gives volley::queues, volley::affinity, volley::engine
# and, when built, volley::remote.
include(CMakePackageConfigHelpers)
install(EXPORT volley-targets NAMESPACE volley:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/volley)
configure_package_config_file(cmake/volley-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/volley-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/volley)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/volley-config-version.cmake
  COMPATIBILITY SameMinorVersion)
if(TARGET volley_remote)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/volley-remote-deps.flag "remote installed\n")
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/volley-remote-deps.flag DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/volley)
endif()
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/volley-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/volley-config-version.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/volley)

# pkg-config: volley.pc (engine, affinity, queues) and, when built,
# volley-remote.pc. With static libraries (the default) the private
# dependencies must be on the consumer's link line, so they are Requires;
# with shared ones they stay Requires.private. jemalloc is a public link
# dependency of the engine outside sanitizer builds.
file(RELATIVE_PATH VOLLEY_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" VOLLEY_PC_UP "${VOLLEY_PC_UP}")
if(BUILD_SHARED_LIBS)
  set(pc_private_kw "Requires.private:")
else()
  set(pc_private_kw "Requires:")
endif()
set(VOLLEY_PC_REQUIRES "${pc_private_kw} hwloc")
if(VOLLEY_SANITIZE STREQUAL "")
  string(APPEND VOLLEY_PC_REQUIRES " jemalloc")
endif()
configure_file(cmake/volley.pc.in ${CMAKE_CURRENT_BINARY_DIR}/volley.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/volley.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(TARGET volley_remote)
  if(BUILD_SHARED_LIBS)
    set(VOLLEY_REMOTE_PC_REQUIRES "Requires: volley = ${PROJECT_VERSION}\nRequires.private: liburing libcrypto")
  else()
    set(VOLLEY_REMOTE_PC_REQUIRES "Requires: volley = ${PROJECT_VERSION} liburing libcrypto")
  endif()
  configure_file(cmake/volley-remote.pc.in ${CMAKE_CURRENT_BINARY_DIR}/volley-remote.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/volley-remote.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
