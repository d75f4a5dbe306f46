// Tests of the envelope pool (engine/src/envelope_pool.cpp): fresh blocks
// cut from chunks, every block handed out once while threads allocate and
// free across each other, blocks made and freed on a thread after its cache
// was torn down, and ASan's view of pooled blocks.
//
// The use-after-free some of these tests guard against is silent in a
// plain build: they fail under ASan (the asan preset keeps the pool on and
// poisons the blocks it holds), which is where CI runs them. The chunk
// cases come first: they count chunks and rely on a depot that no earlier
// case of this binary has filled.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <volley/engine/detail/envelope.hpp>

#include "../../engine/src/envelope_pool.hpp"
#include "engine_test_support.hpp"
#include "pool_test_support.hpp"

#if defined(VOLLEY_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using volley::detail::envelope_alloc;
using volley::detail::envelope_free;
using volley::test::wait_until;
namespace envelope_pool = volley::detail::envelope_pool;

namespace {

std::uintptr_t chunk_of(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) & ~(envelope_pool::current().chunk_bytes - 1);
}

}  // namespace

#if defined(VOLLEY_TEST_ASAN)
// A thread with nothing to reuse cuts a magazine's worth of blocks at once
// (block_cache.hpp, refill): those not handed out yet are off limits, as
// any block in a magazine. First in the file: with an empty depot the
// thread must cut (and with a depot cap of 0 its blocks go back to their
// chunk when it exits, leaving the depot empty for the next case).
TEST_CASE("blocks cut ahead into a thread's magazine stay poisoned until handed out") {
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);
  const std::ptrdiff_t stride = 64 + 64;  // a poisoned line between neighbours
  int in_use = 0, poisoned = 0, next_ok = 0;
  std::thread([&] {
    char* p = static_cast<char*>(envelope_alloc(64));
    in_use = __asan_address_is_poisoned(p) ? 0 : 1;
    for (int k = 1; k < 64; ++k) poisoned += __asan_address_is_poisoned(p + k * stride) ? 1 : 0;
    char* q = static_cast<char*>(envelope_alloc(64));  // the next one in the chunk, usable
    next_ok = q == p + stride && !__asan_address_is_poisoned(q) ? 1 : 0;
    envelope_free(q, 64);
    envelope_free(p, 64);
  }).join();
  envelope_pool::set_depot_cap(cap);
  CHECK(in_use == 1);
  CHECK(poisoned == 63);
  CHECK(next_ok == 1);
}
#endif

// A producer that sends faster than its envelopes come back (bank
// transaction's teller) finds its magazines and the depot empty: its fresh
// blocks are cut one after the other from a chunk, not a malloc each.
TEST_CASE("a thread that allocates more than it frees cuts its envelopes from chunks") {
  const std::size_t before = envelope_pool::current().chunks_live;
  std::vector<std::ptrdiff_t> gaps;  // between consecutive envelopes of one chunk
  std::size_t during = 0;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; ++i) {
      blocks.push_back(envelope_alloc(64));
      std::memset(blocks.back(), 0x5a, 64);
    }
    during = envelope_pool::current().chunks_live;
    for (std::size_t i = 1; i < blocks.size(); ++i) {
      if (chunk_of(blocks[i]) == chunk_of(blocks[i - 1]))
        gaps.push_back(static_cast<char*>(blocks[i]) - static_cast<char*>(blocks[i - 1]));
    }
    for (void* p : blocks) envelope_free(p, 64);
  }).join();
#if defined(VOLLEY_TEST_ASAN)
  const std::ptrdiff_t stride = 64 + 64;  // a poisoned line between neighbours
#else
  const std::ptrdiff_t stride = 64;
#endif
  CHECK(during >= before + 1);
  CHECK(gaps.size() >= 998);  // a fresh thread cuts from at most two chunks
  CHECK(static_cast<std::size_t>(std::count(gaps.begin(), gaps.end(), stride)) == gaps.size());
}

// A refill cuts the rest of its magazine from its open chunk in one run
// (block_cache.hpp, chunk_source.hpp's cut_run): a run stops at the chunk's
// end, and the next block comes from a new chunk. Three chunks' worth of
// envelopes on one thread cross that end mid-refill (a chunk's block count
// is not a multiple of a magazine's), so a run that overshot would hand
// out a block past its chunk, over the next one's header.
TEST_CASE("a thread's fresh envelopes stop at their chunk's end and go on in the next") {
#if defined(VOLLEY_TEST_ASAN)
  const std::size_t stride = 64 + 64;  // a poisoned line between neighbours
#else
  const std::size_t stride = 64;
#endif
  const std::size_t chunk = envelope_pool::current().chunk_bytes;
  const std::size_t header = 64;  // a chunk's first line
  const std::size_t per_chunk = (chunk - header) / stride;
  std::size_t outside = 0, off_stride = 0, duplicates = 0, crowded = 0, chunks = 0;
  std::thread([&] {
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 3 * per_chunk + 100; ++i) blocks.push_back(envelope_alloc(64));
    std::set<std::uintptr_t> seen;
    std::vector<std::uintptr_t> chunk_starts;
    for (void* p : blocks) {
      const auto a = reinterpret_cast<std::uintptr_t>(p);
      const std::size_t offset = a - chunk_of(p);
      if (offset < header || offset + 64 > chunk) {
        ++outside;
        continue;
      }
      if ((offset - header) % stride != 0) ++off_stride;
      if (!seen.insert(a).second) ++duplicates;
      std::memset(p, 0x5a, 64);  // under ASan: a block over another's guard line shows
      chunk_starts.push_back(chunk_of(p));
    }
    std::sort(chunk_starts.begin(), chunk_starts.end());
    for (auto i = chunk_starts.begin(); i != chunk_starts.end();) {
      auto j = std::upper_bound(i, chunk_starts.end(), *i);
      ++chunks;
      if (static_cast<std::size_t>(j - i) > per_chunk) ++crowded;
      i = j;
    }
    for (void* p : blocks) envelope_free(p, 64);
  }).join();
  CHECK(outside == 0);
  CHECK(off_stride == 0);
  CHECK(duplicates == 0);
  CHECK(crowded == 0);
  CHECK(chunks >= 3);
}

TEST_CASE("envelopes allocated and freed across threads are each handed out once, and come back") {
  volley::test::check_blocks_across_a_ring(envelope_alloc, envelope_free, envelope_pool::current,
                                           envelope_pool::set_depot_cap);
}

// The cache is flushed at thread exit by a destructor that the first slow
// path on a thread registers (block_cache.hpp). A thread whose first pool
// call is a free (a receiver) must register it as well, or the blocks in
// its magazines die with it and hold their chunk for ever. Right after the
// ring case, which leaves the 192 B class without a depot or partial chunk.
TEST_CASE("a thread that only frees envelopes hands its cached blocks back when it exits") {
  const long cap = envelope_pool::current().depot_cap;
  envelope_pool::set_depot_cap(0);  // what a cache hands back goes to its chunk
  const std::size_t before = envelope_pool::current().chunks_live;
  std::vector<void*> blocks;
  std::thread([&] {
    for (int i = 0; i < 200; ++i) blocks.push_back(envelope_alloc(192));
  }).join();
  const std::size_t while_held = envelope_pool::current().chunks_live;
  std::thread([&] {
    for (void* p : blocks) envelope_free(p, 192);  // this thread never allocates
  }).join();
  CHECK(while_held > before);
  CHECK(envelope_pool::current().chunks_live == before);
  envelope_pool::set_depot_cap(cap);
}

namespace {

/// Allocates envelopes when the thread destroys it, after the pool's
/// cache if the cache was made after it; notes how many distinct blocks
/// and chunks they were, and frees them.
struct envelopes_at_thread_exit {
  std::size_t* blocks;
  std::size_t* chunks;
  ~envelopes_at_thread_exit() {
    std::vector<void*> made;
    for (int i = 0; i < 100; ++i) {
      made.push_back(envelope_alloc(64));
      std::memset(made.back(), 0x7e, 64);
    }
    std::set<std::uintptr_t> in_chunks;
    for (void* p : made) in_chunks.insert(chunk_of(p));
    *blocks = std::set<void*>(made.begin(), made.end()).size();
    *chunks = in_chunks.size();
    for (void* p : made) envelope_free(p, 64);
  }
};

}  // namespace

// A system shut down from a static destructor tells every actor to stop
// after the main thread's cache is gone: those envelopes are cut under a
// lock from one chunk all such threads share, not a chunk (or a malloc)
// each, and go back to it.
TEST_CASE(
    "envelopes made after their thread's cache is gone are distinct blocks of a shared chunk") {
  std::size_t blocks = 0;
  std::size_t chunks = 0;
  std::thread([&] {
    static thread_local envelopes_at_thread_exit late{&blocks,
                                                      &chunks};  // made before the cache...
    envelope_free(envelope_alloc(64), 64);                       // ...which this makes
  }).join();
  CHECK(blocks == 100);
  CHECK(chunks >= 1);
  CHECK(chunks <= 2);  // the shared chunk, and the next if it filled up
}

namespace {

// One block per size class of the pool (64, 128, 192, 256 bytes).
constexpr std::array<std::size_t, 4> class_sizes{64, 128, 192, 256};

/// Blocks to free when this object is destroyed.
struct late_free {
  std::array<void*, class_sizes.size()> blocks{};
  ~late_free() {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i] != nullptr) envelope_free(blocks[i], class_sizes[i]);
    }
  }
};

/// Give this thread's cache a loaded magazine in every class, and keep one
/// block per class in `out` for later.
void load_every_class(late_free& out) {
  for (std::size_t i = 0; i < class_sizes.size(); ++i) {
    void* a = envelope_alloc(class_sizes[i]);
    void* b = envelope_alloc(class_sizes[i]);
    std::memset(b, 0xab, class_sizes[i]);
    envelope_free(a, class_sizes[i]);  // the cache now holds a magazine of this class
    out.blocks[i] = b;
  }
}

// Static destructors run after the main thread's thread_locals, the pool's
// cache among them: a block freed here is freed after the cache is gone.
late_free freed_after_main_thread_cache;

struct echo {
  void on(const int&) { handled.fetch_add(1, std::memory_order_relaxed); }
  static inline std::atomic<int> handled{0};
};

}  // namespace

TEST_CASE(
    "a block freed by a thread_local destroyed after the thread's cache goes back to the "
    "allocator") {
  std::thread t([] {
    // Constructed before the pool's cache on this thread, so destroyed after
    // it: its blocks are freed into a cache that no longer exists.
    static thread_local late_free holder;
    load_every_class(holder);
  });
  t.join();
  // Without the fix, ASan reports a heap-use-after-free in envelope_free
  // (a write into the magazine ~thread_cache deleted) and aborts.
  SUCCEED("no use-after-free at thread exit");
}

TEST_CASE("a thread_local actor_ref released at thread exit frees its cell safely") {
  echo::handled = 0;
  bool all_handled = false;  // Catch2's assertions are for the test's own thread
  std::thread t([&all_handled] {
    static thread_local std::optional<volley::actor_ref<echo>> keep;  // outlives the cache
    {
      volley::system sys(volley::test::two_workers());
      auto ref = sys.spawn<echo>();
      for (int i = 0; i < 100; ++i) ref.tell(i);
      all_handled = wait_until([] { return echo::handled.load() == 100; });
      keep = ref;  // the last ref, once the system is gone
      late_free scratch;
      load_every_class(scratch);  // loaded magazines on this thread, whatever the cell's class
    }
  });
  t.join();
  CHECK(all_handled);
}

TEST_CASE("blocks freed after the main thread's cache are handed back at exit") {
  // Checked when the process exits (see freed_after_main_thread_cache).
  load_every_class(freed_after_main_thread_cache);
  SUCCEED();
}

#if defined(VOLLEY_TEST_ASAN)
TEST_CASE("a pooled block is poisoned while it is free, and usable again once handed out") {
  void* p = envelope_alloc(128);
  envelope_free(p, 128);  // into this thread's magazine
  // ASan reports any access to these bytes now as a use-after-poison.
  CHECK(__asan_address_is_poisoned(p));
  CHECK(__asan_address_is_poisoned(static_cast<char*>(p) + 127));
  void* again = envelope_alloc(128);  // LIFO: the block just freed
  CHECK(again == p);
  CHECK_FALSE(__asan_address_is_poisoned(again));
  CHECK_FALSE(__asan_address_is_poisoned(static_cast<char*>(again) + 127));
  std::memset(again, 0, 128);
  envelope_free(again, 128);
}
#endif

#if VOLLEY_TEST_POOL_MAPS_CHUNKS
namespace {

/// The VmFlags line of the mapping that holds `p` (/proc/self/smaps), or
/// "" when no mapping holds it.
std::string vm_flags_of(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long low = 0, high = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &low, &high) == 2) {
      inside = low <= address && address < high;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool has_vm_flag(const std::string& flags, const std::string& flag) {
  std::istringstream words(flags);
  for (std::string w; words >> w;)
    if (w == flag) return true;
  return false;
}

}  // namespace

// chunk_source.hpp: envelope chunks are small pages unless
// VOLLEY_HUGE_PAGES=1 asks for huge ones; cell chunks always are, as an
// idle actor's cells are counted in resident memory, which a huge page
// would take whole from the first cell. "hg" is the kernel's mark for
// MADV_HUGEPAGE (proc(5)). ctest runs this case twice: plain
// (envelope_pool_test) and with the variable set
// (envelope_pool_huge_pages_test).
TEST_CASE("envelope chunks are huge pages only when asked for, cell chunks never") {
  const char* asked = std::getenv("VOLLEY_HUGE_PAGES");
  const bool huge = asked != nullptr && std::string(asked) == "1";
  if (huge && !std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled")) {
    // Asked for on a kernel built without them: a run that cannot check.
    FAIL("VOLLEY_HUGE_PAGES=1 but this kernel has no transparent huge pages");
  }
  void* e = envelope_alloc(64);
  void* c = volley::detail::cell_alloc(128);
  const std::string envelope_flags = vm_flags_of(e);
  const std::string cell_flags = vm_flags_of(c);
  INFO("VOLLEY_HUGE_PAGES=" << (asked ? asked : "(unset)") << "; an envelope's mapping: "
                            << envelope_flags << "; a cell's: " << cell_flags);
  CHECK_FALSE(envelope_flags.empty());
  CHECK(has_vm_flag(envelope_flags, "hg") == huge);
  CHECK_FALSE(cell_flags.empty());
  CHECK_FALSE(has_vm_flag(cell_flags, "hg"));
  volley::detail::cell_free(c, 128);
  envelope_free(e, 64);
}
#endif

TEST_CASE("pooled blocks are aligned to a cache line") {
  for (std::size_t size : {48u, 64u, 100u, 256u, 300u, 1000u}) {
    void* p = envelope_alloc(size);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    envelope_free(p, size);
  }
}
