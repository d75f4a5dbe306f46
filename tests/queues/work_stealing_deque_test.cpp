// Tests for volley/queues/work_stealing_deque.hpp: owner LIFO, thief FIFO,
// full means full, steal_half's share and bound, and under contention every
// item is taken exactly once, by exhaustive-ish small schedules (the
// one-item race between pop and steal) and large random ones.
#include <volley/queues/work_stealing_deque.hpp>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "stress.hpp"

using volley::queues::work_stealing_deque;
using volley::test::chaos;
using volley::test::scaled;
using deque = work_stealing_deque<std::uint32_t>;
using steal_result = deque::steal_result;

TEST_CASE("work_stealing_deque: owner pops LIFO, thieves steal FIFO", "[work_stealing_deque]") {
  deque d(8);
  std::uint32_t v = 0;
  CHECK_FALSE(d.pop());
  CHECK(d.steal(v) == steal_result::empty);
  for (std::uint32_t i = 1; i <= 5; ++i) REQUIRE(d.push(i));
  CHECK(d.size_approx() == 5);
  CHECK(d.pop() == 5u);
  CHECK(d.steal(v) == steal_result::success);
  CHECK(v == 1);
  CHECK(d.pop() == 4u);
  CHECK(d.steal(v) == steal_result::success);
  CHECK(v == 2);
  CHECK(d.pop() == 3u);
  CHECK_FALSE(d.pop());
  CHECK(d.steal(v) == steal_result::empty);
  CHECK(d.empty_approx());
}

TEST_CASE("work_stealing_deque: push fails exactly when full, across wrap-around",
          "[work_stealing_deque]") {
  CHECK(deque(0).capacity() == 2);
  CHECK(deque(5).capacity() == 8);
  for (std::size_t cap : {2u, 4u, 16u}) {
    CAPTURE(cap);
    deque d(cap);
    std::uint32_t in = 0, out = 0, v = 0;
    for (std::size_t lap = 0; lap < 4 * cap; ++lap) {
      while (in - out < cap) REQUIRE(d.push(in++));
      CHECK_FALSE(d.push(12345));
      CHECK(d.size_approx() == static_cast<std::int64_t>(cap));
      // Free one slot from the top (a steal), so the indices wander around
      // the ring; then the owner can push exactly one more.
      REQUIRE(d.steal(v) == steal_result::success);
      CHECK(v == out++);
      REQUIRE(d.push(in++));
      CHECK_FALSE(d.push(12345));
      REQUIRE(d.steal(v) == steal_result::success);
      CHECK(v == out++);
    }
    // What is left pops newest first.
    while (auto x = d.pop()) CHECK(*x == --in);
    CHECK(in == out);
  }
}

TEST_CASE("work_stealing_deque: steal_half takes half, rounded up, bounded by room",
          "[work_stealing_deque]") {
  SECTION("ten items into an empty deque") {
    deque victim(16), mine(16);
    for (std::uint32_t i = 0; i < 10; ++i) victim.push(i);
    auto first = victim.steal_half(mine);
    CHECK(first == 0u);  // the oldest, to run now
    CHECK(mine.size_approx() == 4);
    CHECK(victim.size_approx() == 5);
    CHECK(mine.pop() == 4u);  // the rest keep their relative order
    CHECK(victim.pop() == 9u);
    std::uint32_t v = 0;
    CHECK(victim.steal(v) == steal_result::success);
    CHECK(v == 5);
  }
  SECTION("one item is worth taking") {
    deque victim(4), mine(4);
    victim.push(7);
    CHECK(victim.steal_half(mine) == 7u);
    CHECK(mine.empty_approx());
    CHECK(victim.empty_approx());
  }
  SECTION("nothing to take") {
    deque victim(4), mine(4);
    CHECK_FALSE(victim.steal_half(mine));
  }
  SECTION("a full thief takes only the item it runs") {
    deque victim(16), mine(4);
    for (std::uint32_t i = 0; i < 10; ++i) victim.push(i);
    for (std::uint32_t i = 100; i < 104; ++i) mine.push(i);
    CHECK(victim.steal_half(mine) == 0u);
    CHECK(mine.size_approx() == 4);
    CHECK(victim.size_approx() == 9);
  }
  SECTION("a nearly full thief fills up and no stolen item is dropped") {
    deque victim(16), mine(4);
    for (std::uint32_t i = 0; i < 10; ++i) victim.push(i);
    for (std::uint32_t i = 100; i < 103; ++i) mine.push(i);
    CHECK(victim.steal_half(mine) == 0u);  // room for 1 + the one returned
    CHECK(mine.size_approx() == 4);
    CHECK(mine.pop() == 1u);
    CHECK(victim.size_approx() == 8);
  }
}

namespace {

// Records who took which item; merged and checked once the threads stopped.
struct taken_log {
  std::vector<std::uint32_t> items;
};

// Every item 0..n-1 exactly once across all logs.
bool exactly_once(const std::vector<taken_log>& logs, std::uint32_t n, std::uint64_t& dups,
                  std::uint64_t& missing) {
  std::vector<std::uint8_t> seen(n, 0);
  dups = missing = 0;
  for (const auto& log : logs)
    for (auto x : log.items) {
      if (x >= n || seen[x]++) ++dups;
    }
  for (auto s : seen)
    if (s == 0) ++missing;
  return dups == 0 && missing == 0;
}

// The stress cases' verdict: every item taken by exactly one party.
void check_each_taken_once(const std::vector<taken_log>& logs, std::uint32_t n) {
  std::uint64_t dups = 0, missing = 0;
  exactly_once(logs, n, dups, missing);
  CHECK(dups == 0);
  CHECK(missing == 0);
}

}  // namespace

TEST_CASE("work_stealing_deque: small schedules, 1 owner and 1-2 thieves, 1-3 items",
          "[work_stealing_deque][small]") {
  // Each round: the owner pushes k items (sometimes popping in between) and
  // then pops until empty while the thieves steal until empty. The last-item
  // race (owner's pop CAS vs a thief's CAS) happens in almost every round.
  const std::size_t rounds = scaled(30'000);
  for (std::uint32_t thieves : {1u, 2u}) {
    CAPTURE(thieves);
    const std::uint32_t parties = thieves + 1;
    deque d(4);  // tiny: slots are reused every other round
    std::vector<taken_log> logs(parties);
    std::atomic<std::uint32_t> pushed_done{0};
    std::uint64_t failures = 0;
    std::uint64_t push_failures = 0;
    std::size_t round = 0;
    std::uint32_t k = 1;
    auto between_rounds = [&]() noexcept {
      std::uint64_t dups = 0, missing = 0;
      // Items this round are numbered 0..k-1.
      if (!exactly_once(logs, k, dups, missing) || !d.empty_approx()) ++failures;
      for (auto& l : logs) l.items.clear();
      ++round;
      k = 1 + static_cast<std::uint32_t>(round % 3);
      pushed_done.store(0, std::memory_order_relaxed);
    };
    std::barrier sync(parties, between_rounds);

    std::vector<std::thread> threads;
    threads.emplace_back([&] {  // the owner
      chaos c(1, 2);
      for (std::size_t r = 0; r < rounds; ++r) {
        const std::uint32_t n = k;
        for (std::uint32_t i = 0; i < n; ++i) {
          c.maybe_yield();
          if (!d.push(i)) ++push_failures;  // k <= 3 < capacity: never full
          if (c.next() % 4 == 0)
            if (auto x = d.pop()) logs[0].items.push_back(*x);
        }
        pushed_done.store(1, std::memory_order_release);
        for (;;) {
          c.maybe_yield();
          auto x = d.pop();
          if (!x) break;
          logs[0].items.push_back(*x);
        }
        sync.arrive_and_wait();
      }
    });
    for (std::uint32_t t = 1; t <= thieves; ++t) {
      threads.emplace_back([&, t] {
        chaos c(10 + t, 2);
        for (std::size_t r = 0; r < rounds; ++r) {
          for (;;) {
            bool done = pushed_done.load(std::memory_order_acquire) != 0;
            c.maybe_yield();
            std::uint32_t v = 0;
            steal_result s = d.steal(v);
            if (s == steal_result::success) logs[t].items.push_back(v);
            // Empty after the owner finished pushing: nothing more will come.
            if (s == steal_result::empty && done) break;
          }
          sync.arrive_and_wait();
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    CHECK(push_failures == 0);
    CHECK(round == rounds);
  }
}

TEST_CASE("work_stealing_deque: workers stealing and stealing half; each item exactly once",
          "[work_stealing_deque][stress]") {
  // Worker 0 makes all the items; every worker pops its own deque, and when
  // that is empty steals (or steals half) from a random other worker, so
  // items travel through several deques as in the scheduler.
  const std::uint32_t total = static_cast<std::uint32_t>(scaled(2'000'000));
  for (std::size_t cap : {8u, 256u}) {
    CAPTURE(cap);
    constexpr std::uint32_t workers = 4;
    std::vector<std::unique_ptr<deque>> deques;
    for (std::uint32_t w = 0; w < workers; ++w) deques.push_back(std::make_unique<deque>(cap));
    std::vector<taken_log> logs(workers);
    std::atomic<std::uint32_t> consumed{0};
    std::atomic<std::uint64_t> full_pushes{0};

    auto worker = [&](std::uint32_t w) {
      chaos c(1000 + w, 128);
      deque& mine = *deques[w];
      auto run = [&](std::uint32_t x) {
        logs[w].items.push_back(x);
        consumed.fetch_add(1, std::memory_order_relaxed);
      };
      std::uint32_t next_item = 0;
      unsigned spins = 0;
      while (consumed.load(std::memory_order_relaxed) < total) {
        if (w == 0 && next_item < total) {
          // Make a burst; a full deque runs one item itself, as a worker
          // would hand it to the injection queue.
          for (int i = 0; i < 16 && next_item < total; ++i) {
            if (mine.push(next_item)) {
              ++next_item;
            } else {
              full_pushes.fetch_add(1, std::memory_order_relaxed);
              if (auto x = mine.pop()) run(*x);
            }
          }
        }
        if (c.next() % 2 == 0) {
          if (auto x = mine.pop()) {
            run(*x);
            continue;
          }
        }
        std::uint32_t victim = static_cast<std::uint32_t>(c.next() % workers);
        if (victim == w) continue;
        if (c.next() % 2 == 0) {
          if (auto x = deques[victim]->steal_half(mine)) run(*x);
        } else {
          std::uint32_t v = 0;
          if (deques[victim]->steal(v) == steal_result::success) run(v);
        }
        c.maybe_yield();
        volley::test::relax(spins);
      }
    };
    std::vector<std::thread> threads;
    for (std::uint32_t w = 0; w < workers; ++w) threads.emplace_back(worker, w);
    for (auto& t : threads) t.join();

    check_each_taken_once(logs, total);
    for (auto& d : deques) CHECK(d->empty_approx());
    if (cap == 8) CHECK(full_pushes.load() > 0);  // the full path was exercised
  }
}

TEST_CASE("work_stealing_deque: owner pushes and pops while thieves steal; each item once",
          "[work_stealing_deque][stress]") {
  const std::uint32_t total = static_cast<std::uint32_t>(scaled(2'000'000));
  constexpr std::uint32_t thieves = 3;
  deque d(64);
  std::vector<taken_log> logs(thieves + 1);
  std::atomic<bool> owner_done{false};

  std::vector<std::thread> threads;
  for (std::uint32_t t = 1; t <= thieves; ++t) {
    threads.emplace_back([&, t] {
      chaos c(2000 + t, 64);
      unsigned spins = 0;
      for (;;) {
        bool done = owner_done.load(std::memory_order_acquire);
        std::uint32_t v = 0;
        steal_result s = d.steal(v);
        if (s == steal_result::success) {
          logs[t].items.push_back(v);
        } else if (s == steal_result::empty) {
          if (done) return;
          volley::test::relax(spins);
        }
        c.maybe_yield();
      }
    });
  }
  chaos c(3000, 64);
  for (std::uint32_t i = 0; i < total;) {
    if (d.push(i)) ++i;
    // Pop about one item in three: the deque stays short, so the owner's
    // pop often meets a thief at the last item.
    if (c.next() % 3 == 0)
      if (auto x = d.pop()) logs[0].items.push_back(*x);
  }
  while (auto x = d.pop()) logs[0].items.push_back(*x);
  owner_done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();

  check_each_taken_once(logs, total);
  CHECK(d.empty_approx());
}

TEST_CASE("work_stealing_deque: pop and steal racing for the only item; never both win",
          "[work_stealing_deque][stress]") {
  // The owner keeps the deque at one item: every pop is the last-item case
  // (bottom == top), decided by the top CAS against a thief's CAS.
  const std::uint32_t total = static_cast<std::uint32_t>(scaled(2'000'000));
  constexpr std::uint32_t thieves = 2;
  deque d(4);
  std::vector<taken_log> logs(thieves + 1);
  std::atomic<bool> owner_done{false};
  std::vector<std::thread> threads;
  for (std::uint32_t t = 1; t <= thieves; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        bool done = owner_done.load(std::memory_order_acquire);
        std::uint32_t v = 0;
        steal_result s = d.steal(v);
        if (s == steal_result::success) logs[t].items.push_back(v);
        if (s == steal_result::empty && done) return;
      }
    });
  }
  for (std::uint32_t i = 0; i < total; ++i) {
    d.push(i);  // never full: at most one item is left when pushing
    if (auto x = d.pop()) logs[0].items.push_back(*x);
  }
  owner_done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();

  check_each_taken_once(logs, total);
}
