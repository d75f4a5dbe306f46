// Tests of the wake-up rules (engine/src/idle_workers.hpp) as a thread
// outside the pool meets them: how many futex wakes its tells and spawns
// cause. Issue
// 11's fork-join throughput collapsed on a 16-core machine where a futex
// system call costs several µs (gVisor), so a rule that woke a worker per
// outside tell, or per few, would show there as a collapse and here as a
// count that grows with the worker count. Counts, not times: the bounds sit
// far from both the product's figures and the known-bad variants' (below,
// and in the commit that added this file).
//
// Known-bad variant caught: notify() that wakes a sleeper whether or not a
// worker searches (idle_workers.hpp, the `searching_` test dropped). Tried
// and not caught: a last searcher that fans out whether or not more work is
// visible (3,676 / 328 / 299 wakes for 60,000 tells on 2 / 8 / 16 workers,
// against 70-686 without it): one awaited tell at a time leaves it little
// to chain on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "../../engine/src/idle_workers.hpp"  // futex_calls()
#include "engine_test_support.hpp"

using volley::test::scaled;

namespace {

struct work {
  std::uint64_t seq;
};

struct counter {
  explicit counter(std::atomic<std::uint64_t>& handled) : handled_(handled) {}
  void on(const work&) { handled_.fetch_add(1, std::memory_order_release); }
  std::atomic<std::uint64_t>& handled_;
};

// fork-join creation's actor: handles one message and stops.
struct one_shot {
  explicit one_shot(std::atomic<std::uint64_t>& handled) : handled_(handled) {}
  void on(const work&, volley::context& ctx) {
    ctx.stop();
    handled_.fetch_add(1, std::memory_order_release);
  }
  std::atomic<std::uint64_t>& handled_;
};

// fork-join throughput's shape (bench/savina/fork_join.cpp): 60 actors told
// round robin by the main thread.
constexpr std::size_t actors = 60;

#if defined(__OPTIMIZE__) && !defined(VOLLEY_TEST_ASAN) && !defined(VOLLEY_TEST_TSAN)
constexpr bool optimised_without_sanitizers = true;
#else
constexpr bool optimised_without_sanitizers = false;
#endif

enum class outside { tells, spawns };

/// `n` tells from this (outside) thread to idle actors on a pool of
/// `workers`, each awaited before the next, so that every one finds its
/// actor idle and the pool as the previous activation left it: the regime
/// of a sender that many workers drain faster than it fills them, reached
/// here without that many cores. With outside::tells they go round robin to
/// `actors` actors (fork-join throughput); with outside::spawns each goes
/// to an actor spawned for it (fork-join creation). Returns the futex wakes
/// made meanwhile, by the sender and by the workers.
std::uint64_t wakes_for_awaited(outside what, unsigned workers, std::uint64_t n) {
  volley::config cfg = volley::test::two_workers();
  cfg.workers = workers;
  std::atomic<std::uint64_t> handled{0};
  volley::system sys(cfg);
  std::vector<volley::actor_ref<counter>> all;
  if (what == outside::tells) {
    for (std::size_t i = 0; i < actors; ++i) all.push_back(sys.spawn<counter>(handled));
  }
  const auto before = volley::detail::futex_calls();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (what == outside::tells) {
      all[i % actors].tell(work{i});
    } else {
      sys.spawn<one_shot>(handled).tell(work{i});
    }
    // A yield, not a spin: on a small machine the workers need the CPU.
    while (handled.load(std::memory_order_acquire) != i + 1) std::this_thread::yield();
  }
  const auto after = volley::detail::futex_calls();
  sys.shutdown();
  return (after.wakes_by_others - before.wakes_by_others) +
         (after.wakes_by_workers - before.wakes_by_workers);
}

}  // namespace

TEST_CASE("awaited tells and spawns from outside wake few workers, however many there are",
          "[idle_workers][concurrency]") {
  const unsigned workers = GENERATE(2u, 8u, 16u);
  const outside what = GENERATE(outside::tells, outside::spawns);
  const std::uint64_t n = std::max<std::uint64_t>(2000, scaled(60'000));
  const std::uint64_t wakes = wakes_for_awaited(what, workers, n);
  INFO(workers << " workers, " << n << (what == outside::tells ? " tells" : " spawns") << ": "
               << wakes << " futex wakes");
  // A wake per `per_wake` messages at most, plus one per worker (the pool's
  // start). Measured (release build, 2-core VM, 60,000 each, 4 runs):
  // 70-686 wakes for tells and 53-926 for spawns on 2, 8 and 16 workers;
  // the known-bad notify() 48,288 (2 workers), 58,841 (8) and 59,998 (16).
  constexpr std::uint64_t per_wake = 4;
  if (!optimised_without_sanitizers) {
    // A gap between two tells longer than `spin_before_park` (50 µs) finds
    // every worker parked, and the tell must wake one: that is the rule,
    // not a fault. Unoptimised or sanitized, one awaited tell takes longer
    // than that (ASan: 2,152 of 3,750 tells woke a worker on 2 workers,
    // 3,742 on 8, 3,584 on 16), so the bound is checked only where the
    // code runs at its speed: in the release build's stress run.
    WARN(workers << " workers: " << wakes << " futex wakes for " << n
                 << " messages; not checked in this build");
    return;
  }
  CHECK(wakes <= n / per_wake + workers);
}
