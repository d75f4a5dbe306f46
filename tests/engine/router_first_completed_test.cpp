// Tests of the scatter-gather-first-completed and tail-chopping groups
// (scatter_gather.hpp, tail_chopping.hpp): the first value answers, later
// ones are dropped and counted; no value in time is errc::timeout; an ask
// fails only when every routee asked has failed; a tail-chopping group asks
// the next routee only after its interval and no one after an answer; a
// poison pill stops every routee; an ask in flight at shutdown() fails then,
// whether or not its requests do.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <volley/engine/scatter_gather.hpp>
#include <volley/engine/tail_chopping.hpp>
#include <volley/engine/test_probe.hpp>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::errc;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct query {
  int n;
};
struct release_all {};
struct asked_query {};

/// Answers a query with its id at once (fast), or keeps the reply handle
/// until release_all (slow). Counts the queries it got.
struct replica {
  replica(int id, bool fast, std::atomic<int>* asked) : id_(id), fast_(fast), asked_(asked) {}
  volley::deferred<int> on(const query&, volley::context& ctx) {
    asked_->fetch_add(1);
    auto reply = ctx.reply_later<int>();
    if (fast_) {
      reply.ok(id_);
    } else {
      held_.push_back(std::move(reply));
    }
    return {};
  }
  void on(const release_all&) {
    for (auto& r : held_) r.ok(id_);
    held_.clear();
  }
  int id_;
  bool fast_;
  std::atomic<int>* asked_;
  std::vector<volley::reply_handle<int>> held_;
};

volley::config on_clock(std::shared_ptr<volley::clock> clock) {
  volley::config cfg = volley::test::two_workers();
  cfg.clock = std::move(clock);
  return cfg;
}

struct fixture {
  /// On a manual clock, the tail-chopping tests decide when each chop is due:
  /// on real time, a worker or timer thread starved for longer than an
  /// interval (a loaded CI machine) would chop where the test says it must
  /// not, or time out before the last chop.
  explicit fixture(std::shared_ptr<volley::clock> clock = nullptr)
      : sys(on_clock(std::move(clock))) {}
  std::atomic<int> asked[3] = {0, 0, 0};  // outlives the system, whose actors count here
  volley::system sys;
  std::vector<volley::actor_ref<replica>> spawn(std::vector<bool> fast) {
    std::vector<volley::actor_ref<replica>> out;
    for (std::size_t i = 0; i < fast.size(); ++i) {
      out.push_back(sys.spawn<replica>(static_cast<int>(i), fast[i], &asked[i]));
    }
    return out;
  }
  /// One probe per actor: their terminations come in no particular order.
  std::vector<std::unique_ptr<volley::test_probe>> watch_all(
      const std::vector<volley::actor_ref<replica>>& rs) {
    std::vector<std::unique_ptr<volley::test_probe>> probes;
    for (const auto& r : rs) {
      probes.push_back(std::make_unique<volley::test_probe>(sys));
      probes.back()->watch(r);
    }
    return probes;
  }
  /// How many queries fast routee `i` has handled, counting every one
  /// already queued for it: a query of our own, queued behind them, is
  /// answered only after they are handled (and is not counted).
  int asked_by_now(const std::vector<volley::actor_ref<replica>>& rs, std::size_t i) {
    REQUIRE(rs.at(i).ask(query{-1}).get(patience));
    return asked[i].load() - 1;
  }
  void stop_all(const std::vector<volley::actor_ref<replica>>& rs) {
    volley::test_probe probe(sys);
    for (const auto& r : rs) {
      r.tell(volley::poison_pill{});
      probe.expect_terminated(r, patience);
    }
  }
};

/// Keeps every reply handle it gets outside itself, so that they outlive the
/// actor and the system: its requests are never answered nor dropped.
struct hoard {
  std::mutex mu;
  std::vector<volley::reply_handle<int>> held;
};
struct hoarder {
  explicit hoarder(hoard* h) : h_(h) {}
  volley::deferred<int> on(const query&, volley::context& ctx) {
    std::lock_guard lock(h_->mu);
    h_->held.push_back(ctx.reply_later<int>());
    return {};
  }
  hoard* h_;
};

/// A reply that counts its live objects: a group's answer keeps the winner
/// (moved from) until the answer's state is freed.
struct counted_reply {
  static inline std::atomic<int> live{0};
  counted_reply() noexcept { live.fetch_add(1); }
  counted_reply(const counted_reply&) noexcept { live.fetch_add(1); }
  counted_reply(counted_reply&&) noexcept { live.fetch_add(1); }
  counted_reply& operator=(const counted_reply&) = default;
  counted_reply& operator=(counted_reply&&) = default;
  ~counted_reply() { live.fetch_sub(1); }
};
struct counting_replica {
  counted_reply on(const query&) { return {}; }
};

/// shutdown() must end the ask at once, with an error that says so (a
/// get() that waited for the group's own deadline would report a timeout).
template <class R>
void check_failed_by_shutdown(volley::future<R>& pending) {
  const auto start = std::chrono::steady_clock::now();
  auto r = pending.get(5s);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::recipient_stopped);
  CHECK(std::chrono::steady_clock::now() - start < 4s);
}

}  // namespace

// -- scatter-gather ---------------------------------------------------------------

TEST_CASE("a scatter-gather ask is answered by the first value; later ones are counted, dropped",
          "[router][scatter_gather][concurrency]") {
  fixture f;
  auto rs = f.spawn({false, true, false});
  auto group = volley::make_scatter_gather(rs, patience);
  auto v = group.ask(query{1}).get(patience);
  REQUIRE(v);
  CHECK(v.value() == 1);  // the only fast one
  for (int i = 0; i < 3; ++i) CHECK(wait_until([&] { return f.asked[i].load() == 1; }));
  CHECK(group.late_replies() == 0);
  for (const auto& r : rs) r.tell(release_all{});
  CHECK(wait_until([&] { return group.late_replies() == 2; }));
}

TEST_CASE("a scatter-gather ask answered early frees its answer then, not at its deadline",
          "[router][scatter_gather]") {
  // The answer's state is held by the asker's future, by the group until
  // both requests are back, and by the deadline timer: the first completion
  // cancels the timer, so the state goes once the replies are in, while the
  // deadline (an hour) is still far off.
  fixture f;
  std::vector<volley::actor_ref<counting_replica>> rs{f.sys.spawn<counting_replica>(),
                                                      f.sys.spawn<counting_replica>()};
  auto group = volley::make_scatter_gather(rs, std::chrono::hours(1));
  REQUIRE(group.ask(query{1}).get(patience));
  CHECK(wait_until([&] { return group.late_replies() == 1; }));  // both replies are in
  CHECK(wait_until([] { return counted_reply::live.load() == 0; }, 5000ms));
}

TEST_CASE("a scatter-gather ask with no value within its timeout fails with errc::timeout",
          "[router][scatter_gather][concurrency]") {
  fixture f;
  auto rs = f.spawn({false, false});
  auto group = volley::make_scatter_gather(rs, 50ms);
  auto start = std::chrono::steady_clock::now();
  auto v = group.ask(query{1}).get(patience);
  REQUIRE(!v);
  CHECK(v.err().code == errc::timeout);
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  for (const auto& r : rs) r.tell(release_all{});
  CHECK(wait_until([&] { return group.late_replies() == 2; }));  // after the timeout: late
}

TEST_CASE("a scatter-gather ask fails only when every routee failed, with their error",
          "[router][scatter_gather][concurrency]") {
  fixture f;
  auto rs = f.spawn({true, true});
  f.stop_all({rs[0]});
  auto group = volley::make_scatter_gather(rs, patience);
  auto v = group.ask(query{1}).get(patience);
  REQUIRE(v);  // one stopped routee does not fail the ask
  CHECK(v.value() == 1);
  f.stop_all({rs[1]});
  auto none = group.ask(query{2}).get(patience);
  REQUIRE(!none);
  CHECK(none.err().code == errc::recipient_stopped);  // not a timeout: well before `patience`
}

TEST_CASE("a poison pill to a scatter-gather group stops every routee; tell reaches every routee",
          "[router][scatter_gather][concurrency]") {
  fixture f;
  auto rs = f.spawn({true, true, true});
  auto group = volley::make_scatter_gather(rs, patience);
  group.tell(query{0});
  for (int i = 0; i < 3; ++i) CHECK(wait_until([&] { return f.asked[i].load() == 1; }));
  auto probes = f.watch_all(rs);
  group.tell(volley::poison_pill{});
  for (std::size_t i = 0; i < rs.size(); ++i) probes[i]->expect_terminated(rs[i], patience);
}

TEST_CASE("scatter-gather and tail-chopping groups refuse no routees and non-positive durations",
          "[router][scatter_gather][tail_chopping]") {
  CHECK_THROWS_AS(volley::make_scatter_gather<replica>({}, 1s), std::invalid_argument);
  CHECK_THROWS_AS(volley::make_tail_chopping<replica>({}, 1s, 1ms), std::invalid_argument);
  fixture f;
  auto rs = f.spawn({true});
  CHECK_THROWS_AS(volley::make_scatter_gather(rs, 0s), std::invalid_argument);
  CHECK_THROWS_AS(volley::make_tail_chopping(rs, 0s, 1ms), std::invalid_argument);
  CHECK_THROWS_AS(volley::make_tail_chopping(rs, 1s, 0ms), std::invalid_argument);
  CHECK_THROWS_WITH(volley::make_tail_chopping(rs, 1s, -1ms),
                    "volley: a tail-chopping group needs positive durations");
  // A null ref is dropped, not asked; none left is no group.
  CHECK_THROWS_AS(volley::make_scatter_gather(std::vector<volley::actor_ref<replica>>{{}}, 1s),
                  std::invalid_argument);
}

// -- tail-chopping ----------------------------------------------------------------

TEST_CASE("a tail-chopping ask goes to the next routee only after the interval",
          "[router][tail_chopping][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  fixture f(clock);
  auto rs = f.spawn({false, true, true});
  auto group = volley::make_tail_chopping(rs, patience, 100ms);
  auto pending = group.ask(query{1});  // the first ask starts at routee 0 (slow)
  REQUIRE(wait_until([&] { return f.asked[0].load() == 1; }));
  clock->advance(50ms);  // advance() returns after the timers it made due have fired
  CHECK(f.asked_by_now(rs, 1) == 0);
  clock->advance(60ms);  // past the interval: routee 1 is asked, and answers
  auto v = pending.get(patience);
  REQUIRE(v);
  CHECK(v.value() == 1);
  // Routee 2 is never asked: routee 1 answered before the next chop.
  clock->advance(1s);
  CHECK(f.asked_by_now(rs, 2) == 0);
  CHECK(f.asked[0].load() == 1);
  rs[0].tell(release_all{});
  CHECK(wait_until([&] { return group.late_replies() == 1; }));
}

TEST_CASE("a tail-chopping ask answered at once asks nobody else",
          "[router][tail_chopping][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  fixture f(clock);
  auto rs = f.spawn({true, true});
  auto group = volley::make_tail_chopping(rs, patience, 50ms);
  auto v = group.ask(query{1}).get(patience);
  REQUIRE(v);
  CHECK(v.value() == 0);
  auto w = group.ask(query{2}).get(patience);  // round-robin: the next ask starts at routee 1
  REQUIRE(w);
  CHECK(w.value() == 1);
  clock->advance(1s);  // every chop the two asks armed is due, and has fired or been dropped
  CHECK(f.asked_by_now(rs, 0) == 1);
  CHECK(f.asked_by_now(rs, 1) == 1);
  CHECK(group.late_replies() == 0);
}

TEST_CASE("a tail-chopping ask with no value in time fails with errc::timeout after asking all",
          "[router][tail_chopping][concurrency]") {
  auto clock = std::make_shared<volley::manual_clock>();
  fixture f(clock);
  auto rs = f.spawn({false, false, false});
  auto group = volley::make_tail_chopping(rs, 300ms, 20ms);
  auto pending = group.ask(query{1});
  clock->advance(25ms);  // routee 1 is asked
  clock->advance(25ms);  // routee 2 is asked (its chop was armed when routee 1 was)
  clock->advance(300ms);
  auto v = pending.get(patience);
  REQUIRE(!v);
  CHECK(v.err().code == errc::timeout);
  // The slow routees answer nothing, so their counts are waited for.
  for (int i = 0; i < 3; ++i) CHECK(wait_until([&] { return f.asked[i].load() == 1; }));
}

TEST_CASE("a tail-chopping ask whose every routee failed gets their error",
          "[router][tail_chopping][concurrency]") {
  fixture f;
  auto rs = f.spawn({true, true});
  f.stop_all(rs);
  auto group = volley::make_tail_chopping(rs, patience, 10ms);
  auto v = group.ask(query{1}).get(patience);
  REQUIRE(!v);
  CHECK(v.err().code == errc::recipient_stopped);
}

TEST_CASE("a poison pill to a tail-chopping group stops every routee",
          "[router][tail_chopping][concurrency]") {
  fixture f;
  auto rs = f.spawn({true, true});
  auto group = volley::make_tail_chopping(rs, patience, 10ms);
  auto probes = f.watch_all(rs);
  group.tell(volley::poison_pill{});
  for (std::size_t i = 0; i < rs.size(); ++i) probes[i]->expect_terminated(rs[i], patience);
}

// -- at shutdown ---------------------------------------------------------------------

TEST_CASE("a scatter-gather ask in flight at shutdown fails then, though no request has",
          "[router][scatter_gather][concurrency]") {
  hoard h;  // outlives the system: its handles keep the requests open
  volley::system sys{volley::test::two_workers()};
  auto a = sys.spawn<hoarder>(&h);
  auto b = sys.spawn<hoarder>(&h);
  auto group = volley::make_scatter_gather<hoarder>({a, b}, 60s);
  auto pending = group.ask(query{1});
  REQUIRE(wait_until([&] {
    std::lock_guard lock(h.mu);
    return h.held.size() == 2;
  }));
  sys.shutdown();
  check_failed_by_shutdown(pending);
}

TEST_CASE("a tail-chopping ask in flight at shutdown fails then, with its next chop pending",
          "[router][tail_chopping][concurrency]") {
  // The first routee holds the request and drops it unanswered when it
  // stops; the second would be asked only 30 s later. The ask must not wait
  // for a chop that the shutdown dropped.
  fixture f;
  auto rs = f.spawn({false, false});
  auto group = volley::make_tail_chopping(rs, 60s, 30s);
  auto pending = group.ask(query{1});
  REQUIRE(wait_until([&] { return f.asked[0].load() + f.asked[1].load() == 1; }));
  f.sys.shutdown();
  check_failed_by_shutdown(pending);
}
