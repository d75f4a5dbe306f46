// Pinning the calling thread. The once-per-process report uses one atomic
// flag: exchange() lets exactly one failing thread print, whichever is first;
// relaxed is enough because nothing else is published through the flag.
#include "volley/affinity/pinning.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "topology_impl.hpp"

namespace volley::affinity {

namespace {

std::atomic<bool> refusal_reported{false};

// The calling thread's NUMA node, as set by its last pin_current_thread().
thread_local int thread_numa_node = -1;

void report_once(const std::string& what_and_why) {
  if (refusal_reported.exchange(true, std::memory_order_relaxed)) return;
  // One fprintf, so that the line is not interleaved with other threads' output.
  std::fprintf(stderr, "volley: %s; running unpinned\n", what_and_why.c_str());
}

}  // namespace

bool pin_current_thread(const topology& topo, int pu_os_index) {
  const topology::impl& state = topo.internals();
  hwloc_obj_t pu = pu_os_index >= 0 ? state.pu(static_cast<unsigned>(pu_os_index)) : nullptr;
  if (pu == nullptr) {
    thread_numa_node = -1;
    report_once("cannot pin a thread to PU " + std::to_string(pu_os_index) +
                ": hwloc has no such PU");
    return false;
  }
  // With one NUMA node the thread's node is known whether it is pinned or not.
  thread_numa_node = topo.numa_nodes() == 1 ? 0 : -1;
  if (!topo.is_this_system()) {
    report_once("not pinning threads: the topology is synthetic, not this machine");
    return false;
  }
  if (topo.pus() <= 1) {
    report_once("not pinning threads: hwloc sees only 1 PU");
    return false;
  }
  if (hwloc_set_cpubind(state.topo, pu->cpuset, HWLOC_CPUBIND_THREAD) != 0) {
    const int error = errno;
    report_once("pinning a thread to PU " + std::to_string(pu_os_index) + " was refused (" +
                std::strerror(error) + ")");
    return false;
  }
  thread_numa_node = state.numa_of(pu);
  return true;
}

int current_numa_node() {
  return thread_numa_node;
}

}  // namespace volley::affinity
