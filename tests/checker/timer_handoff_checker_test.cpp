// Exhaustive small-schedule checks of volley/engine/detail/timer_handoff.hpp:
// how workers hand timers to the timer thread (engine/src/timer_service.cpp)
// and wake it only when their deadline is earlier than the one it sleeps
// towards. The real class with model atomics; the timer thread and two
// producers.
//
// The world: the timer thread's wheel holds one far timer (tick 1000) that
// never comes due during a run, so whenever the thread sleeps it sleeps
// towards tick 1000; the producers arm timers due at ticks 5 and 7, which the
// thread takes as due as soon as it pops them. So every timer a producer
// hands over while the thread sleeps must get it woken — by its own producer
// or by one whose earlier claim is still being served.
//
// Properties checked in every schedule:
//   * every timer comes out of the queue exactly once, each producer's in
//     order, and the thread never sleeps for good while one waits (a sleep
//     is a wait for a notification that nobody sends: the run cannot finish
//     and fails as a livelock, max_steps);
//   * notifications stay few: a claim lowers the published deadline, so a
//     sleep is notified at most once per distinct earlier deadline.
//
// Known-bad variants kept below, each must be caught: a producer that looks
// at `sleeping_until` before it pushes, and a thread that sleeps although
// its last look (after publishing its deadline) found the queue non-empty.
//
// Memory model: the explorer runs sequentially consistent executions. The
// handshake is the store-buffering pattern and is correct only because all
// four accesses are seq_cst (timer_handoff.hpp says why); this test checks
// the protocol, not that choice of orders (the same split as
// handoff_mpsc_checker_test.cpp).
#include <volley/engine/detail/timer_handoff.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using handoff = volley::detail::basic_timer_handoff<model_atomic>;
using node = handoff::node;

constexpr std::uint64_t far_tick = 1000;

struct timer : node {
  int producer = 0;
  int seq = 0;
  std::uint64_t deadline = 0;
  bool popped = false;
};

enum class variant { correct, look_then_push, sleep_despite_look };

struct timer_world {
  handoff h;
  model_atomic<int> notified{0};  // the condition variable, as a semaphore
  variant v = variant::correct;
  std::vector<std::unique_ptr<timer[]>> timers;
  int per_producer;
  std::vector<int> next_seq;
  int taken = 0;
  int total = 0;
  int notifies = 0;
  int wakeups = 0;

  timer_world(int producers, int per) : per_producer(per), total(producers * per) {
    next_seq.assign(static_cast<std::size_t>(producers), 0);
    for (int p = 0; p < producers; ++p) {
      timers.push_back(std::make_unique<timer[]>(static_cast<std::size_t>(per)));
      for (int s = 0; s < per; ++s) {
        timer& t = timers.back()[s];
        t.producer = p;
        t.seq = s;
        t.deadline = p == 0 ? 5 : 7;
      }
    }
  }

  // timer_service::schedule: push, then notify if the push claimed a wake-up.
  // The second producer's last timer asks for a wake-up whatever its
  // deadline (the every-4096th-arm rule).
  void produce(int p) {
    for (int s = 0; s < per_producer; ++s) {
      timer& t = timers[static_cast<std::size_t>(p)][s];
      bool anyway = p == 1 && s == per_producer - 1;
      bool wake;
      if (v == variant::look_then_push) {
        std::uint64_t until = h.sleeping_until();
        (void)h.push(&t, t.deadline, anyway);
        wake = until != handoff::awake && (anyway || t.deadline < until);
      } else {
        wake = h.push(&t, t.deadline, anyway);
      }
      if (wake) {
        ++notifies;
        notified.fetch_add(1);
      }
    }
  }

  void take(node* n) {
    auto* t = static_cast<timer*>(n);
    bool real = false;
    for (auto& v : timers) {
      for (int s = 0; s < per_producer; ++s) real |= (&v[s] == t);
    }
    check(real, "pop handed out a node that is not a timer");
    if (!real) return;
    check(!t->popped, "a timer came out twice");
    t->popped = true;
    int& next = next_seq[static_cast<std::size_t>(t->producer)];
    check(t->seq == next, "a producer's timers came out of order");
    next = t->seq + 1;
    ++taken;
  }

  // timer_service::run, reduced to the hand-off: drain, then sleep towards
  // the far timer unless the queue may hold something.
  void run_thread() {
    while (taken < total) {
      h.wake_up();
      while (node* n = h.pop()) take(n);
      if (taken == total) break;
      if (v == variant::sleep_despite_look) {
        // Known-bad: sleeps whatever the last look found.
        (void)h.prepare_sleep(far_tick);
      } else if (!h.prepare_sleep(far_tick)) {
        volley::checker::spin_wait();  // a push is half done: another turn
        continue;
      }
      // Asleep until notified; nobody notifying is a livelock (max_steps).
      while (notified.load() == 0) volley::checker::spin_wait();
      notified.fetch_sub(1);
      ++wakeups;
    }
  }
};

std::function<void(execution&)> thread_and_two_producers(variant v, int per_producer) {
  return [v, per_producer](execution& x) {
    auto w = std::make_shared<timer_world>(2, per_producer);
    w->v = v;
    x.spawn([w] { w->run_thread(); });
    x.spawn([w] { w->produce(0); });
    x.spawn([w] { w->produce(1); });
    x.at_end([w] {
      check(w->taken == w->total, "a timer was never taken");
      check(!w->h.maybe_pending(), "the queue is not empty at the end");
      // A notify is sent only by a claim, and a claim lowers sleeping_until
      // below what the thread published: per sleep at most one per distinct
      // deadline (5, 7) and the forced one.
      check(w->notifies <= 3 * (w->wakeups + 1), "more notifications than sleeps could use");
    });
  };
}

}  // namespace

TEST_CASE("checker timer_handoff: the timer thread never sleeps past a handed-over timer",
          "[checker][timer_handoff]") {
  // max_steps 3000: a sleeping thread with nobody to wake it spins into this
  check_clean("timer_handoff thread + 2 producers x 2", bound(2, 3000),
              thread_and_two_producers(variant::correct, 2), 1001);
}

TEST_CASE("checker timer_handoff: a producer that looks before it pushes is caught (lost wake-up)",
          "[checker][timer_handoff][known_bad]") {
  check_caught("timer_handoff look-then-push (known-bad)", bound(2, 3000),
               thread_and_two_producers(variant::look_then_push, 1), "livelock");
}

TEST_CASE("checker timer_handoff: a thread that sleeps despite its last look is caught",
          "[checker][timer_handoff][known_bad]") {
  check_caught("timer_handoff sleep despite the last look (known-bad)", bound(2, 3000),
               thread_and_two_producers(variant::sleep_despite_look, 1), "livelock");
}
