// Tests of volley/affinity/topology.hpp: counts and sharing on synthetic
// machines we do not have, and sanity on the real one.
#include "volley/affinity/topology.hpp"

#include <catch2/catch.hpp>

#include <numeric>
#include <stdexcept>

using namespace volley::affinity;

namespace {
// 2 packages x 2 NUMA nodes (one L3 each) x 4 cores (private L2) x 2 PUs.
constexpr const char* two_socket = "pack:2 numa:2 l3:1 core:4 l2:1 pu:2";

std::vector<unsigned> iota(unsigned first, unsigned count) {
  std::vector<unsigned> v(count);
  std::iota(v.begin(), v.end(), first);
  return v;
}
}  // namespace

TEST_CASE("a synthetic two-socket machine has the counts of its description",
          "[affinity][topology]") {
  const topology topo = topology::synthetic(two_socket);
  CHECK(topo.packages() == 2);
  CHECK(topo.numa_nodes() == 4);
  CHECK(topo.cores() == 16);
  CHECK(topo.pus() == 32);
  CHECK(topo.pu_os_indices() == iota(0, 32));
  CHECK_FALSE(topo.is_this_system());
  CHECK(topo.cpu_model() == "unknown");
  CHECK(topo.memory_bytes() > 0);
}

TEST_CASE("caches are reported per level with their sharing", "[affinity][topology]") {
  const topology topo = topology::synthetic(two_socket);
  const std::vector<cache_info> caches = topo.caches();
  REQUIRE(caches.size() == 2);
  CHECK(caches[0].level == 2);
  CHECK(caches[0].count == 16);
  CHECK(caches[0].pus_per_cache == 2);
  CHECK(caches[0].size_bytes > 0);
  CHECK(caches[1].level == 3);
  CHECK(caches[1].count == 4);
  CHECK(caches[1].pus_per_cache == 8);
  CHECK(caches[1].size_bytes > caches[0].size_bytes);

  CHECK(topo.pus_sharing_cache(2, 5) == std::vector<unsigned>{4, 5});
  CHECK(topo.pus_sharing_cache(3, 5) == iota(0, 8));
  CHECK(topo.pus_sharing_cache(3, 17) == iota(16, 8));
  CHECK(topo.pus_sharing_cache(1, 5).empty());   // no L1 in the description
  CHECK(topo.pus_sharing_cache(2, 99).empty());  // no such PU
}

TEST_CASE("PUs map to their core and NUMA node", "[affinity][topology]") {
  const topology topo = topology::synthetic(two_socket);
  CHECK(topo.core_of(0) == 0);
  CHECK(topo.core_of(5) == 2);
  CHECK(topo.core_of(31) == 15);
  CHECK(topo.numa_node_of(7) == 0);
  CHECK(topo.numa_node_of(8) == 1);
  CHECK(topo.numa_node_of(16) == 2);
  CHECK(topo.numa_node_of(31) == 3);
  CHECK(topo.core_of(32) == -1);
  CHECK(topo.numa_node_of(32) == -1);
}

TEST_CASE("a machine without core objects counts every PU as a core", "[affinity][topology]") {
  const topology topo = topology::synthetic("pack:1 pu:4");
  CHECK(topo.cores() == 4);
  CHECK(topo.core_of(3) == 3);
}

TEST_CASE("a bad synthetic description is rejected with invalid_argument", "[affinity][topology]") {
  CHECK_THROWS_AS(topology::synthetic("pack:2 bogus:3"), std::invalid_argument);
  CHECK_THROWS_AS(topology::synthetic("pack:0 pu:1"), std::invalid_argument);
  CHECK_THROWS_AS(topology::synthetic(""), std::invalid_argument);
  CHECK_THROWS_WITH(topology::synthetic("nonsense"), Catch::Contains("\"nonsense\""));
}

TEST_CASE("a topology can be moved", "[affinity][topology]") {
  topology a = topology::synthetic(two_socket);
  topology b = std::move(a);
  CHECK(b.pus() == 32);
  a = topology::synthetic("core:2 pu:1");
  b = std::move(a);
  CHECK(b.pus() == 2);
}

TEST_CASE("this machine's topology is consistent", "[affinity][topology]") {
  const topology topo = topology::detect();
  CHECK(topo.is_this_system());
  CHECK(topo.pus() >= 1);
  CHECK(topo.cores() >= 1);
  CHECK(topo.cores() <= topo.pus());
  CHECK(topo.packages() >= 1);
  CHECK(topo.numa_nodes() >= 1);
  CHECK(topo.memory_bytes() > 0);
  CHECK_FALSE(topo.cpu_model().empty());
  const std::vector<unsigned> pus = topo.pu_os_indices();
  REQUIRE(pus.size() == topo.pus());
  for (unsigned pu : pus) {
    CHECK(topo.core_of(pu) >= 0);
    CHECK(topo.core_of(pu) < static_cast<int>(topo.cores()));
    CHECK(topo.numa_node_of(pu) >= 0);
    CHECK(topo.numa_node_of(pu) < static_cast<int>(topo.numa_nodes()));
  }
}
