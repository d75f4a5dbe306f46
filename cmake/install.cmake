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
