# Tests of the Erlang peer (label bench-tool): every workload runs at tiny
# sizes and prints a well-formed line; a dropped and a duplicated message
# each make it fail with exit 2; a missing parameter is a usage error; and
# the Erlang splitmix64 matches the C++ one.
#
# The root CMakeLists.txt calls enable_testing() after add_subdirectory(bench),
# so add_test() here would be dropped (this directory gets no CTestTestfile).
# Instead the tests are written, in ctest's own syntax, to one generated
# file that the root directory's TEST_INCLUDE_FILES hands to ctest, the
# mechanism gtest_discover_tests uses. `ctest -L bench-tool` runs them.
set(erlang_savina_test_lines "")
set(erlang_savina ${CMAKE_CURRENT_BINARY_DIR}/erlang-savina)
set(run_workload ${CMAKE_CURRENT_SOURCE_DIR}/tests/run_workload.sh)

# Tiny sizes: each run takes well under a second after the emulator starts.
set(erlang_savina_tiny
    "ping-pong|pings=1000"
    "counting|messages=10000"
    "fork-join-throughput|messages=200|actors=8"
    "fork-join-creation|actors=1000|spawn_from_actor=0"
    "thread-ring|actors=10|hops=1000"
    "chameneos|chameneos=10|meetings=1000"
    "big|actors=10|pings=100"
    "concurrent-dictionary|workers=4|messages=200|write_percent=10"
    "dining-philosophers|philosophers=5|rounds=100"
    "logistic-map|terms=200|series=3|start_rate=3.46|increment=0.0025"
    "bank-transaction|accounts=20|transactions=500"
    "trapezoid|pieces=100000|workers=4|left=1|right=5"
    "n-queens|size=8|workers=4|threshold=3"
    "fan-in-latency|senders=4|messages=500|window=4"
    "fibonacci|n=12"
    "concurrent-sorted-list|workers=4|messages=500|write_percent=10|size_percent=1"
    "producer-consumer|buffer=10|producers=4|consumers=4|items=50|produce_cost=1|consume_cost=1"
    "sleeping-barber|haircuts=200|waiting_room=10|arrival_rate=100|haircut_rate=150"
    "cigarette-smokers|rounds=1000|smokers=20"
    "sieve|limit=3000|per_filter=20"
    "quicksort|elements=5000|threshold=256|seed=1024"
    "matrix-multiplication|dimension=32|workers=4|block_threshold=64"
    "filter-bank|columns=500|channels=4|taps=8")

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

foreach(entry IN LISTS erlang_savina_tiny)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 workload)
  list(SUBLIST parts 1 -1 params)
  set(args --workload ${workload} --workers 2)
  foreach(param IN LISTS params)
    list(APPEND args --param ${param})
  endforeach()
  erlang_savina_test("erlang_savina.${workload}.prints_its_result_line" 0 ${args})
  erlang_savina_test("erlang_savina.${workload}.fails_when_a_message_is_dropped" 2 ${args} --param fault=drop)
  erlang_savina_test("erlang_savina.${workload}.fails_when_a_message_is_duplicated" 2 ${args} --param fault=dup)
endforeach()

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

erlang_savina_add_test(erlang_savina.list_names_every_workload ${CMAKE_CURRENT_SOURCE_DIR}/tests/list_names_every_workload.sh
                       ${erlang_savina})

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
