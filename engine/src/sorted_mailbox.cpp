// engine/src/sorted_mailbox.cpp — priority and control-aware mailboxes (protocol:
// sorted_mailbox.hpp).
#include "sorted_mailbox.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <thread>
#include <utility>

#include "cpu_relax.hpp"
#include "system_core.hpp"

namespace volley::detail {

namespace {

/// Pauses a sorted take spends on a half-done push before it yields the
/// core: the pusher finishes within a few instructions unless preempted
/// between its exchange and its link, and then only a yield lets it run.
constexpr unsigned push_wait_yield_every = 64;

/// The priority function threw on `e`: the message is not handled. It is
/// reported (an `unhandled` dead letter; an ask fails with errc::unhandled)
/// and its payload destroyed here; the envelope itself is the queue's stub
/// and is freed when the queue retires it.
void refuse(cell_base* c, envelope* e, const char* what) noexcept {
  try {
    std::fprintf(stderr,
                 "volley: the priority function of %s threw on a %.*s (%s); "
                 "the message is a dead letter\n",
                 c->path().c_str(), static_cast<int>(e->info->name.size()), e->info->name.data(),
                 what);
  } catch (...) {
    // No memory for the path: the dead letter below still counts it.
  }
  c->sys_->dead_letter(c, e, dead_letter_reason::unhandled);
  e->info->drop(e, dead_letter_reason::unhandled);
}

/// False if the priority function threw (the message was refused).
bool add(cell_base* c, sorted_mailbox& sm, envelope* e) {
  int p;
  if (sm.what == mailbox::kind::control_aware) {
    p = e->info->control ? 0 : 1;
  } else {
    try {
      p = sm.priority(message_view(e));
    } catch (const std::exception& ex) {
      refuse(c, e, ex.what());
      return false;
    } catch (...) {
      refuse(c, e, "not a std::exception");
      return false;
    }
  }
  std::size_t i = sm.last;
  if (i >= sm.buckets.size() || sm.buckets[i].priority != p) {
    // Binary search: buckets are kept when empty, so a mailbox that has seen
    // many distinct priorities pays log2 of their number, once per change
    // of priority between consecutive messages (a run of one hits `last`).
    auto at =
        std::lower_bound(sm.buckets.begin(), sm.buckets.end(), p,
                         [](const sorted_mailbox::bucket& b, int q) { return b.priority < q; });
    if (at == sm.buckets.end() || at->priority != p) {
      at = sm.buckets.insert(at, sorted_mailbox::bucket{p, {}, 0});  // once per priority
      if (static_cast<std::size_t>(at - sm.buckets.begin()) < sm.first) ++sm.first;  // shifted
    }
    i = static_cast<std::size_t>(at - sm.buckets.begin());
    sm.last = i;
  }
  sm.buckets[i].items.push_back(e);
  if (i < sm.first) sm.first = i;
  ++sm.waiting;
  return true;
}

void leave_work(shared_work& w, cell_base* c) noexcept {
  detail::lock_guard lock(w.mu);
  std::erase(w.members, c);
}

/// Wake one live member that is idle. None idle: every live member is busy
/// and looks at the queue before it idles. The caller has fenced (seq_cst)
/// after seeing the work, so a member it finds busy sees that work when it
/// marks itself and looks (the pairing of shared_work's comment).
void wake_member(shared_work& w) VOLLEY_REQUIRES(w.mu) {
  for (cell_base* c : w.members) {
    if (c->state() != lifecycle::alive) continue;
    if (c->mailbox_.is_marked() && c->mailbox_.unmark()) {
      c->schedule_after_unmark();
      return;
    }
  }
}

/// Work waits in the shared queue and the caller will not take it (a
/// routee that stopped, a sender that found no live routee): wake a member
/// to take it, or, with no member left, dead-letter all of it in the name of
/// `stopped` (a routee that is no longer alive, whose stop reason gives the
/// dead letters theirs).
void hand_on(shared_work& w, cell_base* stopped) noexcept {
  bool orphaned;
  {
    detail::lock_guard lock(w.mu);
    orphaned = w.members.empty();
    if (!orphaned) wake_member(w);
  }
  if (!orphaned) return;
  // Outside the lock: dropping an ask runs its continuation, which may send
  // through this pool again. A push after this loop comes from a sender
  // that sees no live routee either, and hands its own message on.
  while (auto e = w.queue.try_pop()) {
    dead_letter_after_stop(stopped, *e);
    retire(*e);
  }
}

}  // namespace

sorted_mailbox::~sorted_mailbox() {
  // A routee that leaves in its last activation is off the list by now;
  // this only covers one destroyed without such an activation.
  if (work != nullptr && !left_work) leave_work(*work, cell);
  // Reached with envelopes only if a cell dies without draining (it does
  // not: a dead cell's activation dead-letters all it holds). The stub, if
  // still waiting, is the queue's to free.
  for (bucket& b : buckets) {
    for (std::size_t i = b.next; i < b.items.size(); ++i) {
      if (b.items[i] != stub) discard(b.items[i], dead_letter_reason::recipient_stopped);
    }
  }
}

shared_work::~shared_work() {
  while (auto e = queue.try_pop()) discard(*e, dead_letter_reason::recipient_stopped);
}

namespace {

envelope* take_balanced(cell_base* c, sorted_mailbox& sm, bool& owned) noexcept {
  // Its own mailbox first (what was sent to this routee by name), as the
  // default mailbox does: the popped envelope stays the queue's stub.
  queues::mpsc_node* retired;
  queues::mpsc_node* n = c->mailbox_.pop(retired);
  if (retired != nullptr) retire(static_cast<envelope*>(retired));
  if (n != nullptr) {
    owned = false;
    return static_cast<envelope*>(n);
  }
  // A stopping routee leaves the shared work to the others.
  if (c->state_.load(std::memory_order_relaxed) != lifecycle::alive) return nullptr;
  if (auto e = sm.work->queue.try_pop()) {
    owned = true;  // in no mailbox: freed after handling
    return *e;
  }
  return nullptr;
}

}  // namespace

bool mark_idle_sorted(cell_base* c, queues::mpsc_node*& released) noexcept {
  sorted_mailbox& sm = *c->extras_if_any()->sorted;
  if (sm.what != mailbox::kind::balancing) return c->mailbox_.mark_empty(released);
  // relaxed: the worker's own store (begin_stop, finalize).
  const bool alive = c->state_.load(std::memory_order_relaxed) == lifecycle::alive;
  shared_work* work = sm.work.get();
  if (!alive && !sm.left_work) {
    // Before the mark: from then on another activation may run (and free) us.
    sm.left_work = true;
    leave_work(*work, c);
  }
  // Once marked, the cell may run (and die) elsewhere: our own count keeps
  // it, its extras and through them the shared queue, for the look below.
  c->add_ref();
  if (!c->mailbox_.mark_empty(released)) {
    c->release();  // not the last: the activation or the parent counts it
    return false;
  }
  // seq_cst: pairs with the fence in offer_work and hand_on's callers (see
  // shared_work): a sender that found us busy sees the mark, or we see its push.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!work->queue.empty_approx()) {
    if (!alive) {
      // We take no more work (we may have been woken for this very message):
      // a live member must, or nobody is left to.
      hand_on(*work, c);
    } else if (c->mailbox_.unmark()) {
      // Work came while we gave up, and nobody else took the cell: ours again.
      if (released != nullptr) retire(static_cast<envelope*>(std::exchange(released, nullptr)));
      c->release();
      return false;
    }
  }
  c->release();
  return true;
}

std::shared_ptr<shared_work> make_shared_work() {
  return std::make_shared<shared_work>();
}

void offer_work(shared_work& w, envelope* e, cell_base* const* routees, std::size_t n,
                std::size_t start) {
  w.queue.push(e);
  // seq_cst: pairs with the fence in mark_idle_sorted: a routee that marked
  // itself idle before this point is seen marked below; one that marks
  // after it sees the push.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool any_alive = false;
  for (std::size_t i = 0; i < n; ++i) {
    cell_base* c = routees[(start + i) % n];
    if (c->state() != lifecycle::alive) continue;
    any_alive = true;
    if (c->mailbox_.is_marked() && c->mailbox_.unmark()) {
      // Should it stop before it runs, it hands the work on (mark_idle_sorted).
      c->schedule_after_unmark();
      return;
    }
  }
  // Every live routee is busy: each looks at the shared queue before it
  // idles, or hands it on if it stops instead. No live routee in this table
  // (a newer one may hold routees added since, or none be left): hand on.
  if (!any_alive) hand_on(w, routees[start % n]);
}

void join_work(shared_work& w, cell_base* c) {
  {
    detail::lock_guard lock(w.mu);
    // A routee that stopped already has left (or never will join): its
    // state was stored before it took the mutex to leave.
    if (c->state() != lifecycle::alive) return;
    w.members.push_back(c);
  }
  // Work queued before it joined goes to the idle newcomer at once.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!w.queue.empty_approx()) hand_on(w, c);
}

envelope* take_sorted(cell_base* c, bool& owned) noexcept {
  sorted_mailbox& sm = *c->extras_if_any()->sorted;
  if (sm.what == mailbox::kind::balancing) return take_balanced(c, sm, owned);
  // Everything sent before this look is sorted before the pick, even what
  // was linked behind a stranger's half-done push (the actor's own urgent
  // tell to itself while a count query was being sent): a pick made without
  // it would hand over a less urgent message first.
  unsigned spins = 0;
  c->mailbox_.pop_all_completed(
      [&](queues::mpsc_node* n, queues::mpsc_node* retired) {
        if (retired != nullptr && sm.stub_taken) retire(static_cast<envelope*>(retired));
        // Otherwise the retired stub still waits in its bucket, which owns it now.
        auto* e = static_cast<envelope*>(n);
        sm.stub = e;
        // A refused message has left already: the queue retires it as taken.
        sm.stub_taken = !add(c, sm, e);
      },
      [&] {
        // The pusher is between two instructions, unless it was preempted
        // there: then give it the core (it may share ours).
        if (++spins % push_wait_yield_every == 0) std::this_thread::yield();
        cpu_relax();
      });
  if (sm.waiting == 0) return nullptr;
  // Buckets before `first` are empty: the scan skips them.
  for (; sm.first < sm.buckets.size(); ++sm.first) {
    sorted_mailbox::bucket& b = sm.buckets[sm.first];
    if (b.next == b.items.size()) continue;
    envelope* e = b.items[b.next++];
    if (b.next == b.items.size()) {
      b.items.clear();  // keeps its capacity: no allocation in steady state
      b.next = 0;
    }
    --sm.waiting;
    owned = e != sm.stub;
    if (!owned) sm.stub_taken = true;
    return e;
  }
  return nullptr;  // unreachable: waiting > 0
}

void install_mailbox(cell_base* c, const mailbox& m) {
  if (m.what == mailbox::kind::fifo) return;
  if (m.what == mailbox::kind::priority && m.priority == nullptr) {
    throw std::invalid_argument("volley: priority_mailbox needs a priority function");
  }
  if (m.what == mailbox::kind::balancing && m.work == nullptr) {
    throw std::invalid_argument("volley: a balancing mailbox needs its pool's shared queue");
  }
  c->extras().sorted = std::make_unique<sorted_mailbox>(m.what, m.priority);
  c->extras().sorted->work = m.work;
  c->extras().sorted->cell = c;
  c->sorted_ = true;
}

}  // namespace volley::detail
