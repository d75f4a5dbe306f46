// volley/queues/intrusive_mpsc.hpp — the actor mailbox queue.
//
// What it is for
// --------------
// An unbounded multi-producer / single-consumer queue of caller-owned nodes
// (Vyukov's intrusive MPSC queue). Producers never block and never spin on
// each other: push is one atomic exchange and one store, whatever the
// contention (wait-free; a push that meets a pending signal adds one CAS).
// The consumer pops with plain loads and stores.
//
// On top of Vyukov's queue the producer end carries a *mark* bit: the
// consumer sets it, with one CAS, when it finds the queue empty and gives the
// queue up ("nobody is consuming this queue now"); the next push sees the
// bit, clears it and reports `true`, and that pusher becomes responsible for
// getting the queue consumed again. In volley this bit *is* an actor's
// scheduling state: idle = marked, scheduled/running = unmarked. Exactly one
// of any number of racing senders learns that it must schedule the actor, and
// no separate state word is touched per message.
//
// When to use it: one consumer, any number of producers, nodes that can be
// embedded in the payload (one allocation per item). When not: several
// consumers (use injection_queue), a hard bound on length (use bounded_mpsc).
//
// Protocol and memory orders
// --------------------------
//   head_  (producers): the most recently pushed node, low bit = mark.
//   tail_  (consumer):  the most recently *consumed* node. It stays in the
//                       queue as the stub that `next` hangs off.
//
// push(n):  n->next = null;  prev = head_.exchange(n, acq_rel);
//           prev->next.store(n, release)
//   release: pairs with the consumer's acquire load of `next`, so the
//   payload written before push is visible to the consumer. acquire: when
//   the pusher reads a mark it takes over scheduling, and must see what the
//   consumer wrote before it marked (the CAS below is a release).
//
// pop():    next = tail_->next.load(acquire); if null → nothing visible.
//           Otherwise next becomes tail_ and the old tail is *retired*: its
//           memory may be reused by the caller. A consumed node is therefore
//           released one pop later; the queue owns exactly one node at rest.
//
// signal():  a producer wakes the consumer without pushing a node (volley
//           uses it for an actor's separate system-message lane): a CAS loop
//           sets the signal bit and clears the mark; it returns whether the
//           mark was set, exactly like push. A set signal bit makes the
//           consumer's next mark_empty fail (and clears the bit), so a
//           consumer can never give the queue up over a signal it has not
//           seen: both RMWs hit head_, so one of them sees the other. A push
//           that overwrites a set signal bit sets it again (see push).
//
// mark_empty(): CAS head_ from tail_ to tail_|1 (acq_rel). It succeeds only
//           if no push happened since the consumer's last pop, i.e. the queue
//           is truly empty. It fails when a producer has exchanged head_ but
//           not yet linked `next` (the one window where pop sees null on a
//           non-empty queue); the consumer then keeps the queue (reschedules)
//           instead of spinning on a preempted producer.
//
// mark_empty(released): the same CAS, but to &stub_|1: the embedded stub
//           goes back in as the queue's only node, and the last consumed
//           node, which was the stub until then, is handed back. An idle
//           queue then holds none of the caller's nodes (an idle actor keeps
//           no envelope). tail_ = &stub_ and stub_.next = null are written
//           before the CAS (undone if it fails, when the queue is still
//           ours); its release publishes them to the next owner, whose push
//           or signal reads the CAS's value with an acquire RMW. Nobody else
//           can hold the old node: head_ == tail_ means no push since it was
//           consumed. Cost: two plain stores more than mark_empty().
//
// Costs: push is one XCHG and one store, pop two loads and a store, no RMW.
// Measured (bench/micro/queues_bench.cpp, volley-micro-queues, the 2-core
// Debian 12 VM of results/, one run, 1M items): 1 producer -> 1 consumer
// 16.2 M items/s with a new/delete per node (17.0 M recycled), 2 producers
// 18.5 M, 4 producers 23.3 M; moodycamel in the same run 21.9 / 22.7 / 40.4 M
// (it batches, and is not intrusive: no node to hand over, no mark to keep),
// mutex + std::deque 13.8 / 21.9 / 21.8 M. With 2 cores, producer and
// consumer share a cache line per item; the figure is that line's round trip.
#pragma once

#include <atomic>
#include <cassert>
#include <cstdint>

#include <volley/queues/mpsc_node.hpp>

namespace volley::queues {

namespace detail {
struct intrusive_mpsc_test_access;  // tests/checker: the known-bad park() kept for the checker
}

/// Unbounded intrusive MPSC queue with a consumer-owned "empty" mark. See the
/// file comment for the protocol. Neither copyable nor movable: the queue's
/// initial stub lives inside it.
///
/// `Atom` is std::atomic except in the exhaustive checker (tests/checker/),
/// which substitutes a model atomic that lets it interleave every operation;
/// the default instantiation is the plain code (folly's `Atom` convention).
template <template <class> class Atom = std::atomic>
class basic_intrusive_mpsc {
 public:
  using node = basic_mpsc_node<Atom>;
  using mpsc_node = node;

  /// `marked` = start in the given-up state, so the first push reports true.
  explicit basic_intrusive_mpsc(bool marked = true) noexcept
      : head_(tag(&stub_, marked)), tail_(&stub_) {}

  basic_intrusive_mpsc(const basic_intrusive_mpsc&) = delete;
  basic_intrusive_mpsc& operator=(const basic_intrusive_mpsc&) = delete;

  /// Any thread. Wait-free, except right after a signal (then one signal()
  /// CAS loop). Returns true if the queue was marked: the caller has just
  /// taken over responsibility for getting it consumed.
  bool push(mpsc_node* n) noexcept { return push_chain(n, n); }

  /// Any thread: push(), for a chain the caller linked through `next`
  /// (first ... last, in order; last->next is set here). One exchange for the
  /// whole chain: the consumer reaches the links through prev->next's
  /// release, which comes after them. Returns what push() returns.
  bool push_chain(mpsc_node* first, mpsc_node* last) noexcept {
    last->next.store(nullptr, std::memory_order_relaxed);
    std::uintptr_t prev =
        head_.exchange(reinterpret_cast<std::uintptr_t>(last), std::memory_order_acq_rel);
    untag(prev)->next.store(first, std::memory_order_release);
    // The exchange replaced head_ outright and so dropped a pending signal
    // bit. head_ != tail_ alone does not make up for it: the consumer may pop
    // this node and then mark_empty with head_ == tail_, giving the queue up
    // over a signal it never looked for. Set the bit again; if the consumer
    // marked the queue in between, the re-signal takes the mark and this
    // pusher schedules the consumer. (prev can carry both bits only after
    // park(); then this push took the mark already.)
    bool took_mark = (prev & mark_bit) != 0;
    if (prev & signal_bit) took_mark |= signal();
    return took_mark;
  }

  /// Consumer only. Returns the next node or nullptr when nothing is visible.
  /// `retired` receives the node that stopped being the queue's stub (the one
  /// returned by the previous pop, or the embedded stub — then nullptr).
  mpsc_node* pop(mpsc_node*& retired) noexcept {
    mpsc_node* tail = tail_;
    mpsc_node* next = tail->next.load(std::memory_order_acquire);
    if (next == nullptr) {
      retired = nullptr;
      return nullptr;
    }
    tail_ = next;
    retired = tail == &stub_ ? nullptr : tail;
    return next;
  }

  /// Consumer only: pop() every node whose push completed before this call,
  /// then on while more are visible; `each(node, retired)` gets each popped
  /// node and the node it retired (as pop() reports it).
  ///
  /// A pop() loop alone stops at a push still in progress (head_ swapped,
  /// its predecessor's link not yet written) and so misses every node linked
  /// behind it, though their pushes completed: an actor's own tell to
  /// itself, made while a stranger's tell was half done, stays invisible.
  /// A consumer that must see every waiting node before it picks one (a
  /// priority mailbox) cannot pick then; this one waits the link out with
  /// `wait()`, which lasts as long as that pusher takes between its two
  /// steps. Pushes that start after the call are not waited for.
  template <class Each, class Wait>
  void pop_all_completed(Each&& each, Wait&& wait) {
    // acquire: pairs with the pushes' acq_rel exchange (only the address is
    // compared; links are read through pop()'s acquire as always).
    mpsc_node* const newest = untag(head_.load(std::memory_order_acquire));
    bool reached = tail_ == newest;
    for (;;) {
      mpsc_node* retired;
      mpsc_node* n = pop(retired);
      if (n == nullptr) {
        if (reached) return;
        wait();  // a push ahead of `newest` is half done
        continue;
      }
      // Compared only until reached: `newest` is not freed before then
      // (it is popped first, and retired by a later pop).
      reached = reached || n == newest;
      each(n, retired);
    }
  }

  /// Consumer only: is anything visible to pop? (A push in progress is not.)
  bool has_next() const noexcept { return tail_->next.load(std::memory_order_acquire) != nullptr; }

  /// Consumer only: the node the next pop returns, if one is visible, for a
  /// prefetch (the consumer may still be elsewhere; pop() is what takes it).
  mpsc_node* peek() const noexcept { return tail_->next.load(std::memory_order_acquire); }

  /// Consumer only, after pop returned nullptr: give the queue up. True if
  /// the queue was empty and is now marked; false if a push is under way or
  /// happened, and the consumer keeps the queue.
  /// A pending signal also makes it fail (and is consumed: the caller must
  /// look at whatever the signal announced before trying again).
  bool mark_empty() noexcept {
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(tail_);
    // acquire on failure: if a signal or a push beat us, what they published
    // before their RMW on head_ is visible to the consumer's next look.
    if (head_.compare_exchange_strong(expected, expected | mark_bit, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return true;
    }
    if (expected & signal_bit) head_.fetch_and(~signal_bit, std::memory_order_acq_rel);
    return false;
  }

  /// As mark_empty(), and on success also gives back the node the queue kept
  /// as its stub (the last one popped; nullptr if the embedded stub was in
  /// place): the caller may free it at once, and the idle queue holds none
  /// of the caller's nodes. On failure `released` is nullptr and nothing
  /// changed but what mark_empty() changes.
  bool mark_empty(mpsc_node*& released) noexcept {
    released = nullptr;
    mpsc_node* last = tail_;
    if (last == &stub_) return mark_empty();
    // Re-link the embedded stub before the CAS: once it succeeds, a pusher
    // on another thread links to the stub and another consumer pops from
    // tail_. The CAS's release publishes both stores to them.
    stub_.next.store(nullptr, std::memory_order_relaxed);
    tail_ = &stub_;
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(last);
    if (head_.compare_exchange_strong(expected, tag(&stub_, true), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      released = last;
      return true;
    }
    tail_ = last;  // the queue is still ours, and nobody looked at tail_
    if (expected & signal_bit) head_.fetch_and(~signal_bit, std::memory_order_acq_rel);
    return false;
  }

  /// Consumer only, after pop returned nullptr, on a queue that is never
  /// marked (an actor's system lane): if nothing was pushed since the last
  /// pop, put the embedded stub back and give back the last popped node
  /// (as mark_empty(released) does, without the mark). True if a node was
  /// given back; false if the stub was in place already or a push came.
  bool reclaim_stub(mpsc_node*& released) noexcept {
    released = nullptr;
    mpsc_node* last = tail_;
    if (last == &stub_) return false;
    stub_.next.store(nullptr, std::memory_order_relaxed);
    tail_ = &stub_;
    std::uintptr_t expected = reinterpret_cast<std::uintptr_t>(last);
    // release: a pusher that exchanges next sees the re-linked stub.
    if (head_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(&stub_),
                                      std::memory_order_acq_rel, std::memory_order_relaxed)) {
      released = last;
      return true;
    }
    tail_ = last;
    return false;
  }

  /// Any thread: wake the consumer without pushing (see the file comment).
  /// True if the queue was marked: the caller now holds the queue.
  bool signal() noexcept {
    std::uintptr_t old = head_.load(std::memory_order_relaxed);
    while (!head_.compare_exchange_weak(old, (old | signal_bit) & ~mark_bit,
                                        std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
    return (old & mark_bit) != 0;
  }

  /// Consumer only: give the queue up *without* emptying it — the consumer
  /// has decided not to look at the nodes it holds for now (an actor whose
  /// coroutine is suspended lets its user messages wait). The next push or
  /// signal takes the queue back, exactly as after mark_empty. Returns false
  /// if a signal is pending (it has been consumed and the queue is still
  /// the caller's: look at what the signal announced, then park again).
  bool park() noexcept {
    std::uintptr_t old = head_.fetch_or(mark_bit, std::memory_order_acq_rel);
    if ((old & signal_bit) == 0) return true;
    // A signal came before the mark: take the queue back if nobody else did.
    // Only a CAS from exactly what we wrote may do that. Every push, signal
    // and unmark clears the mark, so if head_ changed, its author now owns
    // the queue, may already run the consumer elsewhere, and may rely on that
    // consumer's mark_empty failing over a signal bit it set since: touching
    // head_ then (an unconditional fetch_and did) would erase that bit and
    // strand a system message, or write to a cell that was freed meanwhile.
    // acquire on both paths: what the signaller published is visible.
    std::uintptr_t marked = old | mark_bit;
    if (head_.compare_exchange_strong(marked, old & ~(mark_bit | signal_bit),
                                      std::memory_order_acq_rel, std::memory_order_acquire)) {
      return false;  // still ours
    }
    return true;  // a push or signal took it: its sender schedules us
  }

  /// Any thread: clear the mark without pushing. True if it was set, i.e. the
  /// caller now holds the queue (used to wake a consumer for work that lives
  /// elsewhere, such as an actor's system-message lane).
  bool unmark() noexcept {
    return (head_.fetch_and(~mark_bit, std::memory_order_acq_rel) & mark_bit) != 0;
  }

  /// Any thread; a snapshot that may be stale by the time it returns.
  bool is_marked() const noexcept {
    return (head_.load(std::memory_order_acquire) & mark_bit) != 0;
  }

  /// Consumer only, when the queue is abandoned (empty, nothing in flight):
  /// the node it still holds as its stub, which the caller may free. After
  /// this the queue must not be used.
  mpsc_node* release_stub() noexcept { return tail_ == &stub_ ? nullptr : tail_; }

 private:
  friend struct detail::intrusive_mpsc_test_access;

  static constexpr std::uintptr_t mark_bit = 1;
  static constexpr std::uintptr_t signal_bit = 2;
  static_assert(alignof(mpsc_node) >= 4, "the mark and signal live in the pointer's low bits");

  static std::uintptr_t tag(mpsc_node* n, bool marked) noexcept {
    return reinterpret_cast<std::uintptr_t>(n) | (marked ? mark_bit : 0);
  }
  static mpsc_node* untag(std::uintptr_t v) noexcept {
    return reinterpret_cast<mpsc_node*>(v & ~(mark_bit | signal_bit));
  }

  Atom<std::uintptr_t> head_;
  mpsc_node* tail_;
  mpsc_node stub_;
};

/// What volley uses: the real atomics.
using intrusive_mpsc = basic_intrusive_mpsc<>;

}  // namespace volley::queues
