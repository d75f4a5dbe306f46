// engine/src/block_cache.hpp — the thread caches and depot behind the
// envelope pool (envelope_pool.cpp) and the cells' pool (cell_pool.cpp).
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
//   * a block that neither the thread's magazines nor the depot hold comes
//     from the pool's *source*, and blocks beyond the depot's cap go back
//     to it: chunks of the pool's own, for envelopes and cells alike
//     (chunk_source.hpp), which the thread that cuts them touches first, so
//     they lie on its NUMA node. Sizes above the largest class go to
//     jemalloc directly.
//
// Thread exit: a thread's cache is flushed by a thread_local destructor,
// but blocks can still be freed on that thread afterwards — by a
// thread_local actor_ref destroyed later, or on the main thread by refs held
// in statics (static destructors run after the main thread's thread_locals).
// Once the cache is gone, such a block goes straight back to its source
// (`thread_cache::gone` below); before that was there, it was written into a
// magazine already deleted or handed to the depot.
//
// The cache itself is trivially destructible and constant-initialised, so
// reaching it is one thread-pointer-relative load: a thread_local with a
// destructor costs every access a test of whether this thread has
// registered it yet, and the `gone` flag a second test, ~8 of the fast
// path's ~28 instructions, in every alloc and every free (five of each per
// bank transfer). The flush is a separate thread_local whose destructor the
// slow paths register (Source::arm_thread_exit) the first time they run on
// a thread, which is before the cache holds anything: a magazine is only
// ever made there. After the flush `loaded` and `previous` are null, so
// every later alloc and free takes the slow path, and only that path looks
// at `gone`.
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
// exception (cell_alloc, cell_pool.cpp): every line, for spawns only, and
// four blocks ahead rather than one (alloc's `ahead`); and an envelope
// for a thread outside the workers, eight ahead (envelope_pool.cpp,
// `lookahead`: every block it gets was read on another core).
//
// Under ASan the pool stays on, and a block is poisoned while it sits in a
// magazine (unpoisoned when handed out again), so a use-after-free of a
// pooled envelope is reported as one — as long as the block has not been
// reused in between, which the LIFO magazines make short but not zero.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include <concurrentqueue/concurrentqueue.h>

#include <volley/engine/detail/cell.hpp>  // cache_line_size

#include "pool_poisoning.hpp"

#if defined(VOLLEY_USE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

namespace volley::detail::pool {

// Classes of 64, 128, 192 and 256 bytes: a 32-byte envelope header plus
// messages up to 224 bytes, and most cells. Cache-line multiples, so a block
// never straddles more lines than it must.
constexpr std::size_t class_granule = 64;
constexpr std::size_t class_count = 4;
constexpr std::size_t max_pooled = class_granule * class_count;

// Every block is aligned to a cache line: cells are `alignas(cache_line_size)`
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

// aligned_alloc wants a size that is a multiple of the alignment.
[[maybe_unused]] constexpr std::size_t aligned_size(std::size_t size,
                                                    std::size_t alignment) noexcept {
  return (size + alignment - 1) / alignment * alignment;
}

inline void* raw_alloc(std::size_t size, std::size_t alignment = block_alignment) {
#if defined(VOLLEY_USE_JEMALLOC)
  void* p = mallocx(size, MALLOCX_ALIGN(alignment));
#else
  void* p = std::aligned_alloc(alignment, aligned_size(size, alignment));
#endif
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

inline void raw_free(void* p, [[maybe_unused]] std::size_t size,
                     [[maybe_unused]] std::size_t alignment = block_alignment) noexcept {
#if defined(VOLLEY_USE_JEMALLOC)
  sdallocx(p, size, MALLOCX_ALIGN(alignment));
#else
  std::free(p);
#endif
}

// Requests the line at `p` in this core's cache, owned for writing. Not a
// memory access to the language (nor to ASan or TSan): a free block may be
// prefetched. x86's prefetchw runs as a no-op on cores without it.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const unsigned char*>(p)));
#else
  __builtin_prefetch(p, 1);  // locality 3 by default: keep it in every level
#endif
}

constexpr std::size_t class_of(std::size_t size) noexcept {
  return (size - 1) / class_granule;
}
constexpr std::size_t class_size(std::size_t c) noexcept {
  return (c + 1) * class_granule;
}

// A block in a magazine is off limits until alloc hands it out again.
inline void poison(void* p, std::size_t c) noexcept {
  pool_poison(p, class_size(c));
}

inline void* unpoison(void* p, std::size_t c) noexcept {
  pool_unpoison(p, class_size(c));
  return p;
}

// Per thread and class: a loaded magazine and the previous one (Bonwick's
// pair), so a thread that alternates alloc and free around a magazine
// boundary does not go to the depot every time.
//
// `Source` is where blocks come from and go back to:
//   static depot* depots()        the depot, one per class; never destroyed
//   static long depot_cap()       magazines per class the depot keeps
//   void* fresh(std::size_t c)    a new block of class c, unpoisoned (may throw)
//   static void give_back(void* const* blocks, std::uint32_t n, std::size_t c)
//                                 blocks (poisoned) the depot does not keep
//   static bool wait_for_returns(const depot&)
//                                 the depot is empty: wait a moment for a
//                                 full magazine? true if one came
//   void thread_exit()            the thread's cache is being flushed
//   static void arm_thread_exit() make this thread's exit call flush()
//   static void* late_alloc(std::size_t c)          a block after the flush
//   static void late_free(void* p, std::size_t c)   (poisoned) after the flush
//   static constexpr bool refill  whether a thread whose magazines and depot
//                                 are empty cuts a magazine's worth of fresh
//                                 blocks at once (alloc_slow, refill)
//   std::uint32_t cut_run(std::size_t c, void** out, std::uint32_t n)
//                                 up to n fresh blocks at once, in order, or
//                                 0 (refill_opens_chunks sources only)
//   static void note_cut(std::size_t c, std::uint32_t n)   (optional)
//                                 a refill just cut n fresh blocks of class c
template <class Source>
struct thread_cache {
  magazine* loaded[class_count] = {};
  magazine* previous[class_count] = {};
  /// For a caller that passes it as alloc()'s `ahead` (envelope_pool.cpp:
  /// a thread outside the workers asks further ahead); beside `loaded`, so
  /// reading it costs the fast path one load and no address of its own.
  std::uint32_t lookahead = 1;
  Source source;

  // Whether this thread's exit will flush the cache (armed), or has (gone:
  // never cleared). Read by the slow paths only (see the file comment).
  bool armed = false;
  bool gone = false;

  // The thread is exiting: everything cached goes to the depot or its
  // source, and later allocs and frees on this thread bypass the cache.
  void flush() noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
      give_to_depot(c, loaded[c]);
      give_to_depot(c, previous[c]);
      loaded[c] = previous[c] = nullptr;
    }
    source.thread_exit();
    armed = false;  // so that usable() looks at gone from now on
    gone = true;
  }

  // The first slow path on a thread registers the flush; after the flush,
  // the slow paths send blocks past the cache. False: use `late_*`.
  bool usable() {
    if (armed) [[likely]]
      return true;
    if (gone) return false;
    Source::arm_thread_exit();  // may throw (memory for the registration)
    armed = true;
    return true;
  }

  static magazine* empty_magazine(std::size_t c) {
    magazine* m;
    if (Source::depots()[c].empty.try_dequeue(m)) return m;
    return new magazine();
  }

  static void drop_magazine(std::size_t c, magazine* m) noexcept {
    if (m == nullptr) return;
    Source::give_back(m->items, m->count, c);
    delete m;
  }

  static void give_to_depot(std::size_t c, magazine* m) noexcept {
    if (m == nullptr) return;
    depot& d = Source::depots()[c];
    if (m->count == batch && d.full_count.load(std::memory_order_relaxed) < Source::depot_cap()) {
      try {
        d.full.enqueue(m);
        d.full_count.fetch_add(1, std::memory_order_relaxed);
        return;
      } catch (...) {
      }
    }
    drop_magazine(c, m);
  }

  /// `lines`: how many lines of a block to ask for, its first by default;
  /// `ahead`: which block to ask for, the next by default (see the file
  /// comment; cell_alloc asks for all lines, a few blocks ahead).
  void* alloc(std::size_t c, std::size_t lines = 1, std::uint32_t ahead = 1) {
    magazine* m = loaded[c];
    if (m != nullptr && m->count > 0) {
      void* p = m->items[--m->count];
      if (m->count >= ahead) prefetch_block(m->items[m->count - ahead], lines);
      return unpoison(p, c);
    }
    return alloc_slow(c, lines, ahead);
  }

  void free(void* p, std::size_t c) noexcept {
    pool_check_in_use(p);
    poison(p, c);
    magazine* m = loaded[c];
    if (m != nullptr && m->count < batch) {
      m->items[m->count++] = p;
      return;
    }
    free_slow(p, c);
  }

  // The slow paths stay out of line: inlined into envelope_alloc and
  // envelope_free, they made every call save and restore six registers for
  // the one call in 64 that needs them (two now). Callgrind, bank
  // transaction: 1,614 -> 1,520 instructions per transfer (4 messages).
  static void prefetch_block(const void* block, std::size_t lines) noexcept {
    const auto* b = static_cast<const unsigned char*>(block);
    for (std::size_t i = 0; i < lines; ++i) prefetch_for_write(b + i * cache_line_size);
  }

  // A magazine from the depot was last written by another thread (the
  // receiver that filled it, or the sender that emptied it), so each of
  // its lines is a miss on another core's cache; asked for all at once
  // they overlap, where alloc()'s and free()'s walk down the array took
  // them one after the other (perf on fork-join throughput: 10% of the
  // sender's alloc_slow samples on its first read of a magazine's count).
  static void prefetch_magazine(const magazine* m, bool for_write) noexcept {
    constexpr std::size_t lines = (sizeof(magazine) + cache_line_size - 1) / cache_line_size;
    if (for_write) return prefetch_block(m, lines);
    const auto* b = reinterpret_cast<const unsigned char*>(m);
    for (std::size_t i = 0; i < lines; ++i) __builtin_prefetch(b + i * cache_line_size, 0);
  }

  // A magazine just loaded: the blocks alloc() would have asked for ahead
  // had they been in the old one.
  [[gnu::noinline]] void* alloc_slow(std::size_t c, std::size_t lines, std::uint32_t ahead) {
    void* p = take_slow(c);
    if (const magazine* m = loaded[c]; m != nullptr) {
      for (std::uint32_t i = 1; i <= ahead && i <= m->count; ++i)
        prefetch_block(m->items[m->count - i], lines);
    }
    return p;
  }

  void* take_slow(std::size_t c) {
    if (!usable()) return Source::late_alloc(c);
    if (previous[c] != nullptr && previous[c]->count > 0) {
      std::swap(loaded[c], previous[c]);
      return unpoison(loaded[c]->items[--loaded[c]->count], c);
    }
    depot& d = Source::depots()[c];
    for (bool waited = false;; waited = true) {
      magazine* full;
      if (d.full.try_dequeue(full)) {
        prefetch_magazine(full, false);
        d.full_count.fetch_sub(1, std::memory_order_relaxed);
        if (previous[c] != nullptr) {  // empty: recycle the array itself
          if (!d.empty.enqueue(previous[c])) delete previous[c];
        }
        previous[c] = loaded[c];
        loaded[c] = full;
        return unpoison(full->items[--full->count], c);
      }
      // A source may make a thread that outruns its frees wait a moment for
      // blocks to come back before it cuts fresh ones (envelope_pool.cpp).
      if (waited || !Source::wait_for_returns(d)) break;
    }
    if constexpr (Source::refill) {
      return refill(c);
    } else {
      return source.fresh(c);
    }
  }

  // The depot is empty too (a thread that allocates more than it frees:
  // bank transaction's teller sending its burst): one block for the caller
  // and a magazine's worth more, cut at once, in the order they lie in
  // their chunk. Cut one at a time, each took this slow path and a failed
  // depot dequeue (~100 instructions). Callgrind, bank transaction: alloc_slow
  // called 1.86 times per transfer (5 allocations), 129 instructions.
  [[gnu::noinline]] void* refill(std::size_t c) {
    void* p = source.fresh(c);  // may throw: nothing taken yet
    magazine* m = loaded[c];
    try {
      if (m == nullptr) m = loaded[c] = empty_magazine(c);
      // m is empty here (else alloc took its block), and so is previous[c].
      while (m->count < batch) {
        if constexpr (Source::refill_opens_chunks) {
          // A run from the open chunk in one go; fresh() only where the
          // chunk ends (it opens the next) or partial blocks are in hand.
          if (std::uint32_t n = source.cut_run(c, m->items + m->count, batch - m->count)) {
            m->count += n;
          } else {
            m->items[m->count++] = source.fresh(c);
          }
        } else {
          void* q = source.fresh_in_hand(c);
          if (q == nullptr) break;  // the rest waits for the next refill
          m->items[m->count++] = q;
        }
      }
    } catch (...) {  // no chunk or magazine: what was cut is still served
    }
    if (m != nullptr) {
      // Popped from the end: the next block handed out is the one after p.
      std::reverse(m->items, m->items + m->count);
      for (std::uint32_t i = 0; i < m->count; ++i) poison(m->items[i], c);
    }
    if constexpr (requires { Source::note_cut(c, std::uint32_t{}); })
      Source::note_cut(c, 1 + (m != nullptr ? m->count : 0));
    return p;
  }

  [[gnu::noinline]] void free_slow(void* p, std::size_t c) noexcept {
    bool cached;
    try {
      cached = usable();
    } catch (...) {  // no memory to register the flush: keep nothing here
      cached = false;
    }
    if (!cached) return Source::late_free(p, c);
    if (previous[c] != nullptr && previous[c]->count < batch) {
      std::swap(loaded[c], previous[c]);
      loaded[c]->items[loaded[c]->count++] = p;
      return;
    }
    try {
      magazine* fresh = empty_magazine(c);
      prefetch_magazine(fresh, true);
      give_to_depot(c, previous[c]);  // full (or null)
      previous[c] = loaded[c];
      loaded[c] = fresh;
      fresh->items[fresh->count++] = p;
    } catch (...) {
      Source::give_back(&p, 1, c);  // no memory for a magazine: hand the block back
    }
  }
};

// Flushes a thread's `Cache` (a thread_cache) when the thread exits, once
// a slow path has armed it (Source::arm_thread_exit: `cache = &the cache`).
template <class Cache>
struct thread_cache_exit {
  Cache* cache = nullptr;
  ~thread_cache_exit() {
    if (cache != nullptr) cache->flush();
  }
};

}  // namespace volley::detail::pool
