# volley_library(<component> [INTERFACE] [SOURCES ...] [PUBLIC ...] [PRIVATE ...])
#
# One place for what every component library repeats: the volley_<component>
# target and its volley::<component> alias and export name, the include
# directories (source tree while building, the install prefix after), C++20,
# the warning set, the shared-library version, and the install rules.
# PUBLIC / PRIVATE are link dependencies (INTERFACE libraries take only PUBLIC).
function(volley_library component)
  cmake_parse_arguments(PARSE_ARGV 1 arg "INTERFACE" "" "SOURCES;PUBLIC;PRIVATE")
  set(target volley_${component})
  if(arg_INTERFACE)
    add_library(${target} INTERFACE)
    set(scope INTERFACE)
  else()
    add_library(${target} ${arg_SOURCES})
    set(scope PUBLIC)
    target_compile_options(${target} PRIVATE ${VOLLEY_WARNINGS})
    # The libraries are position independent (CMAKE_POSITION_INDEPENDENT_CODE,
    # so they can also be built shared), and under -fPIC g++ assumes that any
    # global function may be replaced at load time (LD_PRELOAD): it then
    # inlines none of them, not even into a caller in the same file, and
    # runs no interprocedural analysis on them. deliver() called
    # cell_hooks::admit (two byte tests) as a function, with a prologue to
    # save the registers around it. Nothing replaces a volley function at
    # load time, so the libraries say so (clang assumes it already).
    target_compile_options(${target} PRIVATE -fno-semantic-interposition)
    # 0.x: every minor release may change the ABI, so the soname carries it.
    set_target_properties(${target} PROPERTIES
      VERSION ${PROJECT_VERSION}
      SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
    target_link_libraries(${target} PRIVATE ${arg_PRIVATE})
  endif()
  add_library(volley::${component} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${component})
  target_include_directories(${target} ${scope}
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} ${scope} cxx_std_20)
  target_link_libraries(${target} ${scope} ${arg_PUBLIC})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS ${target} EXPORT volley-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
