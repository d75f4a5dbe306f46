// engine/src/allocator_numa.hpp — which NUMA node the calling thread allocates for.
#pragma once

namespace volley::detail {

/// Called by each worker once it is pinned: envelopes and cells it creates
/// come from that node's jemalloc arena (-1, or a one-node machine: the
/// default arenas).
void set_thread_numa_node(int node, unsigned node_count) noexcept;

}  // namespace volley::detail
