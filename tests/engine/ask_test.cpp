// Tests of ask and future: the reply is the handler's return value (unit for
// void), get(timeout) gives up with errc::timeout, a blocking get on a
// worker is refused, asks to stopped actors fail with recipient_stopped,
// then() runs the continuation, and result<T> reports errors; a request
// noted with poll_for_reply is waited for without sleeping, within its
// window and its deadline.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::errc;
using volley::test::gate;
using volley::test::wait_until;

namespace {

struct plus_one {
  int n;
};
struct greet {
  std::string name;
};
struct touch {};
struct make_box {
  int v;
};
struct hold {};

struct calculator {
  explicit calculator(gate* g = nullptr) : g_(g) {}
  int on(const plus_one& m) { return m.n + 1; }
  std::string on(const greet& m, volley::context& ctx) {
    return "hello " + m.name + " from " + ctx.path();
  }
  void on(const touch&) { ++touched; }
  std::unique_ptr<int> on(const make_box& m) { return std::make_unique<int>(m.v); }
  int on(const hold&) {
    g_->arrive_and_wait();
    return 7;
  }
  gate* g_;
  int touched = 0;
};

struct try_blocking_get {};

/// Tries a blocking get() from inside a handler and reports what it got.
struct impatient {
  impatient(volley::actor_ref<calculator> other, std::promise<std::vector<errc>>& out)
      : other_(std::move(other)), out_(out) {}
  void on(const try_blocking_get&) {
    std::vector<errc> codes;
    auto r1 = other_.ask(plus_one{1}).get();
    codes.push_back(r1.ok() ? errc::broken_promise : r1.err().code);
    auto r2 = other_.ask(plus_one{1}).get(10s);
    codes.push_back(r2.ok() ? errc::broken_promise : r2.err().code);
    out_.set_value(std::move(codes));
  }
  volley::actor_ref<calculator> other_;
  std::promise<std::vector<errc>>& out_;
};

}  // namespace

TEST_CASE("an ask's reply is the handler's return value", "[ask]") {
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "calc", .dispatcher = ""};
  auto calc = sys.spawn<calculator>(p);
  auto r = calc.ask(plus_one{41}).get();
  REQUIRE(r.ok());
  CHECK(r.value() == 42);
  auto s = calc.ask(greet{"ann"}).get(volley::test::patience);
  REQUIRE(s);
  CHECK(s.value() == "hello ann from /user/calc");
}

TEST_CASE("an ask of a void handler completes with unit once it has run", "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto calc = sys.spawn<calculator>();
  volley::future<volley::unit> f = calc.ask(touch{});
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r.value() == volley::unit{});
}

TEST_CASE("a move-only reply is moved out of the result", "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto calc = sys.spawn<calculator>();
  std::unique_ptr<int> box = calc.ask(make_box{9}).get().value();
  REQUIRE(box);
  CHECK(*box == 9);
}

TEST_CASE("get(timeout) returns errc::timeout when the actor does not reply in time", "[ask]") {
  gate g;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit release{g};
  auto calc = sys.spawn<calculator>(&g);
  auto f = calc.ask(hold{});
  REQUIRE(g.wait_arrived());
  auto r = f.get(20ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::timeout);
  CHECK_THROWS_AS(r.value(), volley::bad_result_access);
  g.open();
  // The late reply lands in a request nobody waits for any more: harmless.
  CHECK(calc.ask(plus_one{1}).get().value() == 2);
}

TEST_CASE("a blocking get inside a handler is refused with errc::would_deadlock", "[ask]") {
  volley::system sys(volley::test::two_workers());
  std::promise<std::vector<errc>> out;
  auto codes = out.get_future();
  auto calc = sys.spawn<calculator>();
  auto a = sys.spawn<impatient>(calc, out);
  a.tell(try_blocking_get{});
  REQUIRE(codes.wait_for(volley::test::patience) == std::future_status::ready);
  CHECK(codes.get() == std::vector<errc>{errc::would_deadlock, errc::would_deadlock});
  CHECK_FALSE(a.is_stopped());  // refusing is not a failure of the actor
}

TEST_CASE("an ask to a stopped actor fails with errc::recipient_stopped and is a dead letter",
          "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto calc = sys.spawn<calculator>();
  calc.stop();
  REQUIRE(wait_until([&] { return calc.is_stopped(); }));
  auto r = calc.ask(plus_one{1}).get(volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::recipient_stopped);
  CHECK(sys.dead_letters().count(volley::dead_letter_reason::recipient_stopped) == 1);
}

TEST_CASE("an ask still queued when its actor stops fails with errc::recipient_stopped", "[ask]") {
  gate g;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit release{g};
  auto calc = sys.spawn<calculator>(&g);
  auto first = calc.ask(hold{});
  REQUIRE(g.wait_arrived());
  auto queued = calc.ask(plus_one{1});
  calc.stop();
  g.open();
  CHECK(first.get(volley::test::patience).value() == 7);  // the current message finishes
  auto r = queued.get(volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::recipient_stopped);
}

TEST_CASE("then() runs the continuation with the reply, also when it is already there", "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto calc = sys.spawn<calculator>();
  std::atomic<int> got{0};
  calc.ask(plus_one{1}).then([&](volley::result<int> r) { got = r.value(); });
  REQUIRE(wait_until([&] { return got == 2; }));

  auto f = calc.ask(plus_one{10});
  REQUIRE(wait_until([&] { return calc.ask(touch{}).get().ok(); }));  // f is done by now
  f.then([&](volley::result<int> r) { got = r.value(); });
  CHECK(got == 11);  // ran at once, on this thread
}

TEST_CASE("asks from many threads each get their own reply", "[ask][concurrency]") {
  volley::system sys;  // default configuration
  auto calc = sys.spawn<calculator>();
  const int threads = 4;
  const int per_thread = static_cast<int>(volley::test::scaled(20000));
  std::atomic<int> wrong{0};
  std::vector<std::thread> askers;
  for (int t = 0; t < threads; ++t) {
    askers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        int n = t * 1'000'000 + i;
        auto r = calc.ask(plus_one{n}).get();
        if (!r.ok() || r.value() != n + 1) ++wrong;
      }
    });
  }
  for (auto& t : askers) t.join();
  CHECK(wrong == 0);
}

TEST_CASE("get() on a moved-from future throws instead of crashing", "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto calc = sys.spawn<calculator>();
  auto f = calc.ask(plus_one{1});
  auto g = std::move(f);
  CHECK_THROWS_AS(f.get(), std::logic_error);  // NOLINT(bugprone-use-after-move): the point
  CHECK(g.get().value() == 2);
}

/// This thread's voluntary context switches so far: a futex sleep is one,
/// a yield that hands the core over is not (it counts as involuntary).
long voluntary_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return u.ru_nvcsw;
}

/// Waits on a request that another thread completes `after` from now, and
/// returns how many times the waiting thread slept meanwhile.
long sleeps_while_waiting(std::chrono::milliseconds after, const void* noted,
                          std::chrono::nanoseconds window) {
  auto* state = new volley::detail::future_state<int>();
  state->add_ref();  // one for the completer, one for the waiter
  auto* request = static_cast<volley::detail::ask_state<int>*>(state);
  volley::detail::poll_for_reply(noted != nullptr ? noted : request, window);
  std::thread completer([state, after] {
    std::this_thread::sleep_for(after);
    state->complete(5);
    state->release();
  });
  long before = voluntary_switches();
  auto r = state->wait(std::nullopt);
  long slept = voluntary_switches() - before;
  completer.join();
  state->release();
  CHECK(r.value() == 5);
  return slept;
}

// Known-bad (ask.cpp, take_reply_poll returning zero whatever the note):
// the waiter's 20 µs spin ends long before the reply and it sleeps on the
// futex, one voluntary switch.
TEST_CASE("a wait on a request noted by poll_for_reply looks for its reply without sleeping",
          "[ask]") {
  CHECK(sleeps_while_waiting(20ms, nullptr, volley::test::patience) == 0);
}

// Known-bad (take_reply_poll returning the window without comparing the
// request): the wait on the other request looks for the whole 20 ms, no sleep.
TEST_CASE("a note for another request, or one already used, leaves a wait its usual spin",
          "[ask]") {
  int other = 0;
  CHECK(sleeps_while_waiting(20ms, &other, volley::test::patience) >= 1);
  // The note for a request lasts one wait: a later wait on this thread, on a
  // request that the allocator may put at the same address, sleeps.
  auto* state = new volley::detail::future_state<int>();
  volley::detail::poll_for_reply(static_cast<volley::detail::ask_state<int>*>(state),
                                 volley::test::patience);
  CHECK(volley::detail::take_reply_poll(static_cast<volley::detail::ask_state<int>*>(state)) ==
        volley::test::patience);
  CHECK(volley::detail::take_reply_poll(static_cast<volley::detail::ask_state<int>*>(state)) ==
        std::chrono::nanoseconds::zero());
  state->release();
}

// Known-bad (ask_state::wait leaving the note when the reply is already
// there): the note outlives the wait, 200 µs noted after it. The remote
// direct-write test failed so under ASan in CI, its replies often arriving
// before the asker's get().
TEST_CASE("a wait on a request already answered spends its note", "[ask]") {
  auto* state = new volley::detail::future_state<int>();
  auto* request = static_cast<volley::detail::ask_state<int>*>(state);
  volley::detail::poll_for_reply(request, std::chrono::microseconds(200));
  state->complete(5);
  auto r = state->wait(std::nullopt);
  CHECK(r.value() == 5);
  CHECK(volley::detail::noted_reply_poll() == std::chrono::nanoseconds::zero());
  state->release();
}

// Known-bad (ask_sync::spin ignoring the deadline): the get below looks for
// the reply for the note's hour and the test hangs until ctest's timeout.
TEST_CASE("get(timeout) on a noted request still gives up at its deadline", "[ask]") {
  auto* state = new volley::detail::future_state<int>();  // nobody will answer it
  volley::detail::poll_for_reply(static_cast<volley::detail::ask_state<int>*>(state),
                                 std::chrono::hours(1));
  auto r = state->wait(std::chrono::steady_clock::now() + 20ms);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::timeout);
  state->release();
}

TEST_CASE("result holds a value or an error; value() on an error throws with the message",
          "[result]") {
  volley::result<int> ok = 5;
  CHECK(ok.ok());
  CHECK(static_cast<bool>(ok));
  CHECK(ok.value() == 5);
  volley::result<int> bad = volley::error{errc::timeout, "no reply before the deadline"};
  CHECK_FALSE(bad.ok());
  CHECK(bad.err().code == errc::timeout);
  try {
    (void)bad.value();
    FAIL("value() on an error must throw");
  } catch (const volley::bad_result_access& e) {
    CHECK(std::string(e.what()) == "timeout: no reply before the deadline");
    CHECK(e.err().code == errc::timeout);
  }
  CHECK(std::string(volley::to_string(errc::recipient_stopped)) == "recipient stopped");
}
