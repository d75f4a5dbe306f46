// volley/remote/detail/intrusive_mpsc.hpp — the queue other threads use to hand
// frames to the transport's loop thread.
//
// Vyukov's intrusive multi-producer single-consumer queue: a producer links
// its node with one atomic exchange on the tail and one release store, never
// waits for another producer and never allocates (the node is the caller's).
// The consumer owns the head and a stub node that keeps the list non-empty.
//
// Memory ordering: push() exchanges tail_ (seq_cst: it orders the node's own
// initialisation before it becomes reachable and chains producers, and it takes
// part in the sleep/wake handshake of the loop, a store-buffering pattern that
// needs a single total order — see transport.cpp), then
// publishes prev->next with release; pop() reads next with acquire, pairing
// with that release, so the node's payload is visible to the consumer.
//
// One window is inherent: between a producer's exchange and its store of
// prev->next, the consumer sees the queue as empty although tail_ moved. The
// consumer treats that as "empty for now"; the producer's wake-up, sent after
// its push completes, makes sure the item is picked up on the next turn.
#pragma once

#include <atomic>

namespace volley::remote::detail {

struct mpsc_node {
  std::atomic<mpsc_node*> next{nullptr};
};

class intrusive_mpsc {
 public:
  intrusive_mpsc() noexcept : tail_(&stub_), head_(&stub_) {}
  intrusive_mpsc(const intrusive_mpsc&) = delete;
  intrusive_mpsc& operator=(const intrusive_mpsc&) = delete;

  /// Any thread. Never blocks.
  void push(mpsc_node* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    mpsc_node* prev = tail_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  /// Consumer thread only. nullptr when empty (or a push is half done).
  mpsc_node* pop() noexcept {
    mpsc_node* head = head_;
    mpsc_node* next = head->next.load(std::memory_order_acquire);
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
  /// in progress). head_ is always an unconsumed node or the stub, so the queue
  /// is empty exactly when both ends are at the stub. seq_cst: see push().
  bool maybe_nonempty() const noexcept {
    return head_ != &stub_ || tail_.load(std::memory_order_seq_cst) != &stub_;
  }

 private:
  alignas(64) std::atomic<mpsc_node*> tail_;  // producers' side, own cache line
  alignas(64) mpsc_node* head_;               // consumer's side
  mpsc_node stub_;
};

}  // namespace volley::remote::detail
