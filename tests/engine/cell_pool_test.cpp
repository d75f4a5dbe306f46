// Tests of the cells' pool (engine/src/cell_pool.cpp): cells carved from
// chunks, a chunk handed back to the allocator once all its cells have come
// back, a partial chunk's cells reused before a new chunk is opened, and
// every cell handed out once while threads allocate and free across each
// other; actors spawned and stopped in a loop give every cell back.
//
// The test cases run in the order written: the first ones set the depot's
// cap to 0 (every block the depot would keep goes back to its chunk), and
// rely on a depot that no earlier case of this binary has filled.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <volley/engine/detail/envelope.hpp>

#include "../../engine/src/cell_pool.hpp"
#include "engine_test_support.hpp"
#include "pool_test_support.hpp"

#if defined(VOLLEY_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using volley::detail::cell_alloc;
using volley::detail::cell_block_size;
using volley::detail::cell_free;
namespace cell_pool = volley::detail::cell_pool;

namespace {

/// Sets the cells' depot cap for one test case.
struct depot_cap_for_test {
  long saved = cell_pool::current().depot_cap;
  explicit depot_cap_for_test(long magazines) { cell_pool::set_depot_cap(magazines); }
  ~depot_cap_for_test() { cell_pool::set_depot_cap(saved); }
  depot_cap_for_test(const depot_cap_for_test&) = delete;
  depot_cap_for_test& operator=(const depot_cap_for_test&) = delete;
};

std::uintptr_t chunk_of(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) & ~(cell_pool::current().chunk_bytes - 1);
}

/// Runs `f` on a thread of its own: its cache is flushed (and its open
/// chunks sealed) when the thread ends.
template <class F>
void on_own_thread(F f) {
  std::thread(f).join();
}

}  // namespace

TEST_CASE("a cell's block is its size class, aligned, and reused last in first out") {
  for (std::size_t size : {64u, 128u, 129u, 192u, 256u}) {
    void* cell = cell_alloc(size);
    CHECK(reinterpret_cast<std::uintptr_t>(cell) % 64 == 0);
    CHECK(cell_block_size(cell) == (size + 63) / 64 * 64);
    std::memset(cell, 0xab, size);
    cell_free(cell, size);
    void* again = cell_alloc(size);
    CHECK(again == cell);  // from this thread's magazine
    cell_free(again, size);
  }
  // Larger cells are the allocator's, one by one, as before.
  void* big = cell_alloc(300);
  CHECK(reinterpret_cast<std::uintptr_t>(big) % 64 == 0);
  std::memset(big, 0xab, 300);
  cell_free(big, 300);
}

TEST_CASE("cells are carved a size class apart from one chunk") {
  std::vector<std::ptrdiff_t> gaps;  // between consecutive cells of one chunk
  on_own_thread([&] {
    std::vector<void*> cells;
    for (int i = 0; i < 100; ++i) cells.push_back(cell_alloc(128));
    for (std::size_t i = 1; i < cells.size(); ++i) {
      if (chunk_of(cells[i]) == chunk_of(cells[i - 1]))
        gaps.push_back(static_cast<char*>(cells[i]) - static_cast<char*>(cells[i - 1]));
    }
    for (void* p : cells) cell_free(p, 128);
  });
#if defined(VOLLEY_TEST_ASAN)
  const std::ptrdiff_t stride = 128 + 64;  // a poisoned line between neighbours
#else
  const std::ptrdiff_t stride = 128;
#endif
  CHECK(gaps.size() >= 98);  // a fresh thread cuts from at most two chunks
  CHECK(static_cast<std::size_t>(std::count(gaps.begin(), gaps.end(), stride)) == gaps.size());
}

TEST_CASE("a chunk whose cells have all come back goes back to the allocator") {
  depot_cap_for_test no_depot(0);
  const std::size_t before = cell_pool::current().chunks_live;
  const std::size_t n = 3 * cell_pool::blocks_per_chunk(128);
  std::size_t during = 0;
  on_own_thread([&] {
    std::vector<void*> cells;
    for (std::size_t i = 0; i < n; ++i) {
      cells.push_back(cell_alloc(128));
      std::memset(cells.back(), 0x5a, 128);
    }
    during = cell_pool::current().chunks_live;
    for (void* p : cells) cell_free(p, 128);
  });
  INFO("chunks before " << before << ", with the cells " << during << ", after "
                        << cell_pool::current().chunks_live);
  CHECK(during >= before + 3);
  CHECK(cell_pool::current().chunks_live <= before);
}

TEST_CASE("a thread takes a partial chunk's returned cells before it opens a chunk") {
  depot_cap_for_test no_depot(0);
  const std::size_t per_chunk = cell_pool::blocks_per_chunk(192);
  // One thread fills two chunks and keeps one cell of each: they are sealed
  // at its exit with every other cell returned.
  std::vector<void*> kept;
  on_own_thread([&] {
    std::vector<void*> cells;
    for (std::size_t i = 0; i < 2 * per_chunk; ++i) cells.push_back(cell_alloc(192));
    std::set<std::uintptr_t> seen;
    for (void* p : cells) {
      if (seen.insert(chunk_of(p)).second) {
        kept.push_back(p);
      } else {
        cell_free(p, 192);
      }
    }
  });
  REQUIRE(kept.size() == 2);
  const std::set<std::uintptr_t> partial{chunk_of(kept[0]), chunk_of(kept[1])};
  const std::size_t live = cell_pool::current().chunks_live;
  // Another thread needs as many cells as those chunks have free.
  std::size_t from_partial = 0;
  std::size_t live_then = 0;
  std::vector<void*> again;
  on_own_thread([&] {
    for (std::size_t i = 0; i < 2 * (per_chunk - 1); ++i) {
      again.push_back(cell_alloc(192));
      std::memset(again.back(), 0x3c, 192);
      from_partial += partial.count(chunk_of(again.back()));
    }
    live_then = cell_pool::current().chunks_live;
  });
  CHECK(from_partial == again.size());
  CHECK(live_then == live);  // no chunk opened
  // No cell is handed out twice: the kept ones are not among them.
  std::set<void*> distinct(again.begin(), again.end());
  CHECK(distinct.size() == again.size());
  CHECK(distinct.count(kept[0]) == 0);
  CHECK(distinct.count(kept[1]) == 0);
  on_own_thread([&] {
    for (void* p : again) cell_free(p, 192);
    for (void* p : kept) cell_free(p, 192);
  });
  CHECK(cell_pool::current().chunks_live == live - 2);
}

#if defined(VOLLEY_TEST_ASAN)
TEST_CASE("a cell's overrun into the next block, and a freed cell, are poisoned") {
  depot_cap_for_test no_depot(0);
  bool in_use[2] = {}, guard[2] = {}, freed = false;
  on_own_thread([&] {
    char* cell = static_cast<char*>(cell_alloc(128));
    char* next = static_cast<char*>(cell_alloc(128));  // its neighbour in the chunk, in use
    in_use[0] = __asan_address_is_poisoned(cell);
    in_use[1] = __asan_address_is_poisoned(cell + 127);
    guard[0] = __asan_address_is_poisoned(cell + 128);  // the guard line before `next`
    guard[1] = __asan_address_is_poisoned(cell + 128 + 63);
    cell_free(next, 128);
    cell_free(cell, 128);
    freed = __asan_address_is_poisoned(cell + 8);  // in this thread's magazine
  });
  CHECK_FALSE(in_use[0]);
  CHECK_FALSE(in_use[1]);
  CHECK(guard[0]);
  CHECK(guard[1]);
  CHECK(freed);
}
#endif

namespace {

/// Allocates and frees a cell when the thread destroys it: after the
/// pool's cache, if the cache was made after it.
struct cell_at_thread_exit {
  bool* wrote;
  ~cell_at_thread_exit() {
    void* p = cell_alloc(128);
    std::memset(p, 0x7e, 128);
    cell_free(p, 128);
    *wrote = true;
  }
};

}  // namespace

TEST_CASE("a cell made and freed after its thread's cache is gone has a chunk, returned at once") {
  // The thread's first cell_alloc cuts a magazine of cells, which its exit
  // would hand to the depot whole: with no depot they go back to their
  // chunk, so that both chunks must come back here.
  depot_cap_for_test no_depot(0);
  const std::size_t before = cell_pool::current().chunks_live;
  bool wrote = false;
  on_own_thread([&] {
    static thread_local cell_at_thread_exit late{&wrote};  // made before the cache...
    cell_free(cell_alloc(64), 64);                         // ...which this makes
  });
  CHECK(wrote);
  CHECK(cell_pool::current().chunks_live == before);
}

namespace {

/// Handles one message and stops (fork-join creation's actor).
struct one_message {
  explicit one_message(std::atomic<std::size_t>* r) : ran(r) {}
  void on(int, volley::context& ctx) {
    ran->fetch_add(1, std::memory_order_relaxed);
    ctx.stop();
  }
  std::atomic<std::size_t>* ran;
};

}  // namespace

TEST_CASE("actors spawned and stopped in a loop on two workers give every cell back") {
  depot_cap_for_test no_depot(0);  // what the depot would keep goes back to its chunk
  const std::size_t before = cell_pool::current().chunks_live;
  // Three chunks' worth of cells (fewer under sanitizers), in rounds: the
  // spawning thread's cache refills while the workers free the cells of
  // earlier rounds into theirs.
  const std::size_t rounds = 6;
  const std::size_t per_round =
      std::max<std::size_t>(200, volley::test::scaled(cell_pool::blocks_per_chunk(128) / 2));
  std::atomic<std::size_t> ran{0};
  std::size_t during = 0;
  bool all_ran = true;
  // The system lives and dies on a thread of its own: that thread's cache
  // (the spawner's, and the guardians') is flushed when it ends, as the
  // workers' are when the system joins them.
  on_own_thread([&] {
    volley::system sys(volley::test::two_workers());
    for (std::size_t r = 0; r < rounds; ++r) {
      for (std::size_t i = 0; i < per_round; ++i) sys.spawn<one_message>(&ran).tell(1);
      all_ran =
          all_ran && volley::test::wait_until([&] { return ran.load() == (r + 1) * per_round; });
      during = std::max(during, cell_pool::current().chunks_live);
    }
    sys.shutdown();
  });
  INFO("chunks before " << before << ", at most " << during << " with the actors, after "
                        << cell_pool::current().chunks_live);
  CHECK(all_ran);
  CHECK(ran.load() == rounds * per_round);
  CHECK(during > before);  // the cells did come from this pool
  CHECK(cell_pool::current().chunks_live <= before);
}

TEST_CASE("cells allocated and freed across threads are each handed out once, and come back") {
  volley::test::check_blocks_across_a_ring(cell_alloc, cell_free, cell_pool::current,
                                           cell_pool::set_depot_cap);
}
