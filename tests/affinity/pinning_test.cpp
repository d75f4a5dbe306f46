// Tests of volley/affinity/pinning.hpp: pinning on this machine either works
// (and the thread's CPU mask is that one PU) or is reported once; refusals
// are reported once per process however many threads hit them.
#include "volley/affinity/pinning.hpp"

#include <catch2/catch.hpp>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "volley/affinity/worker_plan.hpp"

using namespace volley::affinity;

namespace {

// Whether an earlier test case of this process already used up the one report.
bool report_used = false;

// Runs `body` with stderr going to a temporary file; returns what it wrote.
template <typename Body>
std::string capture_stderr(Body body) {
  std::fflush(stderr);
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(file), STDERR_FILENO);
  body();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string text;
  std::rewind(file);
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  std::fclose(file);
  return text;
}

long lines_in(const std::string& text) {
  return std::count(text.begin(), text.end(), '\n');
}

// The PUs the calling thread may run on, by OS index; empty if unknown.
// Called from worker threads, so no Catch2 assertions here (they are not
// thread-safe).
std::vector<int> current_cpu_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return {};
  std::vector<int> out;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  }
  return out;
}

}  // namespace

TEST_CASE("worker threads pinned on this machine run on their PU, or are reported once",
          "[affinity][pinning][concurrency]") {
  const topology topo = topology::detect();
  plan_options o;
  o.cpus = std::nullopt;
  o.workers = 2 * topo.pus() + 2;  // oversubscribed: several threads per PU, pinned at once
  const worker_plan plan = make_plan(topo, o);
  std::atomic<unsigned> refused{0};
  std::atomic<unsigned> wrong_mask{0};
  std::atomic<unsigned> wrong_node{0};
  const std::string output = capture_stderr([&] {
    std::vector<std::thread> threads;
    for (const worker_slot& slot : plan.workers) {
      threads.emplace_back([&, slot] {
        if (current_numa_node() != -1) wrong_node.fetch_add(1);  // nothing pinned yet
        if (!pin_current_thread(topo, slot.pu)) {
          refused.fetch_add(1);
          return;
        }
        if (current_cpu_mask() != std::vector<int>{slot.pu}) wrong_mask.fetch_add(1);
        if (current_numa_node() != slot.numa_node) wrong_node.fetch_add(1);
      });
    }
    for (std::thread& t : threads) t.join();
  });
  CHECK(wrong_mask.load() == 0);
  CHECK(wrong_node.load() == 0);
  if (refused.load() == 0) {
    CHECK(output.empty());
  } else {
    report_used = true;
    CHECK(lines_in(output) == 1);
    CHECK(output.rfind("volley: ", 0) == 0);
    CHECK(output.find("running unpinned") != std::string::npos);
  }
  if (topo.pus() > 1) CHECK(plan.pinned);
}

TEST_CASE("refused pinning is reported once per process, and the thread's node stays unknown",
          "[affinity][pinning][concurrency]") {
  const topology synthetic = topology::synthetic("pack:2 numa:2 l3:1 core:4 l2:1 pu:2");
  std::atomic<unsigned> pinned{0};
  std::atomic<unsigned> known_node{0};
  const std::string output = capture_stderr([&] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        if (pin_current_thread(synthetic, t)) pinned.fetch_add(1);
        if (current_numa_node() != -1) known_node.fetch_add(1);
      });
    }
    for (std::thread& t : threads) t.join();
    if (pin_current_thread(synthetic, 99)) pinned.fetch_add(1);
    if (pin_current_thread(synthetic, -1)) pinned.fetch_add(1);
  });
  CHECK(pinned.load() == 0);
  CHECK(known_node.load() == 0);  // four NUMA nodes and no pinning: unknown
  CHECK(current_numa_node() == -1);
  if (report_used) {
    CHECK(output.empty());
  } else {
    CHECK(output ==
          "volley: not pinning threads: the topology is synthetic, not this machine; running "
          "unpinned\n");
  }
}

TEST_CASE("on a single-NUMA machine the node is known even unpinned", "[affinity][pinning]") {
  const topology one_node = topology::synthetic("pack:1 core:4 pu:1");
  std::thread([&] {
    CHECK_FALSE(pin_current_thread(one_node, 2));
    CHECK(current_numa_node() == 0);
    CHECK_FALSE(pin_current_thread(one_node, 7));  // no such PU
    CHECK(current_numa_node() == -1);
  }).join();
}
