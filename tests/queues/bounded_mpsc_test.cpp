// Tests for volley/queues/bounded_mpsc.hpp: try_push fails exactly when the
// ring is full, items keep each producer's order, every accepted item comes
// out once, items left at destruction are destroyed.
#include <volley/queues/bounded_mpsc.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "stress.hpp"

using volley::queues::bounded_mpsc;
using volley::test::chaos;
using volley::test::scaled;

TEST_CASE("bounded_mpsc: capacity is rounded up to a power of two, at least 2", "[bounded_mpsc]") {
  CHECK(bounded_mpsc<int>(0).capacity() == 2);
  CHECK(bounded_mpsc<int>(1).capacity() == 2);
  CHECK(bounded_mpsc<int>(2).capacity() == 2);
  CHECK(bounded_mpsc<int>(3).capacity() == 4);
  CHECK(bounded_mpsc<int>(1000).capacity() == 1024);
  CHECK(bounded_mpsc<int>(1024).capacity() == 1024);
}

TEST_CASE("bounded_mpsc: an absurd capacity is refused before any allocation", "[bounded_mpsc]") {
  CHECK_THROWS_AS(bounded_mpsc<int>(bounded_mpsc<int>::max_capacity + 1), std::invalid_argument);
  CHECK_THROWS_AS(bounded_mpsc<int>(~std::size_t{0}), std::invalid_argument);
}

TEST_CASE("bounded_mpsc: try_push fails exactly when full, over many laps", "[bounded_mpsc]") {
  for (std::size_t cap : {2u, 4u, 8u, 64u}) {
    CAPTURE(cap);
    bounded_mpsc<std::uint64_t> q(cap);
    REQUIRE(q.capacity() == cap);
    std::uint64_t next_in = 0, next_out = 0;
    // Fill, drain part way, refill: the free count is known exactly at every
    // step, so every try_push has one right answer.
    for (std::size_t lap = 0; lap < 3 * cap + 1; ++lap) {
      while (next_in - next_out < cap) {
        REQUIRE(q.try_push(next_in));
        ++next_in;
      }
      CHECK(q.size_approx() == cap);
      CHECK_FALSE(q.try_push(std::uint64_t{999}));
      CHECK_FALSE(q.try_push(std::uint64_t{999}));
      std::size_t take = 1 + lap % cap;
      for (std::size_t i = 0; i < take; ++i) {
        auto v = q.try_pop();
        REQUIRE(v);
        CHECK(*v == next_out);
        ++next_out;
      }
      CHECK(q.size_approx() == cap - take);
    }
    while (auto v = q.try_pop()) CHECK(*v == next_out++);
    CHECK(next_out == next_in);
    CHECK_FALSE(q.try_pop());
    CHECK(q.size_approx() == 0);
  }
}

TEST_CASE("bounded_mpsc: a refused value is left untouched", "[bounded_mpsc]") {
  bounded_mpsc<std::unique_ptr<int>> q(2);
  CHECK(q.try_push(std::make_unique<int>(1)));
  CHECK(q.try_push(std::make_unique<int>(2)));
  auto third = std::make_unique<int>(3);
  CHECK_FALSE(q.try_push(std::move(third)));
  REQUIRE(third);  // not moved from
  CHECK(*third == 3);
  CHECK(**q.try_pop() == 1);
  CHECK(q.try_push(std::move(third)));
  CHECK_FALSE(third);
  CHECK(**q.try_pop() == 2);
  CHECK(**q.try_pop() == 3);
}

TEST_CASE("bounded_mpsc: items still queued are destroyed with the queue", "[bounded_mpsc]") {
  auto token = std::make_shared<int>(0);
  {
    bounded_mpsc<std::shared_ptr<int>> q(8);
    for (int i = 0; i < 5; ++i) REQUIRE(q.try_push(token));
    auto popped = q.try_pop();
    CHECK(token.use_count() == 6);  // 4 in the ring, 1 popped, ours
  }
  CHECK(token.use_count() == 1);
}

TEST_CASE("bounded_mpsc: producers against a slow consumer; accepted items out once, in order",
          "[bounded_mpsc][stress]") {
  struct msg {
    std::uint32_t producer;
    std::uint64_t attempt;  // index of the try_push call that sent it
  };
  constexpr std::uint32_t producers = 4;
  const std::uint64_t attempts = scaled(1'000'000);
  bounded_mpsc<msg> q(64);  // small, so producers find it full often

  struct tally {
    std::uint64_t accepted = 0, refused = 0, accepted_sum = 0;
  };
  std::vector<tally> sent(producers);
  std::atomic<std::uint32_t> running{producers};

  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      tally t;
      chaos c(p, 256);
      for (std::uint64_t a = 0; a < attempts; ++a) {
        if (q.try_push(msg{p, a})) {
          ++t.accepted;
          t.accepted_sum += a;
        } else {
          ++t.refused;
        }
        c.maybe_yield();
      }
      sent[p] = t;
      running.fetch_sub(1, std::memory_order_release);
    });
  }

  // The consumer: yields often, so the ring fills.
  std::vector<tally> got(producers);
  std::vector<std::int64_t> last(producers, -1);
  std::uint64_t out_of_order = 0;
  chaos c(99, 4);
  auto consume = [&](const msg& m) {
    if (static_cast<std::int64_t>(m.attempt) <= last[m.producer]) ++out_of_order;
    last[m.producer] = static_cast<std::int64_t>(m.attempt);
    ++got[m.producer].accepted;
    got[m.producer].accepted_sum += m.attempt;
  };
  while (running.load(std::memory_order_acquire) > 0) {
    if (auto m = q.try_pop()) consume(*m);
    c.maybe_yield();
  }
  for (auto& t : threads) t.join();
  while (auto m = q.try_pop()) consume(*m);

  CHECK(out_of_order == 0);
  std::uint64_t refused_total = 0;
  for (std::uint32_t p = 0; p < producers; ++p) {
    CAPTURE(p);
    CHECK(sent[p].accepted + sent[p].refused == attempts);
    CHECK(got[p].accepted == sent[p].accepted);
    CHECK(got[p].accepted_sum == sent[p].accepted_sum);  // the same attempts, not just as many
    refused_total += sent[p].refused;
  }
  // Informational: whether the slow consumer made the ring overflow this run.
  INFO("refused pushes: " << refused_total);
  CHECK(q.size_approx() == 0);
}

TEST_CASE("bounded_mpsc: capacity 2 under many producers (constant wrap-around)",
          "[bounded_mpsc][stress]") {
  constexpr std::uint32_t producers = 3;
  const std::uint64_t per_producer = scaled(200'000);
  bounded_mpsc<std::uint64_t> q(2);
  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      unsigned spins = 0;
      for (std::uint64_t s = 0; s < per_producer; ++s) {
        // Item = producer in the top byte, sequence below.
        while (!q.try_push((std::uint64_t{p} << 56) | s)) volley::test::relax(spins);
      }
    });
  }
  std::vector<std::uint64_t> next(producers, 0);
  std::uint64_t out_of_order = 0, received = 0;
  unsigned spins = 0;
  while (received < per_producer * producers) {
    auto v = q.try_pop();
    if (!v) {
      volley::test::relax(spins);
      continue;
    }
    auto p = static_cast<std::uint32_t>(*v >> 56);
    std::uint64_t s = *v & ((std::uint64_t{1} << 56) - 1);
    if (p >= producers || s != next[p]) ++out_of_order;
    if (p < producers) next[p] = s + 1;
    ++received;
  }
  for (auto& t : threads) t.join();
  CHECK(out_of_order == 0);
  for (auto n : next) CHECK(n == per_producer);
  CHECK_FALSE(q.try_pop());
}
