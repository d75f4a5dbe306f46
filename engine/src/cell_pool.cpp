// engine/src/cell_pool.cpp — allocation of cells (cell_alloc, cell_free).
//
// jemalloc keeps a 128 B record (an extent) per slab and an 8 B page-map
// entry per slab page. A 128 B cell's slab is one page of 32 cells, so an
// idle actor without state measured 132.25 B of RSS for a 128 B cell (and
// 194.38 B for a 192 B one): 3% that no layout of the cell can remove.
// Cells are therefore cut from 1 MiB chunks of the pool's own (mapped from
// the system, see map_chunk), 8,191 cells of 128 B each.
//
// A chunk holds blocks of one class, after a one-line header. A thread cuts
// blocks from its own open chunk per class, with no lock and no atomic;
// when it is used up, the thread seals it (records how many blocks it cut)
// and opens another. Blocks come and go through the thread caches and the
// depot as envelopes do; only what the depot refuses (beyond its cap) is
// *returned* to its chunk, under `chunks.mu`: a sealed chunk whose blocks
// have all been returned goes back to the system whole, and one with some
// returned is listed as partial, and a thread that needs fresh blocks takes
// a partial chunk's returned blocks before it opens a new chunk. So memory
// of stopped actors is reused first by the depot (any thread, no lock),
// then, beyond the depot's cap, chunk by chunk: a chunk is returned once
// none of its cells is alive or held by a thread cache or the depot.
// The lock is taken once per chunk opened or sealed, once per magazine
// returned beyond the cap, and once per partial chunk taken up: never per
// spawn in a steady state.
//
// Under ASan a poisoned line follows every block in its chunk, so an overrun
// of one cell into the next is still reported (ASan's own redzones are
// around the whole chunk only); the uncut rest of a chunk is poisoned too.
#include <sys/mman.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/thread_safety.hpp>

#include "block_cache.hpp"
#include "cell_pool.hpp"

namespace volley::detail {

namespace {

using namespace pool;

constexpr std::size_t chunk_bytes = std::size_t{1} << 20;
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

/// The chunks' shared state. Never destroyed, like the depots.
struct chunk_registry {
  mutex mu;
  std::atomic<std::size_t> live{0};                        ///< chunks allocated and not freed
  std::atomic<long> depot_cap{depot_cap_batches};          ///< cell_pool::set_depot_cap
  chunk* partial[class_count] VOLLEY_GUARDED_BY(mu) = {};  ///< sealed, some blocks returned
};

chunk_registry& chunks() {
  static chunk_registry* r = new chunk_registry;
  return *r;
}

/// Written in every chunk's header and checked when a block goes back to
/// its chunk: a block that did not come from cell_alloc (an envelope freed
/// with cell_free) is stopped there with a message, not linked into a chunk
/// that is not one.
constexpr std::uint32_t chunk_magic = 0x766f6c63;  // "volc"

struct alignas(cache_line_size) chunk {
  explicit chunk(std::size_t c) noexcept : cls(static_cast<std::uint32_t>(c)) {}
  const std::uint32_t magic = chunk_magic;
  const std::uint32_t cls;  ///< the class of every block in it; read-only
  // Guarded by chunks().mu, which the analysis cannot name from here.
  std::uint32_t carved = 0;    ///< blocks cut: written when the chunk is sealed
  std::uint32_t returned = 0;  ///< blocks on `free_list`
  bool sealed = false;         ///< no more blocks will be cut from it
  bool listed = false;         ///< on chunks().partial[cls]
  void* free_list = nullptr;   ///< returned blocks, linked through their first word
  chunk* prev = nullptr;       ///< on the partial list
  chunk* next = nullptr;
};
static_assert(sizeof(chunk) <= chunk_header_bytes);

chunk* chunk_of(const void* block) noexcept {
  return reinterpret_cast<chunk*>(reinterpret_cast<std::uintptr_t>(block) & ~(chunk_bytes - 1));
}

void* block_at(chunk* ch, std::uint32_t i) noexcept {
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
// chunk (map twice the size, unmap the unaligned ends), once per 8,191
// cells of 128 B. Adjacent mappings merge into one (the kernel places each
// new one below the last), so the process's mapping count stays low.
#if defined(VOLLEY_USE_JEMALLOC)  // not a sanitizer build (engine/CMakeLists.txt)
void* map_chunk() {
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
  return reinterpret_cast<void*>(aligned);
}
void unmap_chunk(void* p) noexcept {
  ::munmap(p, chunk_bytes);
}
#else
void* map_chunk() {
  return raw_alloc(chunk_bytes, chunk_bytes);  // aligned to its size: chunk_of() masks
}
void unmap_chunk(void* p) noexcept {
  raw_free(p, chunk_bytes, chunk_bytes);
}
#endif

chunk* open_chunk(std::size_t c) {
  void* mem = map_chunk();
  auto* ch = ::new (mem) chunk(c);
  chunks().live.fetch_add(1, std::memory_order_relaxed);
  pool_poison(static_cast<unsigned char*>(mem) + chunk_header_bytes,
              chunk_bytes - chunk_header_bytes);
  return ch;
}

void free_chunk(chunk* ch) noexcept {
  pool_unpoison(ch, chunk_bytes);
  ch->~chunk();
  unmap_chunk(ch);
  chunks().live.fetch_sub(1, std::memory_order_relaxed);
}

void list_partial(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
  ch->listed = true;
  ch->prev = nullptr;
  ch->next = r.partial[ch->cls];
  if (ch->next != nullptr) ch->next->prev = ch;
  r.partial[ch->cls] = ch;
}

void unlist_partial(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
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
void settle(chunk_registry& r, chunk* ch) VOLLEY_REQUIRES(r.mu) {
  if (!ch->sealed) return;
  if (ch->returned == ch->carved) {
    if (ch->listed) unlist_partial(r, ch);
    free_chunk(ch);
  } else if (ch->returned > 0 && !ch->listed) {
    list_partial(r, ch);
  }
}

/// Returns blocks (poisoned, from a magazine or a late free) to their chunks.
void return_blocks(void* const* blocks, std::uint32_t n) noexcept {
  chunk_registry& r = chunks();
  lock_guard lock(r.mu);
  for (std::uint32_t i = 0; i < n; ++i) {
    chunk* ch = chunk_of(blocks[i]);
    if (ch->magic != chunk_magic) {
      std::fprintf(stderr, "volley: cell_free(%p): not a block of cell_alloc\n", blocks[i]);
      std::abort();
    }
    // The link is the block's first word; the rest stays poisoned.
    pool_unpoison(blocks[i], sizeof(void*));
    *static_cast<void**>(blocks[i]) = ch->free_list;
    ch->free_list = blocks[i];
    ++ch->returned;
    settle(r, ch);
  }
}

void seal(chunk* ch, std::uint32_t carved) noexcept {
  chunk_registry& r = chunks();
  lock_guard lock(r.mu);
  ch->carved = carved;
  ch->sealed = true;
  settle(r, ch);
}

/// Takes every returned block of one partial chunk of class `c`: the list
/// (blocks linked through their first word, poisoned but for it), or nullptr.
void* take_partial(std::size_t c) noexcept {
  chunk_registry& r = chunks();
  lock_guard lock(r.mu);
  chunk* ch = r.partial[c];
  if (ch == nullptr) return nullptr;
  unlist_partial(r, ch);
  void* list = ch->free_list;
  ch->free_list = nullptr;
  ch->returned = 0;  // handed out again, as far as the chunk can tell
  return list;
}

/// Cells: one thread's cutting state per class.
struct chunk_source {
  struct cursor {
    chunk* open = nullptr;     ///< the chunk this thread cuts from
    std::uint32_t carved = 0;  ///< blocks cut from it so far
    void* taken = nullptr;     ///< blocks taken from a partial chunk, linked
  };
  cursor cursors[class_count];

  static depot* depots() {
    static depot* d = new depot[class_count];  // as heap_source's
    return d;
  }
  static long depot_cap() noexcept { return chunks().depot_cap.load(std::memory_order_relaxed); }

  void* fresh(std::size_t c) {
    cursor& k = cursors[c];
    if (k.taken != nullptr) {
      void* p = k.taken;
      k.taken = *static_cast<void**>(p);
      return unpoison(p, c);
    }
    if (k.open != nullptr && k.carved < chunk_blocks(c)) {
      return unpoison(block_at(k.open, k.carved++), c);
    }
    if (k.open != nullptr) {
      seal(k.open, k.carved);
      k.open = nullptr;
    }
    if (void* list = take_partial(c)) {
      k.taken = list;
      return fresh(c);
    }
    k.open = open_chunk(c);
    k.carved = 0;
    return fresh(c);
  }

  static void give_back(void* const* blocks, std::uint32_t n, std::size_t) noexcept {
    return_blocks(blocks, n);
  }

  /// The thread exits: its open chunks are sealed, and blocks it took from
  /// partial chunks are returned.
  void thread_exit() noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
      cursor& k = cursors[c];
      while (k.taken != nullptr) {
        void* p = k.taken;
        k.taken = *static_cast<void**>(p);
        poison(p, c);
        return_blocks(&p, 1);
      }
      if (k.open != nullptr) seal(k.open, k.carved);
      k = cursor{};
    }
  }
};

thread_local thread_cache<chunk_source> cell_cache;

}  // namespace

// A spawn writes all of its cell's lines (the header's two, the actor's),
// and the first locked instruction after them (the registry's lock in
// attach_cell) waits until they are written: on fork-join creation 70% of
// the spawner's pthread_mutex_lock samples sat there. alloc() asks for the
// next block's first line only, which covers an envelope's header; a cell
// wants all of them. Here only, not in envelope_alloc: prefetching every
// line of every block slowed matrix multiplication by 30% (block_cache.hpp).
// Measured (bench preset, 2 workers, the 2-core VM at load ~7, against
// f059159): the lock's share of the spawner's samples 23-24% -> 10% (perf,
// two runs each); in two sets of 9 interleaved pairs, actors/s median
// ratio 1.07 and 1.05, CPU per actor 0.90 and 0.96; 1 worker: 1.00 / 0.99.
void* cell_alloc(std::size_t size) {
  if (size > max_pooled) return raw_alloc(size);
  const std::size_t c = class_of(size);
  if (thread_cache<chunk_source>::gone) {
    // The thread is exiting (a spawn from a thread_local's destructor): a
    // chunk of its own, sealed at once, which cell_free returns whole.
    chunk* ch = open_chunk(c);
    void* p = unpoison(block_at(ch, 0), c);
    seal(ch, 1);
    return p;
  }
  return cell_cache.alloc(c, class_size(c) / cache_line_size);
}

void cell_free(void* p, std::size_t size) noexcept {
  if (size > max_pooled) return raw_free(p, size);
  const std::size_t c = class_of(size);
  if (thread_cache<chunk_source>::gone) {
    poison(p, c);
    return return_blocks(&p, 1);  // to its chunk: after the thread's cache, no depot
  }
  cell_cache.free(p, c);
}

std::size_t cell_block_size(const void* p) noexcept {
  return class_size(chunk_of(p)->cls);
}

cell_pool::figures cell_pool::current() noexcept {
  return {chunks().live.load(std::memory_order_relaxed), chunk_bytes,
          chunks().depot_cap.load(std::memory_order_relaxed), batch};
}

std::size_t cell_pool::blocks_per_chunk(std::size_t size) noexcept {
  return chunk_blocks(class_of(size));
}

void cell_pool::set_depot_cap(long magazines) noexcept {
  chunks().depot_cap.store(magazines, std::memory_order_relaxed);
}

}  // namespace volley::detail
