// Tests of the balancing pool (spawn_pool with routing::balancing): the
// routees share one work queue, so a busy routee holds nothing back; asks
// are answered by whichever routee is free; a resize adds routees that take
// from the same queue; a poison pill stops the pool; and under many senders
// every message is handled exactly once; work queued for a routee that
// stops is handed to another routee, and when the last routee has stopped
// it becomes dead letters with the engine's usual reasons.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <volley/engine/router.hpp>
#include <volley/engine/test_probe.hpp>

#include "engine_test_support.hpp"

using volley::dead_letter_reason;
using volley::test::gate;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct block {};
struct item {
  int n;
};
struct whoami {};

/// Who handled how many items (by routee path), and every item's count.
struct ledger {
  std::mutex mu;
  std::map<std::string, int> by_routee;
  std::vector<std::atomic<int>> seen;
  explicit ledger(std::size_t n) : seen(n) {}
  int handled_by(const std::string& path) {
    std::lock_guard lock(mu);
    return by_routee[path];
  }
};

struct worker {
  worker(gate* g, ledger* l) : g_(g), l_(l) {}
  void on(const block&) { g_->arrive_and_wait(); }
  void on(const item& m, volley::context& ctx) {
    l_->seen[static_cast<std::size_t>(m.n)].fetch_add(1);
    std::lock_guard lock(l_->mu);
    ++l_->by_routee[ctx.path()];
  }
  std::string on(const whoami&, volley::context& ctx) { return ctx.path(); }
  gate* g_;
  ledger* l_;
};

volley::pool_options balancing(std::size_t n) {
  volley::pool_options o;
  o.size = n;
  o.strategy = volley::routing::balancing;
  return o;
}

/// One worker: an actor held at a gate keeps every other actor from running,
/// so a test can line up what they find when they do.
volley::config one_worker() {
  volley::config cfg;
  cfg.workers = 1;
  cfg.pin = false;
  return cfg;
}

struct blocker {
  explicit blocker(gate* g) : g_(g) {}
  void on(const block&) { g_->arrive_and_wait(); }
  gate* g_;
};

/// Dead letters of `item`s, by reason.
std::size_t items_dead(const volley::test::dead_letter_log& log, dead_letter_reason why) {
  std::size_t n = 0;
  for (const auto& d : log.seen()) {
    if (d.type.find("item") != std::string::npos && d.reason == why) ++n;
  }
  return n;
}

int total(ledger& l) {
  int sum = 0;
  for (auto& s : l.seen) sum += s.load();
  return sum;
}

}  // namespace

TEST_CASE("a balancing pool gives the work to the idle routee while another is busy",
          "[router][balancing][concurrency]") {
  gate g;
  ledger l(20);
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(2), &g, &l);
  pool.tell(block{});
  REQUIRE(g.wait_arrived());  // one routee is held at the gate
  for (int i = 0; i < 20; ++i) pool.tell(item{i});
  // All twenty are handled by the other routee while the first is still
  // blocked: none waits behind it (round-robin would leave ten there).
  REQUIRE(wait_until([&] { return total(l) == 20; }));
  auto routees = pool.routees();
  const int a = l.handled_by(routees[0].path());
  const int b = l.handled_by(routees[1].path());
  CHECK(((a == 20 && b == 0) || (a == 0 && b == 20)));
  g.open();
}

TEST_CASE("an ask through a balancing pool is answered by a free routee",
          "[router][balancing][concurrency]") {
  gate g;
  ledger l(1);
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(2), &g, &l);
  pool.tell(block{});
  REQUIRE(g.wait_arrived());
  auto a = pool.ask(whoami{}).get(patience);
  auto b = pool.ask(whoami{}).get(patience);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a.value() == b.value());  // the one that is not blocked, both times
  g.open();
}

TEST_CASE("routees added by a resize take from the same shared queue",
          "[router][balancing][concurrency]") {
  gate g;
  ledger l(10);
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(1), &g, &l);
  pool.resize(2);
  REQUIRE(wait_until([&] { return pool.size() == 2; }));
  pool.tell(block{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 10; ++i) pool.tell(item{i});
  REQUIRE(wait_until([&] { return total(l) == 10; }));
  g.open();
}

TEST_CASE("a poison pill stops a balancing pool and its routees",
          "[router][balancing][concurrency]") {
  gate g;
  ledger l(1);
  volley::system sys(volley::test::two_workers());
  auto pool = volley::spawn_pool<worker>(sys, balancing(3), &g, &l);
  volley::test_probe probe(sys);
  probe.watch(pool.pool());
  pool.tell(volley::poison_pill{});
  probe.expect_terminated(pool.pool(), patience);
}

TEST_CASE("a balancing group is refused: a balancing router must spawn its routees",
          "[router][balancing]") {
  gate g;
  ledger l(1);
  volley::system sys(volley::test::two_workers());
  auto w = sys.spawn<worker>(&g, &l);
  CHECK_THROWS_AS(volley::make_group<worker>({w}, volley::routing::balancing),
                  std::invalid_argument);
}

TEST_CASE("under many senders a balancing pool handles every message exactly once",
          "[router][balancing][concurrency][stress]") {
  constexpr int senders = 4;
  const int per_sender = static_cast<int>(volley::test::scaled(100'000));
  gate g;
  ledger l(static_cast<std::size_t>(senders * per_sender));
  volley::system sys(volley::test::two_workers());
  auto pool = volley::spawn_pool<worker>(sys, balancing(3), &g, &l);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) pool.tell(item{s * per_sender + i});
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(wait_until([&] { return total(l) == senders * per_sender; }));
  int twice = 0;
  for (auto& s : l.seen) twice += s.load() != 1 ? 1 : 0;
  CHECK(twice == 0);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("a message queued while its routee goes idle is never left in the shared queue",
          "[router][balancing][concurrency]") {
  // One routee, so a send that finds it still running wakes nobody: only the
  // routee's second look after marking itself idle can pick the message up.
  // Each round sends as soon as the previous message is handled, i.e. while
  // the routee is on its way to idle.
  const int rounds = static_cast<int>(volley::test::scaled(20'000));
  gate g;
  ledger l(static_cast<std::size_t>(rounds));
  volley::system sys(volley::test::two_workers());
  auto pool = volley::spawn_pool<worker>(sys, balancing(1), &g, &l);
  int stranded = 0;
  for (int i = 0; i < rounds && stranded == 0; ++i) {
    pool.tell(item{i});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (l.seen[static_cast<std::size_t>(i)].load() == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ++stranded;
        break;
      }
    }
  }
  CHECK(stranded == 0);
}

TEST_CASE("a routee that stops after a send woke it hands the message to an idle routee",
          "[router][balancing][concurrency]") {
  // The one worker is held, so the routee that the send wakes (the first of
  // the scan: routee 0) cannot run before its stop arrives. When it runs it
  // stops, takes nothing, and must wake routee 1, idle all along; without
  // that the message waits in the shared queue until the next send.
  gate g;
  gate unused;
  ledger l(1);
  volley::system sys(one_worker());
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(2), &unused, &l);
  auto routees = pool.routees();
  auto b = sys.spawn<blocker>(&g);
  b.tell(block{});
  REQUIRE(g.wait_arrived());
  pool.tell(item{0});
  routees[0].stop();
  g.open();
  REQUIRE(wait_until([&] { return total(l) == 1; }, std::chrono::seconds(5)));
  CHECK(l.handled_by(routees[1].path()) == 1);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("work still queued when the last routee stops becomes recipient_stopped dead letters",
          "[router][balancing][concurrency]") {
  gate g;
  gate unused;
  ledger l(3);
  volley::system sys(one_worker());
  volley::test::dead_letter_log log(sys);
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(1), &unused, &l);
  auto routee = pool.routees().at(0);
  auto b = sys.spawn<blocker>(&g);
  b.tell(block{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 3; ++i) pool.tell(item{i});  // the first wakes the routee
  auto asked = pool.ask(whoami{});
  routee.stop();
  g.open();
  // Reported, not dropped with the router; the ask fails at once.
  auto r = asked.get(patience);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == volley::errc::recipient_stopped);
  REQUIRE(wait_until([&] { return items_dead(log, dead_letter_reason::recipient_stopped) == 3; }));
  CHECK(total(l) == 0);
}

TEST_CASE("work queued in a balancing pool at shutdown becomes system_shutdown dead letters",
          "[router][balancing][concurrency]") {
  gate g;
  ledger l(5);
  volley::system sys(volley::test::two_workers());
  volley::test::dead_letter_log log(sys);
  volley::test::open_on_exit opener{g};
  auto pool = volley::spawn_pool<worker>(sys, balancing(1), &g, &l);
  pool.tell(block{});
  REQUIRE(g.wait_arrived());  // the only routee is busy; five wait in the shared queue
  for (int i = 0; i < 5; ++i) pool.tell(item{i});
  std::thread stopper([&] { sys.shutdown(); });
  // The pool has sent its routee the stop: the routee takes no item after the block.
  CHECK(volley::test::wait_until_stops_sent(pool.routees().at(0).cell()->parent()));
  g.open();
  stopper.join();
  CHECK(total(l) == 0);
  CHECK(items_dead(log, dead_letter_reason::system_shutdown) == 5);
  CHECK(items_dead(log, dead_letter_reason::recipient_stopped) == 0);
}

TEST_CASE("routees stopping while senders send leave no message waiting in the shared queue",
          "[router][balancing][concurrency][stress]") {
  // Four routees stop one by one, the last of them while the senders are
  // still sending: every message is handled or becomes a dead letter (once
  // the pool is empty, sends through it are `unhandled` dead letters), and
  // none is left in the queue. Rounds, so that many stops meet many wake-ups.
  constexpr int senders = 2;
  const int per_sender = static_cast<int>(volley::test::scaled(20'000));
  const int rounds = 4;
  for (int round = 0; round < rounds; ++round) {
    gate g;
    ledger l(static_cast<std::size_t>(senders * per_sender));
    volley::system sys(volley::test::two_workers());
    volley::test::dead_letter_log log(sys);
    auto pool = volley::spawn_pool<worker>(sys, balancing(4), &g, &l);
    auto routees = pool.routees();
    std::atomic<int> sent{0};
    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
      threads.emplace_back([&, s] {
        for (int i = 0; i < per_sender; ++i) {
          pool.tell(item{s * per_sender + i});
          sent.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    const int step = senders * per_sender / 5;
    for (std::size_t r = 0; r < routees.size(); ++r) {
      while (sent.load(std::memory_order_relaxed) < step * static_cast<int>(r + 1)) {
        std::this_thread::yield();
      }
      routees[r].stop();
    }
    for (auto& t : threads) t.join();
    auto dead = [&] {
      std::size_t n = 0;
      for (const auto& d : log.seen()) n += d.type.find("item") != std::string::npos ? 1 : 0;
      return n;
    };
    REQUIRE(wait_until([&] {
      return static_cast<std::size_t>(total(l)) + dead() == std::size_t(senders * per_sender);
    }));
    int twice = 0;
    for (auto& s : l.seen) twice += s.load() > 1 ? 1 : 0;
    CHECK(twice == 0);
  }
}
