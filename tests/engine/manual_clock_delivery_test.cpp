// Tests of what manual_clock::advance() guarantees on a threaded system:
// when it returns, the timers that became due have been queued to their
// actors, so a message the test sends next is handled after them. Each
// check runs 100 times: before the guarantee, "advance then ask" saw the
// timer's effect in about 5 of 100 runs.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct arm {};
struct fired {};
struct count_fired {};

/// Starts a 10 ms single timer on `arm`; counts the timer's messages.
struct alarm_clock_actor : volley::actor<alarm_clock_actor> {
  void on(const arm&) { timers().start_single("alarm", 10ms, fired{}); }
  void on(const fired&) { ++count; }
  int on(const count_fired&) { return count; }
  int count = 0;
};

volley::config threaded(std::shared_ptr<volley::manual_clock> clock) {
  volley::config cfg = volley::test::two_workers();
  cfg.clock = std::move(clock);
  return cfg;
}

enum class phase { waiting, timed_out };
struct probe {};

/// Waits in `waiting` for at most 1 s; the timeout moves it to `timed_out`.
/// A probe records the state it finds and goes back to `waiting`.
struct sleepy : volley::fsm<sleepy, phase, int> {
  using accepts = volley::accepts<probe>;
  explicit sleepy(std::shared_ptr<std::atomic<int>> seen_timed_out,
                  std::shared_ptr<std::atomic<int>> probes)
      : fsm(phase::waiting, 0), timed_out_(std::move(seen_timed_out)), probes_(std::move(probes)) {
    when(phase::waiting, 1s)
        .on([](const volley::state_timeout&) { return goto_(phase::timed_out); })
        .on([this](const probe&) {
          probes_->fetch_add(1);
          return stay();
        });
    when(phase::timed_out).on([this](const probe&) {
      timed_out_->fetch_add(1);
      probes_->fetch_add(1);
      return goto_(phase::waiting);  // arms the 1 s timeout again
    });
  }
  std::shared_ptr<std::atomic<int>> timed_out_;
  std::shared_ptr<std::atomic<int>> probes_;
};

}  // namespace

TEST_CASE(
    "after advance() returns, an ask sees the effect of the timer that became due, 100 of "
    "100 times",
    "[clock][timers][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  volley::system sys(threaded(clock));
  auto a = sys.spawn<alarm_clock_actor>();
  for (int i = 1; i <= 100; ++i) {
    a.tell(arm{});
    REQUIRE(a.ask(count_fired{}).get(patience).value() == i - 1);  // the timer is armed now
    clock->advance(20ms);
    CHECK(a.ask(count_fired{}).get(patience).value() == i);
  }
}

TEST_CASE(
    "an fsm's state timeout fires after advance() even when the test's next message follows "
    "at once",
    "[clock][fsm][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  volley::system sys(threaded(clock));
  auto timed_out = std::make_shared<std::atomic<int>>(0);
  auto probes = std::make_shared<std::atomic<int>>(0);
  auto s = sys.spawn<sleepy>(timed_out, probes);
  // An ask of an fsm is answered once the handler's transition is applied,
  // so when get() returns the state timeout is armed again; a counter bumped
  // inside the handler would be seen before that, and the next advance()
  // could then run ahead of the arming.
  REQUIRE(s.ask(probe{}).get(patience));  // after pre_start, which armed the first timeout
  for (int i = 1; i <= 100; ++i) {
    clock->advance(1s);
    // Sent at once: without the guarantee, this re-armed the timeout before it fired.
    REQUIRE(s.ask(probe{}).get(patience));
    CHECK(probes->load() == i + 1);
    CHECK(timed_out->load() == i);
  }
}
