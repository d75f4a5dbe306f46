// Tests of where a blocking future::get() may wait: on a shared worker it is
// refused with errc::would_deadlock whether or not the reply has already
// arrived (so the outcome never depends on timing); the request was sent all
// the same, and the future can still take the reply with then(); an actor on
// the `pinned` dispatcher has a thread of its own and may block.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::errc;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct plus_one {
  int n;
};
struct get_after_reply {};
struct get_then_then {};
struct get_blocking {};

struct calculator {
  explicit calculator(std::shared_ptr<std::atomic<int>> handled) : handled_(std::move(handled)) {}
  int on(const plus_one& m) {
    handled_->fetch_add(1);
    return m.n + 1;
  }
  std::shared_ptr<std::atomic<int>> handled_;
};

struct asker {
  asker(volley::actor_ref<calculator> calc, std::shared_ptr<std::atomic<int>> handled,
        std::shared_ptr<std::promise<int>> later)
      : calc_(std::move(calc)), handled_(std::move(handled)), later_(std::move(later)) {}

  /// Waits (without get) until the reply is surely there, then gets.
  errc on(const get_after_reply&) {
    // Counted before the ask goes out: the other worker may handle it before
    // the next line runs, and a count read after the ask would then wait for
    // an increment that never comes (the test hung so under load).
    const int before = handled_->load();
    auto f = calc_.ask(plus_one{1});
    while (handled_->load() == before) std::this_thread::yield();
    std::this_thread::sleep_for(5ms);  // the reply is completed just after the handler returns
    auto r = f.get();
    return r ? errc::timeout : r.err().code;  // timeout stands for "not refused" here
  }

  /// A refused get leaves the request open: then() still takes the reply.
  errc on(const get_then_then&) {
    auto f = calc_.ask(plus_one{41});
    auto r = f.get(patience);
    f.then([later = later_](volley::result<int> v) { later->set_value(v.value()); });
    return r ? errc::timeout : r.err().code;
  }

  /// On a pinned actor: blocking is allowed.
  int on(const get_blocking&) { return calc_.ask(plus_one{2}).get(patience).value(); }

  volley::actor_ref<calculator> calc_;
  std::shared_ptr<std::atomic<int>> handled_;
  std::shared_ptr<std::promise<int>> later_;
};

}  // namespace

TEST_CASE("a blocking get on a worker is refused even when the reply has already arrived",
          "[ask][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto calc = sys.spawn<calculator>(handled);
  auto a = sys.spawn<asker>(calc, handled, std::make_shared<std::promise<int>>());
  for (int i = 0; i < 5; ++i) {
    CHECK(a.ask(get_after_reply{}).get(patience).value() == errc::would_deadlock);
  }
  CHECK(handled->load() == 5);  // each refused request was sent and handled all the same
}

TEST_CASE("after a refused get, then() still receives the reply", "[ask][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto later = std::make_shared<std::promise<int>>();
  auto value = later->get_future();
  auto calc = sys.spawn<calculator>(handled);
  auto a = sys.spawn<asker>(calc, handled, later);
  CHECK(a.ask(get_then_then{}).get(patience).value() == errc::would_deadlock);
  REQUIRE(value.wait_for(patience) == std::future_status::ready);
  CHECK(value.get() == 42);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("an actor on the pinned dispatcher may block on get()", "[ask][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto handled = std::make_shared<std::atomic<int>>(0);
  auto calc = sys.spawn<calculator>(handled);
  auto a = sys.spawn<asker>(volley::props{.dispatcher = "pinned"}, calc, handled,
                            std::make_shared<std::promise<int>>());
  CHECK(a.ask(get_blocking{}).get(patience).value() == 3);
}
