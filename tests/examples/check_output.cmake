# Runs an example program and compares its standard output with the
# expected text, exactly. Its standard error (sanitizer reports, dead-letter
# and pinning notes) is shown on failure but not compared.
#
#   cmake -DPROGRAM=<exe> -DEXPECTED=<file> -P check_output.cmake
foreach(var PROGRAM EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_output.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${PROGRAM}
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULT_VARIABLE rc)
file(READ ${EXPECTED} expected)

if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}\n-- stdout:\n${out}\n-- stderr:\n${err}")
endif()
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "${PROGRAM}: the output differs from ${EXPECTED}\n"
                      "-- expected:\n${expected}\n-- got:\n${out}\n-- stderr:\n${err}")
endif()
message(STATUS "${PROGRAM}: output as expected")
