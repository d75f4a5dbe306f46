// Tests for volley/queues/intrusive_mpsc.hpp: FIFO per producer, every node
// out exactly once, the retired-node hand-back, and the empty-mark protocol
// (exactly one party owns the queue at any time; no wake-up is lost).
#include <volley/queues/intrusive_mpsc.hpp>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "stress.hpp"

using volley::queues::intrusive_mpsc;
using volley::queues::mpsc_node;
using volley::test::chaos;
using volley::test::scaled;

namespace {

struct item : mpsc_node {
  item(std::uint32_t p, std::uint64_t s) : producer(p), seq(s) {}
  std::uint32_t producer;
  std::uint64_t seq;
};

item* as_item(mpsc_node* n) {
  return static_cast<item*>(n);
}

// Consumer-side bookkeeping. Not atomic on purpose: whoever owns the queue
// uses it, so under TSan a broken ownership hand-off shows up as a race here.
struct order_check {
  explicit order_check(std::size_t producers) : next(producers, 0) {}
  std::vector<std::uint64_t> next;
  std::uint64_t consumed = 0;
  std::uint64_t out_of_order = 0;

  void take(const item& it) {
    if (it.seq != next[it.producer]) ++out_of_order;
    next[it.producer] = it.seq + 1;
    ++consumed;
  }
  // Each producer's items came out as 0, 1, ..., n-1: every item exactly once.
  bool complete(std::uint64_t per_producer) const {
    for (auto n : next)
      if (n != per_producer) return false;
    return out_of_order == 0;
  }
};

// Counts parties that believe they own (must consume) the queue.
struct ownership {
  std::atomic<int> owners{0};
  std::atomic<int> violations{0};
  void acquire() {
    if (owners.fetch_add(1, std::memory_order_acq_rel) != 0)
      violations.fetch_add(1, std::memory_order_relaxed);
  }
  void release() { owners.fetch_sub(1, std::memory_order_acq_rel); }
};

// Pops until nothing is visible; frees retired nodes (fresh-node mode).
void pop_all(intrusive_mpsc& q, order_check& check) {
  mpsc_node* retired = nullptr;
  while (mpsc_node* n = q.pop(retired)) {
    check.take(*as_item(n));
    delete as_item(retired);
  }
}

// A second lane the queue's consumer also serves (an actor's system
// messages): a counter its senders bump before waking the consumer.
struct system_lane {
  std::atomic<std::uint64_t> pending{0};
  std::uint64_t done = 0;  // owner's bookkeeping, like order_check

  // release: pairs with take()'s acquire. The RMW on head_ that follows
  // (signal/unmark) is what the consumer's mark_empty synchronises with.
  void post() { pending.fetch_add(1, std::memory_order_release); }
  void take() { done += pending.exchange(0, std::memory_order_acq_rel); }
};

// The owner's loop, in the order an actor runs: system lane, then messages
// until none is visible, then give the queue up. A failed mark means a push
// or a signal is under way, so the owner keeps the queue and looks again.
// With signal() nothing else is needed: mark_empty fails over any signal the
// owner has not seen.
void drain_as_owner(intrusive_mpsc& q, ownership& own, order_check& check,
                    system_lane* sys = nullptr) {
  thread_local chaos c(reinterpret_cast<std::uintptr_t>(&c), 4);
  for (;;) {
    if (sys) sys->take();
    c.maybe_yield();  // widen the window between the two lanes
    pop_all(q, check);
    own.release();
    if (q.mark_empty()) return;
    own.acquire();
    std::this_thread::yield();  // let the preempted producer link its node
  }
}

void free_remaining(intrusive_mpsc& q) {
  mpsc_node* retired = nullptr;
  while (q.pop(retired) != nullptr) delete as_item(retired);
  delete as_item(q.release_stub());
}

}  // namespace

TEST_CASE("intrusive_mpsc: single-thread FIFO and retired nodes", "[intrusive_mpsc]") {
  intrusive_mpsc q(false);
  item a(0, 0), b(0, 1), c(0, 2);
  mpsc_node* retired = &a;
  CHECK(q.pop(retired) == nullptr);
  CHECK(retired == nullptr);
  CHECK_FALSE(q.has_next());

  CHECK_FALSE(q.push(&a));
  CHECK_FALSE(q.push(&b));
  CHECK(q.has_next());
  CHECK(q.pop(retired) == &a);
  CHECK(retired == nullptr);  // the embedded stub is never handed out
  CHECK(q.pop(retired) == &b);
  CHECK(retired == &a);  // a is released one pop later
  CHECK_FALSE(q.push(&c));
  CHECK(q.pop(retired) == &c);
  CHECK(retired == &b);
  CHECK(q.pop(retired) == nullptr);
  CHECK(q.release_stub() == &c);
}

TEST_CASE("intrusive_mpsc: peek names the node the next pop returns and takes nothing",
          "[intrusive_mpsc]") {
  intrusive_mpsc q(false);
  item a(0, 0), b(0, 1);
  CHECK(q.peek() == nullptr);
  CHECK_FALSE(q.push(&a));
  CHECK_FALSE(q.push(&b));
  CHECK(q.peek() == &a);
  CHECK(q.peek() == &a);  // twice: nothing was taken
  mpsc_node* retired = nullptr;
  CHECK(q.pop(retired) == &a);
  CHECK(q.peek() == &b);  // past the stub: the next node, not the last one popped
  CHECK(q.pop(retired) == &b);
  CHECK(q.peek() == nullptr);
  CHECK(q.pop(retired) == nullptr);
  CHECK(q.release_stub() == &b);
}

TEST_CASE("intrusive_mpsc: the mark is taken by exactly the next push or unmark",
          "[intrusive_mpsc]") {
  item a(0, 0), b(0, 1), c(0, 2);
  mpsc_node* retired = nullptr;

  SECTION("a new queue starts marked by default") {
    intrusive_mpsc q;
    CHECK(q.is_marked());
    CHECK(q.push(&a));
    CHECK_FALSE(q.is_marked());
    CHECK_FALSE(q.push(&b));
  }
  SECTION("a queue built unmarked reports no mark") {
    intrusive_mpsc q(false);
    CHECK_FALSE(q.is_marked());
    CHECK_FALSE(q.push(&a));
  }
  SECTION("mark_empty succeeds on an empty queue, fails with an item pending") {
    intrusive_mpsc q(false);
    CHECK(q.mark_empty());  // nothing ever pushed: the stub is head and tail
    CHECK(q.is_marked());
    CHECK(q.push(&a));
    CHECK_FALSE(q.mark_empty());  // a not popped yet: the consumer keeps the queue
    CHECK_FALSE(q.is_marked());
    CHECK(q.pop(retired) == &a);
    CHECK(q.mark_empty());
    CHECK(q.push(&b));        // exactly one pusher sees the mark...
    CHECK_FALSE(q.push(&c));  // ...the next one does not
    CHECK(q.pop(retired) == &b);
    CHECK(retired == &a);
    CHECK(q.pop(retired) == &c);
    CHECK(q.mark_empty());
    CHECK(q.release_stub() == &c);
  }
  SECTION("unmark takes the mark instead of a push") {
    intrusive_mpsc q;
    CHECK(q.unmark());
    CHECK_FALSE(q.unmark());
    CHECK_FALSE(q.push(&a));
    CHECK(q.pop(retired) == &a);
    CHECK(q.mark_empty());
    CHECK(q.unmark());
    CHECK_FALSE(q.push(&b));  // the unmarker holds the queue, not this pusher
  }
}

TEST_CASE("intrusive_mpsc: signal takes the mark and stops the next mark_empty",
          "[intrusive_mpsc]") {
  item a(0, 0), b(0, 1);
  mpsc_node* retired = nullptr;

  SECTION("on a marked queue the signaller takes the mark") {
    intrusive_mpsc q;
    CHECK(q.signal());
    CHECK_FALSE(q.is_marked());
    CHECK_FALSE(q.push(&a));
    CHECK_FALSE(q.signal());
  }
  SECTION("a signal makes one mark_empty fail, then the queue can be given up") {
    intrusive_mpsc q(false);
    CHECK_FALSE(q.signal());
    CHECK_FALSE(q.mark_empty());  // the owner has not looked since the signal
    CHECK(q.mark_empty());        // it has now (it was told so by the failure)
    CHECK(q.push(&a));
  }
  SECTION("a push after a signal does not hide the signal") {
    // The owner looked at its system lane, then a signal and a push came,
    // then the owner popped that push. Giving the queue up now would strand
    // what the signal announced: nobody else was told to schedule it.
    intrusive_mpsc q(false);
    CHECK_FALSE(q.signal());
    CHECK_FALSE(q.push(&a));
    CHECK(q.pop(retired) == &a);
    CHECK(q.pop(retired) == nullptr);
    CHECK_FALSE(q.mark_empty());
    CHECK(q.mark_empty());
    CHECK(q.push(&b));
  }
  SECTION("a signal after the mark hands the queue to the signaller, and a push to nobody") {
    intrusive_mpsc q(false);
    CHECK(q.mark_empty());
    CHECK(q.signal());
    CHECK_FALSE(q.push(&a));
    CHECK_FALSE(q.unmark());
  }
}

TEST_CASE("intrusive_mpsc: park gives the queue up with nodes still in it", "[intrusive_mpsc]") {
  item a(0, 0), b(0, 1);
  mpsc_node* retired = nullptr;

  SECTION("the next push takes the queue back; the parked nodes are still there") {
    intrusive_mpsc q(false);
    CHECK_FALSE(q.push(&a));
    CHECK(q.park());
    CHECK(q.is_marked());
    CHECK(q.push(&b));
    CHECK(q.pop(retired) == &a);
    CHECK(q.pop(retired) == &b);
  }
  SECTION("a signal takes a parked queue back") {
    intrusive_mpsc q(false);
    CHECK_FALSE(q.push(&a));
    CHECK(q.park());
    CHECK(q.signal());
    CHECK_FALSE(q.push(&b));
  }
  SECTION("a pending signal keeps the queue with the consumer, once") {
    intrusive_mpsc q(false);
    CHECK_FALSE(q.push(&a));
    CHECK_FALSE(q.signal());
    CHECK_FALSE(q.park());  // look at the signal first
    CHECK_FALSE(q.is_marked());
    CHECK(q.park());
    CHECK(q.push(&b));
  }
}

namespace {

// std::atomic with a hook that runs once, right after the next fetch_or: it
// lets a single-threaded test put other parties' steps exactly into the
// window between park()'s two RMWs, which random stress almost never hits.
template <class T>
struct hooked_atomic : std::atomic<T> {
  using std::atomic<T>::atomic;
  static inline void (*after_fetch_or)() = nullptr;
  T fetch_or(T v, std::memory_order order = std::memory_order_seq_cst) noexcept {
    T old = std::atomic<T>::fetch_or(v, order);
    if (after_fetch_or != nullptr) std::exchange(after_fetch_or, nullptr)();
    return old;
  }
};

using hooked_queue = volley::queues::basic_intrusive_mpsc<hooked_atomic>;
hooked_queue* hooked = nullptr;
bool second_sender_took_queue = false;
bool third_sender_took_queue = false;
bool second_worker_kept_queue = false;

}  // namespace

// Issue 11, bug 1, replayed step by step (the exhaustive checker in
// tests/checker/ finds the same schedule on its own). Worker 1 parks a
// suspended actor while a signal is pending; between park()'s fetch_or and
// its repair, sender 2 takes the mark and runs the actor on worker 2, whose
// park() meets sender 2's signal and keeps the actor; sender 3 then signals,
// relying on worker 2's next park failing. The old park() went on with an
// unconditional fetch_and that erased sender 3's bit: worker 2's park then
// succeeded and sender 3's system message was stranded in an idle actor.
TEST_CASE("intrusive_mpsc: park racing a second and a third signal loses neither",
          "[intrusive_mpsc][park]") {
  hooked_queue q(false);  // worker 1 runs the actor
  hooked = &q;
  CHECK_FALSE(q.signal());  // an earlier system message, already handled: its bit is still set
  hooked_atomic<std::uintptr_t>::after_fetch_or = [] {
    second_sender_took_queue = hooked->signal();  // sender 2 -> runs the actor on worker 2
    second_worker_kept_queue = !hooked->park();   // worker 2 meets that signal
    third_sender_took_queue = hooked->signal();   // sender 3: worker 2 is still running
  };
  const bool worker1_gave_up = q.park();
  CHECK(second_sender_took_queue);
  CHECK(second_worker_kept_queue);
  CHECK_FALSE(third_sender_took_queue);
  CHECK(worker1_gave_up);  // the actor runs on worker 2 now
  // Worker 2 drained the lane before sender 3's message arrived; its next
  // park must see sender 3's signal and keep the actor.
  CHECK_FALSE(q.park());
  CHECK_FALSE(q.is_marked());
  CHECK(q.park());  // nothing else pending: now it may go idle
  CHECK(q.is_marked());
  hooked = nullptr;
}

TEST_CASE("intrusive_mpsc: going idle hands the last node back; the idle queue holds none",
          "[intrusive_mpsc]") {
  item a(0, 0), b(0, 1), c(0, 2);
  mpsc_node* retired = nullptr;
  mpsc_node* released = nullptr;
  intrusive_mpsc q(true);

  SECTION("mark_empty(released) after the last pop gives back that node") {
    CHECK(q.push(&a));
    CHECK(q.pop(retired) == &a);
    CHECK(retired == nullptr);  // the embedded stub
    CHECK(q.pop(retired) == nullptr);
    CHECK(q.mark_empty(released));
    CHECK(released == &a);
    CHECK(q.release_stub() == nullptr);  // nothing of the caller's is left
    // The queue works on with its own stub: the next push takes the mark.
    CHECK(q.push(&b));
    CHECK(q.pop(retired) == &b);
    CHECK(retired == nullptr);
    CHECK(q.mark_empty(released));
    CHECK(released == &b);
  }
  SECTION("with the embedded stub in place nothing is released") {
    CHECK(q.push(&a));
    CHECK(q.pop(retired) == &a);
    CHECK(q.mark_empty(released));
    CHECK(released == &a);
    CHECK(q.push(&b));
    CHECK(q.pop(retired) == &b);
    CHECK(q.pop(retired) == nullptr);
    CHECK(q.mark_empty(released));
    CHECK(released == &b);
    CHECK(q.unmark());
    CHECK(q.mark_empty(released));
    CHECK(released == nullptr);
  }
  SECTION("a push or a signal since the last pop makes it fail and keeps the node") {
    CHECK(q.push(&a));
    CHECK(q.pop(retired) == &a);
    CHECK_FALSE(q.push(&b));
    CHECK_FALSE(q.mark_empty(released));
    CHECK(released == nullptr);
    CHECK(q.pop(retired) == &b);
    CHECK(retired == &a);  // handed back by pop as before, not twice
    CHECK_FALSE(q.signal());
    CHECK_FALSE(q.mark_empty(released));  // the signal is consumed
    CHECK(released == nullptr);
    CHECK(q.mark_empty(released));
    CHECK(released == &b);
  }
  SECTION("reclaim_stub on a never-marked lane gives back the last node unless a push came") {
    intrusive_mpsc lane(false);
    CHECK_FALSE(lane.reclaim_stub(released));  // the embedded stub is in place
    CHECK_FALSE(lane.push(&a));
    CHECK(lane.pop(retired) == &a);
    CHECK_FALSE(lane.push(&b));
    CHECK_FALSE(lane.reclaim_stub(released));  // b came after a
    CHECK(released == nullptr);
    CHECK(lane.pop(retired) == &b);
    CHECK(retired == &a);
    CHECK(lane.reclaim_stub(released));
    CHECK(released == &b);
    CHECK(lane.release_stub() == nullptr);
    CHECK_FALSE(lane.push(&c));
    CHECK(lane.pop(retired) == &c);
    CHECK(retired == nullptr);
    CHECK_FALSE(lane.is_marked());
  }
}

TEST_CASE("intrusive_mpsc: many producers, fresh nodes, each item once and in producer order",
          "[intrusive_mpsc][stress]") {
  constexpr std::uint32_t producers = 4;
  const std::uint64_t per_producer = scaled(1'000'000);
  intrusive_mpsc q(false);
  order_check check(producers);

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&q, p, per_producer] {
      chaos c(p);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        q.push(new item(p, s));
        c.maybe_yield();
      }
    });
  }
  const std::uint64_t total = per_producer * producers;
  unsigned spins = 0;
  while (check.consumed < total) {
    pop_all(q, check);
    volley::test::relax(spins);
  }
  for (auto& t : threads) t.join();

  CHECK(check.consumed == total);
  CHECK(check.out_of_order == 0);
  CHECK(check.complete(per_producer));
  mpsc_node* retired = nullptr;
  CHECK(q.pop(retired) == nullptr);
  free_remaining(q);
}

TEST_CASE("intrusive_mpsc: pushers that see the mark drain the queue; one owner at a time",
          "[intrusive_mpsc][stress]") {
  // Whoever's push returns true becomes the consumer (the hand-off moves the
  // consumer role between threads through the mark alone).
  constexpr std::uint32_t producers = 4;
  const std::uint64_t per_producer = scaled(500'000);
  intrusive_mpsc q;  // marked: the first pusher owns it
  ownership own;
  order_check check(producers);
  std::atomic<std::uint64_t> takeovers{0};

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      chaos c(100 + p);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        if (q.push(new item(p, s))) {
          own.acquire();
          takeovers.fetch_add(1, std::memory_order_relaxed);
          drain_as_owner(q, own, check);
        }
        c.maybe_yield();
      }
    });
  }
  for (auto& t : threads) t.join();

  CHECK(own.violations.load() == 0);
  CHECK(own.owners.load() == 0);
  CHECK(q.is_marked());                               // every owner gave the queue up...
  CHECK(check.consumed == per_producer * producers);  // ...and nothing was left in it
  CHECK(check.complete(per_producer));
  CHECK(takeovers.load() >= 1);
  free_remaining(q);
}

namespace {

// A dedicated consumer thread that sleeps until "scheduled" (a semaphore
// token from whoever took the mark), as an actor waits for a worker. It also
// serves a system lane whose senders wake it with signal() or, the older way,
// with unmark() (which needs the consumer to look again after marking).
enum class wake_with { signal, unmark };

struct scheduled_consumer {
  scheduled_consumer(intrusive_mpsc& q, ownership& own, std::size_t producers, wake_with mode)
      : q(q), own(own), mode(mode), check(producers), thread([this] { run(); }) {}

  intrusive_mpsc& q;
  ownership& own;
  const wake_with mode;
  order_check check;
  system_lane sys;
  std::counting_semaphore<> wake{0};
  std::atomic<bool> stop{false};
  std::thread thread;

  // Called by the party that took the mark.
  void schedule() {
    own.acquire();
    wake.release();
  }

  void post_system_message() {
    sys.post();
    if (mode == wake_with::signal ? q.signal() : q.unmark()) schedule();
  }

  void run() {
    for (;;) {
      wake.acquire();
      if (stop.load(std::memory_order_acquire)) return;
      if (mode == wake_with::signal) {
        drain_as_owner(q, own, check, &sys);
        continue;
      }
      for (;;) {
        drain_as_owner(q, own, check, &sys);
        // unmark() does not stop mark_empty: a system message posted before
        // the mark found the queue unmarked and woke nobody. Look once more
        // and take the queue back for it. (The sender's unmark RMW and our
        // mark CAS both hit head_; whichever came second sees the other.)
        if (sys.pending.load(std::memory_order_acquire) == 0) break;
        if (!q.unmark()) break;  // someone else took the mark and will wake us
        own.acquire();
      }
    }
  }

  // After all producers stopped: wait until the queue is given up for good.
  // Marked with nobody owning it is final once no one pushes any more.
  void finish() {
    unsigned spins = 0;
    while (!(own.owners.load() == 0 && q.is_marked())) volley::test::relax(spins);
    stop.store(true, std::memory_order_release);
    wake.release();
    thread.join();
  }
};

}  // namespace

TEST_CASE("intrusive_mpsc: the pusher that sees the mark schedules the consumer; no lost wake-up",
          "[intrusive_mpsc][stress]") {
  constexpr std::uint32_t producers = 3;
  const std::uint64_t per_producer = scaled(500'000);
  intrusive_mpsc q;
  ownership own;
  scheduled_consumer consumer(q, own, producers, wake_with::signal);

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      chaos c(200 + p, 16);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        if (q.push(new item(p, s))) consumer.schedule();
        c.maybe_yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  consumer.finish();

  CHECK(own.violations.load() == 0);
  CHECK(consumer.check.consumed == per_producer * producers);
  CHECK(consumer.check.complete(per_producer));
  free_remaining(q);
}

TEST_CASE("intrusive_mpsc: signal or unmark racing mark_empty and pushes; one owner, nothing lost",
          "[intrusive_mpsc][stress]") {
  const wake_with mode = GENERATE(wake_with::signal, wake_with::unmark);
  CAPTURE(mode == wake_with::signal ? "signal" : "unmark");
  constexpr std::uint32_t producers = 2;
  constexpr std::uint32_t system_senders = 2;
  const std::uint64_t per_producer = scaled(400'000);
  const std::uint64_t per_system_sender = scaled(200'000);
  intrusive_mpsc q;
  ownership own;
  scheduled_consumer consumer(q, own, producers, mode);

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      chaos c(300 + p, 16);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        if (q.push(new item(p, s))) consumer.schedule();
        c.maybe_yield();
      }
    });
  }
  for (std::uint32_t i = 0; i < system_senders; ++i) {
    threads.emplace_back([&, i] {
      chaos c(400 + i, 8);
      for (std::uint64_t s = 0; s < per_system_sender; ++s) {
        consumer.post_system_message();
        c.maybe_yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  consumer.finish();

  CHECK(own.violations.load() == 0);
  CHECK(consumer.sys.done == per_system_sender * system_senders);
  CHECK(consumer.check.consumed == per_producer * producers);
  CHECK(consumer.check.complete(per_producer));
  free_remaining(q);
}

TEST_CASE("intrusive_mpsc: small schedules of 3 parties with 1-3 items each, repeated",
          "[intrusive_mpsc][small]") {
  // Many short rounds: the interesting interleavings (a push between the
  // last pop and mark_empty, two pushes racing for one mark, a signal or an
  // unmark racing both) happen at the start and end of a burst, so run many
  // bursts. Whoever takes the mark drains (system lane first, then items).
  constexpr std::uint32_t threads_n = 3;
  const std::size_t rounds = scaled(30'000);
  enum class poke { none, unmark, signal };

  struct round_state {
    intrusive_mpsc q;
    ownership own;
    order_check check{threads_n};
    system_lane sys;
  };
  auto state = std::make_unique<round_state>();
  std::uint64_t failures = 0;
  std::uint64_t per_thread = 1;  // items each thread pushes in the current round
  poke how = poke::none;         // what the last thread does besides pushing

  // Runs in one thread while the others wait: check the round, set the next.
  std::size_t round = 0;
  auto between_rounds = [&]() noexcept {
    if (round > 0) {
      auto& s = *state;
      std::uint64_t messages = how == poke::signal ? per_thread : 0;
      bool ok = s.own.violations.load() == 0 && s.own.owners.load() == 0 && s.q.is_marked() &&
                s.check.complete(per_thread) && s.sys.done == messages;
      if (!ok) ++failures;
      free_remaining(s.q);
      state = std::make_unique<round_state>();
    }
    ++round;
    per_thread = 1 + round % 3;
    how = static_cast<poke>((round / 3) % 3);
  };
  std::barrier sync(threads_n, between_rounds);
  between_rounds();

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < threads_n; ++p) {
    threads.emplace_back([&, p] {
      chaos c(500 + p, 2);
      for (std::size_t r = 0; r < rounds; ++r) {
        round_state& s = *state;
        const std::uint64_t n = per_thread;
        const bool poker = p == threads_n - 1 && how != poke::none;
        for (std::uint64_t i = 0; i < n; ++i) {
          c.maybe_yield();
          bool owner = false;
          if (poker && how == poke::signal) {
            // This thread sends system messages only; the others push.
            s.sys.post();
            owner = s.q.signal();
          } else {
            owner = s.q.push(new item(p, i));
          }
          if (poker && how == poke::unmark && !owner) {
            c.maybe_yield();
            owner = s.q.unmark();
          }
          if (owner) {
            s.own.acquire();
            drain_as_owner(s.q, s.own, s.check, &s.sys);
          }
        }
        if (poker && how == poke::signal) {
          // No items from this thread this round: fill in its order record.
          s.check.next[p] = n;  // safe: written only here, read after the barrier
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& t : threads) t.join();
  // The completion step of the last barrier phase already checked that round.
  CHECK(failures == 0);
  CHECK(round == rounds + 1);
  free_remaining(state->q);
}
