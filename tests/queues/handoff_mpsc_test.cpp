// Tests for volley/queues/handoff_mpsc.hpp (the remote transport's inbox):
// FIFO, the stub re-insertion, and many producers (TSan watches the hand-off).
#include <volley/queues/handoff_mpsc.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

using volley::queues::handoff_mpsc;
using volley::queues::mpsc_node;

namespace {
struct item : mpsc_node {
  int producer = 0;
  int seq = 0;
};
}  // namespace

TEST_CASE("handoff_mpsc: single-threaded push and pop keep FIFO order", "[handoff_mpsc]") {
  handoff_mpsc q;
  CHECK_FALSE(q.maybe_nonempty());
  CHECK(q.pop() == nullptr);
  item a, b, c;
  q.push(&a);
  CHECK(q.maybe_nonempty());
  q.push(&b);
  CHECK(q.pop() == &a);
  q.push(&c);
  CHECK(q.pop() == &b);
  CHECK(q.pop() == &c);
  CHECK(q.pop() == nullptr);
  CHECK_FALSE(q.maybe_nonempty());
}

namespace {
/// Four producers, each pushing its items one at a time or (`chains`) in
/// chains of 1..32 linked items; the consumer checks each producer's order.
void producers_keep_their_order(bool chains) {
  constexpr int producers = 4;
  constexpr int per_producer = 100000;
  handoff_mpsc q;
  std::vector<std::unique_ptr<item[]>> items;
  for (int p = 0; p < producers; ++p) items.emplace_back(new item[per_producer]);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer;) {
        int n = chains ? std::min(1 + (i * 7 + p) % 32, per_producer - i) : 1;
        for (int k = 0; k < n; ++k) {
          items[p][i + k].producer = p;
          items[p][i + k].seq = i + k;
          if (k > 0) items[p][i + k - 1].next.store(&items[p][i + k], std::memory_order_relaxed);
        }
        if (chains) {
          q.push_chain(&items[p][i], &items[p][i + n - 1]);
        } else {
          q.push(&items[p][i]);
        }
        i += n;
      }
    });
  }
  std::vector<int> next(producers, 0);
  int total = 0;
  bool in_order = true;
  while (total < producers * per_producer) {
    auto* n = static_cast<item*>(q.pop());
    if (!n) {
      std::this_thread::yield();
      continue;
    }
    if (n->seq != next[n->producer]) in_order = false;
    next[n->producer] = n->seq + 1;
    ++total;
  }
  for (auto& t : threads) t.join();
  CHECK(in_order);
  CHECK(q.pop() == nullptr);
  for (int p = 0; p < producers; ++p) CHECK(next[p] == per_producer);
}
}  // namespace

TEST_CASE("handoff_mpsc: many producers, nothing lost, each producer's order kept",
          "[handoff_mpsc]") {
  producers_keep_their_order(false);
}

TEST_CASE("handoff_mpsc: producers pushing chains lose nothing and keep their order",
          "[handoff_mpsc]") {
  producers_keep_their_order(true);
}
