// Tests of bounded mailboxes (props::mailbox_capacity): while the actor is
// blocked, exactly `capacity` messages are accepted and the rest become
// `mailbox_full` dead letters; system messages (stop) still get through a
// full mailbox; room comes back as the actor drains it; and under
// concurrent senders every message is either handled or refused, exactly.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <volley/engine/test_probe.hpp>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::test::gate;
using volley::test::patience;
using volley::test::wait_until;

namespace {

volley::props bounded(std::uint32_t capacity) {
  volley::props p;
  p.mailbox_capacity = capacity;
  return p;
}

struct hold {};
struct item {
  int n;
};
struct count_query {};

/// Records the items it handles; `hold` blocks it at a gate. The vector is
/// read by the test only after a handshake (an ask, or the actor's stop).
struct sink {
  sink(gate* g, std::vector<int>* seen) : g_(g), seen_(seen) {}
  void on(const hold&) { g_->arrive_and_wait(); }
  void on(const item& m) { seen_->push_back(m.n); }
  std::size_t on(const count_query&) const { return seen_->size(); }
  gate* g_;
  std::vector<int>* seen_;
};

}  // namespace

TEST_CASE(
    "a blocked actor's bounded mailbox accepts exactly its capacity; the rest are mailbox_full "
    "dead letters",
    "[bounded_mailbox][concurrency]") {
  gate g;
  std::vector<int> seen;  // outlives the system, whose actors write to it
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto s = sys.spawn<sink>(bounded(10), &g, &seen);
  s.tell(hold{});
  REQUIRE(g.wait_arrived());  // `hold` left the mailbox: all 10 places are free

  for (int i = 0; i < 25; ++i) s.tell(item{i});
  CHECK(sys.dead_letters().count(dead_letter_reason::mailbox_full) == 15);
  CHECK(sys.dead_letters().count() == 15);
  g.open();
  // The query is a user message too: while the items still fill the
  // mailbox it may itself be refused (an error, not a count); ask again.
  REQUIRE(wait_until([&] {
    auto r = s.ask(count_query{}).get(patience);
    return r && r.value() == 10;
  }));
  CHECK(seen == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // the first ten, in order
}

TEST_CASE("a full mailbox takes messages again once the actor has drained it",
          "[bounded_mailbox]") {
  volley::config cfg;
  cfg.deterministic_seed = 1;
  cfg.pin = false;
  gate g;  // unused: nothing blocks on the deterministic dispatcher
  std::vector<int> seen;
  volley::system sys(cfg);
  auto s = sys.spawn<sink>(bounded(3), &g, &seen);
  for (int i = 0; i < 5; ++i) s.tell(item{i});  // nothing runs until run_until_idle
  sys.run_until_idle();
  for (int i = 5; i < 10; ++i) s.tell(item{i});
  sys.run_until_idle();
  CHECK(seen == std::vector<int>{0, 1, 2, 5, 6, 7});
  CHECK(sys.dead_letters().count(dead_letter_reason::mailbox_full) == 4);
}

TEST_CASE("a stop gets through a full mailbox; the queued messages become dead letters",
          "[bounded_mailbox][concurrency]") {
  gate g;
  std::vector<int> seen;  // outlives the system, whose actors write to it
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  volley::test_probe probe(sys);
  auto s = sys.spawn<sink>(bounded(4), &g, &seen);
  probe.watch(s);
  s.tell(hold{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 6; ++i) s.tell(item{i});
  REQUIRE(sys.dead_letters().count(dead_letter_reason::mailbox_full) == 2);

  s.stop();  // a system message: never refused, handled before the queued items
  g.open();
  auto t = probe.expect_terminated(s);
  CHECK(t.reason == volley::termination_reason::stopped);
  CHECK(seen.empty());  // read after the actor's death (the probe's message orders it)
  // The queued items are dead-lettered by the same activation, right after
  // the terminated was sent.
  CHECK(wait_until(
      [&] { return sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 4; }));
}

namespace {

struct counting_sink {
  explicit counting_sink(std::atomic<std::uint64_t>* handled) : handled_(handled) {}
  void on(const item&) { handled_->fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::uint64_t>* handled_;
};

}  // namespace

TEST_CASE(
    "under concurrent senders every message to a bounded mailbox is handled or refused, exactly",
    "[bounded_mailbox][concurrency]") {
  std::atomic<std::uint64_t> handled{0};
  const std::size_t per_thread = volley::test::scaled(400'000);
  constexpr int threads = 4;
  std::uint64_t refused = 0;
  {
    volley::system sys(volley::test::two_workers());
    auto s = sys.spawn<counting_sink>(bounded(16), &handled);
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
      senders.emplace_back([&] {
        for (std::size_t i = 0; i < per_thread; ++i) s.tell(item{static_cast<int>(i)});
      });
    }
    for (auto& t : senders) t.join();
    sys.shutdown();  // what is still queued becomes system_shutdown dead letters
    refused = sys.dead_letters().count(dead_letter_reason::mailbox_full);
    CHECK(sys.dead_letters().count() ==
          refused + sys.dead_letters().count(dead_letter_reason::system_shutdown));
    CHECK(handled.load() + sys.dead_letters().count() == threads * per_thread);
  }
  CHECK(handled.load() > 0);
}
