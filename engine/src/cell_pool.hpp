// engine/src/cell_pool.hpp — what tests and benchmarks may ask of the cells'
// pool (envelope_pool.cpp: "Cells: carved from chunks").
//
// cell_alloc and cell_free (volley/engine/detail/envelope.hpp) are the pool's
// interface to the engine; this header only observes it, and lets a test
// shrink the depot's cap so that the return of blocks to their chunks can be
// exercised without a quarter of a million cells.
#pragma once

#include <cstddef>

namespace volley::detail::cell_pool {

/// A snapshot; other threads may change it at once.
struct figures {
  std::size_t chunks_live;  ///< chunks taken from the allocator and not returned
  std::size_t chunk_bytes;  ///< the size of one chunk
  long depot_cap;           ///< magazines of one class the depot keeps, at most
  unsigned magazine_size;   ///< blocks per magazine
};
figures current() noexcept;

/// Blocks of a cell of `size` bytes (at most 256) that one chunk holds.
std::size_t blocks_per_chunk(std::size_t size) noexcept;

/// Tests only: the depot's cap, in magazines per class; the default is
/// current().depot_cap as the process starts.
void set_depot_cap(long magazines) noexcept;

}  // namespace volley::detail::cell_pool
