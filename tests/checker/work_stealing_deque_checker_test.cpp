// Exhaustive small-schedule checks of volley/queues/work_stealing_deque.hpp:
// the real Chase–Lev deque with model atomics at capacity 4 (Tokio's
// loom_queue.rs runs its queue at the same size), the owner pushing past
// capacity and popping while a thief steals and a second worker steals half.
//
// A pop that claims the last item with a store instead of a CAS is kept as a
// known-bad variant and must be caught.
//
// Properties checked in every schedule:
//   * every item pushed is obtained exactly once: by the owner's pop, a
//     steal, a steal_half (run at once or pushed into the thief's deque), or
//     the final drain; nothing is duplicated or lost;
//   * push reports full only when the deque holds `capacity` items;
//   * steal_half never drops a stolen item (its pushes into `into` succeed).
//
// Memory model beyond SC: the explorer runs sequentially consistent
// executions, and the deque's correctness under C++'s weaker model rests on
// its two seq_cst fences (pop: bottom store / fence / top load; steal: top
// load / fence / bottom load). Under SC those fences are no-ops, so this
// test cannot tell a correct fence from a missing one. Covered instead:
//   * pop's fence (store -> load, the one x86 needs): work_stealing_deque_
//     fences.pml, a Promela model with the owner's store buffer, checked by
//     spin as a ctest; without the fence spin finds a steal of the item the
//     owner popped (the known-bad run of the same model);
//   * steal's fence (load -> load, for POWER/ARM): the published proof for
//     exactly these orders (Lê, Pop, Cohen, Zappa Nardelli, PPoPP 2013),
//     which the header follows line by line, and on hardware the TSan and
//     random stress tests in tests/queues/.
#include <volley/queues/work_stealing_deque.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace volley::queues::detail {

// A pop that claims the last item with a plain store to top instead of a
// CAS (right when run alone, wrong when a thief races it), kept so the
// checker has to catch it.
struct work_stealing_deque_test_access {
  template <class Deque>
  static std::optional<int> pop_without_cas(Deque& d) noexcept {
    std::int64_t b = d.bottom_.load(std::memory_order_relaxed) - 1;
    d.bottom_.store(b, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t t = d.top_.load(std::memory_order_relaxed);
    if (t > b) {
      d.bottom_.store(b + 1, std::memory_order_relaxed);
      return std::nullopt;
    }
    int value = d.slots_[b & d.mask_].load(std::memory_order_relaxed);
    if (t == b) {  // the last item: claimed with a plain store, not a CAS
      d.top_.store(t + 1, std::memory_order_seq_cst);
      d.bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return value;
  }
};

}  // namespace volley::queues::detail

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using deque = volley::queues::work_stealing_deque<int, model_atomic>;

struct world {
  bool pop_without_cas = false;  // the known-bad variant
  deque owner{4};
  deque other{4};  // the second worker's own deque (steal_half fills it)
  std::vector<int> seen = std::vector<int>(16, 0);
  int pushed = 0;
  int accepted = 0;

  void got(int v) {
    check(v >= 1 && v <= pushed, "a value that was never pushed came out");
    if (v >= 1 && v < static_cast<int>(seen.size())) {
      check(seen[static_cast<std::size_t>(v)] == 0, "an item was obtained twice");
      ++seen[static_cast<std::size_t>(v)];
    }
  }

  // The owner: push items 1..n (counting the ones that fit), popping once
  // after every `pop_every` pushes.
  void run_owner(int n, int pop_every) {
    for (int i = 1; i <= n; ++i) {
      std::int64_t before = owner.size_approx();
      ++pushed;
      if (owner.push(i)) {
        ++accepted;
      } else {
        // Only the owner grows the deque and thieves only shrink it, so it
        // held at least as many items before the call as when push looked.
        check(before >= static_cast<std::int64_t>(owner.capacity()),
              "push failed on a deque that was not full");
        --pushed;  // never in the deque: the value is reused
        --i;
        if (auto v = owner_pop()) got(*v);
        continue;
      }
      if (i % pop_every == 0) {
        if (auto v = owner_pop()) got(*v);
      }
    }
  }

  std::optional<int> owner_pop() {
    if (pop_without_cas) {
      return volley::queues::detail::work_stealing_deque_test_access::pop_without_cas(owner);
    }
    return owner.pop();
  }

  void run_thief(int attempts) {
    for (int i = 0; i < attempts; ++i) {
      int v = 0;
      if (owner.steal(v) == deque::steal_result::success) got(v);
    }
  }

  void run_half_stealer() {
    std::int64_t had = other.size_approx();
    if (auto v = owner.steal_half(other)) got(*v);
    check(other.size_approx() >= had, "steal_half lost items of its own deque");
    while (auto v = other.pop()) got(*v);
  }

  void drain_and_check() {
    while (auto v = owner.pop()) got(*v);
    while (auto v = other.pop()) got(*v);
    for (int v = 1; v <= pushed; ++v) {
      check(seen[static_cast<std::size_t>(v)] == 1, "a pushed item was lost");
    }
    check(pushed == accepted, "bookkeeping");
  }
};

}  // namespace

TEST_CASE("checker work_stealing_deque: owner pop races a thief for the last items",
          "[checker][work_stealing_deque]") {
  check_clean(
      "deque owner(push 3, pop each 1)+thief x2", bound(3),
      [](execution& x) {
        auto w = std::make_shared<world>();
        x.spawn([w] { w->run_owner(3, 1); });
        x.spawn([w] { w->run_thief(2); });
        x.at_end([w] { w->drain_and_check(); });
      },
      1000);
}

TEST_CASE("checker work_stealing_deque: capacity 4, owner over capacity, a thief and steal_half",
          "[checker][work_stealing_deque]") {
  check_clean(
      "deque cap 4: owner(push 6, pop every 3)+thief+steal_half", bound(2),
      [](execution& x) {
        auto w = std::make_shared<world>();
        x.spawn([w] { w->run_owner(6, 3); });
        x.spawn([w] { w->run_thief(1); });
        x.spawn([w] { w->run_half_stealer(); });
        x.at_end([w] { w->drain_and_check(); });
      },
      1000);
}

TEST_CASE("checker work_stealing_deque: a pop that claims the last item by a store is caught",
          "[checker][work_stealing_deque][known_bad]") {
  // the race needs three: push | thief reads | owner reads | thief CAS
  check_caught(
      "deque pop claiming the last item by a store (known-bad)", bound(3),
      [](execution& x) {
        auto w = std::make_shared<world>();
        w->pop_without_cas = true;
        x.spawn([w] { w->run_owner(3, 1); });
        x.spawn([w] { w->run_thief(2); });
        x.at_end([w] { w->drain_and_check(); });
      },
      "twice");
}
