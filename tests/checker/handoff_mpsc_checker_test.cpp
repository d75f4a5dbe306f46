// Exhaustive small-schedule checks of volley/queues/handoff_mpsc.hpp, the
// remote transport's inbox, together with the loop's sleep/wake handshake
// (remote/src/transport.cpp push(), transport_loop.cpp turn_sleep()): the
// real queue with model atomics, two producers and the loop thread.
//
// Properties checked in every schedule:
//   * every item comes out exactly once, each producer's in order, and pop
//     hands out only real items (never the queue's stub);
//   * no lost wake-up: the loop never sleeps for good while an item waits. A
//     sleeping loop is a fiber that waits for the eventfd; if nobody writes
//     it, the run cannot finish and fails as a livelock (max_steps).
//
// Producer 0 may instead link its items into a chain of its own and push
// them with one push_chain() (a staged sender's batch, remote/src/
// transport_stage.cpp) against producer 1's single pushes.
//
// Known-bad variants are kept below and must be caught: a handshake in
// which the producer looks at `sleeping` before it pushes, and a
// push_chain() that swings the tail to the chain's first node instead of
// its last.
//
// Memory model: the explorer runs sequentially consistent executions. The
// handshake is the store-buffering pattern and is correct only because all
// four accesses are seq_cst (see the header); under SC any orders pass, so
// this test checks the protocol, not that choice of orders.
#include <volley/queues/handoff_mpsc.hpp>

#include <cstdio>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace volley::queues::detail {

struct handoff_mpsc_test_access {
  // Swings the tail to `first`: the chain's later nodes are cut off by the
  // next push, and pop waits for ever on a "half-done" push.
  template <class Queue>
  static void push_chain_to_first(Queue& q, typename Queue::node* first,
                                  typename Queue::node* last) noexcept {
    last->next.store(nullptr, std::memory_order_relaxed);
    typename Queue::node* prev = q.tail_.exchange(first, std::memory_order_seq_cst);
    prev->next.store(first, std::memory_order_release);
  }
};

}  // namespace volley::queues::detail

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using queue = volley::queues::basic_handoff_mpsc<model_atomic>;
using node = queue::node;

struct item : node {
  int producer = 0;
  int seq = 0;
  bool popped = false;
};

enum class handshake { push_then_look, look_then_push };
/// How producer 0 pushes: one at a time, or its items as one chain.
enum class batching { single, chain, chain_to_first };

struct loop_world {
  queue inbox;
  model_atomic<bool> sleeping{false};
  model_atomic<int> eventfd{0};
  handshake variant = handshake::push_then_look;
  batching first_producer = batching::single;
  std::vector<std::unique_ptr<item[]>> items;
  int per_producer;
  std::vector<int> next_seq;
  int handled = 0;
  int total = 0;
  int wakeups = 0;

  loop_world(int producers, int per)
      : per_producer(per),
        next_seq(static_cast<std::size_t>(producers), 0),
        total(producers * per) {
    for (int p = 0; p < producers; ++p) {
      items.push_back(std::make_unique<item[]>(static_cast<std::size_t>(per)));
      for (int s = 0; s < per; ++s) {
        items.back()[s].producer = p;
        items.back()[s].seq = s;
      }
    }
  }

  void wake_if_sleeping() {
    // transport::impl::push: a plain look first, then claim the flag.
    if (sleeping.load(std::memory_order_seq_cst) &&
        sleeping.exchange(false, std::memory_order_seq_cst)) {
      eventfd.fetch_add(1);
    }
  }

  void produce(int p) {
    if (p == 0 && first_producer != batching::single) return produce_chain();
    for (int s = 0; s < per_producer; ++s) {
      item& it = items[static_cast<std::size_t>(p)][s];
      if (variant == handshake::push_then_look) {
        inbox.push(&it);
        wake_if_sleeping();
      } else {
        wake_if_sleeping();
        inbox.push(&it);
      }
    }
  }

  // Producer 0's items linked in order (plain relaxed stores, published by
  // the push), pushed with one push_chain, then the wake as after a push.
  void produce_chain() {
    item* chain = items[0].get();
    for (int s = 0; s + 1 < per_producer; ++s)
      chain[s].next.store(&chain[s + 1], std::memory_order_relaxed);
    node* last = &chain[per_producer - 1];
    if (first_producer == batching::chain) {
      inbox.push_chain(&chain[0], last);
    } else {
      volley::queues::detail::handoff_mpsc_test_access::push_chain_to_first(inbox, &chain[0], last);
    }
    wake_if_sleeping();
  }

  void take(node* n) {
    bool real = false;
    for (auto& v : items) {
      for (int s = 0; s < per_producer; ++s) real |= (&v[s] == n);
    }
    check(real, "pop handed out a node that is not an item (the stub?)");
    if (!real) return;
    auto* it = static_cast<item*>(n);
    check(!it->popped, "an item came out twice");
    it->popped = true;
    int& next = next_seq[static_cast<std::size_t>(it->producer)];
    check(it->seq == next, "a producer's items came out of order");
    next = it->seq + 1;
    ++handled;
  }

  // The loop thread: drain, then sleep on the eventfd unless the inbox may
  // hold something (turn_sleep in transport_loop.cpp).
  void run_loop() {
    while (handled < total) {
      if (node* n = inbox.pop()) {
        take(n);
        continue;
      }
      sleeping.store(true, std::memory_order_seq_cst);
      if (inbox.maybe_nonempty()) {
        sleeping.store(false, std::memory_order_relaxed);
        volley::checker::spin_wait();  // a push is half done: another turn
        continue;
      }
      // Blocked in io_uring until the eventfd read completes. If no
      // producer writes it, this never ends: the run fails (max_steps).
      while (eventfd.load() == 0) volley::checker::spin_wait();
      eventfd.store(0);
      ++wakeups;
      sleeping.store(false, std::memory_order_relaxed);
    }
  }
};

std::function<void(execution&)> two_producers(handshake variant, int per_producer,
                                              batching first_producer = batching::single) {
  return [variant, per_producer, first_producer](execution& x) {
    auto w = std::make_shared<loop_world>(2, per_producer);
    w->variant = variant;
    w->first_producer = first_producer;
    x.spawn([w] { w->run_loop(); });
    x.spawn([w] { w->produce(0); });
    x.spawn([w] { w->produce(1); });
    x.at_end([w] {
      check(w->handled == w->total, "an item was never handled");
      check(!w->inbox.maybe_nonempty(), "the inbox is not empty at the end");
    });
  };
}

}  // namespace

TEST_CASE("checker handoff_mpsc: the loop never sleeps on an item; each item once, in order",
          "[checker][handoff_mpsc]") {
  // max_steps 2000: a sleeping loop with nobody to wake it spins into this
  check_clean("handoff_mpsc loop + 2 producers x 2", bound(2, 2000),
              two_producers(handshake::push_then_look, 2), 1000);
}

TEST_CASE("checker handoff_mpsc: a producer that looks before it pushes is caught (lost wake-up)",
          "[checker][handoff_mpsc][known_bad]") {
  check_caught("handoff_mpsc look-then-push (known-bad)", bound(2, 2000),
               two_producers(handshake::look_then_push, 1), "livelock");
}

TEST_CASE("checker handoff_mpsc: a chain of 3 pushed at once comes out whole, in order",
          "[checker][handoff_mpsc][push_chain]") {
  check_clean("handoff_mpsc loop + chain of 3 + 3 single pushes", bound(2, 2000),
              two_producers(handshake::push_then_look, 3, batching::chain), 1000);
}

TEST_CASE("checker handoff_mpsc: a push_chain that swings the tail to its first node is caught",
          "[checker][handoff_mpsc][push_chain][known_bad]") {
  check_caught("handoff_mpsc push_chain to first (known-bad)", bound(2, 2000),
               two_producers(handshake::push_then_look, 3, batching::chain_to_first));
}
