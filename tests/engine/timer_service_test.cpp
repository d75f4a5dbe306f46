// Tests of the system's timer service (engine/src/timer_service.*): timers
// armed and cancelled from many threads at once, through the lock-free
// hand-off (detail/timer_handoff.hpp) and the cancel exchange.
//
//   * every timer either fires exactly once or is cancelled before it fires
//     (cancel says which), and every node is freed once the service stops;
//   * a timer armed while the timer thread sleeps towards a later deadline
//     wakes it: it fires on time, not at the later deadline;
//   * cancelled timers do not pile up while the thread sleeps towards a far
//     deadline: the forced wake-ups and the wheel's sweep free them;
//   * an ask timeout still pending when the service stops completes its
//     request with an error (a cancelled one does not);
//   * timer nodes freed on one thread come back to the allocating threads
//     through the timer pool (timer_pool.cpp).
//
// Real time (steady_clock), short delays; sizes shrink under sanitizers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <volley/engine/ask.hpp>

#include "../../engine/src/timer_pool.hpp"
#include "../../engine/src/timer_service.hpp"
#include "engine_test_support.hpp"

#if defined(VOLLEY_TEST_ASAN)
#include <sanitizer/asan_interface.h>
#endif

using namespace std::chrono_literals;
using volley::detail::timer_base;
using volley::detail::timer_service;
using volley::test::scaled;
using volley::test::wait_until;

namespace {

struct counters {
  std::atomic<std::size_t> fired{0};
  std::atomic<std::size_t> destroyed{0};
  // Firings after a cancel that said "it will not fire": the bug this
  // service must never have. (Counted, not CHECKed: Catch2 assertions are
  // for the test's own thread.)
  std::atomic<std::size_t> fired_after_cancel{0};
};

/// A callback timer that counts its firings (each must be at most one) and
/// its destruction. Starts with two counts: the service's and the test's.
struct probe_timer final : timer_base {
  counters* c;
  std::atomic<int> firings{0};
  std::atomic<bool> cancel_won{false};  // set after cancel() returned true

  explicit probe_timer(counters* cs) : c(cs) {
    callback = [](timer_base* t) {
      auto* self = static_cast<probe_timer*>(t);
      if (self->cancel_won.load(std::memory_order_acquire)) {
        self->c->fired_after_cancel.fetch_add(1, std::memory_order_relaxed);
      }
      self->firings.fetch_add(1, std::memory_order_relaxed);
      self->c->fired.fetch_add(1, std::memory_order_release);
    };
    destroy = [](timer_base* t) noexcept {
      auto* self = static_cast<probe_timer*>(t);
      counters* cs = self->c;
      delete self;
      cs->destroyed.fetch_add(1, std::memory_order_release);
    };
  }
};

}  // namespace

TEST_CASE("timers armed and cancelled from many threads each fire exactly once or are cancelled",
          "[timers][concurrency]") {
  // 8 threads on 2 cores: arming threads get preempted mid-push, the case
  // the hand-off queue must survive.
  constexpr int threads = 8;
  const std::size_t per_thread = std::max<std::size_t>(1000, scaled(200'000) / threads);
  counters c;
  timer_service svc(nullptr, true);
  std::vector<std::vector<probe_timer*>> made(threads);
  std::vector<std::thread> arming;
  for (int i = 0; i < threads; ++i) {
    arming.emplace_back([&, i] {
      std::mt19937 rng(static_cast<std::uint32_t>(i) + 1);
      auto& mine = made[static_cast<std::size_t>(i)];
      mine.reserve(per_thread);
      for (std::size_t n = 0; n < per_thread; ++n) {
        auto* t = new probe_timer(&c);
        t->add_ref();  // ours, kept until the checks below; refs: service + table + ours
        mine.push_back(t);
        // 0-2 ms: some are due at once, most race their cancel.
        svc.schedule(t, std::chrono::microseconds(rng() % 2000));
        switch (rng() % 4) {
          case 0:  // the ask case: the reply comes first
            if (timer_service::cancel(t)) t->cancel_won.store(true, std::memory_order_release);
            break;
          case 1:  // a reply that comes about when the timeout does
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
            if (timer_service::cancel(t)) t->cancel_won.store(true, std::memory_order_release);
            break;
          default:  // a timeout that fires
            break;
        }
        t->release();  // the "table" count: as an actor's timer table would
      }
    });
  }
  for (auto& t : arming) t.join();
  const std::size_t total = per_thread * threads;

  std::size_t won = 0;
  for (auto& v : made) {
    for (probe_timer* t : v) won += t->cancel_won.load() ? 1 : 0;
  }
  // Every timer not cancelled in time fires: its deadline is at most 2 ms away.
  REQUIRE(wait_until([&] { return c.fired.load() + won == total; }));
  for (auto& v : made) {
    for (probe_timer* t : v) {
      int f = t->firings.load();
      bool w = t->cancel_won.load();
      REQUIRE(f <= 1);
      REQUIRE((f == 1) != w);  // exactly one of: fired, cancelled before firing
    }
  }
  svc.stop();
  for (auto& v : made) {
    for (probe_timer* t : v) t->release();
  }
  CHECK(c.destroyed.load() == total);
  CHECK(c.fired_after_cancel.load() == 0);
}

TEST_CASE("a timer armed while the timer thread sleeps towards a later deadline fires on time",
          "[timers][concurrency]") {
  counters c;
  timer_service svc(nullptr, true);
  auto* far = new probe_timer(&c);
  svc.schedule(far, 1h);
  // Let the thread drain it and go to sleep towards the hour.
  std::this_thread::sleep_for(20ms);
  for (int round = 0; round < 20; ++round) {
    auto* near = new probe_timer(&c);
    auto t0 = std::chrono::steady_clock::now();
    svc.schedule(near, 1ms);
    near->release();  // only the service's count: freed after it fires
    REQUIRE(wait_until([&] { return c.fired.load() == static_cast<std::size_t>(round) + 1; }));
    // A lost wake-up would wait for the hour (or fail the wait above).
    CHECK(std::chrono::steady_clock::now() - t0 < volley::test::patience);
  }
  CHECK(timer_service::cancel(far));
  far->release();
  svc.stop();
  CHECK(c.destroyed.load() == 21);
}

TEST_CASE("cancelled far timers are freed while the timer thread sleeps, not at their deadline",
          "[timers][concurrency]") {
  constexpr int threads = 2;
  const std::size_t per_thread = std::max<std::size_t>(20'000, scaled(500'000) / threads);
  counters c;
  timer_service svc(nullptr, true);
  std::atomic<std::size_t> cancels_lost{0};  // cancels that found the timer not armed
  std::vector<std::thread> arming;
  for (int i = 0; i < threads; ++i) {
    arming.emplace_back([&] {
      for (std::size_t n = 0; n < per_thread; ++n) {
        auto* t = new probe_timer(&c);
        svc.schedule(t, 1h);
        if (!timer_service::cancel(t)) cancels_lost.fetch_add(1, std::memory_order_relaxed);
        t->release();  // the canceller's count
      }
    });
  }
  for (auto& t : arming) t.join();
  const std::size_t total = per_thread * threads;
  // Left allocated at most: what each thread armed since its last forced
  // wake-up (still in the queue; twice that allowed), and the wheel's sweep
  // floor twice over (cancelled after the thread had linked them). Without
  // the forced wake-ups all 40,000 would wait for the hour.
  const std::size_t bound = threads * 2 * timer_service::arms_per_forced_wake + 2 * 4096;
  REQUIRE(wait_until([&] { return total - c.destroyed.load() <= bound; }));
  CHECK(c.fired.load() == 0);
  CHECK(cancels_lost.load() == 0);
  svc.stop();
  CHECK(c.destroyed.load() == total);
}

TEST_CASE("an ask whose timeout is still pending when the service stops completes with an error",
          "[timers][concurrency]") {
  using volley::detail::ask_timeout;
  using volley::detail::future_state;
  timer_service svc(nullptr, true);
  auto* request = new future_state<int>();  // the waiter's count
  auto* timeout = new ask_timeout<int>(request);
  request->set_timeout(timeout);  // the timer's two counts: the service's and the request's
  svc.schedule(timeout, 1h);
  svc.stop();  // drops the hour-long timeout unfired
  // Without the drop hook nothing could ever complete it: the wait would run
  // into its own deadline (errc::timeout) — for ever, without one.
  volley::result<int> r = request->wait(std::chrono::steady_clock::now() + volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::broken_promise);
  request->release();
}

TEST_CASE("a cancelled ask timeout is not completed by the service's stop",
          "[timers][concurrency]") {
  using volley::detail::ask_timeout;
  using volley::detail::future_state;
  timer_service svc(nullptr, true);
  auto* request = new future_state<int>();
  auto* timeout = new ask_timeout<int>(request);
  request->set_timeout(timeout);
  svc.schedule(timeout, 1h);
  REQUIRE(request->complete(7));  // the reply: cancels the timeout
  svc.stop();
  volley::result<int> r = request->wait(std::chrono::steady_clock::now() + volley::test::patience);
  REQUIRE(r.ok());
  CHECK(r.value() == 7);
  request->release();
}

namespace {

constexpr std::size_t timer_node_bytes = sizeof(volley::detail::ask_timeout<int>);

/// `n` timer nodes allocated by a thread that then exits (a worker arming
/// timeouts).
std::vector<void*> allocate_on_a_thread(std::size_t n) {
  std::vector<void*> nodes;
  std::thread([&] {
    for (std::size_t i = 0; i < n; ++i) {
      nodes.push_back(volley::detail::timer_allocate(timer_node_bytes));
    }
  }).join();
  return nodes;
}

/// Frees `nodes` on a thread that then exits (the timer thread dropping
/// them): its own lists go to the depot too.
void free_on_a_thread(const std::vector<void*>& nodes) {
  std::thread([&] {
    for (void* p : nodes) volley::detail::timer_deallocate(p, timer_node_bytes);
  }).join();
}

}  // namespace

TEST_CASE("timer nodes freed on another thread are reused by the threads that allocate nodes",
          "[timers][concurrency]") {
  constexpr std::size_t count = 2048;  // four of the pool's batches
  // Empty the shared depot first (earlier tests may have filled it): a
  // thread that takes far more than it can hold takes every full batch.
  std::vector<void*> emptied = allocate_on_a_thread(40'000);
  // A "worker" allocates, the "timer thread" frees, then exits (its lists
  // go to the depot too); a second worker allocates again.
  std::vector<void*> first = allocate_on_a_thread(count);
  free_on_a_thread(first);
  std::vector<void*> second = allocate_on_a_thread(count);
  std::sort(first.begin(), first.end());
  std::size_t reused = 0;
  for (void* p : second) reused += std::binary_search(first.begin(), first.end(), p) ? 1 : 0;
  // Every slot freed comes back (the allocator alone would hand the second
  // thread slots of its own thread cache, or, under ASan, fresh memory).
  CHECK(reused == count);
  free_on_a_thread(second);
  free_on_a_thread(emptied);
  // A node larger than a slot is the allocator's.
  void* big = volley::detail::timer_allocate(4096);
  std::memset(big, 0, 4096);
  volley::detail::timer_deallocate(big, 4096);
}

TEST_CASE(
    "after a burst of timer nodes is freed the pool keeps a steady-state stock, not the burst",
    "[timers][concurrency]") {
  using volley::detail::timer_pool_depot_slots;
  constexpr std::size_t batch = 512;               // slots per list (timer_pool.cpp)
  constexpr std::size_t kept_at_most = 8 * batch;  // the depot's 8 lists (768 KiB)
  // 32,768 asks in flight at once, then every answer: the timer thread
  // frees the nodes. Before, the depot kept 32 lists (16,384 slots, 3 MiB)
  // of them for good.
  free_on_a_thread(allocate_on_a_thread(64 * batch));
  INFO("free slots in the depot: " << timer_pool_depot_slots());
  CHECK(timer_pool_depot_slots() <= kept_at_most);
  CHECK(timer_pool_depot_slots() >= batch);  // still a stock for the next asks
}

#if defined(VOLLEY_TEST_ASAN)
TEST_CASE("a free timer slot is poisoned but for its link, and usable again once handed out",
          "[timers]") {
  void* p = volley::detail::timer_allocate(timer_node_bytes);
  volley::detail::timer_deallocate(p, timer_node_bytes);  // into this thread's list
  auto* bytes = static_cast<char*>(p);
  CHECK_FALSE(__asan_address_is_poisoned(bytes));  // the link the list walks
  CHECK(__asan_address_is_poisoned(bytes + sizeof(void*)));
  CHECK(__asan_address_is_poisoned(bytes + 191));                  // the slot's last byte
  void* again = volley::detail::timer_allocate(timer_node_bytes);  // LIFO: the same slot
  CHECK(again == p);
  CHECK_FALSE(__asan_address_is_poisoned(static_cast<char*>(again) + sizeof(void*)));
  CHECK_FALSE(__asan_address_is_poisoned(static_cast<char*>(again) + 191));
  std::memset(again, 0, timer_node_bytes);
  volley::detail::timer_deallocate(again, timer_node_bytes);
}
#endif
