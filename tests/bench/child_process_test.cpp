#include "child_process.hpp"

#include <catch2/catch.hpp>

using namespace volley::bench;
using namespace std::chrono_literals;

TEST_CASE("a child's output and exit status are collected") {
  auto r = run_child({"sh", "-c", "echo out; echo err >&2; exit 3"}, 30s);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
}

TEST_CASE("a child that runs past its limit is killed and reported as timed out") {
  // `sleep` in a subshell: the whole process group must go, not only sh.
  auto r = run_child({"sh", "-c", "sleep 30 & wait"}, 200ms);
  CHECK(r.timed_out);
  CHECK(r.signal != 0);
  CHECK(r.exit_code == -1);
}

TEST_CASE("a child killed by a signal reports the signal") {
  auto r = run_child({"sh", "-c", "kill -SEGV $$"}, 30s);
  CHECK_FALSE(r.timed_out);
  CHECK(r.signal == 11);
}

TEST_CASE("a program that does not exist cannot be started") {
  CHECK_THROWS_AS(run_child({"/no/such/program"}, 1s), std::system_error);
}

TEST_CASE("large output is read completely while the child runs") {
  auto r = run_child({"sh", "-c", "head -c 1000000 /dev/zero | tr '\\\\0' x"}, 30s);
  CHECK(r.exit_code == 0);
  CHECK(r.out.size() == 1'000'000);
}

TEST_CASE("a child's CPU time comes back from wait4") {
  auto idle = run_child({"sh", "-c", "sleep 0.2"}, 30s);
  auto busy = run_child({"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"}, 60s);
  CHECK(busy.exit_code == 0);
  CHECK(busy.user_s + busy.sys_s > 0.05);
  // Sleeping costs wall time, not CPU time.
  CHECK(idle.user_s + idle.sys_s < idle.wall_s);
  CHECK(busy.max_rss_kib > 0);
}

TEST_CASE("a child's waits come back as voluntary context switches") {
  // The shell waits for each sleep: at least one voluntary switch each.
  auto waits = run_child({"sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 0.01; done"}, 30s);
  CHECK(waits.exit_code == 0);
  CHECK(waits.voluntary_switches >= 8);
  CHECK(waits.involuntary_switches >= 0);
}

TEST_CASE("tail_lines keeps the last lines") {
  CHECK(tail_lines("a\nb\nc\n", 2) == "b\nc");
  CHECK(tail_lines("a\nb\nc", 1) == "c");
  CHECK(tail_lines("one", 5) == "one");
  CHECK(tail_lines("", 3).empty());
}
