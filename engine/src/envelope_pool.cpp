// engine/src/envelope_pool.cpp — allocation of envelopes and cells.
//
// Every message costs one allocation, and in actor workloads it is freed on
// another thread than the one that made it (the sender allocates, the
// receiver's worker frees). Cross-thread malloc/free costs ~65 ns with
// jemalloc and ~210 ns with glibc on the reference machine, more than the
// rest of a tell. So blocks of a few size classes are recycled:
//
//   * each thread keeps, per class, a `current` list and one full `spare`
//     list of `batch` blocks (a magazine pair): alloc and free are a pointer
//     pop/push on thread-private memory;
//   * when a thread frees more than it allocates (a receiver), full batches
//     go to a global depot, a lock-free moodycamel queue of batches; a thread
//     that allocates more than it frees (a sender) takes whole batches from
//     it. One queue operation moves `batch` blocks.
//   * blocks beyond the depot's cap, and sizes above the largest class, go
//     to jemalloc (mallocx/sdallocx), whose arena is the worker's NUMA node
//     on multi-node machines.
//
// Under ASan the pool is bypassed (plain malloc/free per block) so that a
// use-after-free of an envelope is still caught.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>

#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>

#include "allocator_numa.hpp"

#if defined(VOLLEY_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define VOLLEY_POOL_DISABLED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOLLEY_POOL_DISABLED 1
#endif
#endif

namespace volley::detail {

namespace {

// Classes of 64, 128, 192 and 256 bytes: a 32-byte envelope header plus
// messages up to 224 bytes, and most cells. Cache-line multiples, so a block
// never straddles more lines than it must.
constexpr std::size_t class_granule = 64;
constexpr std::size_t class_count = 4;
constexpr std::size_t max_pooled = class_granule * class_count;

// Blocks moved between a thread and the depot at once. 64 makes the depot's
// queue operation (~50 ns) cost under 1 ns per message.
constexpr unsigned batch = 64;

// The depot keeps at most this many batches per class (64 MiB of 256-byte
// blocks): enough to absorb any burst we measured, small enough that a
// one-off burst does not pin memory for ever.
constexpr long depot_cap_batches = 4096;

struct free_block {
  free_block* next;
};

struct block_list {
  free_block* head = nullptr;
  unsigned count = 0;
  void push(free_block* b) noexcept {
    b->next = head;
    head = b;
    ++count;
  }
  free_block* pop() noexcept {
    free_block* b = head;
    head = b->next;
    --count;
    return b;
  }
};

struct depot {
  moodycamel::ConcurrentQueue<free_block*> batches;
  std::atomic<long> size{0};
};

// Never destroyed: thread caches flush into it during thread exit, which can
// run after static destructors; blocks in it stay reachable (not leaks).
depot* depots() {
  static depot* d = new depot[class_count];
  return d;
}

void* raw_alloc(std::size_t size) {
#if defined(VOLLEY_USE_JEMALLOC)
  void* p = mallocx(size, 0);
#else
  void* p = std::malloc(size);
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void raw_free(void* p, [[maybe_unused]] std::size_t size) noexcept {
#if defined(VOLLEY_USE_JEMALLOC)
  sdallocx(p, size, 0);
#else
  std::free(p);
#endif
}

constexpr std::size_t class_of(std::size_t size) noexcept { return (size - 1) / class_granule; }
constexpr std::size_t class_size(std::size_t c) noexcept { return (c + 1) * class_granule; }

struct thread_cache {
  block_list current[class_count];
  block_list spare[class_count];

  ~thread_cache() {
    for (std::size_t c = 0; c < class_count; ++c) {
      give_back(c, current[c]);
      give_back(c, spare[c]);
    }
  }

  static void give_back(std::size_t c, block_list& l) noexcept {
    while (l.count > 0) raw_free(l.pop(), class_size(c));
  }

  void* alloc(std::size_t c) {
    block_list& cur = current[c];
    if (cur.count == 0) {
      if (spare[c].count > 0) {
        std::swap(cur, spare[c]);
      } else {
        free_block* head;
        if (depots()[c].batches.try_dequeue(head)) {
          depots()[c].size.fetch_sub(1, std::memory_order_relaxed);
          cur.head = head;
          cur.count = batch;
        } else {
          return raw_alloc(class_size(c));
        }
      }
    }
    return cur.pop();
  }

  void free(void* p, std::size_t c) noexcept {
    block_list& cur = current[c];
    if (cur.count == batch) {
      if (spare[c].count == batch) {
        depot& d = depots()[c];
        if (d.size.load(std::memory_order_relaxed) < depot_cap_batches &&
            d.batches.enqueue(spare[c].head)) {
          d.size.fetch_add(1, std::memory_order_relaxed);
          spare[c] = block_list{};
        } else {
          give_back(c, spare[c]);
        }
      }
      std::swap(cur, spare[c]);  // spare is now empty; cur takes over
    }
    cur.push(static_cast<free_block*>(p));
  }
};

thread_local thread_cache cache;

#if defined(VOLLEY_USE_JEMALLOC)
std::mutex arena_mu;
std::vector<int> arena_of_node;  // jemalloc arena index per NUMA node, -1 = not made yet
#endif

}  // namespace

void* envelope_alloc(std::size_t size) {
#if defined(VOLLEY_POOL_DISABLED)
  return raw_alloc(size);
#else
  if (size > max_pooled) return raw_alloc(size);
  return cache.alloc(class_of(size));
#endif
}

void envelope_free(void* p, std::size_t size) noexcept {
#if defined(VOLLEY_POOL_DISABLED)
  raw_free(p, size);
#else
  if (size > max_pooled) return raw_free(p, size);
  cache.free(p, class_of(size));
#endif
}

void set_thread_numa_node([[maybe_unused]] int node, [[maybe_unused]] unsigned node_count) noexcept {
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
