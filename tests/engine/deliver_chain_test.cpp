// cell_base::deliver_chain: chains of envelopes pushed with one mailbox
// exchange each, from many threads at once, to actors that are running,
// idle, bounded or stopping. Every message is handled or dead-lettered
// exactly once, and each producer's messages arrive in the order it linked
// and pushed them (ASan, TSan).
#include "engine_test_support.hpp"

#include <volley/volley.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

using volley::test::scaled;

namespace {

constexpr std::size_t producers = 4;

struct item {
  std::uint32_t producer;
  std::uint64_t n;
};

/// Counts what it handles and checks each producer's order.
struct counter_actor {
  using accepts = volley::accepts<item>;
  struct shared {
    std::atomic<std::uint64_t> handled{0};
    std::atomic<bool> reordered{false};
  };
  explicit counter_actor(shared* s) : s_(s) {}
  void on(item m) {
    std::uint64_t& next = next_[m.producer];
    if (m.n < next) s_->reordered.store(true);
    next = m.n + 1;
    s_->handled.fetch_add(1, std::memory_order_relaxed);
  }
  shared* s_;
  std::array<std::uint64_t, producers> next_{};
};

volley::detail::envelope* make_item(std::uint32_t producer, std::uint64_t n) {
  return volley::detail::make_envelope<item>(&volley::detail::invoke_tell<counter_actor, item>,
                                             &volley::detail::message_info_of<item>,
                                             item{producer, n});
}

/// Pushes `total` items to `target` in chains of 1 .. max_chain, in order.
void push_chains(const volley::actor_ref<counter_actor>& target, std::uint32_t producer,
                 std::uint64_t total, std::size_t max_chain) {
  std::uint64_t n = 0;
  std::size_t len = 1;
  while (n < total) {
    volley::detail::envelope* first = make_item(producer, n++);
    volley::detail::envelope* last = first;
    for (std::size_t k = 1; k < len && n < total; ++k) {
      volley::detail::envelope* e = make_item(producer, n++);
      last->next.store(e, std::memory_order_relaxed);
      last = e;
    }
    target.cell()->deliver_chain(first, last);
    len = len % max_chain + 1;
  }
}

}  // namespace

TEST_CASE("chains pushed from many threads are all handled, each producer's in order",
          "[engine][deliver_chain][stress]") {
  const std::uint64_t per_producer = scaled(200'000);
  for (std::size_t max_chain : {std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
    CAPTURE(max_chain);
    counter_actor::shared a, b;
    {
      volley::system sys{volley::test::two_workers()};
      // Two targets, so chains of one producer interleave with another's on
      // each mailbox, and a bounded one that takes them one by one.
      auto ta = sys.spawn<counter_actor>(&a);
      auto tb = sys.spawn<counter_actor>(volley::props{.mailbox_capacity = 1u << 30}, &b);
      std::vector<std::thread> threads;
      for (std::uint32_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] { push_chains(p % 2 ? tb : ta, p, per_producer, max_chain); });
      }
      for (auto& t : threads) t.join();
      REQUIRE(volley::test::wait_until(
          [&] { return a.handled.load() + b.handled.load() == producers * per_producer; }));
      CHECK(sys.dead_letters().count() == 0);
    }
    CHECK_FALSE(a.reordered.load());
    CHECK_FALSE(b.reordered.load());
  }
}

TEST_CASE("chains racing the target's stop are handled or dead-lettered, exactly once",
          "[engine][deliver_chain][stress]") {
  const std::uint64_t per_producer = scaled(50'000);
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    counter_actor::shared s;
    std::uint64_t dead = 0;
    constexpr std::uint64_t late = 16;
    {
      volley::system sys{volley::test::two_workers()};
      auto target = sys.spawn<counter_actor>(&s);
      std::vector<std::thread> threads;
      for (std::uint32_t p = 0; p < producers; ++p)
        threads.emplace_back([&, p] { push_chains(target, p, per_producer, 16); });
      // As soon as the actor runs: chains are still coming, and some queued.
      while (s.handled.load() == 0) std::this_thread::yield();
      target.stop();
      for (auto& t : threads) t.join();
      // And chains to the dead actor, which always take the one-by-one path.
      REQUIRE(volley::test::wait_until([&] { return target.is_stopped(); }));
      push_chains(target, 0, late, 4);
      REQUIRE(volley::test::wait_until([&] {
        return s.handled.load() + sys.dead_letters().count() == producers * per_producer + late;
      }));
      dead = sys.dead_letters().count(volley::dead_letter_reason::recipient_stopped);
      CHECK(dead == sys.dead_letters().count());
    }
    CHECK(dead >= late);
    CHECK_FALSE(s.reordered.load());
  }
}
