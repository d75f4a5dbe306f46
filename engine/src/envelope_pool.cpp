// engine/src/envelope_pool.cpp — allocation of envelopes.
//
// Every message costs one allocation, from thread caches of recycled blocks
// (block_cache.hpp, whose essay says why and what was measured). A block
// that no cache holds is cut from a chunk of the envelopes' own
// (chunk_source.hpp, which says why: a producer that outruns its frees),
// and one beyond the depot's cap goes back to its chunk. Cells have a pool
// of their own, of the same kind (cell_pool.cpp); sizes above the largest
// class go to jemalloc directly.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include <volley/engine/detail/envelope.hpp>

#include "allocator_numa.hpp"
#include "block_cache.hpp"
#include "chunk_source.hpp"
#include "envelope_pool.hpp"

namespace volley::detail {

namespace {

using namespace pool;

/// Envelopes' chunks and depot (the cells' are cell_pool.cpp's).
struct envelope_chunks {
  // A sender that outruns its frees cuts 64 envelopes at a time.
  static constexpr bool refill = true;
  static constexpr bool refill_opens_chunks = true;
  static chunk_registry& registry() {
    static chunk_registry* r = new chunk_registry(0x766f6c65, "envelope_free");  // "vole"
    return *r;
  }
  static depot* depots() {
    static depot* d = new depot[class_count];  // never destroyed, as the registry
    return d;
  }
  static void arm_thread_exit();
  // The thread is exiting, or the main thread runs static destructors (a
  // system shut down there tells every actor to stop): a shared chunk.
  static void* late_alloc(std::size_t c) { return chunk_late_alloc(registry(), c); }
};

using envelope_source = chunk_source<envelope_chunks>;

// No destructor, so no registration test on each access (block_cache.hpp).
constinit thread_local thread_cache<envelope_source> envelope_cache;

// Flushes envelope_cache when the thread exits, once a slow path armed it.
thread_local thread_cache_exit<thread_cache<envelope_source>> envelope_exit;

void envelope_chunks::arm_thread_exit() {
  envelope_exit.cache = &envelope_cache;  // the first use registers its destructor
}

#if defined(VOLLEY_USE_JEMALLOC)
std::mutex arena_mu;
std::vector<int> arena_of_node;  // jemalloc arena index per NUMA node, -1 = not made yet
#endif

}  // namespace

void* envelope_alloc(std::size_t size) {
  if (size > max_pooled) return raw_alloc(size);
  return envelope_cache.alloc(class_of(size));
}

void envelope_free(void* p, std::size_t size) noexcept {
  if (size > max_pooled) return raw_free(p, size);
  envelope_cache.free(p, class_of(size));
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

cell_pool::figures envelope_pool::current() noexcept {
  chunk_registry& r = envelope_chunks::registry();
  return {r.live.load(std::memory_order_relaxed), chunk_bytes,
          r.depot_cap.load(std::memory_order_relaxed), batch};
}

void envelope_pool::set_depot_cap(long magazines) noexcept {
  envelope_chunks::registry().depot_cap.store(magazines, std::memory_order_relaxed);
}

}  // namespace volley::detail
