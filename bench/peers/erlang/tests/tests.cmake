# Tests of the Erlang peer (label bench-tool) that only it needs: spawning
# from an actor, the C++ binaries' spelling of a fault, the deadline, usage
# errors, --list against volley-savina's, the generated workload list, and
# the Erlang splitmix64 and work functions against the C++ ones. Every
# workload's clean, dropped and duplicated run is checked, at the same tiny
# sizes as on volley and CAF, by tests/bench/fault_injection_test.cpp.
#
# The root CMakeLists.txt calls enable_testing() after add_subdirectory(bench),
# so add_test() here would be dropped (this directory gets no CTestTestfile).
# Instead the tests are written, in ctest's own syntax, to one generated
# file that the root directory's TEST_INCLUDE_FILES hands to ctest, the
# mechanism gtest_discover_tests uses. `ctest -L bench-tool` runs them.
set(erlang_savina_test_lines "")
set(erlang_savina ${CMAKE_CURRENT_BINARY_DIR}/erlang-savina)
set(run_workload ${CMAKE_CURRENT_SOURCE_DIR}/tests/run_workload.sh)

# erlang_savina_add_test(<name> <command> <args>...): one ctest test,
# labelled bench-tool, a minute at most (each takes about a second).
macro(erlang_savina_add_test name)
  set(line "add_test(\"${name}\"")
  foreach(word IN ITEMS ${ARGN})
    string(APPEND line " \"${word}\"")
  endforeach()
  string(APPEND erlang_savina_test_lines "${line})\n"
         "set_tests_properties(\"${name}\" PROPERTIES LABELS bench-tool TIMEOUT 60)\n")
endmacro()

macro(erlang_savina_test name expected_status)
  erlang_savina_add_test(${name} ${run_workload} ${erlang_savina} ${expected_status} ${ARGN})
endmacro()

erlang_savina_test("erlang_savina.fork-join-creation.spawns_from_an_actor" 0
                   --workload fork-join-creation --workers 2 --param actors=1000 --param spawn_from_actor=1)
# The C++ binaries' spelling of the fault, and the deadline the runner's
# fault test passes: a run still going after it is a wrong result.
erlang_savina_test("erlang_savina.inject_fault_dup_fails_the_run" 2
                   --workload ping-pong --workers 2 --param pings=1000 --inject-fault dup)
erlang_savina_test("erlang_savina.a_run_past_its_deadline_is_a_wrong_result" 2
                   --workload ping-pong --workers 2 --param pings=100000000 --deadline 0.2)
erlang_savina_test("erlang_savina.a_missing_parameter_is_a_usage_error" 1
                   --workload ping-pong --workers 2)
erlang_savina_test("erlang_savina.an_unknown_workload_is_a_usage_error" 1
                   --workload no-such-workload --workers 2 --param pings=10)

if(TARGET volley-savina)
  erlang_savina_add_test(erlang_savina.list_names_every_workload ${CMAKE_CURRENT_SOURCE_DIR}/tests/list_names_every_workload.sh
                         ${erlang_savina} $<TARGET_FILE:volley-savina>)
endif()
# The list is VOLLEY_SAVINA_WORKLOADS: a workload without its module, or a
# module that is no workload, stops the build with its name.
erlang_savina_add_test(erlang_savina.the_workload_list_names_a_missing_or_extra_module
                       ${CMAKE_CURRENT_SOURCE_DIR}/tests/workload_list_fails_loudly.sh
                       $<TARGET_FILE:erlang_workload_list> ${erlang_savina_workload_modules})

# splitmix64 in Erlang against the C++ header it must match bit for bit.
add_executable(erlang_prng_reference tests/prng_reference.cpp)
target_link_libraries(erlang_prng_reference PRIVATE volley::savina_common)
erlc_modules(erlang_savina_test_beams ${CMAKE_CURRENT_BINARY_DIR}/test_ebin
             ${CMAKE_CURRENT_SOURCE_DIR}/tests/savina_random_sequence.erl)
add_custom_target(erlang_savina_test_modules ALL DEPENDS ${erlang_savina_test_beams})
erlang_savina_add_test(erlang_savina.splitmix64_matches_the_cpp_sequence
                       ${CMAKE_CURRENT_SOURCE_DIR}/tests/prng_matches_cpp.sh $<TARGET_FILE:erlang_prng_reference>
                       ${ERL_EXECUTABLE} ${erlang_savina_ebin} ${CMAKE_CURRENT_BINARY_DIR}/test_ebin)

# The CPU work of producer-consumer, sleeping barber and cigarette smokers:
# the values tests/bench/reference_answers_test.cpp pins for the C++ loop
# (exit status 1 on a mismatch; no semicolon, which would split the list).
erlang_savina_add_test(erlang_savina.work_functions_match_the_cpp_values ${ERL_EXECUTABLE} -noshell -pa
                       ${erlang_savina_ebin} -eval
                       "halt(length([mismatch || {savina_work:busy_wait(1000), savina_work:process_item(0.0, 25)} =/= {260396185, -2345.9304306055787}])).")

file(GENERATE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/erlang_savina_tests.cmake CONTENT "${erlang_savina_test_lines}")
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY TEST_INCLUDE_FILES
             ${CMAKE_CURRENT_BINARY_DIR}/erlang_savina_tests.cmake)
