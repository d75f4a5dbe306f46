// volley::affinity pinning — binds the calling thread to one PU, and
// remembers which NUMA node the thread is on (for NUMA-local allocation).
//
// Each worker thread calls pin_current_thread(topo, slot.pu) once, first thing.
// Pinning is an optimisation, never a requirement: when it is impossible
// (one PU, a synthetic topology, the OS refuses, e.g. a cgroup forbids the
// PU) the call returns false, the thread runs unpinned, and the first such
// failure in the process prints one line to stderr saying what and why. Later
// failures are silent, so 64 workers do not print 64 lines.
//
// Thread-safety: both functions may be called from any thread at any time.
#pragma once

#include "volley/affinity/topology.hpp"

namespace volley::affinity {

/// Binds the calling thread to PU `pu_os_index` (hwloc_set_cpubind,
/// HWLOC_CPUBIND_THREAD). Returns true if bound; false, with the once-per-
/// process stderr line, if not.
bool pin_current_thread(const topology& topo, int pu_os_index);

/// Logical index of the NUMA node of the calling thread's pinned PU, or -1 if
/// the thread is not pinned. On a machine with a single NUMA node it is 0
/// after any pin_current_thread() call naming an existing PU, pinned or not,
/// since the answer cannot be anything else.
int current_numa_node();

}  // namespace volley::affinity
