// Exhaustive small-schedule checks of volley/queues/intrusive_mpsc.hpp: the
// real basic_intrusive_mpsc, instantiated with model atomics, run as an
// actor's two lanes (user mailbox + system lane) the way engine/src/
// activation.cpp and cell.cpp drive them, under every schedule of 3 threads
// with at most 2-3 preemptions.
//
// Properties checked in every schedule:
//   * at most one thread runs the actor at a time (the mark hand-off);
//   * an idle actor holds none of its messages: going idle with
//     mark_empty(released) hands back the last one (issue 11, "costs" 6);
//   * every message is handled exactly once, each sender's in order, and no
//     node is retired before it was consumed or retired twice;
//   * nothing is stranded: when every thread is done the actor is idle
//     (mailbox marked) and both lanes are empty.
//
// Known-bad variants are kept below and must be caught: the old park()
// (issue 11, bug 1: an unconditional fetch_and after the fetch_or), and a
// mark_empty(released) that re-links the stub after its CAS instead of before.
//
// Memory model: the explorer runs sequentially consistent executions. The
// queue's orders beyond SC are the standard Vyukov argument (a release
// store of `next` read by an acquire load; every RMW on head_ is acq_rel,
// and RMWs on one location are totally ordered even when relaxed), which
// the TSan stress tests in tests/queues/ exercise; no fence is involved.
#include <volley/queues/intrusive_mpsc.hpp>

#include <cstdio>
#include <deque>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace volley::queues::detail {

// Known-bad variants kept so the checker has to catch them.
struct intrusive_mpsc_test_access {
  // mark_empty(released) that re-links the embedded stub only after its CAS
  // succeeded, when another thread may already own the queue.
  template <class Queue>
  static bool mark_empty_relinking_late(Queue& q, typename Queue::node*& released) noexcept {
    released = nullptr;
    typename Queue::node* last = q.tail_;
    if (last == &q.stub_) return q.mark_empty();
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(last);
    if (q.head_.compare_exchange_strong(expected, Queue::tag(&q.stub_, true))) {
      q.stub_.next.store(nullptr, std::memory_order_relaxed);
      q.tail_ = &q.stub_;
      released = last;
      return true;
    }
    if (expected & Queue::signal_bit) q.head_.fetch_and(~Queue::signal_bit);
    return false;
  }

  // The park() that issue 11 found broken (bug 1).
  template <class Queue>
  static bool park_with_unconditional_fetch_and(Queue& q) noexcept {
    std::uintptr_t old = q.head_.fetch_or(Queue::mark_bit, std::memory_order_acq_rel);
    if ((old & Queue::signal_bit) == 0) return true;
    std::uintptr_t now =
        q.head_.fetch_and(~(Queue::mark_bit | Queue::signal_bit), std::memory_order_acq_rel);
    if (now & Queue::mark_bit) return false;
    return true;
  }
};

}  // namespace volley::queues::detail

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using queue = volley::queues::basic_intrusive_mpsc<model_atomic>;
using node = queue::node;

struct message : node {
  message(int s, int q) : sender(s), seq(q) {}
  int sender;
  int seq;
  bool consumed = false;
  bool retired = false;
};

enum class park_variant { fixed, unconditional_fetch_and };
// How an actor goes idle: mark_empty() keeps the last message as the stub;
// mark_empty(released) hands it back (what the engine does).
enum class idle_variant { keep_stub, release_stub, release_stub_relinking_late };

// An actor as the engine drives it. Plain fields are touched only by the
// thread that runs the actor, so a broken hand-off shows up as owners != 1.
struct actor {
  explicit actor(bool idle = true) : mailbox(idle) {}

  queue mailbox;           // its mark = idle
  queue system{false};     // never marked; wakes the actor through mailbox.signal()
  bool suspended = false;  // a coroutine waits: user messages wait, park() instead of mark_empty()
  park_variant variant = park_variant::fixed;
  idle_variant idle = idle_variant::release_stub;
  int owners = 0;
  int system_handled = 0;
  std::vector<int> next_seq = std::vector<int>(4, 0);
  int user_handled = 0;
  std::deque<message> messages;  // owns every node (stable addresses)

  message* make(int sender, int seq) { return &messages.emplace_back(sender, seq); }

  bool park() {
    if (variant == park_variant::fixed) return mailbox.park();
    return volley::queues::detail::intrusive_mpsc_test_access::park_with_unconditional_fetch_and(
        mailbox);
  }

  // True if the actor is idle now; a released stub is retired (freed).
  bool go_idle() {
    if (idle == idle_variant::keep_stub) return mailbox.mark_empty();
    node* released = nullptr;
    bool idle_now =
        idle == idle_variant::release_stub
            ? mailbox.mark_empty(released)
            : volley::queues::detail::intrusive_mpsc_test_access::mark_empty_relinking_late(
                  mailbox, released);
    if (released != nullptr) {
      auto* r = static_cast<message*>(released);
      check(idle_now, "mark_empty failed but released a node");
      check(r->consumed, "mark_empty released a node that was never consumed");
      check(!r->retired, "mark_empty released a node that was retired already");
      r->retired = true;
    }
    return idle_now;
  }

  // The system lane is never marked: after draining it, its last message is
  // handed back (reclaim_stub) unless a push came meanwhile.
  void reclaim_system_stub() {
    node* released = nullptr;
    bool reclaimed = system.reclaim_stub(released);
    check(reclaimed == (released != nullptr), "reclaim_stub's result and node disagree");
    if (released != nullptr) {
      auto* r = static_cast<message*>(released);
      check(r->consumed && !r->retired, "reclaim_stub gave back a node still in use");
      r->retired = true;
    }
  }

  message* pop(queue& lane) {
    node* retired = nullptr;
    node* n = lane.pop(retired);
    if (retired != nullptr) {
      auto* r = static_cast<message*>(retired);
      check(r->consumed, "a node was retired before it was consumed");
      check(!r->retired, "a node was retired twice");
      r->retired = true;
    }
    if (n == nullptr) return nullptr;
    auto* m = static_cast<message*>(n);
    check(!m->consumed && !m->retired, "a node came out twice");
    m->consumed = true;
    return m;
  }

  // One turn of the actor on some worker (engine/src/activation.cpp, minus
  // the budget and the linger): called by whoever took the mark.
  void acquire() {
    check(owners == 0, "two threads run the actor at once");
    ++owners;
  }
  // Called just before the RMW that may give the actor up: from that RMW on,
  // another thread may own it, and this one may touch nothing but head_.
  // There is no scheduling point between a successful give-up and the code
  // after it, so the hand-off is observed exactly where it happens.
  void release() { --owners; }

  void run() {
    acquire();
    for (;;) {
      while (pop(system) != nullptr) ++system_handled;
      reclaim_system_stub();
      if (suspended) {
        release();
        if (park()) return;
        acquire();  // a signal came first: drain the system lane, park again
        continue;
      }
      if (message* m = pop(mailbox)) {
        check(m->seq == next_seq[m->sender], "a sender's messages came out of order");
        next_seq[m->sender] = m->seq + 1;
        ++user_handled;
        continue;
      }
      if (system.has_next()) continue;
      release();
      if (go_idle()) return;
      acquire();  // a failed mark_empty changes nothing: the actor stayed ours
      if (system.has_next() || mailbox.has_next()) continue;
      // activation_end::more: a push may be half done; the worker requeues
      // the actor and runs it again later.
      volley::checker::spin_wait();
    }
  }

  void tell(int sender, int seq) {
    if (mailbox.push(make(sender, seq))) run();
  }
  void deliver_system(int sender) {
    system.push(make(sender, 0));
    if (mailbox.signal()) run();
  }

  void check_at_end(int users, int systems) {
    check(owners == 0, "the actor is still running after every thread finished");
    check(mailbox.is_marked(), "nobody runs the actor, but it is not marked idle");
    check(system_handled == systems, "a system message was stranded");
    if (!suspended) check(user_handled == users, "a user message was stranded");
    if (!suspended) check(!mailbox.has_next(), "the mailbox still holds messages");
    check(!system.has_next(), "the system lane still holds messages");
    check(system.release_stub() == nullptr, "an idle actor still holds a system message as stub");
    if (!suspended && idle != idle_variant::keep_stub) {
      check(mailbox.release_stub() == nullptr, "an idle actor still holds a message as its stub");
    }
  }
};

}  // namespace

TEST_CASE("checker intrusive_mpsc: two senders of two messages each; one owner, nothing lost",
          "[checker][intrusive_mpsc]") {
  check_clean(
      "mpsc 2x2 tells", bound(3),
      [](execution& x) {
        auto a = std::make_shared<actor>();
        for (int s = 0; s < 2; ++s) {
          x.spawn([a, s] {
            a->tell(s, 0);
            a->tell(s, 1);
          });
        }
        x.at_end([a] { a->check_at_end(4, 0); });
      },
      1000);
}

TEST_CASE("checker intrusive_mpsc: a signal racing tells and mark_empty is never lost",
          "[checker][intrusive_mpsc]") {
  // 3 preemptions: 39k schedules, 9 s under ASan
  check_clean(
      "mpsc tell+system+tell", bound(2),
      [](execution& x) {
        auto a = std::make_shared<actor>();
        x.spawn([a] { a->tell(0, 0); });
        x.spawn([a] { a->deliver_system(1); });
        x.spawn([a] { a->tell(2, 0); });
        x.at_end([a] { a->check_at_end(2, 1); });
      },
      1000);
}

TEST_CASE("checker intrusive_mpsc: the same race when going idle keeps the last message as stub",
          "[checker][intrusive_mpsc]") {
  check_clean(
      "mpsc tell+system+tell (mark_empty keeping the stub)", bound(2),
      [](execution& x) {
        auto a = std::make_shared<actor>();
        a->idle = idle_variant::keep_stub;
        x.spawn([a] { a->tell(0, 0); });
        x.spawn([a] { a->deliver_system(1); });
        x.spawn([a] { a->tell(2, 0); });
        x.at_end([a] { a->check_at_end(2, 1); });
      },
      1000);
}

TEST_CASE("checker intrusive_mpsc: re-linking the stub after the idle CAS is caught",
          "[checker][intrusive_mpsc][known_bad]") {
  check_caught("mpsc 2x2 tells, stub re-linked late (known-bad)", bound(2), [](execution& x) {
    auto a = std::make_shared<actor>();
    a->idle = idle_variant::release_stub_relinking_late;
    for (int s = 0; s < 2; ++s) {
      x.spawn([a, s] {
        a->tell(s, 0);
        a->tell(s, 1);
      });
    }
    x.at_end([a] { a->check_at_end(4, 0); });
  });
}

TEST_CASE("checker intrusive_mpsc: a running actor gives up to a tell or a signal exactly once",
          "[checker][intrusive_mpsc]") {
  check_clean(
      "mpsc running+tell+system", bound(3),
      [](execution& x) {
        auto a = std::make_shared<actor>();
        a->mailbox.push(a->make(0, 0));  // queued before the run: mailbox unmarked, owned by T0
        x.spawn([a] { a->run(); });
        x.spawn([a] { a->tell(1, 0); });
        x.spawn([a] { a->deliver_system(2); });
        x.at_end([a] { a->check_at_end(2, 1); });
      },
      1000);
}

namespace {

// Issue 11, bug 1. The actor is suspended (a coroutine waits for a reply) and
// T0 runs it with a signal already pending, so T0's park() meets the signal
// bit. T1 and T2 each deliver a system message (the reply, a stop). Every
// system message must be handled and the actor must end idle.
std::function<void(execution&)> park_race(park_variant variant) {
  return [variant](execution& x) {
    auto a = std::make_shared<actor>(/*idle=*/false);  // T0 runs it
    a->suspended = true;
    a->variant = variant;
    // A signal whose message T0 has already handled: its bit is still set.
    // (Set up outside the schedule: model atomics do not yield here.)
    (void)a->mailbox.signal();
    x.spawn([a] { a->run(); });
    x.spawn([a] { a->deliver_system(1); });
    x.spawn([a] { a->deliver_system(2); });
    x.at_end([a] { a->check_at_end(0, 2); });
  };
}

}  // namespace

TEST_CASE("checker intrusive_mpsc: park() racing two system messages strands none",
          "[checker][intrusive_mpsc][park]") {
  check_clean("mpsc park race (fixed)", bound(3), park_race(park_variant::fixed), 500);
}

TEST_CASE("checker intrusive_mpsc: the old park() (unconditional fetch_and) is caught",
          "[checker][intrusive_mpsc][park][known_bad]") {
  check_caught("mpsc park race (known-bad)", bound(3),
               park_race(park_variant::unconditional_fetch_and), "stranded");
}

namespace {

// A priority mailbox's take (engine/src/sorted_mailbox.cpp) sorts everything
// waiting before it picks. T0 runs the actor: a handler tells the actor
// something urgent (its push completes), then the take looks. T1, a
// stranger, tells it something at the same time. If T1's push has swapped
// head_ but not yet linked when T0's lands behind it, a pop() loop stops at
// T1's missing link and the take never sees the urgent message, though it
// was sent before the look: it would pick a less urgent one first (the
// priority_mailbox_test flake). pop_all_completed() waits the link out.
enum class take_variant { all_completed, pop_until_empty };

std::function<void(execution&)> take_after_own_tell(take_variant variant) {
  return [variant](execution& x) {
    auto a = std::make_shared<actor>(/*idle=*/false);  // T0 runs it
    x.spawn([a, variant] {
      a->mailbox.push(a->make(0, 0));  // the urgent tell to itself, complete
      bool urgent_seen = false;
      int seen = 0;
      auto each = [&](node* n, node*) {
        ++seen;
        if (static_cast<message*>(n)->sender == 0) urgent_seen = true;
      };
      if (variant == take_variant::all_completed) {
        a->mailbox.pop_all_completed(each, [] { spin_wait(); });
      } else {
        node* retired;
        while (node* n = a->mailbox.pop(retired)) each(n, retired);
      }
      check(urgent_seen, "the take missed a message sent before it looked");
      check(seen <= 2, "the take saw a message twice");
    });
    x.spawn([a] { a->mailbox.push(a->make(1, 0)); });  // a stranger's tell
  };
}

}  // namespace

TEST_CASE("checker intrusive_mpsc: a sorting take sees a tell linked behind a half-done push",
          "[checker][intrusive_mpsc][sorted]") {
  check_clean("mpsc sorted take behind a half-done push", bound(-1),
              take_after_own_tell(take_variant::all_completed), 300);
}

TEST_CASE("checker intrusive_mpsc: a sorting take that pops until empty is caught",
          "[checker][intrusive_mpsc][sorted][known_bad]") {
  check_caught("mpsc sorted take popping until empty (known-bad)", bound(-1),
               take_after_own_tell(take_variant::pop_until_empty), "missed a message");
}
