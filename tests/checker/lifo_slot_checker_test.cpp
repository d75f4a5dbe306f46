// Exhaustive small-schedule checks of engine/src/lifo_slot.hpp, the worker's
// next-to-run slot: the real basic_lifo_slot with model atomics, driven the
// way engine/src/scheduler.cpp drives it (schedule() fills, next_local()
// takes after a look, steal_stuck_lifo() steals stale occupants; a displaced
// occupant goes to the owner's deque), by the owner and one or two thieves.
//
// Properties checked in every schedule:
//   * no task is lost and none runs twice: every task put in the slot runs
//     exactly once, whether the owner takes it, a fill displaces it to the
//     deque, or a thief steals it;
//   * a stale occupant is taken: when the owner is stuck in one long handler
//     (it fills the slot and never comes back), a thief takes the occupant
//     within two looks;
//   * a thief never takes an occupant while the owner is moving along: with
//     an activation started between every two of a thief's looks, nothing is
//     stolen;
//   * a cell handed back by another worker (offer, and take_back when the
//     owner looked parked: scheduler.cpp's hand-back rule) runs exactly once,
//     racing the owner's takes and a thief.
//
// Known-bad variants kept below and caught: a theft by load + store instead
// of CAS (the owner's take and the thief's store both get the occupant); an
// offer by exchange (it displaces an occupant that the offering worker
// cannot push to the owner's deque: lost).
//
// Memory model: the explorer runs sequentially consistent executions. The
// slot's orders beyond SC: every transfer of an occupant is an acq_rel RMW on
// the one word (fill/take exchange, steal CAS), and RMWs on one location are
// totally ordered whatever their order argument, so SC executions cover who
// gets an occupant; the relaxed looks are hints (see the header).
#include "lifo_slot.hpp"

#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace volley::detail {

// Known-bad variant kept so the checker has to catch it.
struct lifo_slot_test_access {
  // A theft that loads the occupant and then stores nullptr: between the two
  // the owner's take() may get the same occupant.
  template <class Slot, class Sighting>
  static auto steal_by_load_store(Slot& s, Sighting& last) noexcept {
    auto* now = s.slot_.load(std::memory_order_relaxed);
    auto ran = s.activations_.load(std::memory_order_relaxed);
    bool stale = now != nullptr && now == last.occupant && ran == last.activations;
    last = Sighting{now, ran};
    if (!stale) return decltype(now){nullptr};
    s.slot_.store(nullptr, std::memory_order_release);
    last.occupant = nullptr;
    return now;
  }

  // A hand-back that swaps the cell in whatever the slot holds: the
  // displaced occupant has nowhere to go.
  template <class Slot, class T>
  static bool offer_by_exchange(Slot& s, T* t) noexcept {
    (void)s.slot_.exchange(t, std::memory_order_acq_rel);
    return true;
  }

  // Staleness judged by the occupant alone, without the activation count.
  template <class Slot, class Sighting>
  static auto steal_by_occupant_only(Slot& s, Sighting& last) noexcept {
    auto* now = s.slot_.load(std::memory_order_relaxed);
    bool stale = now != nullptr && now == last.occupant;
    last.occupant = now;
    if (stale && s.slot_.compare_exchange_strong(now, nullptr, std::memory_order_acq_rel)) {
      last.occupant = nullptr;
      return now;
    }
    return decltype(now){nullptr};
  }
};

}  // namespace volley::detail

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic

struct task {
  int runs = 0;
};

using slot_type = volley::detail::basic_lifo_slot<task, model_atomic>;
using sighting = slot_type::sighting;

enum class theft { cas, load_store, occupant_only };

struct world {
  explicit world(int n, theft t = theft::cas) : tasks(static_cast<std::size_t>(n)), how(t) {}

  slot_type slot;
  std::vector<task> tasks;
  std::vector<task*> deque;  // the owner's local deque (plain: owner only here)
  theft how;
  int stolen = 0;

  void run(task* t) { ++t->runs; }

  task* steal(sighting& last) {
    using volley::detail::lifo_slot_test_access;
    task* t = how == theft::cas ? slot.steal_if_stale(last)
              : how == theft::load_store
                  ? lifo_slot_test_access::steal_by_load_store(slot, last)
                  : lifo_slot_test_access::steal_by_occupant_only(slot, last);
    if (t != nullptr) ++stolen;
    return t;
  }

  // schedule() on the owner's worker: the woken task goes into the slot; a
  // displaced occupant goes to the deque.
  void wake(task* t) {
    if (task* displaced = slot.fill(t)) deque.push_back(displaced);
  }

  // next_local(): the slot after a look, else the deque.
  task* next() {
    if (slot.occupied()) {
      if (task* t = slot.take()) return t;
    }
    if (deque.empty()) return nullptr;
    task* t = deque.back();
    deque.pop_back();
    return t;
  }

  // Every task woken by the owner, run by someone, once.
  void check_at_end(bool owner_drains) {
    if (owner_drains) {
      while (task* t = next()) run(t);
    }
    for (const task& t : tasks) {
      check(t.runs != 0, "a task put in the LIFO slot never ran (lost)");
      check(t.runs <= 1, "a task put in the LIFO slot ran twice");
    }
  }
};

// The owner wakes `n` tasks, one per activation, running what it finds
// between wakes (a ping-pong pair's worker); thieves look `looks` times each.
std::function<void(execution&)> owner_and_thieves(int n, int thieves, int looks, theft how) {
  return [n, thieves, looks, how](execution& x) {
    auto w = std::make_shared<world>(n, how);
    x.spawn([w, n] {
      for (int i = 0; i < n; ++i) {
        w->slot.activation_started();
        w->wake(&w->tasks[static_cast<std::size_t>(i)]);
        if (i % 2 == 1) {
          if (task* t = w->next()) w->run(t);
        }
      }
    });
    for (int k = 0; k < thieves; ++k) {
      x.spawn([w, looks] {
        sighting last;
        for (int i = 0; i < looks; ++i) {
          if (task* t = w->steal(last)) w->run(t);
        }
      });
    }
    x.at_end([w] { w->check_at_end(true); });
  };
}

// Another worker hands `n` tasks to the owner (scheduler.cpp, hand_back()):
// an offer into the owner's slot, or the task runs on the offering worker
// when the slot is taken; every second handed task is taken back (the owner
// looked parked) and then run by the offering worker if it still was there.
// Meanwhile the owner wakes a task of its own and takes what it finds, and a
// thief looks twice.
std::function<void(execution&)> hand_backs(int n, bool by_exchange) {
  return [n, by_exchange](execution& x) {
    auto w = std::make_shared<world>(n + 1);
    x.spawn([w] {
      w->slot.activation_started();
      w->wake(&w->tasks[0]);
      for (int i = 0; i < 2; ++i) {
        w->slot.activation_started();
        if (task* t = w->next()) w->run(t);
      }
    });
    x.spawn([w, n, by_exchange] {
      using volley::detail::lifo_slot_test_access;
      for (int i = 1; i <= n; ++i) {
        task* t = &w->tasks[static_cast<std::size_t>(i)];
        bool handed =
            by_exchange ? lifo_slot_test_access::offer_by_exchange(w->slot, t) : w->slot.offer(t);
        if (!handed || (i % 2 == 0 && w->slot.take_back(t))) w->run(t);
      }
    });
    x.spawn([w] {
      sighting last;
      for (int i = 0; i < 2; ++i) {
        if (task* t = w->steal(last)) w->run(t);
      }
    });
    x.at_end([w] { w->check_at_end(true); });
  };
}

// The owner starts an activation between every two looks of the thief
// (each waits for the other: the thief's two looks never share one of the
// owner's activations), then takes the task itself.
std::function<void(execution&)> busy_owner(theft how) {
  return [how](execution& x) {
    auto w = std::make_shared<world>(1, how);
    auto looks_done = std::make_shared<model_atomic<int>>(0);
    auto moved_on = std::make_shared<model_atomic<int>>(0);
    x.spawn([w, looks_done, moved_on] {
      w->slot.activation_started();
      w->wake(&w->tasks[0]);
      for (int look = 1; look <= 2; ++look) {
        while (looks_done->load() < look) volley::checker::spin_wait();
        w->slot.activation_started();
        moved_on->fetch_add(1);
      }
      if (task* t = w->next()) w->run(t);
    });
    x.spawn([w, looks_done, moved_on] {
      sighting last;
      for (int i = 1; i <= 2; ++i) {
        if (task* t = w->steal(last)) w->run(t);
        looks_done->fetch_add(1);
        while (moved_on->load() < i) volley::checker::spin_wait();
      }
    });
    x.at_end([w] {
      check(w->stolen == 0, "a thief took the occupant of a worker that was moving along");
      w->check_at_end(true);
    });
  };
}

}  // namespace

TEST_CASE("checker lifo_slot: owner fills and takes, two thieves steal; each task runs once",
          "[checker][lifo_slot]") {
  check_clean("lifo_slot owner x 3 tasks + 2 thieves x 3 looks", bound(2),
              owner_and_thieves(3, 2, 3, theft::cas), 1000);
}

TEST_CASE("checker lifo_slot: one thief, every schedule; each task runs once",
          "[checker][lifo_slot]") {
  // two fibers, small enough for every schedule
  check_clean("lifo_slot owner x 2 tasks + 1 thief x 3 looks (unbounded)", bound(-1),
              owner_and_thieves(2, 1, 3, theft::cas), 1000);
}

TEST_CASE("checker lifo_slot: an occupant stuck behind a long handler is taken by a thief",
          "[checker][lifo_slot]") {
  check_clean(
      "lifo_slot stuck owner + a looping thief + a thief x 3 looks", bound(2),
      [](execution& x) {
        auto w = std::make_shared<world>(1);
        // The owner wakes the task and then stays inside its handler for ever:
        // it never takes the slot again (the fiber ends; nothing drains).
        x.spawn([w] {
          w->slot.activation_started();
          w->wake(&w->tasks[0]);
        });
        // A napping worker: looks again after every nap until the task ran.
        // (One looping thief only: two that wait on each other could be run in
        // turn for ever without the owner, a schedule no real machine makes.)
        x.spawn([w] {
          sighting last;
          while (w->tasks[0].runs == 0) {
            if (task* t = w->steal(last)) {
              w->run(t);
            } else {
              volley::checker::spin_wait();
            }
          }
        });
        // A second thief that looks three times, racing the first.
        x.spawn([w] {
          sighting last;
          for (int i = 0; i < 3; ++i) {
            if (task* t = w->steal(last)) w->run(t);
          }
        });
        x.at_end([w] {
          check(w->stolen == 1, "the stale occupant was not stolen exactly once");
          w->check_at_end(false);
        });
      },
      100);
}

TEST_CASE("checker lifo_slot: a theft by load + store is caught (a task runs twice)",
          "[checker][lifo_slot][known_bad]") {
  check_caught("lifo_slot load+store theft (known-bad)", bound(2),
               owner_and_thieves(3, 2, 3, theft::load_store), "twice");
}

TEST_CASE("checker lifo_slot: a worker that keeps starting activations keeps its slot",
          "[checker][lifo_slot]") {
  check_clean("lifo_slot busy owner + 1 thief", bound(2), busy_owner(theft::cas), 10);
}

TEST_CASE("checker lifo_slot: staleness judged by the occupant alone is caught (busy slot taken)",
          "[checker][lifo_slot][known_bad]") {
  check_caught("lifo_slot occupant-only staleness (known-bad)", bound(2),
               busy_owner(theft::occupant_only), "moving along");
}

TEST_CASE("checker lifo_slot: cells handed back by another worker run once, racing owner and thief",
          "[checker][lifo_slot]") {
  check_clean("lifo_slot owner + hand-back x 2 tasks + 1 thief x 2 looks", bound(2),
              hand_backs(2, false), 1000);
}

TEST_CASE("checker lifo_slot: a hand-back by exchange is caught (the displaced occupant is lost)",
          "[checker][lifo_slot][known_bad]") {
  check_caught("lifo_slot hand-back by exchange (known-bad)", bound(2), hand_backs(2, true),
               "lost");
}
