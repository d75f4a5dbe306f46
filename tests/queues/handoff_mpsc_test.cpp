// Tests for volley/queues/handoff_mpsc.hpp (the remote transport's inbox):
// FIFO, the stub re-insertion, and many producers (TSan watches the hand-off).
#include <volley/queues/handoff_mpsc.hpp>

#include <catch2/catch.hpp>

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

TEST_CASE("handoff_mpsc: many producers, nothing lost, each producer's order kept",
          "[handoff_mpsc]") {
  constexpr int producers = 4;
  constexpr int per_producer = 100000;
  handoff_mpsc q;
  std::vector<std::unique_ptr<item[]>> items;
  for (int p = 0; p < producers; ++p) items.emplace_back(new item[per_producer]);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        items[p][i].producer = p;
        items[p][i].seq = i;
        q.push(&items[p][i]);
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
