// Tests of routers (router.hpp): each strategy spreads messages the way it
// promises; a pool spawns, supervises (restarts) and resizes its routees and
// stops them on a poison pill; a group routes over existing actors and can be
// given new ones; tell and ask work through the router as through a ref;
// concurrent senders during resizes lose nothing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::routing;
using volley::test::patience;
using volley::test::wait_until;

namespace {

/// Who handled what: routee path -> messages (written by actors).
class tally {
 public:
  void add(const std::string& who) {
    std::lock_guard lock(mu_);
    ++counts_[who];
    ++total_;
  }
  std::map<std::string, int> counts() const {
    std::lock_guard lock(mu_);
    return counts_;
  }
  int total() const {
    std::lock_guard lock(mu_);
    return total_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> counts_;
  int total_ = 0;
};

struct job {
  int n;
};
struct keyed_job {
  std::string key;
  const std::string& routing_key() const { return key; }
};
struct whoami {};
struct boom {};
struct hits {};

struct worker {
  explicit worker(std::shared_ptr<tally> t) : tally_(std::move(t)) {}
  void on(const job&, volley::context& ctx) { tally_->add(ctx.path()); }
  void on(const keyed_job& k, volley::context& ctx) { tally_->add(k.key + "@" + ctx.path()); }
  std::string on(const whoami&, volley::context& ctx) { return ctx.path(); }
  void on(const boom&) { throw std::runtime_error("boom"); }
  int on(const hits&) { return ++hits_; }
  std::shared_ptr<tally> tally_;
  int hits_ = 0;
};

}  // namespace

TEST_CASE("a round-robin pool spreads tells evenly over its routees", "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(sys, {.size = 4, .name = "workers"}, t);
  REQUIRE(pool.size() == 4);
  for (int i = 0; i < 400; ++i) pool.tell(job{i});
  REQUIRE(wait_until([&] { return t->total() == 400; }));
  auto counts = t->counts();
  CHECK(counts.size() == 4);
  for (const auto& [who, n] : counts) {
    CHECK(who.rfind("/user/workers/$", 0) == 0);  // the routees are the pool's children
    CHECK(n == 100);
  }
}

TEST_CASE("ask through a pool is answered by one routee", "[router]") {
  volley::system sys(volley::test::two_workers());
  auto pool = volley::spawn_pool<worker>(sys, {.size = 3}, std::make_shared<tally>());
  std::set<std::string> answered;
  for (int i = 0; i < 6; ++i) answered.insert(pool.ask(whoami{}).get(patience).value());
  CHECK(answered.size() == 3);
}

TEST_CASE("a random router reaches every routee, roughly evenly", "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(sys, {.size = 4, .strategy = routing::random}, t);
  for (int i = 0; i < 4000; ++i) pool.tell(job{i});
  REQUIRE(wait_until([&] { return t->total() == 4000; }));
  auto counts = t->counts();
  REQUIRE(counts.size() == 4);
  for (const auto& [who, n] : counts) CHECK((n > 700 && n < 1300));
}

TEST_CASE("a consistent-hashing router sends one key to one routee, and a resize moves few keys",
          "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(
      sys, {.size = 4, .strategy = routing::consistent_hashing, .name = "shards"}, t);
  const int keys = 200;
  for (int round = 0; round < 3; ++round) {
    for (int k = 0; k < keys; ++k) pool.tell(keyed_job{"k" + std::to_string(k)});
  }
  REQUIRE(wait_until([&] { return t->total() == 3 * keys; }));
  std::map<std::string, std::string> owner;  // key -> routee
  std::map<std::string, int> share;
  for (const auto& [entry, n] : t->counts()) {
    auto at = entry.find('@');
    CHECK(n == 3);  // every round of a key went to the same routee
    owner[entry.substr(0, at)] = entry.substr(at + 1);
    ++share[entry.substr(at + 1)];
  }
  REQUIRE(owner.size() == static_cast<std::size_t>(keys));
  CHECK(share.size() == 4);
  for (const auto& [who, n] : share) CHECK(n < keys / 2);  // fair is keys / 4

  // Grow to 5: only the keys the new routee takes over may move (~1/5).
  pool.resize(5);
  REQUIRE(wait_until([&] { return pool.size() == 5; }));
  int moved = 0;
  for (int k = 0; k < keys; ++k) {
    std::string key = "k" + std::to_string(k);
    pool.tell(keyed_job{key});
    REQUIRE(wait_until([&] { return t->total() == 3 * keys + k + 1; }));
    if (t->counts()[key + "@" + owner[key]] != 4) ++moved;
  }
  CHECK(moved > 0);
  CHECK(moved < keys / 2);  // ~1/5 expected; far from a full reshuffle
}

TEST_CASE("a smallest-mailbox router prefers an idle routee over a busy one", "[router]") {
  struct hold {
    volley::test::gate* g;
  };
  struct busy_worker {
    explicit busy_worker(std::shared_ptr<tally> t) : tally_(std::move(t)) {}
    void on(const hold& h) { h.g->arrive_and_wait(); }
    void on(const job&, volley::context& ctx) { tally_->add(ctx.path()); }
    std::shared_ptr<tally> tally_;
  };
  volley::test::gate g;
  auto t = std::make_shared<tally>();
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto a = sys.spawn<busy_worker>(volley::props{.name = "a"}, t);
  auto b = sys.spawn<busy_worker>(volley::props{.name = "b"}, t);
  a.tell(hold{&g});
  REQUIRE(g.wait_arrived());  // a is busy
  auto group = volley::make_group<busy_worker>({a, b}, routing::smallest_mailbox);
  for (int i = 0; i < 50; ++i) {
    group.tell(job{i});
    REQUIRE(wait_until([&] { return t->total() == i + 1; }));
    // b's handler has returned, but b is idle only once its activation has
    // marked the mailbox empty; until then the router would see two busy
    // routees and pick by turn.
    REQUIRE(wait_until([&] { return b.cell()->mailbox_.is_marked(); }));
  }
  CHECK(t->counts()["/user/b"] == 50);
  g.open();
}

TEST_CASE("a broadcast router gives every routee its own copy; an ask through it is refused",
          "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(sys, {.size = 3, .strategy = routing::broadcast}, t);
  pool.tell(job{1});
  REQUIRE(wait_until([&] { return t->total() == 3; }));
  CHECK(t->counts().size() == 3);
  CHECK_THROWS_AS(pool.ask(whoami{}), std::logic_error);
}

TEST_CASE("a pool restarts a routee that throws and keeps routing to it", "[router]") {
  volley::system sys(volley::test::two_workers());
  volley::test::stderr_capture err;  // the failure is logged
  auto pool = volley::spawn_pool<worker>(sys, {.size = 1}, std::make_shared<tally>());
  CHECK(pool.ask(hits{}).get(patience).value() == 1);
  pool.tell(boom{});
  CHECK(pool.ask(hits{}).get(patience).value() == 1);  // a fresh instance
  CHECK(pool.size() == 1);
}

TEST_CASE("resize grows and shrinks a pool; shrinking lets leaving routees finish", "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(sys, {.size = 2, .name = "p"}, t);
  pool.resize(5);
  REQUIRE(wait_until([&] { return pool.size() == 5; }));
  CHECK(sys.select_all("/user/p/*").size() == 5);
  for (int i = 0; i < 100; ++i) pool.tell(job{i});
  pool.resize(1);
  REQUIRE(wait_until([&] { return pool.size() == 1; }));
  REQUIRE(wait_until([&] { return sys.select_all("/user/p/*").size() == 1; }));
  // The routee that stays may still be working through its share.
  CHECK(wait_until([&] { return t->total() == 100; }));  // nothing was lost by shrinking
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("a poison pill to a pool stops the pool and its routees", "[router]") {
  volley::system sys(volley::test::two_workers());
  auto pool = volley::spawn_pool<worker>(sys, {.size = 3, .name = "p"}, std::make_shared<tally>());
  auto routees = pool.routees();
  pool.tell(volley::poison_pill{});
  CHECK(wait_until([&] { return pool.pool().is_stopped(); }));
  for (const auto& r : routees) CHECK(r.is_stopped());
}

TEST_CASE("a group routes over existing actors, takes new ones, and a poison pill stops each",
          "[router]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto a = sys.spawn<worker>(volley::props{.name = "a"}, t);
  auto b = sys.spawn<worker>(volley::props{.name = "b"}, t);
  auto c = sys.spawn<worker>(volley::props{.name = "c"}, t);
  auto group = volley::make_group<worker>({a, b}, routing::round_robin);
  CHECK_FALSE(group.pool());
  for (int i = 0; i < 10; ++i) group.tell(job{i});
  REQUIRE(wait_until([&] { return t->total() == 10; }));
  CHECK(t->counts() == std::map<std::string, int>{{"/user/a", 5}, {"/user/b", 5}});
  group.set_routees({c});
  group.tell(job{0});
  REQUIRE(wait_until([&] { return t->total() == 11; }));
  CHECK(t->counts()["/user/c"] == 1);
  CHECK_THROWS_AS(group.resize(3), std::logic_error);
  group.tell(volley::poison_pill{});
  CHECK(wait_until([&] { return c.is_stopped(); }));
  CHECK_FALSE(a.is_stopped());
}

// A sender that loaded the routee table just before a shrink may still
// deliver to a routee the pool has just told to stop (Akka's pools behave the
// same way): that message is a dead letter, never a silent loss.
TEST_CASE(
    "while the pool is resized under senders on several threads, every message is handled "
    "or dead-lettered",
    "[router][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto t = std::make_shared<tally>();
  auto pool = volley::spawn_pool<worker>(sys, {.size = 2}, t);
  const int per_thread = static_cast<int>(volley::test::scaled(20000));
  std::vector<std::thread> senders;
  for (int s = 0; s < 3; ++s) {
    senders.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) pool.tell(job{i});
    });
  }
  for (std::size_t n : {6u, 1u, 4u, 2u}) {
    pool.resize(n);
    std::this_thread::sleep_for(1ms);
  }
  for (auto& s : senders) s.join();
  auto accounted = [&] {
    return t->total() + static_cast<std::int64_t>(sys.dead_letters().count());
  };
  REQUIRE(wait_until([&] { return accounted() == 3 * per_thread; }));
  // Only a routee told to stop can turn a message away.
  CHECK(sys.dead_letters().count(volley::dead_letter_reason::recipient_stopped) ==
        sys.dead_letters().count());
}
