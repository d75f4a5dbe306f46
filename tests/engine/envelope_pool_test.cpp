// Tests of the envelope pool (engine/src/envelope_pool.cpp): blocks freed on
// a thread after its cache was torn down, and ASan's view of pooled blocks.
//
// The use-after-free these tests guard against is silent in a plain build:
// they fail under ASan (the asan preset keeps the pool on and poisons the
// blocks it holds), which is where CI runs them.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <thread>

#include <volley/engine/detail/envelope.hpp>

#include "engine_test_support.hpp"

#if defined(VOLLEY_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using volley::detail::envelope_alloc;
using volley::detail::envelope_free;
using volley::test::wait_until;

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

TEST_CASE("pooled blocks are aligned to a cache line") {
  for (std::size_t size : {48u, 64u, 100u, 256u, 300u, 1000u}) {
    void* p = envelope_alloc(size);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    envelope_free(p, size);
  }
}
