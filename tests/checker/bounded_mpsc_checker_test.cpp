// Exhaustive small-schedule checks of volley/queues/bounded_mpsc.hpp: the real
// ring with model atomics, capacity 2, two producers and the consumer, every
// schedule with at most 2-3 preemptions.
//
// Properties checked in every schedule:
//   * every accepted item comes out exactly once (during the run or in the
//     final drain), each producer's in order, and no rejected item ever does;
//   * a push is rejected only when the ring may have been full: by the time
//     it returned, at least `capacity` other pushes had begun (and not been
//     rejected) that the consumer had not finished popping when the rejected
//     call began.
//
// Memory model: the explorer runs sequentially consistent executions. Beyond
// SC the ring relies on one release/acquire pair per hand-off (the slot's seq
// store and load), the pattern the TSan stress test in tests/queues/
// exercises; the position CAS is relaxed, which SC subsumes because only
// the slot's seq publishes data.
//
// Known-bad variant, which must be caught: the same ring with a position
// claim that is not one RMW (a load, then a store: `split_cas` below). Two
// producers then claim one position, the second overwrites the first's item,
// and the checker must report the item as lost.
#include <volley/queues/bounded_mpsc.hpp>

#include <cstdio>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic

struct item {
  int producer;
  int seq;
};

/// model_atomic whose compare_exchange is a load and a separate store, with
/// a scheduling point between them: the known-bad position claim.
template <class T>
class split_cas {
 public:
  split_cas() noexcept = default;
  constexpr split_cas(T v) noexcept : a_(v) {}  // NOLINT: mirrors std::atomic
  T load(std::memory_order = std::memory_order_seq_cst) const noexcept { return a_.load(); }
  void store(T v, std::memory_order = std::memory_order_seq_cst) noexcept { a_.store(v); }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order = std::memory_order_seq_cst) noexcept {
    T now = a_.load();
    if (now != expected) {
      expected = now;
      return false;
    }
    a_.store(desired);
    return true;
  }

 private:
  model_atomic<T> a_;
};

template <template <class> class Atom>
struct basic_world {
  explicit basic_world(std::size_t capacity) : q(capacity) {}
  volley::queues::bounded_mpsc<item, Atom> q;
  // Plain bookkeeping: the explorer runs one fiber at a time.
  int pushes_begun = 0;
  int rejections = 0;
  int pops_done = 0;
  std::vector<std::vector<int>> accepted = std::vector<std::vector<int>>(2);
  std::vector<int> next_seq = std::vector<int>(2, 0);

  void take(const item& it) {
    // Accepted items of one producer come out as accepted[p][0], [1], ...
    auto& acc = accepted[static_cast<std::size_t>(it.producer)];
    int& next = next_seq[static_cast<std::size_t>(it.producer)];
    check(next < static_cast<int>(acc.size()) && acc[static_cast<std::size_t>(next)] == it.seq,
          "an item came out twice, out of order, or without having been accepted");
    ++next;
  }

  void produce(int p, int n) {
    for (int s = 0; s < n; ++s) {
      int popped_before = pops_done;
      ++pushes_begun;
      // Recorded before the call, withdrawn on rejection: the consumer may
      // pop the item before try_push returns.
      accepted[static_cast<std::size_t>(p)].push_back(s);
      if (!q.try_push(item{p, s})) {
        accepted[static_cast<std::size_t>(p)].pop_back();
        int others_in = pushes_begun - 1 - rejections;
        ++rejections;
        check(others_in - popped_before >= static_cast<int>(q.capacity()),
              "a push was rejected although the ring was not full");
      }
    }
  }

  void consume(int attempts) {
    for (int i = 0; i < attempts; ++i) {
      if (auto it = q.try_pop()) {
        take(*it);
        ++pops_done;
      } else {
        volley::checker::spin_wait();
      }
    }
  }

  void drain_and_check() {
    while (auto it = q.try_pop()) take(*it);
    for (std::size_t p = 0; p < accepted.size(); ++p) {
      check(next_seq[p] == static_cast<int>(accepted[p].size()), "an accepted item was lost");
    }
  }
};

using world = basic_world<model_atomic>;

}  // namespace

TEST_CASE("checker bounded_mpsc: two producers, capacity 2; each accepted item once, in order",
          "[checker][bounded_mpsc]") {
  check_clean(
      "bounded_mpsc 2 producers x 2, capacity 2", bound(3),
      [](execution& x) {
        auto w = std::make_shared<world>(2);
        x.spawn([w] { w->produce(0, 2); });
        x.spawn([w] { w->produce(1, 2); });
        x.spawn([w] { w->consume(2); });
        x.at_end([w] { w->drain_and_check(); });
      },
      1000);
}

TEST_CASE("checker bounded_mpsc: a full ring rejects, and takes items again after a pop",
          "[checker][bounded_mpsc]") {
  check_clean(
      "bounded_mpsc 2 producers x 3, capacity 2", bound(2),
      [](execution& x) {
        auto w = std::make_shared<world>(2);
        x.spawn([w] { w->produce(0, 3); });
        x.spawn([w] { w->produce(1, 3); });
        x.spawn([w] { w->consume(3); });
        x.at_end([w] { w->drain_and_check(); });
      },
      1000);
}

TEST_CASE("checker bounded_mpsc: a position claim that is not one RMW is caught",
          "[checker][bounded_mpsc]") {
  check_caught(
      "bounded_mpsc claim by load and store (known-bad)", bound(2),
      [](execution& x) {
        auto w = std::make_shared<basic_world<split_cas>>(2);
        x.spawn([w] { w->produce(0, 1); });
        x.spawn([w] { w->produce(1, 1); });
        x.spawn([w] { w->consume(2); });
        x.at_end([w] { w->drain_and_check(); });
      },
      "lost");
}
