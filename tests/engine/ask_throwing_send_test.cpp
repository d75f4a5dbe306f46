// An ask whose send throws (the message's copy throws, here std::bad_alloc
// as an exhausted allocator would) leaves nothing behind, on every path that
// makes a request: an ask from a thread, ctx.ask with a continuation (with a
// timeout, so a timer was made, and without), co_await ctx.ask, and
// forward() of an ask. The caller sees the exception; no request, timer or
// counted actor leaks (LeakSanitizer checks at exit in the ASan build, and
// the asker's cell is freed once the system is gone: a count the failed
// send took on it and never gave back would keep it, which LeakSanitizer
// does not see, as cells live in the engine's pool); no
// timer fires later on a freed request (ASan would report the use); the
// failed ask's continuation never runs; the actor goes on asking after it.
// A group ask (tail_chopping.hpp) whose later copy throws on the timer
// thread fails at once instead of at its deadline.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <new>
#include <thread>
#include <vector>

#include <volley/engine/reply.hpp>
#include <volley/engine/tail_chopping.hpp>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::errc;
using volley::test::wait_until;

namespace {

/// Copies of `fragile` throw std::bad_alloc while this is above zero (each
/// throwing copy counts it down). Moves never throw.
std::atomic<int> copies_to_fail{0};

struct fragile {
  int n;
  explicit fragile(int v) : n(v) {}
  fragile(const fragile& o) : n(o.n) {
    if (copies_to_fail.load() > 0) {
      copies_to_fail.fetch_sub(1);
      throw std::bad_alloc();
    }
  }
  fragile(fragile&&) noexcept = default;
  fragile& operator=(const fragile&) = default;
  fragile& operator=(fragile&&) noexcept = default;
};

struct echo {
  int on(const fragile& f) { return f.n; }
};

/// What an asking actor saw: sends that threw, and what came back.
struct seen {
  std::atomic<int> thrown{0};
  std::atomic<int> replies{0};  // continuations (or resumes) with the right value
  std::atomic<int> other{0};    // continuations with anything else
  std::atomic<bool> done{false};
  std::atomic<int> asker_cells{0};  // the asker's cell_tokens: 0 once its cell is freed
};

struct go {
  std::chrono::nanoseconds timeout;  // the throwing ask's
  /// The ask that goes through waits this long: a 1 ms deadline would make
  /// a slow (sanitized, loaded) machine's answer late, not wrong.
  std::chrono::nanoseconds second_timeout() const {
    return timeout == volley::no_deadline ? timeout : volley::test::patience;
  }
};

/// On `go`: one ask that throws while sending, then one that goes through.
struct continuation_asker {
  continuation_asker(volley::test::cell_token, volley::actor_ref<echo> e, seen* s)
      : echo_(std::move(e)), seen_(s) {}
  void on(const go& g, volley::context& ctx) {
    fragile f{7};
    copies_to_fail = 1;
    try {
      ctx.ask(echo_, f, g.timeout, [s = seen_](volley::result<int>) { s->other.fetch_add(1); });
    } catch (const std::bad_alloc&) {
      seen_->thrown.fetch_add(1);
    }
    ctx.ask(echo_, f, g.second_timeout(), [s = seen_](volley::result<int> r) {
      (r && r.value() == 7 ? s->replies : s->other).fetch_add(1);
      s->done = true;
    });
  }
  volley::actor_ref<echo> echo_;
  seen* seen_;
};

/// The same with co_await: the throw reaches the coroutine at the co_await.
struct coroutine_asker {
  coroutine_asker(volley::test::cell_token, volley::actor_ref<echo> e, seen* s)
      : echo_(std::move(e)), seen_(s) {}
  volley::task on(const go& g, volley::context& ctx) {
    fragile f{7};
    copies_to_fail = 1;
    try {
      (void)co_await ctx.ask(echo_, f, g.timeout);
      seen_->other.fetch_add(1);  // not reached: the send threw
    } catch (const std::bad_alloc&) {
      seen_->thrown.fetch_add(1);
    }
    volley::result<int> r = co_await ctx.ask(echo_, f, g.second_timeout());
    (r && r.value() == 7 ? seen_->replies : seen_->other).fetch_add(1);
    seen_->done = true;
  }
  volley::actor_ref<echo> echo_;
  seen* seen_;
};

/// Forwards its ask of `fragile` to echo; the forward's copy throws.
struct relay {
  explicit relay(volley::actor_ref<echo> e) : echo_(std::move(e)) {}
  volley::deferred<int> on(const fragile& f, volley::context& ctx) {
    copies_to_fail = 1;
    echo_.forward(f, ctx);
    return {};
  }
  volley::actor_ref<echo> echo_;
};

/// Keeps every ask's reply unanswered, and makes the next copy of the
/// message throw: a tail-chopping group's next chop, on the timer thread.
struct silent {
  volley::deferred<int> on(const fragile&, volley::context& ctx) {
    held_.push_back(ctx.reply_later<int>());
    copies_to_fail = 1;
    return {};
  }
  std::vector<volley::reply_handle<int>> held_;
};

/// Long enough for a 1 ms timeout that was armed by mistake to fire.
constexpr auto after_the_timeouts = 30ms;

template <class Asker>
void ask_twice_from(std::chrono::nanoseconds timeout) {
  seen s;
  {
    volley::system sys(volley::test::two_workers());
    auto asker = sys.spawn<Asker>(volley::test::cell_token(&s.asker_cells), sys.spawn<echo>(), &s);
    asker.tell(go{timeout});
    REQUIRE(wait_until([&] { return s.done.load(); }));
    std::this_thread::sleep_for(after_the_timeouts);
    CHECK(sys.dead_letters().count() == 0);
  }
  CHECK(s.thrown == 1);
  CHECK(s.replies == 1);
  CHECK(s.other == 0);
  const bool freed = wait_until([&] { return s.asker_cells.load() == 0; });
  INFO(s.asker_cells.load() << " tokens of the asker's cell left");
  CHECK(freed);
}

}  // namespace

TEST_CASE("an ask from a thread whose message copy throws sends nothing and leaks nothing",
          "[ask]") {
  volley::system sys(volley::test::two_workers());
  auto e = sys.spawn<echo>();
  fragile f{3};
  copies_to_fail = 1;
  CHECK_THROWS_AS(e.ask(f), std::bad_alloc);
  volley::result<int> r = e.ask(f).get(volley::test::patience);
  REQUIRE(r.ok());
  CHECK(r.value() == 3);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("ctx.ask whose send throws with a timeout arms no timer and runs no continuation",
          "[ask][concurrency]") {
  ask_twice_from<continuation_asker>(1ms);
}

TEST_CASE("ctx.ask whose send throws without a deadline leaks nothing", "[ask][concurrency]") {
  ask_twice_from<continuation_asker>(volley::no_deadline);
}

TEST_CASE("co_await ctx.ask whose send throws: the coroutine catches it and asks again",
          "[ask][concurrency]") {
  ask_twice_from<coroutine_asker>(1ms);
  ask_twice_from<coroutine_asker>(volley::no_deadline);
}

TEST_CASE("a forward whose copy throws answers the asker handler_failed instead of never",
          "[ask][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto r = sys.spawn<relay>(sys.spawn<echo>());
  volley::result<int> answer = r.ask(fragile{5}).get(volley::test::patience);
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.err().code == errc::handler_failed);
}

TEST_CASE("a tail-chopping ask whose next copy throws fails at once, not at its deadline",
          "[ask][router][concurrency]") {
  volley::system sys(volley::test::two_workers());
  std::vector<volley::actor_ref<silent>> rs{sys.spawn<silent>(), sys.spawn<silent>()};
  // The deadline is far beyond the wait below: only the failed chop can
  // answer within it (before, the asker waited for the deadline).
  auto group = volley::make_tail_chopping(rs, 3 * volley::test::patience, 10ms);
  volley::result<int> r = group.ask(fragile{1}).get(volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::handler_failed);
  CHECK(r.err().message.find("could not be sent") != std::string::npos);
  copies_to_fail = 0;
}
