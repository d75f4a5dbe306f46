#include "child_process.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

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

TEST_CASE("a child's threads' CPU time is sampled by thread name while it runs") {
  auto busy =
      run_child({"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"}, 60s, true);
  CHECK(busy.exit_code == 0);
  REQUIRE(busy.thread_cpu_s.count("sh") == 1);
  // The last sample is at most 20 ms before the end; rusage has it all.
  CHECK(busy.thread_cpu_s["sh"] > 0.5 * (busy.user_s + busy.sys_s));
  CHECK(busy.thread_cpu_s["sh"] <= busy.user_s + busy.sys_s + 0.02);
  // Without sampling, nothing is read.
  CHECK(run_child({"sh", "-c", "true"}, 30s).thread_cpu_s.empty());
}

TEST_CASE("thread CPU times are summed by name, and empty for a process that is gone") {
  auto own = thread_cpu_times(getpid());
  double sum = 0;
  for (const auto& [name, s] : own) sum += s;
  CHECK(sum > 0);
  CHECK(thread_cpu_times(-1).empty());
}

TEST_CASE("a sample taken after the workers exited does not replace one that had them") {
  std::map<std::string, double> kept;
  keep_later_sample(kept, {{"main", 0.01}, {"volley-w0", 0.2}});
  keep_later_sample(kept, {{"main", 0.01}, {"volley-w0", 0.3}, {"volley-w1", 0.01}});
  CHECK(kept["volley-w0"] == 0.3);
  keep_later_sample(kept, {{"main", 0.02}});  // the workers were joined
  CHECK(kept.size() == 3);
  CHECK(kept["volley-w1"] == 0.01);
  keep_later_sample(kept, {});  // the process is gone
  CHECK(kept.size() == 3);
}

TEST_CASE("tail_lines keeps the last lines") {
  CHECK(tail_lines("a\nb\nc\n", 2) == "b\nc");
  CHECK(tail_lines("a\nb\nc", 1) == "c");
  CHECK(tail_lines("one", 5) == "one");
  CHECK(tail_lines("", 3).empty());
}
