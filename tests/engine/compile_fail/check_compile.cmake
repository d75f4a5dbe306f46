# Compiles one source file with -fsyntax-only and checks the outcome:
#
#   cmake -DCOMPILER=<c++> -DSOURCE=<file.cpp> -DINCLUDES="<dir>|<dir>..."
#         -DEXPECT=fail|pass [-DEXPECT_TEXT=<text in the diagnostic>]
#         [-DFLAGS="<flag>|<flag>..."]
#         -P check_compile.cmake
#
# Used for the promises a type system makes: a wrong send must not compile,
# and must say why in words a user can act on. The `pass` files are the
# controls: they use the same include directories, so a broken include path
# cannot make a `fail` test pass.
foreach(var COMPILER SOURCE INCLUDES EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile.cmake: -D${var}=... is required")
  endif()
endforeach()

string(REPLACE "|" ";" include_list "${INCLUDES}")
set(args -fsyntax-only -std=c++20)
if(DEFINED FLAGS)
  string(REPLACE "|" ";" flag_list "${FLAGS}")
  list(APPEND args ${flag_list})
endif()
foreach(dir IN LISTS include_list)
  if(NOT dir STREQUAL "")
    list(APPEND args "-I${dir}")
  endif()
endforeach()

execute_process(COMMAND "${COMPILER}" ${args} "${SOURCE}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)

if(EXPECT STREQUAL "pass")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} should compile but did not (exit ${rc}):\n${out}")
  endif()
  message(STATUS "${SOURCE} compiles, as it should")
elseif(EXPECT STREQUAL "fail")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected")
  endif()
  if(DEFINED EXPECT_TEXT)
    string(FIND "${out}" "${EXPECT_TEXT}" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "${SOURCE} was rejected, but the diagnostic does not say "
                          "\"${EXPECT_TEXT}\":\n${out}")
    endif()
  endif()
  message(STATUS "${SOURCE} is rejected with the expected diagnostic")
else()
  message(FATAL_ERROR "check_compile.cmake: EXPECT must be fail or pass, not '${EXPECT}'")
endif()
