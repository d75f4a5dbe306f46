// engine/src/envelope_pool.cpp — allocation of envelopes and cells.
//
// Every message costs one allocation, and in actor workloads it is freed on
// another thread than the one that made it (the sender allocates, the
// receiver's worker frees). Cross-thread malloc/free costs ~65 ns with
// jemalloc and ~210 ns with glibc on the reference machine, more than the
// rest of a tell. So blocks of a few size classes are recycled:
//
//   * each thread keeps, per class, two magazines (arrays of up to `batch`
//     free blocks, Bonwick's loaded/previous pair): alloc and free are a
//     pointer pop/push on thread-private memory;
//   * when a thread frees more than it allocates (a receiver), full
//     magazines go to a global depot, a lock-free moodycamel queue; a thread
//     that allocates more than it frees (a sender) takes full magazines from
//     it. One queue operation moves `batch` blocks.
//   * blocks beyond the depot's cap, and sizes above the largest class, go
//     to jemalloc (mallocx/sdallocx), whose arena is the worker's NUMA node
//     on multi-node machines.
//
// Thread exit: a thread's cache is flushed by its thread_local destructor,
// but blocks can still be freed on that thread afterwards — by a
// thread_local actor_ref destroyed later, or on the main thread by refs held
// in statics (static destructors run after the main thread's thread_locals).
// Once the cache is gone, such a block goes straight back to the allocator
// (`cache_gone` below); before that was there, it was written into a
// magazine already deleted or handed to the depot.
//
// A sender's blocks were last written by the receivers that freed them, so
// its first write to each line of a block missed: for a new actor (fork-join
// creation spawning from main) the cell's and its first message's lines,
// whose stores then held up the mailbox exchange in deliver() (perf: 90% of
// deliver's samples on the instruction after it). alloc() therefore asks
// for the next block of the same magazine, for writing, as it hands out
// this one: by the next alloc of the class it is here. Measured with the
// shared departed-children count (cell.hpp) on fork-join creation, 52
// interleaved pairs against the commit before both, bench preset, 2
// workers, on the 2-core VM under a load of 10-14: CPU per actor 489 ->
// 413 ns (median ratio 0.85); actors/s median ratio 1.06 (35 of 52 pairs
// faster), which that load's spread (up to 1.6x within an arm) cannot
// confirm. The prefetch's own share (builds with and without it, 27
// triples): CPU per actor 523 -> 505, 403 -> 361, 433 -> 416 ns.
// Only the block's first line is prefetched (the envelope's or cell's
// header, written first): prefetching every line made Savina's matrix
// multiplication 30% slower in the suite (4.61 -> 3.24 G mul-adds/s) and
// in an interleaved A/B on the quiet VM (without the prefetch / every line
// / first line, medians of 3-5: 4.66-4.84 / 3.21-3.27 / 4.90 G), also
// when limited to blocks of up to 192 B (3.31 G); why is not known. Fork-
// join creation in the same A/B: 1.35 / 1.36 / 1.40 M actors/s (7 and 5
// runs, spread 1.2x), within noise of each other. A cell's block is the
// exception (cell_alloc, below): every line, for spawns only.
//
// Under ASan the pool stays on, and a block is poisoned while it sits in a
// magazine (unpoisoned when handed out again), so a use-after-free of a
// pooled envelope is reported as one — as long as the block has not been
// reused in between, which the LIFO magazines make short but not zero.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>

#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>

#include "allocator_numa.hpp"
#include "pool_poisoning.hpp"

#if defined(VOLLEY_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

namespace volley::detail {

namespace {

// Classes of 64, 128, 192 and 256 bytes: a 32-byte envelope header plus
// messages up to 224 bytes, and most cells. Cache-line multiples, so a block
// never straddles more lines than it must.
constexpr std::size_t class_granule = 64;
constexpr std::size_t class_count = 4;
constexpr std::size_t max_pooled = class_granule * class_count;

// Every block is aligned to a cache line: cells are `alignas(64)`
// (cell_base keeps its hot fields on lines of their own), and placement new
// of such a type on a malloc'ed 16-byte-aligned block is undefined.
constexpr std::size_t block_alignment = cache_line_size;
static_assert(class_granule % block_alignment == 0, "class sizes keep every block aligned");

// Blocks moved between a thread and the depot at once (one magazine). 64
// makes the depot's queue operation (~50 ns) cost under 1 ns per message.
constexpr unsigned batch = 64;

// The depot keeps at most this many batches per class (64 MiB of 256-byte
// blocks): enough to absorb any burst we measured, small enough that a
// one-off burst does not pin memory for ever.
constexpr long depot_cap_batches = 4096;

// A magazine is an array of free blocks. Arrays rather than intrusive free
// lists: popping a block from an intrusive list reads the block itself, and
// that block was last written by another core (the receiver freed it), so
// every allocation took a load miss on the critical path. Popping from an
// array reads thread-local memory; the first touch of the block is then the
// sender's write of the envelope, which the store buffer absorbs.
struct magazine {
  std::uint32_t count = 0;
  void* items[batch];
};

struct depot {
  moodycamel::ConcurrentQueue<magazine*> full;
  moodycamel::ConcurrentQueue<magazine*> empty;
  std::atomic<long> full_count{0};
};

// Never destroyed: thread caches flush into it during thread exit, which can
// run after static destructors; blocks in it stay reachable (not leaks).
depot* depots() {
  static depot* d = new depot[class_count];
  return d;
}

// aligned_alloc wants a size that is a multiple of the alignment.
[[maybe_unused]] constexpr std::size_t aligned_size(std::size_t size) noexcept {
  return (size + block_alignment - 1) / block_alignment * block_alignment;
}

void* raw_alloc(std::size_t size) {
#if defined(VOLLEY_USE_JEMALLOC)
  void* p = mallocx(size, MALLOCX_ALIGN(block_alignment));
#else
  void* p = std::aligned_alloc(block_alignment, aligned_size(size));
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void raw_free(void* p, [[maybe_unused]] std::size_t size) noexcept {
#if defined(VOLLEY_USE_JEMALLOC)
  sdallocx(p, size, MALLOCX_ALIGN(block_alignment));
#else
  std::free(p);
#endif
}

// A block in a magazine is off limits until alloc hands it out again.
inline void poison(void* p, std::size_t c) noexcept;
inline void* unpoison(void* p, std::size_t c) noexcept;

// Requests the line at `p` in this core's cache, owned for writing. Not a
// memory access to the language (nor to ASan or TSan): a free block may be
// prefetched. x86's prefetchw runs as a no-op on cores without it.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const unsigned char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size - 1) / class_granule;
}
constexpr std::size_t class_size(std::size_t c) noexcept {
  return (c + 1) * class_granule;
}

magazine* empty_magazine(std::size_t c) {
  magazine* m;
  if (depots()[c].empty.try_dequeue(m)) return m;
  return new magazine();
}

void drop_magazine(std::size_t c, magazine* m) noexcept {
  if (m == nullptr) return;
  for (std::uint32_t i = 0; i < m->count; ++i) raw_free(unpoison(m->items[i], c), class_size(c));
  delete m;
}

inline void poison(void* p, std::size_t c) noexcept {
  pool_poison(p, class_size(c));
}

inline void* unpoison(void* p, std::size_t c) noexcept {
  pool_unpoison(p, class_size(c));
  return p;
}

// Set by ~thread_cache, and never cleared: the thread is exiting. A plain
// bool (trivially destructible, constant-initialised) so that it can be read
// at any point of the thread's exit, after `cache` below is destroyed too.
thread_local bool cache_gone = false;

// Per thread and class: a loaded magazine and the previous one (Bonwick's
// pair), so a thread that alternates alloc and free around a magazine
// boundary does not go to the depot every time.
struct thread_cache {
  magazine* loaded[class_count] = {};
  magazine* previous[class_count] = {};

  ~thread_cache() {
    for (std::size_t c = 0; c < class_count; ++c) {
      give_to_depot(c, loaded[c]);
      give_to_depot(c, previous[c]);
      loaded[c] = previous[c] = nullptr;
    }
    cache_gone = true;  // later frees on this thread bypass the cache
  }

  static void give_to_depot(std::size_t c, magazine* m) noexcept {
    if (m == nullptr) return;
    if (m->count == batch &&
        depots()[c].full_count.load(std::memory_order_relaxed) < depot_cap_batches) {
      try {
        depots()[c].full.enqueue(m);
        depots()[c].full_count.fetch_add(1, std::memory_order_relaxed);
        return;
      } catch (...) {
      }
    }
    drop_magazine(c, m);
  }

  /// `lines`: how many lines of the next block to ask for, its first by
  /// default (see above; cell_alloc asks for all).
  void* alloc(std::size_t c, std::size_t lines = 1) {
    magazine* m = loaded[c];
    if (m != nullptr && m->count > 0) {
      void* p = m->items[--m->count];
      if (m->count > 0) {
        const auto* next = static_cast<const unsigned char*>(m->items[m->count - 1]);
        for (std::size_t i = 0; i < lines; ++i) prefetch_for_write(next + i * cache_line_size);
      }
      return unpoison(p, c);
    }
    return alloc_slow(c);
  }

  void free(void* p, std::size_t c) noexcept {
    poison(p, c);
    magazine* m = loaded[c];
    if (m != nullptr && m->count < batch) {
      m->items[m->count++] = p;
      return;
    }
    free_slow(p, c);
  }

  void* alloc_slow(std::size_t c) {
    if (previous[c] != nullptr && previous[c]->count > 0) {
      std::swap(loaded[c], previous[c]);
      return unpoison(loaded[c]->items[--loaded[c]->count], c);
    }
    magazine* full;
    if (depots()[c].full.try_dequeue(full)) {
      depots()[c].full_count.fetch_sub(1, std::memory_order_relaxed);
      if (previous[c] != nullptr) {  // empty: recycle the array itself
        if (!depots()[c].empty.enqueue(previous[c])) delete previous[c];
      }
      previous[c] = loaded[c];
      loaded[c] = full;
      return unpoison(full->items[--full->count], c);
    }
    return raw_alloc(class_size(c));
  }

  void free_slow(void* p, std::size_t c) noexcept {
    if (previous[c] != nullptr && previous[c]->count < batch) {
      std::swap(loaded[c], previous[c]);
      loaded[c]->items[loaded[c]->count++] = p;
      return;
    }
    try {
      magazine* fresh = empty_magazine(c);
      give_to_depot(c, previous[c]);  // full (or null)
      previous[c] = loaded[c];
      loaded[c] = fresh;
      fresh->items[fresh->count++] = p;
    } catch (...) {
      raw_free(unpoison(p, c), class_size(c));  // no memory for a magazine: hand the block back
    }
  }
};

thread_local thread_cache cache;

#if defined(VOLLEY_USE_JEMALLOC)
std::mutex arena_mu;
std::vector<int> arena_of_node;  // jemalloc arena index per NUMA node, -1 = not made yet
#endif

/// A pooled block of `size`, and a prefetch of the class's next block:
/// its first line, or with `whole_next` every line.
void* pooled_alloc(std::size_t size, bool whole_next) {
  if (size > max_pooled) return raw_alloc(size);
  const std::size_t c = class_of(size);
  // Pooled blocks are always allocated at their class size, so a block
  // freed through the cache or around it is the same allocation.
  if (cache_gone) return raw_alloc(class_size(c));
  return cache.alloc(c, whole_next ? class_size(c) / cache_line_size : 1);
}

}  // namespace

void* envelope_alloc(std::size_t size) {
  return pooled_alloc(size, false);
}

// A spawn writes all of its cell's lines (the header's two, the actor's),
// and the first locked instruction after them (the registry's lock in
// attach_cell) waits until they are written: on fork-join creation 70% of
// the spawner's pthread_mutex_lock samples sat there. alloc() asks for the
// next block's first line only, which covers an envelope's header; a cell
// wants all of them. Here only, not in envelope_alloc: prefetching every
// line of every block slowed matrix multiplication by 30% (see above).
// Measured (bench preset, 2 workers, the 2-core VM at load ~7, against
// f059159): the lock's share of the spawner's samples 23-24% -> 10% (perf,
// two runs each); in two sets of 9 interleaved pairs, actors/s median
// ratio 1.07 and 1.05, CPU per actor 0.90 and 0.96; 1 worker: 1.00 / 0.99.
void* cell_alloc(std::size_t size) {
  return pooled_alloc(size, true);
}

void envelope_free(void* p, std::size_t size) noexcept {
  if (size > max_pooled) return raw_free(p, size);
  if (cache_gone) return raw_free(p, class_size(class_of(size)));
  cache.free(p, class_of(size));
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
