// engine/src/allocator_numa.hpp — which NUMA node the calling thread allocates for.
#pragma once

namespace volley::detail {

/// Called by each worker once it is pinned: what it allocates from jemalloc
/// comes from that node's arena (-1, or a one-node machine: the default
/// arenas). Pooled envelopes and cells are cut from chunks the worker maps
/// and touches first (chunk_source.hpp), so the kernel places them there.
void set_thread_numa_node(int node, unsigned node_count) noexcept;

}  // namespace volley::detail
