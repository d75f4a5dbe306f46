// engine/src/chunk_source.hpp — fresh blocks cut from 2 MiB chunks, the
// source behind both pools' thread caches (block_cache.hpp): cells
// (cell_pool.cpp) and envelopes (envelope_pool.cpp), each pool with chunks,
// a registry and a depot of its own.
//
// A chunk holds blocks of one class, after a one-line header. A thread cuts
// blocks from its own open chunk per class, with no lock and no atomic;
// when it is used up, the thread seals it (records how many blocks it cut)
// and opens another. Blocks come and go through the thread caches and the
// depot; only what the depot refuses (beyond its cap) is *returned* to its
// chunk, under the registry's lock: a sealed chunk whose blocks have all
// been returned goes back to the system whole, and one with some returned
// is listed as partial, and a thread that needs fresh blocks takes a
// partial chunk's returned blocks before it opens a new chunk. So freed
// memory is reused first by the depot (any thread, no lock), then, beyond
// the depot's cap, chunk by chunk: a chunk is returned once none of its
// blocks is alive or held by a thread cache or the depot. The lock is taken
// once per chunk opened or sealed, once per magazine returned beyond the
// cap, and once per partial chunk taken up: never per block in a steady
// state.
//
// Why chunks rather than jemalloc's blocks one by one: for cells, memory
// (cell_pool.cpp says what jemalloc's records cost an idle actor); for
// envelopes, the cost of a fresh block. A producer that sends faster than
// its messages come back (bank transaction's teller sends every transfer
// from one handler, and the confirmations pile up behind it until it ends)
// needs a fresh block per message, and mallocx then took its slow path
// (tcache refills from the arena, new slabs): 228 instructions per block
// under callgrind, 13% of the workload's instructions. Cutting a block is a
// compare and an add, once the thread's magazines and the depot came up
// empty. A thread whose cache is gone cuts from a chunk shared under the
// lock (chunk_late_alloc): blocks it returns there are not cut again, at
// most one such chunk per class and pool.
//
// Under ASan a poisoned line follows every block in its chunk, so an overrun
// of one block into the next is still reported (ASan's own redzones are
// around the whole chunk only); the uncut rest of a chunk is poisoned too.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include <volley/engine/detail/thread_safety.hpp>

#include "block_cache.hpp"

namespace volley::detail::pool {

// 2 MiB, aligned to its size: one huge page of x86-64 (and of AArch64 with
// 4 KiB pages), so that an envelope chunk can be one (map_chunk). With
// 1 MiB chunks of 4 KiB pages, bank transaction (whose teller sends all
// 750k transfers from one handler, ~100 MB of envelopes in flight) took
// ~25-30k page faults per run, 10% of its CPU in the kernel, and every
// walk down a cold mailbox missed the TLB as well as the cache.
constexpr std::size_t chunk_bytes = std::size_t{2} << 20;
constexpr std::size_t chunk_header_bytes = cache_line_size;
#if defined(VOLLEY_POOL_ASAN)
constexpr std::size_t carve_guard = cache_line_size;
#else
constexpr std::size_t carve_guard = 0;
#endif

constexpr std::size_t carve_stride(std::size_t c) noexcept {
  return class_size(c) + carve_guard;
}
constexpr std::uint32_t chunk_blocks(std::size_t c) noexcept {
  return static_cast<std::uint32_t>((chunk_bytes - chunk_header_bytes) / carve_stride(c));
}

struct chunk;

/// One pool's chunks. Never destroyed, like the depots: blocks are freed
/// during thread exit and static destruction.
struct chunk_registry {
  /// `magic` is written in every chunk's header and checked when a block
  /// goes back to its chunk: a block of another pool (an envelope freed
  /// with cell_free) is stopped there with a message naming `free_name`,
  /// not linked into a chunk that is not one of this pool's.
  chunk_registry(std::uint32_t m, const char* free_fn, bool huge) noexcept
      : magic(m), free_name(free_fn), huge_pages(huge) {}
  const std::uint32_t magic;
  const char* const free_name;
  /// Its chunks are mapped as huge pages where the kernel allows (map_chunk).
  const bool huge_pages;
  mutex mu;
  std::atomic<std::size_t> live{0};  ///< chunks allocated and not freed
  /// Bytes of blocks returned to their chunks, ever (class sizes). Written
  /// under mu, so a load and a store; read without it (envelope_pool.cpp:
  /// how much of what was cut is still out).
  std::atomic<std::size_t> returned_bytes{0};
  std::atomic<long> depot_cap{depot_cap_batches};          ///< magazines per class the depot keeps
  chunk* partial[class_count] VOLLEY_GUARDED_BY(mu) = {};  ///< sealed, some blocks returned
  /// Blocks for threads whose cache is gone, cut under the lock: one open
  /// chunk per class for all of them (chunk_late_alloc).
  chunk* late[class_count] VOLLEY_GUARDED_BY(mu) = {};
  std::uint32_t late_carved[class_count] VOLLEY_GUARDED_BY(mu) = {};
};

struct alignas(cache_line_size) chunk {
  chunk(std::size_t c, std::uint32_t m) noexcept : magic(m), cls(static_cast<std::uint32_t>(c)) {}
  const std::uint32_t magic;
  const std::uint32_t cls;  ///< the class of every block in it; read-only
  // Guarded by the registry's mu, which the analysis cannot name from here.
  std::uint32_t carved = 0;    ///< blocks cut: written when the chunk is sealed
  std::uint32_t returned = 0;  ///< blocks on `free_list`
  bool sealed = false;         ///< no more blocks will be cut from it
  bool listed = false;         ///< on the registry's partial[cls]
  void* free_list = nullptr;   ///< returned blocks, linked through their first word
  chunk* prev = nullptr;       ///< on the partial list
  chunk* next = nullptr;
};
static_assert(sizeof(chunk) <= chunk_header_bytes);

inline chunk* chunk_of(const void* block) noexcept {
  return reinterpret_cast<chunk*>(reinterpret_cast<std::uintptr_t>(block) & ~(chunk_bytes - 1));
}

inline void* block_at(chunk* ch, std::uint32_t i) noexcept {
  return reinterpret_cast<unsigned char*>(ch) + chunk_header_bytes + i * carve_stride(ch->cls);
}

// Where chunks come from. In sanitizer builds, malloc: LeakSanitizer scans
// heap blocks for pointers but not anonymous mappings, and a cell holds the
// only pointer to many of its actor's allocations. Otherwise straight from
// the kernel: a chunk of jemalloc's (1 MiB, aligned to 1 MiB) cost one
// 4 KiB page of its page map besides, as jemalloc notes a large block's
// first and last pages there (0.5 B per 128 B cell, measured), and a
// mapping goes back to the system at once when it is unmapped, where
// jemalloc would keep its pages until they decay. Three system calls per
// chunk (map twice the size, unmap the unaligned ends), once per 16,383
// blocks of 128 B. Adjacent mappings merge into one (the kernel places each
// new one below the last), so the process's mapping count stays low.
//
// `huge`: the chunk is asked to be one transparent huge page
// (MADV_HUGEPAGE; Debian's default THP mode, "madvise", grants it to such
// regions only). Its first touch then zeroes the whole 2 MiB in one fault,
// where 4 KiB pages took 512, and its blocks take one TLB entry. For
// envelope chunks: a backlog of messages is read once, in mailbox order,
// long after it was written, one cold line (and, with small pages, one
// cold page) per message. Bank transaction (bench preset, 2-core AMD VM,
// interleaved pairs, load ~2.4): page faults per run 24-30k -> 1.8k;
// 2 workers 6.04 -> 7.66 M msg/s by median of 9 (pair ratio 1.24), CPU
// per run 0.668 -> 0.513 s; 1 worker CPU 0.689 -> 0.616 s. Not for cells:
// an idle actor's cost is measured in resident memory (idle_memory_test),
// and a huge page is resident whole from its first cell. The kernel may
// refuse (THP off, no huge page free): the chunk is then small pages, as
// before, and madvise's error is not one.
//
// At most `huge_chunks_at_most` of a pool's live chunks are asked for as
// huge pages; those opened beyond are small pages. On the 2-core VM a
// huge page's first touch cost 2-5 ms of system time (no compaction:
// /proc/vmstat's compact_stall stayed 0; the host backing fresh guest
// memory, it seems), 512 small pages' ~1 ms, as those came from memory
// the guest had just freed. Counting on 1 worker, whose producer runs
// 1.2 GB ahead, took 1.3-2.9 s of system time per run with every chunk
// huge against 0.6-0.7 s with none, and 0.54-0.95 s with 64 huge chunks
// (throughput 14.4-21.4 M against 16.5-20.2 M, 3 runs each, load ~2).
// 64 chunks (128 MiB) hold bank transaction's whole backlog (~50).
//
// Envelope chunks ask for huge pages only when VOLLEY_HUGE_PAGES=1
// (envelope_pool.cpp); by default they are small pages, and cell chunks
// always are. In the suite on the same VM (quiet machine, reference sizes,
// 2 workers), huge pages tripled bank transaction's system time (0.07-0.08
// -> 0.20-0.24 s per run) and its median fell 8.82 -> 7.07 M msg/s; an
// interleaved A/B right after (7 pairs, load ~0.5) gave the same median
// either way (8.29 M) but a spread of 7.11-14.0 M against 7.07-8.53 M:
// whether a run's chunks come as fresh huge pages (milliseconds each) or
// ready ones decides it, which neither the runtime nor the user sees. And
// a tell that opens a chunk would stall for those milliseconds, which a
// latency-sensitive service cannot take by default. A long-running process
// with a large backlog, which keeps its chunks, may well want them.
inline constexpr std::size_t huge_chunks_at_most = 64;
#if defined(VOLLEY_USE_JEMALLOC)  // not a sanitizer build (engine/CMakeLists.txt)
inline void* map_chunk(bool huge) {
  void* p =
      ::mmap(nullptr, 2 * chunk_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (start + chunk_bytes - 1) & ~(chunk_bytes - 1);
  if (aligned > start) ::munmap(p, aligned - start);
  const std::uintptr_t end = start + 2 * chunk_bytes;
  if (end > aligned + chunk_bytes) {
    ::munmap(reinterpret_cast<void*>(aligned + chunk_bytes), end - (aligned + chunk_bytes));
  }
  if (huge)
    static_cast<void>(::madvise(reinterpret_cast<void*>(aligned), chunk_bytes, MADV_HUGEPAGE));
  return reinterpret_cast<void*>(aligned);
}
inline void unmap_chunk(void* p) noexcept {
  ::munmap(p, chunk_bytes);
}
#else
inline void* map_chunk(bool) {
  return raw_alloc(chunk_bytes, chunk_bytes);  // aligned to its size: chunk_of() masks
}
inline void unmap_chunk(void* p) noexcept {
  raw_free(p, chunk_bytes, chunk_bytes);
}
#endif

inline chunk* open_chunk(chunk_registry& r, std::size_t c) {
  void* mem =
      map_chunk(r.huge_pages && r.live.load(std::memory_order_relaxed) < huge_chunks_at_most);
  auto* ch = ::new (mem) chunk(c, r.magic);
  r.live.fetch_add(1, std::memory_order_relaxed);
  pool_poison(static_cast<unsigned char*>(mem) + chunk_header_bytes,
              chunk_bytes - chunk_header_bytes);
  return ch;
}

inline void free_chunk(chunk_registry& r, chunk* ch) noexcept {
  pool_unpoison(ch, chunk_bytes);
  ch->~chunk();
  unmap_chunk(ch);
  r.live.fetch_sub(1, std::memory_order_relaxed);
}

inline void list_partial(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
  ch->listed = true;
  ch->prev = nullptr;
  ch->next = r.partial[ch->cls];
  if (ch->next != nullptr) ch->next->prev = ch;
  r.partial[ch->cls] = ch;
}

inline void unlist_partial(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
  if (ch->prev != nullptr) {
    ch->prev->next = ch->next;
  } else {
    r.partial[ch->cls] = ch->next;
  }
  if (ch->next != nullptr) ch->next->prev = ch->prev;
  ch->listed = false;
  ch->prev = ch->next = nullptr;
}

/// After `ch`'s counts changed: a sealed chunk with every block returned
/// goes back to the allocator, one with some returned is listed as partial.
inline void settle(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
  if (!ch->sealed) return;
  if (ch->returned == ch->carved) {
    if (ch->listed) unlist_partial(r, ch);
    free_chunk(r, ch);
  } else if (ch->returned > 0 && !ch->listed) {
    list_partial(r, ch);
  }
}

/// Returns blocks (poisoned, from a magazine or a late free) to their chunks.
/// `handed_out`: false for blocks a thread took from a partial chunk and
/// never handed out, which returned_bytes counted when they came back first.
inline void return_blocks(chunk_registry& r, void* const* blocks, std::uint32_t n,
                          bool handed_out = true) noexcept {
  lock_guard lock(r.mu);
  std::size_t bytes = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    chunk* ch = chunk_of(blocks[i]);
    if (ch->magic != r.magic) {
      std::fprintf(stderr, "volley: %s(%p): not a block of this pool\n", r.free_name, blocks[i]);
      std::abort();
    }
    // The link is the block's first word; the rest stays poisoned.
    pool_unpoison(blocks[i], sizeof(void*));
    *static_cast<void**>(blocks[i]) = ch->free_list;
    ch->free_list = blocks[i];
    ++ch->returned;
    bytes += class_size(ch->cls);
    settle(r, ch);
  }
  if (handed_out) {
    r.returned_bytes.store(r.returned_bytes.load(std::memory_order_relaxed) + bytes,
                           std::memory_order_relaxed);
  }
}

inline void seal(chunk_registry& r, chunk* ch, std::uint32_t carved) noexcept {
  lock_guard lock(r.mu);
  ch->carved = carved;
  ch->sealed = true;
  settle(r, ch);
}

/// Takes every returned block of one partial chunk of class `c`: the list
/// (blocks linked through their first word, poisoned but for it), or nullptr.
inline void* take_partial(chunk_registry& r, std::size_t c) noexcept {
  lock_guard lock(r.mu);
  chunk* ch = r.partial[c];
  if (ch == nullptr) return nullptr;
  unlist_partial(r, ch);
  void* list = ch->free_list;
  ch->free_list = nullptr;
  ch->returned = 0;  // handed out again, as far as the chunk can tell
  return list;
}

/// A block of class `c` for a thread whose cache is gone (exiting, or the
/// main thread in static destructors: a system shut down there sends every
/// actor a stop), cut under the lock from one chunk that all such threads
/// share. Returned through return_blocks like any other.
inline void* chunk_late_alloc(chunk_registry& r, std::size_t c) {
  lock_guard lock(r.mu);
  if (r.late[c] != nullptr && r.late_carved[c] == chunk_blocks(c)) {
    r.late[c]->carved = r.late_carved[c];  // used up: sealed, as a thread's own would be
    r.late[c]->sealed = true;
    settle(r, r.late[c]);
    r.late[c] = nullptr;
  }
  if (r.late[c] == nullptr) {
    r.late[c] = open_chunk(r, c);
    r.late_carved[c] = 0;
  }
  return unpoison(block_at(r.late[c], r.late_carved[c]++), c);
}

/// A pool's source of fresh blocks (block_cache.hpp's `Source`): one
/// thread's cutting state per class. `Pool` names the pool:
///   static chunk_registry& registry()
///   static depot* depots()
///   static constexpr bool refill     (block_cache.hpp's Source)
///   static constexpr bool refill_opens_chunks  (the same)
///   static void arm_thread_exit()    (block_cache.hpp's Source)
///   static void* late_alloc(std::size_t c)   a block once the cache is gone
template <class Pool>
struct chunk_source {
  struct cursor {
    chunk* open = nullptr;     ///< the chunk this thread cuts from
    std::uint32_t carved = 0;  ///< blocks cut from it so far
    void* taken = nullptr;     ///< blocks taken from a partial chunk, linked
  };
  cursor cursors[class_count];

  static depot* depots() { return Pool::depots(); }
  static void arm_thread_exit() { Pool::arm_thread_exit(); }
  static void* late_alloc(std::size_t c) { return Pool::late_alloc(c); }
  static void late_free(void* p, std::size_t c) noexcept {
    poison(p, c);
    return_blocks(Pool::registry(), &p, 1);  // no cache, no depot: its chunk
  }
  static constexpr bool refill = Pool::refill;
  static constexpr bool refill_opens_chunks = Pool::refill_opens_chunks;
  static long depot_cap() noexcept {
    return Pool::registry().depot_cap.load(std::memory_order_relaxed);
  }
  /// A pool may make a thread that outruns its frees wait for blocks to
  /// come back (envelope_pool.cpp); true if some did.
  static bool wait_for_returns(const depot& d) noexcept {
    if constexpr (requires { Pool::wait_for_returns(d); }) {
      return Pool::wait_for_returns(d);
    } else {
      return false;
    }
  }
  /// A pool may count what its threads cut (envelope_pool.cpp).
  static void note_cut(std::size_t c, std::uint32_t n) noexcept {
    if constexpr (requires { Pool::note_cut(c, n); }) Pool::note_cut(c, n);
  }

  void* fresh(std::size_t c) {
    if (void* p = fresh_in_hand(c)) return p;
    cursor& k = cursors[c];
    chunk_registry& r = Pool::registry();
    if (k.open != nullptr) {
      seal(r, k.open, k.carved);
      k.open = nullptr;
    }
    if (void* list = take_partial(r, c)) {
      k.taken = list;
      return fresh(c);
    }
    k.open = open_chunk(r, c);
    k.carved = 0;
    return fresh(c);
  }

  /// A block this thread can cut without the registry (its partial list,
  /// its open chunk), or nullptr: never takes a partial chunk nor opens
  /// one. What a refill of a pool whose refills stay in hand adds.
  void* fresh_in_hand(std::size_t c) noexcept {
    cursor& k = cursors[c];
    if (k.taken != nullptr) {
      void* p = k.taken;
      k.taken = *static_cast<void**>(p);
      return unpoison(p, c);
    }
    if (k.open != nullptr && k.carved < chunk_blocks(c)) {
      return unpoison(block_at(k.open, k.carved++), c);
    }
    return nullptr;
  }

  /// Up to `n` blocks cut at once from the open chunk, in their order
  /// there, into `out`; how many (0 when the thread holds taken blocks or
  /// no open chunk: fresh() then decides). For refill: cut one fresh() at
  /// a time, a block cost ~36 instructions under callgrind (each call
  /// reloads the thread's cursor, and chunk_blocks(c) is a division for a
  /// class not known at compile time), ~58 per bank transfer at 1 worker,
  /// where the teller's burst cuts one block per transfer.
  std::uint32_t cut_run(std::size_t c, void** out, std::uint32_t n) noexcept {
    cursor& k = cursors[c];
    if (k.taken != nullptr || k.open == nullptr) return 0;
    n = std::min(n, chunk_blocks(c) - k.carved);
    auto* b = static_cast<unsigned char*>(block_at(k.open, k.carved));
    const std::size_t stride = carve_stride(c);
    for (std::uint32_t i = 0; i < n; ++i) out[i] = unpoison(b + i * stride, c);
    k.carved += n;
    return n;
  }

  static void give_back(void* const* blocks, std::uint32_t n, std::size_t) noexcept {
    return_blocks(Pool::registry(), blocks, n);
  }

  /// The thread exits: its open chunks are sealed, and blocks it took from
  /// partial chunks are returned.
  void thread_exit() noexcept {
    chunk_registry& r = Pool::registry();
    for (std::size_t c = 0; c < class_count; ++c) {
      cursor& k = cursors[c];
      while (k.taken != nullptr) {
        void* p = k.taken;
        k.taken = *static_cast<void**>(p);
        poison(p, c);
        return_blocks(r, &p, 1, /*handed_out=*/false);
      }
      if (k.open != nullptr) seal(r, k.open, k.carved);
      k = cursor{};
    }
  }
};

}  // namespace volley::detail::pool
