// volley/queues/handoff_mpsc.hpp — an intrusive MPSC queue that hands each node
// to the consumer outright.
//
// What it is for
// --------------
// Threads handing work to one loop thread that must own each item as soon as
// it pops it: the remote transport's inbox (frames and commands for the
// io_uring loop, remote/src/transport*.cpp), where a popped item is sent and
// released at once. Producers link their own node with one atomic exchange
// and one release store; they never wait for each other and never allocate.
//
// How it differs from intrusive_mpsc (the actor mailbox): both are Vyukov's
// intrusive queue over the same node type (mpsc_node.hpp). intrusive_mpsc
// keeps the last consumed node as its stub, hands it back one pop later and
// carries the mark/signal bits that make it an actor's scheduling state.
// handoff_mpsc re-inserts its own embedded stub instead, so the node that pop
// returns belongs to the consumer immediately, at the cost of an extra
// exchange when the queue runs dry; it has no mark: a loop thread that sleeps
// pairs the queue with its own flag (see "Sleep/wake" below).
//
// When not to use it: an actor mailbox (intrusive_mpsc: no stub re-insertion,
// and the mark), several consumers (injection_queue), a bound (bounded_mpsc).
//
// Memory ordering
// ---------------
// push() exchanges tail_ seq_cst: the exchange orders the node's own
// initialisation before the node becomes reachable and chains producers (an
// acq_rel exchange would do for that), and it is one of the four accesses of
// the sleep/wake handshake below, which needs a single total order. Then it
// publishes prev->next with release; pop() reads next with acquire, pairing
// with that release, so the node's payload is visible to the consumer.
//
// One window is inherent: between a producer's exchange and its store of
// prev->next, the consumer sees the queue as empty although tail_ moved.
// pop() then returns nullptr, while maybe_nonempty() says true.
//
// Sleep/wake (how the transport uses it): the loop stores `sleeping = true`
// (seq_cst) and then calls maybe_nonempty() (a seq_cst load of tail_); a
// producer pushes (the seq_cst exchange of tail_) and then loads `sleeping`
// (seq_cst), claiming it with an exchange and writing an eventfd only if it
// was set. That is the store-buffering pattern: with all four accesses
// seq_cst at least one side sees the other's store, so no item is left
// behind by a sleeping loop, and a producer makes no syscall while the loop
// is awake. tests/checker/handoff_mpsc_checker_test.cpp runs this handshake
// under every interleaving (sequentially consistent executions: it checks
// the protocol, not the need for seq_cst, which is the SB argument above),
// with push() and with push_chain() of a producer's batch.
//
// Memory: one pointer per item (embedded), two cache lines for the queue.
// Speed: not measured on its own; the transport's figures are in
// bench/remote/.
#pragma once

#include <atomic>

#include <volley/queues/cache_line.hpp>
#include <volley/queues/mpsc_node.hpp>

namespace volley::queues {

namespace detail {
struct handoff_mpsc_test_access;  // tests/checker: a known-bad push_chain kept for the checker
}

/// Unbounded intrusive MPSC queue whose pop gives the node to the caller.
/// Neither copyable nor movable: the stub lives inside it. `Atom` is
/// std::atomic except in the exhaustive checker (tests/checker/).
template <template <class> class Atom = std::atomic>
class basic_handoff_mpsc {
 public:
  using node = basic_mpsc_node<Atom>;

  basic_handoff_mpsc() noexcept : tail_(&stub_), head_(&stub_) {}
  basic_handoff_mpsc(const basic_handoff_mpsc&) = delete;
  basic_handoff_mpsc& operator=(const basic_handoff_mpsc&) = delete;

  /// Any thread. Never blocks.
  void push(node* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    node* prev = tail_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  /// Any thread. Links `first`..`last` (already linked to each other through
  /// `next`, in order) with one exchange: a producer's batch stays in order
  /// and costs what one push costs. The same orderings as push().
  void push_chain(node* first, node* last) noexcept {
    last->next.store(nullptr, std::memory_order_relaxed);
    node* prev = tail_.exchange(last, std::memory_order_seq_cst);
    prev->next.store(first, std::memory_order_release);
  }

  /// Consumer thread only. The oldest node, now the caller's; nullptr when
  /// empty (or a push is half done: maybe_nonempty() then says true).
  node* pop() noexcept {
    node* head = head_;
    node* next = head->next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (!next) return nullptr;
      head_ = head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next) {
      head_ = next;
      return head;
    }
    // head is the last linked node; unless a producer is mid-push, re-insert
    // the stub behind it so head can be handed out.
    if (head != tail_.load(std::memory_order_acquire)) return nullptr;
    push(&stub_);
    next = head->next.load(std::memory_order_acquire);
    if (next) {
      head_ = next;
      return head;
    }
    return nullptr;
  }

  /// Consumer thread only: whether a pop would find something (or a push is
  /// in progress). head_ is always an unconsumed node or the stub, so the
  /// queue is empty exactly when both ends are at the stub. seq_cst: see
  /// "Sleep/wake" in the file comment.
  bool maybe_nonempty() const noexcept {
    return head_ != &stub_ || tail_.load(std::memory_order_seq_cst) != &stub_;
  }

 private:
  friend struct detail::handoff_mpsc_test_access;

  alignas(cache_line_size) Atom<node*> tail_;  // producers' side, own cache line
  alignas(cache_line_size) node* head_;        // consumer's side
  node stub_;
};

using handoff_mpsc = basic_handoff_mpsc<>;

}  // namespace volley::queues
