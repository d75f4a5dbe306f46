// Tests of volley/affinity/worker_plan.hpp: worker placement and steal orders
// on synthetic machines, cpu lists from options and from VOLLEY_CPUS.
#include "volley/affinity/worker_plan.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <set>
#include <stdexcept>

using namespace volley::affinity;
using list = std::vector<unsigned>;

namespace {
// 2 packages x 2 NUMA nodes (one L3 each) x 4 cores (private L2) x 2 PUs.
constexpr const char* two_socket = "pack:2 numa:2 l3:1 core:4 l2:1 pu:2";

// Plans below must not depend on the environment the tests run in.
struct no_volley_cpus {
  no_volley_cpus() { ::unsetenv("VOLLEY_CPUS"); }
  ~no_volley_cpus() { ::unsetenv("VOLLEY_CPUS"); }
};

std::string error_of(const topology& topo, const plan_options& options) {
  try {
    make_plan(topo, options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

plan_options with_cpus(std::string cpus) {
  plan_options o;
  o.cpus = std::move(cpus);
  return o;
}

plan_options with_workers(unsigned n) {
  plan_options o;
  o.workers = n;
  return o;
}
}  // namespace

TEST_CASE("the default plan has one worker on the first PU of every core",
          "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology topo = topology::synthetic(two_socket);
  const worker_plan plan = make_plan(topo);
  REQUIRE(plan.workers.size() == 16);
  for (unsigned w = 0; w < 16; ++w) {
    const worker_slot& slot = plan.workers[w];
    CHECK(slot.index == w);
    CHECK(slot.pu == static_cast<int>(2 * w));
    CHECK(slot.core == static_cast<int>(w));
    CHECK(slot.numa_node == static_cast<int>(w / 4));
  }
  CHECK_FALSE(plan.pinned);
  CHECK(plan.note == "not pinned: the topology is synthetic, not this machine");
}

TEST_CASE("steal orders go L3 first, then the package's other NUMA node, then the other package",
          "[affinity][worker_plan]") {
  no_volley_cpus env;
  const worker_plan plan = make_plan(topology::synthetic(two_socket));
  CHECK(plan.workers[0].steal_order == list{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  // Worker 5 rotates within every class: it is second in its L3, sixth in
  // its package and in the machine.
  CHECK(plan.workers[5].steal_order == list{6, 7, 4, 1, 2, 3, 0, 13, 14, 15, 8, 9, 10, 11, 12});
  CHECK(plan.workers[12].steal_order == list{13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3});
}

TEST_CASE("every steal order names every other worker exactly once", "[affinity][worker_plan]") {
  no_volley_cpus env;
  for (const char* machine :
       {two_socket, "pack:1 l3:1 l2:2 core:2 pu:2", "pack:2 core:3 pu:1", "pu:1"}) {
    const worker_plan plan = make_plan(topology::synthetic(machine));
    for (const worker_slot& slot : plan.workers) {
      list sorted = slot.steal_order;
      std::sort(sorted.begin(), sorted.end());
      list others;
      for (unsigned j = 0; j < plan.workers.size(); ++j) {
        if (j != slot.index) others.push_back(j);
      }
      INFO(machine << ", worker " << slot.index);
      CHECK(sorted == others);
    }
  }
}

TEST_CASE("thieves of one domain start on different victims", "[affinity][worker_plan]") {
  no_volley_cpus env;
  const worker_plan plan = make_plan(topology::synthetic(two_socket));
  std::multiset<unsigned> first_victims;
  for (const worker_slot& slot : plan.workers) first_victims.insert(slot.steal_order.front());
  for (unsigned w = 0; w < 16; ++w) CHECK(first_victims.count(w) == 1);
  // The first victim in the other package (position 7 of the order) differs
  // for every worker of package 0.
  std::set<unsigned> remote_first;
  for (unsigned w = 0; w < 8; ++w) remote_first.insert(plan.workers[w].steal_order[7]);
  CHECK(remote_first == std::set<unsigned>{8, 9, 10, 11, 12, 13, 14, 15});
}

TEST_CASE("a shared L2 comes before a shared L3", "[affinity][worker_plan]") {
  no_volley_cpus env;
  // One L3 over two L2s, each shared by two single-PU cores.
  const worker_plan plan = make_plan(topology::synthetic("pack:1 l3:1 l2:2 core:2 pu:1"));
  REQUIRE(plan.workers.size() == 4);
  CHECK(plan.workers[0].steal_order == list{1, 2, 3});
  CHECK(plan.workers[1].steal_order == list{0, 3, 2});
  CHECK(plan.workers[2].steal_order == list{3, 0, 1});
  CHECK(plan.workers[3].steal_order == list{2, 1, 0});
}

TEST_CASE("an explicit worker count takes cores first, then their second PUs",
          "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology topo = topology::synthetic(two_socket);
  const worker_plan four = make_plan(topo, with_workers(4));
  REQUIRE(four.workers.size() == 4);
  CHECK(four.workers[3].pu == 6);
  CHECK(four.workers[3].steal_order == list{0, 1, 2});

  const worker_plan twenty = make_plan(topo, with_workers(20));
  REQUIRE(twenty.workers.size() == 20);
  CHECK(twenty.workers[15].pu == 30);
  CHECK(twenty.workers[16].pu == 1);
  CHECK(twenty.workers[16].core == 0);
  CHECK(twenty.workers[16].steal_order.front() == 0);  // its core's sibling
  CHECK(twenty.workers[0].steal_order.front() == 16);
  CHECK(twenty.note.find("oversubscribed") == std::string::npos);
}

TEST_CASE("more workers than PUs wrap around and say so", "[affinity][worker_plan]") {
  no_volley_cpus env;
  const worker_plan plan = make_plan(topology::synthetic(two_socket), with_workers(40));
  REQUIRE(plan.workers.size() == 40);
  CHECK(plan.workers[32].pu == plan.workers[0].pu);
  CHECK(plan.workers[39].pu == plan.workers[7].pu);
  // Its core's other PU and its own PU's second worker are the closest there are.
  CHECK(std::set<unsigned>{plan.workers[0].steal_order[0], plan.workers[0].steal_order[1]} ==
        std::set<unsigned>{16, 32});
  CHECK(plan.note ==
        "not pinned: the topology is synthetic, not this machine; "
        "40 workers on 32 PUs: oversubscribed, worker i shares a PU with worker i mod 32");
}

TEST_CASE("a cpu list picks the PUs in its order", "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology topo = topology::synthetic(two_socket);
  const worker_plan plan = make_plan(topo, with_cpus("8-11,0"));
  REQUIRE(plan.workers.size() == 5);
  list pus;
  for (const worker_slot& s : plan.workers) pus.push_back(static_cast<unsigned>(s.pu));
  CHECK(pus == list{8, 9, 10, 11, 0});
  CHECK(plan.workers[0].core == 4);
  CHECK(plan.workers[4].numa_node == 0);
  CHECK(plan.workers[0].numa_node == 1);
  CHECK(plan.workers[0].steal_order == list{1, 2, 3, 4});
  CHECK(plan.workers[4].steal_order == list{0, 1, 2, 3});

  plan_options two = with_cpus("8-11,0");
  two.workers = 2;
  CHECK(make_plan(topo, two).workers.size() == 2);
  two.workers = 7;
  const worker_plan seven = make_plan(topo, two);
  CHECK(seven.workers[5].pu == 8);
  CHECK(seven.note.find("7 workers on 5 PUs: oversubscribed") != std::string::npos);
}

TEST_CASE("a cpu list naming missing PUs fails with what exists", "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology topo = topology::synthetic(two_socket);
  CHECK(error_of(topo, with_cpus("0-3,99")) ==
        "cpus=\"0-3,99\": PU 99 does not exist; this machine has PUs 0-31");
  CHECK(error_of(topo, with_cpus("30-33,40")) ==
        "cpus=\"30-33,40\": PUs 32-33,40 do not exist; this machine has PUs 0-31");
  CHECK(error_of(topo, with_cpus("0,0")) ==
        "cpus=\"0,0\": PU 0 is listed twice; list each PU once");
}

TEST_CASE("VOLLEY_CPUS is read when no cpu list is given", "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology small = topology::synthetic("pack:1 core:2 pu:1");
  ::setenv("VOLLEY_CPUS", "1", 1);
  const worker_plan plan = make_plan(small);
  REQUIRE(plan.workers.size() == 1);
  CHECK(plan.workers[0].pu == 1);
  CHECK(plan.workers[0].steal_order.empty());

  ::setenv("VOLLEY_CPUS", "0-3,99", 1);
  CHECK(error_of(small, {}) ==
        "VOLLEY_CPUS=\"0-3,99\": PUs 2-3,99 do not exist; this machine has PUs 0-1");
  ::setenv("VOLLEY_CPUS", "", 1);
  CHECK(error_of(small, {}).rfind("VOLLEY_CPUS=\"\": the list is empty;", 0) == 0);
  // An explicit list wins over the environment.
  CHECK(make_plan(small, with_cpus("0-1")).workers.size() == 2);
}

TEST_CASE("a plan asked not to pin says so", "[affinity][worker_plan]") {
  no_volley_cpus env;
  plan_options o;
  o.pin = false;
  const worker_plan plan = make_plan(topology::detect(), o);
  CHECK_FALSE(plan.pinned);
  CHECK(plan.note.rfind("not pinned: pinning was turned off", 0) == 0);
}

TEST_CASE("this machine's default plan is non-empty and pinned where it can be",
          "[affinity][worker_plan]") {
  no_volley_cpus env;
  const topology topo = topology::detect();
  const worker_plan plan = make_plan(topo);
  REQUIRE_FALSE(plan.workers.empty());
  CHECK(plan.workers.size() == topo.cores());
  CHECK(plan.pinned == (topo.pus() > 1));
  if (!plan.pinned) CHECK(plan.note == "not pinned: hwloc sees only 1 PU");
}
