// Tests of replies that can wait (reply.hpp): the seed guide's chain — A asks
// B, B must ask C before it can answer A — written with a reply handle and
// with a reply_task coroutine; a handle completed twice, dropped unanswered,
// completed after the asker's timeout, or taken in a handler of a tell, each
// with its defined outcome (the asker gets an error, never a hang; the
// replier never gets an exception); forward() keeps the original sender and
// the ask's reply path.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::errc;
using volley::test::patience;
using volley::test::wait_until;

namespace {

// -- C: the one who knows ---------------------------------------------------------

struct price {
  int item;
};
struct slow_price {
  int item;
};
struct release_slow {};

/// Answers price at once; keeps slow_price requests until release_slow.
struct pricer {
  int on(const price& p) { return p.item * 10; }
  volley::deferred<int> on(const slow_price&, volley::context& ctx) {
    held.push_back(ctx.reply_later<int>());
    return {};
  }
  void on(const release_slow&) {
    for (auto& h : held) h.ok(-1);
    held.clear();
  }
  std::vector<volley::reply_handle<int>> held;
};

// -- B: must ask C before it can answer A -------------------------------------------

struct quote {
  int item;
};
struct quote_co {
  int item;
};
struct quote_failing {};

struct broker {
  explicit broker(volley::actor_ref<pricer> p) : pricer_(std::move(p)) {}

  /// With a reply handle moved into the continuation.
  volley::deferred<int> on(const quote& q, volley::context& ctx) {
    auto reply = ctx.reply_later<int>();
    ctx.ask(pricer_, price{q.item}, patience,
            [reply = std::move(reply)](volley::result<int> p) mutable {
              if (p) {
                reply.ok(p.value() + 1);
              } else {
                reply.fail(p.err());
              }
            });
    return {};
  }

  /// With co_await and co_return.
  volley::reply_task<int> on(const quote_co& q, volley::context& ctx) {
    volley::result<int> p = co_await ctx.ask(pricer_, price{q.item}, patience);
    co_return p.value() + 2;
  }

  /// A coroutine that throws after its first suspension.
  volley::reply_task<int> on(const quote_failing&, volley::context& ctx) {
    volley::result<int> p = co_await ctx.ask(pricer_, price{1}, patience);
    if (p) throw std::runtime_error("no quote today");
    co_return 0;
  }

  volley::actor_ref<pricer> pricer_;
};

/// Counts its live instances, moved-from ones included.
struct counted_msg {
  static inline std::atomic<int> live{0};
  counted_msg() { live.fetch_add(1); }
  counted_msg(const counted_msg&) { live.fetch_add(1); }
  counted_msg(counted_msg&&) noexcept { live.fetch_add(1); }
  ~counted_msg() { live.fetch_sub(1); }
};

struct counted_answerer {
  volley::reply_task<int> on(const counted_msg&) { co_return 1; }
};

// -- A: asks B from inside an actor -------------------------------------------------

struct run_chain {
  int item;
  bool coroutine;
};

struct customer {
  explicit customer(volley::actor_ref<broker> b) : broker_(std::move(b)) {}
  volley::reply_task<int> on(const run_chain& r, volley::context& ctx) {
    if (r.coroutine) {
      co_return (co_await ctx.ask(broker_, quote_co{r.item}, patience)).value();
    }
    co_return (co_await ctx.ask(broker_, quote{r.item}, patience)).value();
  }
  volley::actor_ref<broker> broker_;
};

// -- handles with unusual lives ----------------------------------------------------

/// What ok() returned, in order (written by actors, read by the test).
class outcome_log {
 public:
  void push_back(bool b) {
    std::lock_guard lock(mu_);
    seen_.push_back(b);
  }
  std::vector<bool> get() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<bool> seen_;
};

struct hold_reply {};
struct complete_twice {};
struct drop_reply {};
struct answer_held {
  int value;
};
struct forget_to_take {};
struct tell_only {};
struct ping {};

struct keeper {
  explicit keeper(std::shared_ptr<outcome_log> outcomes) : outcomes_(std::move(outcomes)) {}

  volley::deferred<int> on(const hold_reply&, volley::context& ctx) {
    held_ = ctx.reply_later<int>();
    return {};
  }
  void on(const answer_held& a) { outcomes_->push_back(held_.ok(a.value)); }

  volley::deferred<int> on(const complete_twice&, volley::context& ctx) {
    auto reply = ctx.reply_later<int>();
    outcomes_->push_back(reply.ok(1));
    outcomes_->push_back(reply.ok(2));
    return {};
  }
  volley::deferred<int> on(const drop_reply&, volley::context& ctx) {
    auto reply = ctx.reply_later<int>();  // destroyed unanswered at return
    return {};
  }
  volley::deferred<int> on(const forget_to_take&) { return {}; }
  int on(const ping&) { return 0; }
  void on(const tell_only&, volley::context& ctx) {
    auto reply = ctx.reply_later<volley::unit>();
    outcomes_->push_back(reply.ok(volley::unit{}));
  }

  std::shared_ptr<outcome_log> outcomes_;
  volley::reply_handle<int> held_;
};

/// Asks `target` with a short timeout and records the result.
struct impatient_asker {
  explicit impatient_asker(volley::actor_ref<keeper> k, std::shared_ptr<std::promise<errc>> out)
      : keeper_(std::move(k)), out_(std::move(out)) {}
  void on(const hold_reply&, volley::context& ctx) {
    ctx.ask(keeper_, hold_reply{}, 1ms, [out = out_](volley::result<int> r) {
      out->set_value(r ? errc::handler_failed : r.err().code);
    });
  }
  volley::actor_ref<keeper> keeper_;
  std::shared_ptr<std::promise<errc>> out_;
};

// -- forward -------------------------------------------------------------------------

struct lookup {
  int key;
};
struct whoami {};

struct backend {
  int on(const lookup& l) { return l.key * 100; }
  void on(const whoami&, volley::context& ctx) { senders.push_back(ctx.sender().path()); }
  std::string on(const volley::unit&) { return senders.empty() ? "" : senders.back(); }
  std::vector<std::string> senders;
};

/// Passes everything along to the backend.
struct middle {
  explicit middle(volley::actor_ref<backend> b) : backend_(std::move(b)) {}
  void on(const lookup& l, volley::context& ctx) { backend_.forward(l, ctx); }
  void on(const whoami& w, volley::context& ctx) { backend_.forward(w, ctx); }
  volley::actor_ref<backend> backend_;
};

// `middle` handles lookup with void, so its own asks are of unit; the ask
// through it must name the backend's reply type.
struct middle_typed {
  explicit middle_typed(volley::actor_ref<backend> b) : backend_(std::move(b)) {}
  volley::deferred<int> on(const lookup& l, volley::context& ctx) {
    backend_.forward(l, ctx);
    return {};
  }
  volley::actor_ref<backend> backend_;
};

struct front_desk {
  explicit front_desk(volley::actor_ref<middle_typed> m) : middle_(std::move(m)) {}
  volley::reply_task<int> on(const lookup& l, volley::context& ctx) {
    co_return (co_await ctx.ask(middle_, l, patience)).value();
  }
  volley::actor_ref<middle_typed> middle_;
};

struct send_whoami {
  volley::actor_ref<middle> via;
};
struct origin {
  void on(const send_whoami& s, volley::context& ctx) { s.via.tell(whoami{}, ctx); }
};

}  // namespace

TEST_CASE("A asks B, B asks C, B answers A later through a reply handle", "[reply][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<pricer>();
  auto b = sys.spawn<broker>(c);
  auto a = sys.spawn<customer>(b);
  for (int i = 1; i <= 50; ++i) {
    CHECK(a.ask(run_chain{i, false}).get(patience).value() == i * 10 + 1);
  }
  CHECK(b.ask(quote{7}).get(patience).value() == 71);  // and from a plain thread
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("A asks B, B co_awaits an ask of C and answers A with co_return",
          "[reply][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<pricer>();
  auto b = sys.spawn<broker>(c);
  auto a = sys.spawn<customer>(b);
  for (int i = 1; i <= 50; ++i) {
    CHECK(a.ask(run_chain{i, true}).get(patience).value() == i * 10 + 2);
  }
  CHECK(b.ask(quote_co{7}).get(patience).value() == 72);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("many askers through B at once all get their own answers", "[reply][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<pricer>();
  auto b = sys.spawn<broker>(c);
  const int n = static_cast<int>(volley::test::scaled(4000));
  std::vector<volley::future<int>> handles, coros;
  for (int i = 0; i < n; ++i) {
    handles.push_back(b.ask(quote{i}));
    coros.push_back(b.ask(quote_co{i}));
  }
  for (int i = 0; i < n; ++i) {
    REQUIRE(handles[static_cast<std::size_t>(i)].get(patience).value() == i * 10 + 1);
    REQUIRE(coros[static_cast<std::size_t>(i)].get(patience).value() == i * 10 + 2);
  }
}

TEST_CASE("a reply_task that throws answers handler_failed and fails its actor",
          "[reply][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<pricer>();
  auto b = sys.spawn<broker>(c);
  volley::test::stderr_capture err;  // the failure is logged
  auto r = b.ask(quote_failing{}).get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::handler_failed);
  CHECK(r.err().message.find("no quote today") != std::string::npos);
  CHECK(wait_until([&] { return b.is_stopped(); }));  // the default strategy stops it
}

TEST_CASE(
    "a reply handle completed twice: the asker gets the first, the second is a counted "
    "no-op",
    "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto outcomes = std::make_shared<outcome_log>();
  auto k = sys.spawn<keeper>(outcomes);
  CHECK(k.ask(complete_twice{}).get(patience).value() == 1);
  REQUIRE(wait_until([&] { return outcomes->get().size() == 2; }));
  CHECK(outcomes->get() == std::vector<bool>{true, false});
  CHECK(sys.dead_letters().count(dead_letter_reason::reply_undeliverable) == 1);
}

TEST_CASE("a reply handle dropped unanswered answers broken_promise", "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto k = sys.spawn<keeper>(std::make_shared<outcome_log>());
  auto r = k.ask(drop_reply{}).get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::broken_promise);
  CHECK(r.err().message.find("/user/") != std::string::npos);  // names the replier
}

TEST_CASE("a deferred handler that never took its reply handle answers broken_promise", "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto k = sys.spawn<keeper>(std::make_shared<outcome_log>());
  auto r = k.ask(forget_to_take{}).get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::broken_promise);
}

TEST_CASE("a handle kept by an actor that stops answers broken_promise", "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto k = sys.spawn<keeper>(std::make_shared<outcome_log>());
  auto f = k.ask(hold_reply{});
  REQUIRE(k.ask(ping{}).get(patience).value() == 0);  // the handle is held now
  k.stop();
  auto r = f.get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::broken_promise);
}

TEST_CASE(
    "a handle expires with the asker's timeout: completing it later is a counted no-op, "
    "never an exception at the replier",
    "[reply][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto outcomes = std::make_shared<outcome_log>();
  auto k = sys.spawn<keeper>(outcomes);
  auto out = std::make_shared<std::promise<errc>>();
  auto seen = out->get_future();
  auto a = sys.spawn<impatient_asker>(k, out);
  a.tell(hold_reply{});
  REQUIRE(seen.wait_for(patience) == std::future_status::ready);
  CHECK(seen.get() == errc::timeout);
  k.tell(answer_held{5});
  REQUIRE(wait_until([&] { return outcomes->get().size() == 1; }));
  CHECK(outcomes->get() == std::vector<bool>{false});
  CHECK(sys.dead_letters().count(dead_letter_reason::reply_undeliverable) == 1);
  CHECK_FALSE(k.is_stopped());
}

TEST_CASE("reply_later in a handler of a tell gives a handle whose completion is counted",
          "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto outcomes = std::make_shared<outcome_log>();
  auto k = sys.spawn<keeper>(outcomes);
  k.tell(tell_only{});
  REQUIRE(wait_until([&] { return outcomes->get().size() == 1; }));
  CHECK(outcomes->get() == std::vector<bool>{false});
  CHECK(sys.dead_letters().count(dead_letter_reason::reply_undeliverable) == 1);
}

TEST_CASE("a held reply answered later by a message reaches a plain-thread asker", "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto c = sys.spawn<pricer>();
  auto f1 = c.ask(slow_price{1});
  auto f2 = c.ask(slow_price{2});
  CHECK_FALSE(f1.get(5ms));  // still held
  c.tell(release_slow{});
  CHECK(f1.get(patience).value() == -1);
  CHECK(f2.get(patience).value() == -1);
}

TEST_CASE("forward passes an ask along: the answer of the last actor reaches the asker",
          "[reply][forward][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto back = sys.spawn<backend>();
  auto mid = sys.spawn<middle_typed>(back);
  CHECK(mid.ask(lookup{3}).get(patience).value() == 300);  // from a plain thread
  auto desk = sys.spawn<front_desk>(mid);
  for (int i = 0; i < 20; ++i) {
    CHECK(desk.ask(lookup{i}).get(patience).value() == i * 100);  // from an actor
  }
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("forward of a tell keeps the original sender", "[reply][forward][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto back = sys.spawn<backend>();
  auto mid = sys.spawn<middle>(back);
  auto o = sys.spawn<origin>(volley::props{.name = "origin"});
  o.tell(send_whoami{mid});
  CHECK(
      wait_until([&] { return back.ask(volley::unit{}).get(patience).value() == "/user/origin"; }));
}

TEST_CASE("forward of an ask to an actor that replies with another type is refused",
          "[reply][forward]") {
  volley::system sys(volley::test::two_workers());
  auto back = sys.spawn<backend>();
  auto mid = sys.spawn<middle>(back);  // its lookup handler replies unit; the backend's int
  volley::test::stderr_capture err;
  auto r = mid.ask(lookup{1}).get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::handler_failed);
  CHECK(r.err().message.find("forward") != std::string::npos);
}

TEST_CASE("a reply_task's message is destroyed once, in every copy the engine made", "[reply]") {
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<counted_answerer>();
  for (int i = 0; i < 10; ++i) CHECK(a.ask(counted_msg{}).get(patience).value() == 1);
  CHECK(wait_until([] { return counted_msg::live.load() == 0; }));
}
