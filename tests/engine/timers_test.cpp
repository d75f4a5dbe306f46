// Tests of keyed timers (timers.hpp, actor.hpp): a single timer fires once
// when the clock passes its delay and not before; a periodic one fires each
// interval; after cancel(key) returns no message of that timer is handled,
// not even one already queued (it becomes a `timer_cancelled` dead letter);
// starting a key again replaces the old timer with the same guarantee;
// is_active; every timer is cancelled when the actor stops; and many live
// timers across many actors all fire.
//
// Time comes from a manual_clock, so nothing here sleeps on real time. The
// exact-ordering tests use the deterministic dispatcher: the test thread
// runs every actor (system::step / run_until_idle), which is what lets a
// test queue a timer's message and then have the actor cancel the timer
// before that message is taken.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::test::wait_until;

namespace {

struct tick {
  int n;
};
struct start_single {
  std::string key;
  std::chrono::milliseconds delay;
  int n;
};
struct start_periodic {
  std::string key;
  std::chrono::milliseconds interval;
  int n;
};
struct cancel_timer {
  std::string key;
};
struct query_active {
  std::string key;
};

/// What a timed actor saw; owned by the test, outlives the actor.
struct timer_log {
  std::vector<int> ticks;
  std::vector<bool> cancel_results;
  bool post_stop_ran = false;
  int ticks_after_post_stop = 0;
};

struct timed : volley::actor<timed> {
  explicit timed(timer_log* log, bool timer_in_post_stop = false)
      : log_(log), timer_in_post_stop_(timer_in_post_stop) {}

  void on(const start_single& m) { timers().start_single(m.key, m.delay, tick{m.n}); }
  void on(const start_periodic& m) {
    int n = m.n;
    timers().start_periodic(m.key, m.interval, [n] { return tick{n}; });
  }
  void on(const cancel_timer& m) { log_->cancel_results.push_back(timers().cancel(m.key)); }
  bool on(const query_active& m) { return timers().is_active(m.key); }
  void on(const tick& t) {
    if (log_->post_stop_ran) ++log_->ticks_after_post_stop;
    log_->ticks.push_back(t.n);
  }
  void post_stop() {
    log_->post_stop_ran = true;
    // A timer started this late must not outlive the actor either.
    if (timer_in_post_stop_) timers().start_periodic("late", 1ms, [] { return tick{-1}; });
  }

  timer_log* log_;
  bool timer_in_post_stop_;
};

/// A deterministic system on a manual clock (the clock is declared first:
/// the system's timer service reads it until the system is gone).
struct det_env {
  std::shared_ptr<volley::manual_clock> clock = std::make_shared<volley::manual_clock>();
  volley::system sys{volley::test::deterministic(clock)};

  void advance(std::chrono::nanoseconds d) {
    clock->advance(d);
    sys.run_until_idle();
  }
  /// An ask answered by running the system on this thread.
  template <class R>
  R answer(volley::future<R> f) {
    sys.run_until_idle();
    return f.get(1s).value();
  }
};

/// A `timed` actor on a deterministic system (det_env) that logs to `log`;
/// the log is declared first, so the system ends before it.
struct timed_actor {
  timer_log log;
  det_env env;
  volley::actor_ref<timed> a = env.sys.spawn<timed>(&log);
};

}  // namespace

TEST_CASE_METHOD(timed_actor,
                 "a single timer fires once after its delay has passed, and not before",
                 "[timers]") {
  a.tell(start_single{"t", 100ms, 1});
  env.sys.run_until_idle();

  env.advance(99ms);
  CHECK(log.ticks.empty());
  env.advance(1ms);
  CHECK(log.ticks == std::vector<int>{1});
  env.advance(10s);
  CHECK(log.ticks == std::vector<int>{1});
  CHECK(env.sys.dead_letters().count() == 0);
}

TEST_CASE_METHOD(timed_actor, "a periodic timer fires once per interval until it is cancelled",
                 "[timers]") {
  a.tell(start_periodic{"p", 10ms, 7});
  env.sys.run_until_idle();

  env.advance(9ms);
  CHECK(log.ticks.empty());
  for (int i = 1; i <= 5; ++i) {
    env.advance(10ms);
    CHECK(log.ticks.size() == static_cast<std::size_t>(i));
  }
  a.tell(cancel_timer{"p"});
  env.sys.run_until_idle();
  env.advance(1s);
  CHECK(log.ticks == std::vector<int>(5, 7));
  CHECK(log.cancel_results == std::vector<bool>{true});
}

TEST_CASE_METHOD(
    timed_actor,
    "after cancel returns, a single timer's message already queued is not handled: it is a "
    "timer_cancelled dead letter",
    "[timers]") {
  a.tell(start_single{"t", 10ms, 1});
  env.sys.run_until_idle();

  // The cancel waits in the mailbox; step() first polls the timers, which
  // queues the tick behind it, then runs the actor for one message: the
  // cancel. So the tick is in the mailbox when cancel() returns.
  a.tell(cancel_timer{"t"});
  env.clock->advance(20ms);
  REQUIRE(env.sys.step());
  CHECK(log.cancel_results == std::vector<bool>{true});
  CHECK(log.ticks.empty());
  CHECK(env.sys.dead_letters().count() == 0);  // not taken yet

  env.sys.run_until_idle();
  CHECK(log.ticks.empty());
  CHECK(env.sys.dead_letters().count(dead_letter_reason::timer_cancelled) == 1);
  CHECK(env.sys.dead_letters().count() == 1);
}

TEST_CASE_METHOD(timed_actor,
                 "after cancel returns, a periodic timer's queued message is not handled either",
                 "[timers]") {
  a.tell(start_periodic{"p", 10ms, 3});
  env.sys.run_until_idle();
  env.advance(10ms);
  REQUIRE(log.ticks == std::vector<int>{3});

  a.tell(cancel_timer{"p"});
  env.clock->advance(10ms);
  REQUIRE(env.sys.step());  // queues the second tick, then handles the cancel
  env.sys.run_until_idle();
  env.advance(1s);
  CHECK(log.ticks == std::vector<int>{3});
  CHECK(env.sys.dead_letters().count(dead_letter_reason::timer_cancelled) == 1);
}

TEST_CASE_METHOD(timed_actor,
                 "starting a key again replaces the old timer; its queued message is not handled",
                 "[timers]") {
  a.tell(start_single{"t", 10ms, 1});
  env.sys.run_until_idle();

  a.tell(start_single{"t", 50ms, 2});
  env.clock->advance(20ms);
  REQUIRE(env.sys.step());  // tick 1 queued, then the restart of "t" handled
  env.sys.run_until_idle();
  CHECK(log.ticks.empty());
  CHECK(env.sys.dead_letters().count(dead_letter_reason::timer_cancelled) == 1);

  env.advance(49ms);  // the new timer counts from its own start
  CHECK(log.ticks.empty());
  env.advance(1ms);
  CHECK(log.ticks == std::vector<int>{2});
}

TEST_CASE_METHOD(timed_actor,
                 "a timer is active from its start until it fired (single) or was cancelled",
                 "[timers]") {
  CHECK_FALSE(env.answer(a.ask(query_active{"s"})));

  a.tell(start_single{"s", 10ms, 1});
  a.tell(start_periodic{"p", 10ms, 2});
  CHECK(env.answer(a.ask(query_active{"s"})));
  CHECK(env.answer(a.ask(query_active{"p"})));
  CHECK_FALSE(env.answer(a.ask(query_active{"other"})));

  env.advance(10ms);
  REQUIRE(log.ticks.size() == 2);
  CHECK_FALSE(env.answer(a.ask(query_active{"s"})));  // fired and handled
  CHECK(env.answer(a.ask(query_active{"p"})));        // periodic: still running

  a.tell(cancel_timer{"p"});
  a.tell(cancel_timer{"p"});  // a second cancel finds nothing
  CHECK_FALSE(env.answer(a.ask(query_active{"p"})));
  CHECK(log.cancel_results == std::vector<bool>{true, false});
}

TEST_CASE("every timer of an actor is cancelled when it stops: nothing is handled after post_stop",
          "[timers]") {
  timer_log log;
  det_env env;
  auto a = env.sys.spawn<timed>(&log, true);
  a.tell(start_periodic{"p", 10ms, 1});
  a.tell(start_single{"s", 25ms, 2});
  env.sys.run_until_idle();
  env.advance(10ms);
  REQUIRE(log.ticks == std::vector<int>{1});

  // A tick queued when the stop comes: dead-lettered with the mailbox.
  env.clock->advance(10ms);
  a.stop();
  env.sys.run_until_idle();
  CHECK(log.post_stop_ran);
  CHECK(a.is_stopped());
  const auto dead_at_stop = env.sys.dead_letters().count();
  CHECK(dead_at_stop == 1);

  env.advance(1s);  // single, periodic and the one started in post_stop: all gone
  CHECK(log.ticks_after_post_stop == 0);
  CHECK(log.ticks == std::vector<int>{1});
  CHECK(env.sys.dead_letters().count() == dead_at_stop);
  // LSan (ASan build) checks at exit that no timer node or cell leaked.
}

TEST_CASE("timers of a stopped actor are released on a threaded system too",
          "[timers][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  timer_log log;
  {
    volley::config cfg = volley::test::two_workers();
    cfg.clock = clock;
    volley::system sys(cfg);
    auto a = sys.spawn<timed>(&log, true);
    a.tell(start_periodic{"p", 5ms, 1});
    REQUIRE(a.ask(query_active{"p"}).get(volley::test::patience).value());
    a.stop();
    REQUIRE(wait_until([&] { return a.is_stopped(); }));
    clock->advance(1s);
  }
  CHECK(log.post_stop_ran);
  CHECK(log.ticks_after_post_stop == 0);
}

namespace {

struct fire {};

/// Starts `count` single timers in pre_start, due 1..100 ms later.
struct many_timers : volley::actor<many_timers> {
  many_timers(int count, std::atomic<std::size_t>* started, std::atomic<std::size_t>* fired)
      : count_(count), started_(started), fired_(fired) {}
  void pre_start() {
    for (int i = 0; i < count_; ++i) {
      timers().start_single("k" + std::to_string(i), std::chrono::milliseconds(1 + i % 100),
                            fire{});
    }
    started_->fetch_add(static_cast<std::size_t>(count_), std::memory_order_relaxed);
  }
  void on(const fire&) { fired_->fetch_add(1, std::memory_order_relaxed); }
  int count_;
  std::atomic<std::size_t>* started_;
  std::atomic<std::size_t>* fired_;
};

}  // namespace

TEST_CASE("a million live timers across many actors all fire, each once", "[timers][concurrency]") {
  // 100 keys per actor: an actor's table is a linear list (few timers per
  // actor is the common case), so the million is spread over 10'000 actors.
  constexpr int per_actor = 100;
  const std::size_t actors = std::max<std::size_t>(1, volley::test::scaled(1'000'000) / per_actor);
  const std::size_t total = actors * per_actor;

  auto clock = std::make_shared<volley::manual_clock>();
  volley::config cfg;
  cfg.pin = false;
  cfg.clock = clock;
  volley::system sys(cfg);
  std::atomic<std::size_t> started{0};
  std::atomic<std::size_t> fired{0};
  std::vector<volley::actor_ref<many_timers>> refs;
  refs.reserve(actors);
  for (std::size_t i = 0; i < actors; ++i)
    refs.push_back(sys.spawn<many_timers>(per_actor, &started, &fired));

  REQUIRE(wait_until([&] { return started.load() == total; }, 120s));
  CHECK(fired.load() == 0);  // all live at once: time has not moved
  clock->advance(100ms);
  REQUIRE(wait_until([&] { return fired.load() == total; }, 120s));
  clock->advance(1s);
  sys.shutdown();
  CHECK(fired.load() == total);
  CHECK(sys.dead_letters().count() == 0);
}

namespace {

struct held {
  std::shared_ptr<int> token;
};
struct arm_and_cancel {};

/// What a cancelled timer's payload looked like right after cancel()
/// returned, inside the same handler.
struct payload_log {
  bool single_alive_after_cancel = true;
  bool periodic_alive_after_cancel = true;
};

struct payload_owner : volley::actor<payload_owner> {
  explicit payload_owner(payload_log* log) : log_(log) {}
  void on(const arm_and_cancel&) {
    auto single = std::make_shared<int>(1);
    std::weak_ptr<int> single_seen = single;
    timers().start_single("single", 1h, held{std::move(single)});
    auto periodic = std::make_shared<int>(2);
    std::weak_ptr<int> periodic_seen = periodic;
    timers().start_periodic("periodic", 1h, [p = std::move(periodic)] { return held{p}; });
    timers().cancel("single");
    timers().cancel("periodic");
    log_->single_alive_after_cancel = !single_seen.expired();
    log_->periodic_alive_after_cancel = !periodic_seen.expired();
  }
  void on(const held&) {}
  payload_log* log_;
};

}  // namespace

TEST_CASE(
    "cancel releases a timer's message (or factory) at once, not when the timer thread "
    "meets the node",
    "[timers]") {
  // Deterministic: the service is polled between messages only, so the
  // cancelled nodes are still in its hand-off queue when the handler looks.
  det_env env;
  payload_log log;
  auto a = env.sys.spawn<payload_owner>(&log);
  a.tell(arm_and_cancel{});
  env.sys.run_until_idle();
  CHECK_FALSE(log.single_alive_after_cancel);
  CHECK_FALSE(log.periodic_alive_after_cancel);
}

TEST_CASE_METHOD(timed_actor,
                 "restarting a key many times keeps one table entry and fires only the last timer",
                 "[timers]") {
  for (int i = 0; i < 100; ++i) a.tell(start_single{"k", 10ms, i});
  env.sys.run_until_idle();
  CHECK(env.answer(a.ask(query_active{"k"})));
  env.advance(10ms);
  CHECK(log.ticks == std::vector<int>{99});
  CHECK_FALSE(env.answer(a.ask(query_active{"k"})));
}
