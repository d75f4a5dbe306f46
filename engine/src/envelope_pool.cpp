// engine/src/envelope_pool.cpp — allocation of envelopes.
//
// Every message costs one allocation, from thread caches of recycled blocks
// (block_cache.hpp, whose essay says why and what was measured) over
// jemalloc: a block that no cache holds is one mallocx, and one beyond the
// depot's cap goes back with sdallocx. Cells have a pool of their own,
// carved from chunks (cell_pool.cpp).
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include <volley/engine/detail/envelope.hpp>

#include "allocator_numa.hpp"
#include "block_cache.hpp"

namespace volley::detail {

namespace {

using namespace pool;

/// Envelopes: jemalloc's blocks, each one allocation.
struct heap_source {
  static depot* depots() {
    // Never destroyed: thread caches flush into it during thread exit, which
    // can run after static destructors; blocks in it stay reachable.
    static depot* d = new depot[class_count];
    return d;
  }
  static long depot_cap() noexcept { return depot_cap_batches; }
  void* fresh(std::size_t c) { return raw_alloc(class_size(c)); }
  /// Blocks arrive poisoned (from a magazine).
  static void give_back(void* const* blocks, std::uint32_t n, std::size_t c) noexcept {
    for (std::uint32_t i = 0; i < n; ++i) raw_free(unpoison(blocks[i], c), class_size(c));
  }
  void thread_exit() noexcept {}
};

thread_local thread_cache<heap_source> envelope_cache;

#if defined(VOLLEY_USE_JEMALLOC)
std::mutex arena_mu;
std::vector<int> arena_of_node;  // jemalloc arena index per NUMA node, -1 = not made yet
#endif

}  // namespace

void* envelope_alloc(std::size_t size) {
  if (size > max_pooled) return raw_alloc(size);
  const std::size_t c = class_of(size);
  // Pooled blocks are always allocated at their class size, so a block
  // freed through the cache or around it is the same allocation.
  if (thread_cache<heap_source>::gone) return raw_alloc(class_size(c));
  return envelope_cache.alloc(c);
}

void envelope_free(void* p, std::size_t size) noexcept {
  if (size > max_pooled) return raw_free(p, size);
  const std::size_t c = class_of(size);
  if (thread_cache<heap_source>::gone) return raw_free(p, class_size(c));
  envelope_cache.free(p, c);
}

void set_thread_numa_node([[maybe_unused]] int node,
                          [[maybe_unused]] unsigned node_count) noexcept {
#if defined(VOLLEY_USE_JEMALLOC)
  if (node < 0 || node_count < 2) return;  // one node: jemalloc's default arenas are right
  unsigned arena;
  {
    std::lock_guard lock(arena_mu);
    if (arena_of_node.size() <= static_cast<std::size_t>(node)) arena_of_node.resize(node + 1, -1);
    if (arena_of_node[node] < 0) {
      std::size_t len = sizeof(arena);
      if (mallctl("arenas.create", &arena, &len, nullptr, 0) != 0) return;
      arena_of_node[node] = static_cast<int>(arena);
    }
    arena = static_cast<unsigned>(arena_of_node[node]);
  }
  // The thread's default arena (and its tcache) become the node's arena, so
  // plain mallocx calls on this thread allocate node-local memory once the
  // worker is pinned there (first touch happens on this node too).
  mallctl("thread.arena", nullptr, nullptr, &arena, sizeof(arena));
#endif
}

}  // namespace volley::detail
