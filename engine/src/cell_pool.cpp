// engine/src/cell_pool.cpp — allocation of cells (cell_alloc, cell_free).
//
// jemalloc keeps a 128 B record (an extent) per slab and an 8 B page-map
// entry per slab page. A 128 B cell's slab is one page of 32 cells, so an
// idle actor without state measured 132.25 B of RSS for a 128 B cell (and
// 194.38 B for a 192 B one): 3% that no layout of the cell can remove.
// Cells are therefore cut from 2 MiB chunks of the pool's own (mapped from
// the system), 16,383 cells of 128 B each: chunk_source.hpp says how chunks
// are cut, returned and reused. So memory of stopped actors is reused
// first by the depot (any thread, no lock), then, beyond the depot's cap,
// chunk by chunk: a chunk is returned once none of its cells is alive or
// held by a thread cache or the depot.
#include <cstddef>

#include <volley/engine/detail/envelope.hpp>

#include "block_cache.hpp"
#include "cell_pool.hpp"
#include "chunk_source.hpp"

namespace volley::detail {

namespace {

using namespace pool;

/// Cells' chunks and depot (the envelopes' are envelope_pool.cpp's).
struct cell_chunks {
  // A spawner that outruns the frees (fork-join creation's main thread)
  // cuts a magazine of cells at a time, as envelopes do: cut one at a time,
  // 70% of its spawns took alloc_slow and a failed depot dequeue, ~100
  // instructions each. Only from what it holds (its open chunk, a partial
  // chunk's list): a refill never opens a chunk or takes a partial one for
  // blocks nobody asked for yet, so a few spawns still use the chunks they
  // need (cell_pool_test counts them).
  static constexpr bool refill = true;
  static constexpr bool refill_opens_chunks = false;
  static chunk_registry& registry() {
    static chunk_registry* r = new chunk_registry(0x766f6c63, "cell_free", false);  // "volc"
    return *r;
  }
  static depot* depots() {
    static depot* d = new depot[class_count];  // never destroyed, as the registry
    return d;
  }
  static void arm_thread_exit();
  // The thread is exiting (a spawn from a thread_local's destructor): a
  // chunk of its own, sealed at once, which cell_free returns whole.
  static void* late_alloc(std::size_t c) {
    chunk_registry& r = registry();
    chunk* ch = open_chunk(r, c);
    void* p = unpoison(block_at(ch, 0), c);
    seal(r, ch, 1);
    return p;
  }
};

using cell_source = chunk_source<cell_chunks>;

// No destructor, so no registration test on each access (block_cache.hpp).
constinit thread_local thread_cache<cell_source> cell_cache;

// Flushes cell_cache when the thread exits, once a slow path armed it.
thread_local thread_cache_exit<thread_cache<cell_source>> cell_exit;

void cell_chunks::arm_thread_exit() {
  cell_exit.cache = &cell_cache;  // the first use registers its destructor
}

}  // namespace

// How many spawns ahead cell_alloc asks for a block's lines. One ahead,
// a spawn's lines were still on their way when its stores drained: a
// spawner's blocks were last written by the workers that freed them, and
// when the VM's cross-core round trip is slow (~330 ns instead of ~70) one
// spawn's worth of work is shorter than the transfer. Four ahead keeps
// about a dozen lines in flight, which the core overlaps.
constexpr std::uint32_t cell_prefetch_ahead = 4;

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
  return cell_cache.alloc(c, class_size(c) / cache_line_size, cell_prefetch_ahead);
}

void cell_free(void* p, std::size_t size) noexcept {
  if (size > max_pooled) return raw_free(p, size);
  cell_cache.free(p, class_of(size));
}

std::size_t cell_block_size(const void* p) noexcept {
  return class_size(chunk_of(p)->cls);
}

cell_pool::figures cell_pool::current() noexcept {
  return {cell_chunks::registry().live.load(std::memory_order_relaxed), chunk_bytes,
          cell_chunks::registry().depot_cap.load(std::memory_order_relaxed), batch};
}

std::size_t cell_pool::blocks_per_chunk(std::size_t size) noexcept {
  return chunk_blocks(class_of(size));
}

void cell_pool::set_depot_cap(long magazines) noexcept {
  cell_chunks::registry().depot_cap.store(magazines, std::memory_order_relaxed);
}

}  // namespace volley::detail
