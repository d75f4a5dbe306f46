// Tests for volley/queues/injection_queue.hpp: many producers and many
// consumers, every item exactly once, and the approximate count settles at
// the true size when the queue is quiet.
#include <volley/queues/injection_queue.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "stress.hpp"

#if defined(VOLLEY_TEST_TSAN)
// moodycamel 1.0.3 (Debian) recycles an emptied block through its free list,
// but only the consumer that empties the block last is ordered before the
// free-list push: the others' set_empty is a release fetch_add that nobody
// acquires, so TSan reports their slot read against the next producer's slot
// write when the block is reused (upstream cameron314/concurrentqueue#254,
// open). It is inside moodycamel's own slot memory; the hand-over of an
// item from producer to consumer (tailIndex release/acquire) is properly
// ordered, so suppressing moodycamel frames hides nothing of ours.
extern "C" const char* __tsan_default_suppressions() {
  return "race:moodycamel::\n";
}
#endif

using volley::queues::injection_queue;
using volley::test::chaos;
using volley::test::scaled;

TEST_CASE("injection_queue: single thread push, pop and count", "[injection_queue]") {
  injection_queue<std::uint64_t> q;
  CHECK(q.empty_approx());
  CHECK_FALSE(q.try_pop());
  for (std::uint64_t i = 0; i < 100; ++i) q.push(i);
  CHECK(q.size_approx() == 100);
  // One producer: moodycamel keeps its order (volley does not rely on it,
  // but a single thread seeing its own items reordered would be a bug here).
  for (std::uint64_t i = 0; i < 100; ++i) CHECK(q.try_pop() == i);
  CHECK_FALSE(q.try_pop());
  CHECK(q.empty_approx());
}

TEST_CASE("injection_queue: a bulk pop takes the oldest items, up to its maximum",
          "[injection_queue]") {
  injection_queue<std::uint64_t> q;
  injection_queue<std::uint64_t>::consumer me(q);
  std::uint64_t out[32];
  CHECK(q.try_pop_bulk(me, out, 32) == 0);
  for (std::uint64_t i = 0; i < 40; ++i) q.push(i);
  REQUIRE(q.try_pop_bulk(me, out, 32) == 32);
  for (std::uint64_t i = 0; i < 32; ++i) CHECK(out[i] == i);
  CHECK(q.size_approx() == 8);
  REQUIRE(q.try_pop_bulk(me, out, 32) == 8);
  for (std::uint64_t i = 0; i < 8; ++i) CHECK(out[i] == 32 + i);
  CHECK(q.empty_approx());
  CHECK(q.try_pop_bulk(me, out, 32) == 0);
}

namespace {

/// Three producers and three consumers; each consumer takes with `pop(q,
/// consumer, log)` (returns how many it appended). Every item must come out
/// exactly once, and the count must settle at zero.
template <class Pop>
void check_each_item_once(Pop pop) {
  constexpr std::uint32_t producers = 3;
  constexpr std::uint32_t consumers = 3;
  const std::uint64_t per_producer = scaled(700'000);
  const std::uint64_t total = per_producer * producers;
  injection_queue<std::uint64_t> q;
  std::atomic<std::uint64_t> popped{0};
  std::vector<std::vector<std::uint64_t>> logs(consumers);

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      chaos c(p, 128);
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        q.push(p * per_producer + s);
        c.maybe_yield();
      }
    });
  }
  for (std::uint32_t k = 0; k < consumers; ++k) {
    threads.emplace_back([&, k] {
      injection_queue<std::uint64_t>::consumer token(q);
      unsigned spins = 0;
      while (popped.load(std::memory_order_relaxed) < total) {
        if (std::size_t n = pop(q, token, logs[k]); n != 0) {
          popped.fetch_add(n, std::memory_order_relaxed);
        } else {
          volley::test::relax(spins);
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  std::vector<std::uint8_t> seen(total, 0);
  std::uint64_t dups = 0, missing = 0;
  for (const auto& log : logs)
    for (auto v : log)
      if (v >= total || seen[v]++) ++dups;
  for (auto s : seen)
    if (!s) ++missing;
  CHECK(dups == 0);
  CHECK(missing == 0);
  CHECK_FALSE(q.try_pop());
  CHECK(q.size_approx() == 0);
}

}  // namespace

TEST_CASE("injection_queue: producers and consumers, each item exactly once",
          "[injection_queue][stress]") {
  check_each_item_once([](injection_queue<std::uint64_t>& q,
                          injection_queue<std::uint64_t>::consumer&,
                          std::vector<std::uint64_t>& log) -> std::size_t {
    auto v = q.try_pop();
    if (!v) return 0;
    log.push_back(*v);
    return 1;
  });
}

TEST_CASE("injection_queue: consumers taking batches get each item exactly once",
          "[injection_queue][stress]") {
  check_each_item_once([](injection_queue<std::uint64_t>& q,
                          injection_queue<std::uint64_t>::consumer& token,
                          std::vector<std::uint64_t>& log) -> std::size_t {
    std::uint64_t batch[32];
    std::size_t n = q.try_pop_bulk(token, batch, 32);
    log.insert(log.end(), batch, batch + n);
    return n;
  });
}
