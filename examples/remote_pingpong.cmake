# Runs remote_pong and remote_ping as two processes, the way the header of
# remote_ping.cpp shows: `remote_pong 0 | remote_ping -` (pong's first line,
# its address, feeds ping). Compares ping's standard output with the
# expected text; both programs must exit 0.
#
#   cmake -DPING=<exe> -DPONG=<exe> -DEXPECTED=<file> -P remote_pingpong.cmake
foreach(var PING PONG EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "remote_pingpong.cmake: -D${var}=... is required")
  endif()
endforeach()

execute_process(COMMAND ${PONG} 0
                COMMAND ${PING} -
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  RESULTS_VARIABLE rcs
  TIMEOUT 100)
file(READ ${EXPECTED} expected)

if(NOT rcs STREQUAL "0;0")
  message(FATAL_ERROR "remote_pong | remote_ping exited with ${rcs}\n-- stdout:\n${out}\n-- stderr:\n${err}")
endif()
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "remote_ping: the output differs from ${EXPECTED}\n"
                      "-- expected:\n${expected}\n-- got:\n${out}\n-- stderr:\n${err}")
endif()
message(STATUS "remote_pong | remote_ping: output as expected")
