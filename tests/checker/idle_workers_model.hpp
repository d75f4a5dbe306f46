// tests/checker/idle_workers_model.hpp — engine/src/idle_workers.hpp's platform
// for the explorer, shared by the checker tests that run the real
// basic_idle_workers (idle_workers_checker_test, parking_look_checker_test).
//
// The model futex: wait(word, expected) returns once the word no longer holds
// `expected` (the real futex may also return spuriously; the protocol loops
// on the word either way), so a store to the word is the wake. Every atomic,
// lock and futex operation is a scheduling point; the fence is not (below).
//
// Naps (`NapsEnd`): the real nap ends after `lifo_watch_interval` and the
// worker looks for stale and gated work. A nap that may end would hide a lost
// wake-up while another worker is awake (the nap's look would find the work
// the protocol forgot to announce), so the lost-wake-up cases use naps that
// never end: the protocol alone must wake the worker. The cases that need a
// nap to end (a stale LIFO occupant only a napping worker takes) use
// `model_idle_sync<true>`: a nap ends when the worker is next scheduled and
// its word has not changed, i.e. at any point after another fiber changed a
// model atomic, or once nothing else can run — every length a real nap can
// have, seen from the other threads.
#pragma once

#include <cstdint>

#include <volley/engine/detail/thread_safety.hpp>

#include "model_atomic.hpp"
#include "model_scheduler.hpp"

namespace volley::checker {

template <bool NapsEnd>
struct model_idle_sync {
  template <class T>
  using atomic = model_atomic<T>;

  class VOLLEY_CAPABILITY("mutex") mutex {
   public:
    void lock() VOLLEY_ACQUIRE() {
      while (held_.exchange(true)) spin_wait();
    }
    void unlock() VOLLEY_RELEASE() { held_.store(false); }

   private:
    model_atomic<bool> held_{false};
  };

  using lock_guard = volley::detail::basic_lock_guard<mutex>;

  using deadline = int;

  // No scheduling point: in a sequentially consistent execution a fence does
  // nothing, and every fence in idle_workers.hpp is followed, through
  // thread-local code only, by a model-atomic operation that is one. A switch
  // before the fence is the same execution as a switch before that operation,
  // at the same preemption count; the yield here only repeated schedules
  // (2 workers, bound 2: 51,196 schedules with it, 42,832 without). What the
  // fences do beyond SC is idle_workers_fences.pml's to check.
  static void fence() noexcept {}
  static deadline nap_deadline() noexcept { return 0; }
  static void wait(atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
    while (word.load() == expected) spin_wait();
  }
  /// False: the nap is over (only with NapsEnd).
  static bool wait_until(atomic<std::uint32_t>& word, std::uint32_t expected, deadline) noexcept {
    if constexpr (NapsEnd) {
      if (word.load() != expected) return true;
      spin_wait();
      return word.load() != expected;
    } else {
      wait(word, expected);
      return true;
    }
  }
  static void wake_one(atomic<std::uint32_t>&) noexcept {}  // the store was the wake
};

}  // namespace volley::checker

namespace volley::detail {

// The checkers' access to basic_idle_workers' private parts: a known-bad park
// kept so the checker has to catch it, and the counters' final state.
struct idle_workers_test_access {
  // park() without the look at the queues after registering as a sleeper.
  template <class Idle, class WorkVisible, class Quitting, class StealStale>
  static auto park_without_recheck(Idle& idle, unsigned worker, WorkVisible work_visible,
                                   Quitting quitting, StealStale steal_stale) {
    auto& p = idle.at(worker);
    if (p.searching) {
      p.searching = false;
      idle.searching_.fetch_sub(1, std::memory_order_acq_rel);
    }
    idle.register_sleeper(worker);
    (void)work_visible;  // the known-bad part: no look after registering
    return idle.template sleep<true, true>(worker, quitting, steal_stale);
  }

  /// At the end of a run: nobody counts as searching or sleeping.
  template <class Idle>
  static void check_settled(Idle& idle) {
    volley::checker::check(idle.searching_.peek() == 0, "a worker still counts as searching");
    volley::checker::check(idle.sleeping_.peek() == 0, "a worker still counts as sleeping");
  }
};

}  // namespace volley::detail
