// Tests of what a clean shutdown reports as dead letters: messages left in a
// mailbox at shutdown() carry reason system_shutdown (not recipient_stopped,
// which stays the reason for an actor that stopped on its own), and a parent
// watching its children logs nothing for them when the whole system stops.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::test::wait_until;

namespace {

struct note {
  int n;
};
struct ready {};

struct sink {
  void on(const note&) {}
};

/// Counts the notes it handles; holds the first at `g` when given one.
struct counting_sink {
  explicit counting_sink(std::shared_ptr<std::atomic<int>> n, volley::test::gate* g = nullptr)
      : handled(std::move(n)), hold(g) {}
  void on(const note&) {
    if (hold != nullptr) std::exchange(hold, nullptr)->arrive_and_wait();
    handled->fetch_add(1);
  }
  std::shared_ptr<std::atomic<int>> handled;
  volley::test::gate* hold;
};

volley::config deterministic() {
  volley::config cfg;
  cfg.deterministic_seed = 7;
  cfg.clock = std::make_shared<volley::manual_clock>();
  cfg.workers = 1;
  cfg.pin = false;
  return cfg;
}

/// Spawns `n` children in pre_start and watches each.
struct watching_parent {
  explicit watching_parent(int n) : n_(n) {}
  void pre_start(volley::context& ctx) {
    for (int i = 0; i < n_; ++i) ctx.watch(ctx.spawn<sink>());
  }
  int on(const ready&) { return n_; }
  void on(const volley::terminated&) { ++terminated_seen; }
  int n_;
  int terminated_seen = 0;
};

}  // namespace

TEST_CASE("messages still queued at shutdown are dead letters with reason system_shutdown",
          "[shutdown]") {
  // Deterministic: the seed decides how many notes run before the stop
  // reaches the sink; the rest are left over, every time the same number.
  volley::system sys(deterministic());
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto s = sys.spawn<counting_sink>(handled);
  for (int i = 0; i < 5; ++i) s.tell(note{i});
  sys.shutdown();
  auto left = sys.dead_letters().count(dead_letter_reason::system_shutdown);
  CHECK(left >= 1);
  CHECK(handled->load() + left == 5);
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 0);
}

TEST_CASE("a shutdown while an actor is busy leaves its queue as system_shutdown dead letters",
          "[shutdown][concurrency]") {
  volley::test::gate g;
  auto handled = std::make_shared<std::atomic<int>>(0);
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto s = sys.spawn<counting_sink>(handled, &g);
  for (int i = 0; i < 6; ++i) s.tell(note{i});
  REQUIRE(g.wait_arrived());  // inside note 0; five wait behind it
  std::thread stopper([&] { sys.shutdown(); });
  // The /user guardian has sent the sink its stop: note 0 is the last one handled.
  CHECK(volley::test::wait_until_stops_sent(s.cell()->parent()));
  g.open();
  stopper.join();
  CHECK(handled->load() == 1);
  CHECK(sys.dead_letters().count(dead_letter_reason::system_shutdown) == 5);
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 0);
}

TEST_CASE("a send to an actor that shutdown stopped is a system_shutdown dead letter",
          "[shutdown][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto s = sys.spawn<sink>();
  sys.shutdown();
  REQUIRE(s.is_stopped());
  s.tell(note{1});
  CHECK(sys.dead_letters().count(dead_letter_reason::system_shutdown) == 1);
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 0);
}

TEST_CASE(
    "an actor stopped on its own still dead-letters with recipient_stopped, also after "
    "shutdown",
    "[shutdown][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto s = sys.spawn<sink>();
  s.stop();
  REQUIRE(wait_until([&] { return s.is_stopped(); }));
  s.tell(note{1});
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 1);
  sys.shutdown();
  s.tell(note{2});
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 2);
  CHECK(sys.dead_letters().count(dead_letter_reason::system_shutdown) == 0);
}

TEST_CASE("a parent watching its children logs no dead letter for them at a clean shutdown",
          "[shutdown][concurrency]") {
  for (int round = 0; round < 20; ++round) {
    volley::test::stderr_capture err;
    {
      volley::system sys(volley::test::two_workers());
      auto p = sys.spawn<watching_parent>(4);
      REQUIRE(p.ask(ready{}).get(volley::test::patience).value() == 4);  // pre_start has run
      sys.shutdown();
      CHECK(sys.dead_letters().count() == 0);
    }
    std::string log = err.finish();
    CHECK(volley::test::lines_with(log, "dead letter").empty());
  }
}

TEST_CASE("the same parent still gets terminated when a child stops while it lives",
          "[shutdown][concurrency]") {
  struct stop_children {};
  struct parent {
    void pre_start(volley::context& ctx) {
      child = ctx.spawn<sink>();
      ctx.watch(child);
    }
    void on(const stop_children&) { child.stop(); }
    void on(const volley::terminated&) { ++seen; }
    int on(const ready&) { return seen; }
    volley::actor_ref<sink> child;
    int seen = 0;
  };
  volley::system sys(volley::test::two_workers());
  auto p = sys.spawn<parent>();
  p.tell(stop_children{});
  CHECK(wait_until([&] { return p.ask(ready{}).get(volley::test::patience).value() == 1; }));
  CHECK(sys.dead_letters().count() == 0);
}
