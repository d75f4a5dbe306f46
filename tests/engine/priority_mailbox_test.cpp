// Tests of priority mailboxes (mailbox.hpp, props::mailbox = priority_mailbox(fn)):
// waiting messages are handled lowest priority number first and FIFO among
// equal numbers; a later urgent message overtakes the ones still waiting;
// system messages still go first; asks are sorted like tells; an actor that
// stops with sorted messages dead-letters each exactly once; and under many
// concurrent senders every message is handled once, in sending order within
// a priority.
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <volley/engine/test_probe.hpp>

#include "engine_test_support.hpp"

using volley::dead_letter_reason;
using volley::test::gate;
using volley::test::patience;
using volley::test::wait_until;

namespace {

struct hold {};
struct job {
  int priority;
  int n;
};
struct siren {
  int n;
};
struct count_query {};
struct stop_after_this {};

/// siren first, then jobs by their own priority field, everything else last.
int by_field(const volley::message_view& m) {
  if (m.is<siren>()) return -1;
  if (const job* j = m.get_if<job>()) return j->priority;
  return 100;
}

volley::props prioritised() {
  volley::props p;
  p.mailbox = volley::priority_mailbox(&by_field);
  return p;
}

/// Records what it handles as (priority, n); alarms as (-1, n). `hold`
/// blocks it at a gate. The record is read only after a handshake.
struct recorder {
  using accepts = volley::accepts<siren>;  // for ctx.self().tell(siren{...})
  recorder(gate* g, std::vector<std::pair<int, int>>* seen) : g_(g), seen_(seen) {}
  void on(const hold&) { g_->arrive_and_wait(); }
  void on(const job& j, volley::context& ctx) {
    seen_->emplace_back(j.priority, j.n);
    if (j.n == 1000) ctx.self().tell(siren{99});  // an urgent message sent mid-stream
  }
  void on(const siren& a) { seen_->emplace_back(-1, a.n); }
  void on(const stop_after_this&, volley::context& ctx) { ctx.stop(); }
  std::size_t on(const count_query&) const { return seen_->size(); }
  gate* g_;
  std::vector<std::pair<int, int>>* seen_;
};

std::size_t handled(const volley::actor_ref<recorder>& r) {
  auto n = r.ask(count_query{}).get(patience);
  return n ? n.value() : 0;
}

}  // namespace

TEST_CASE(
    "a priority mailbox hands waiting messages over lowest number first, in sending order among "
    "equal numbers",
    "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto r = sys.spawn<recorder>(prioritised(), &g, &seen);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  const int priorities[] = {3, 1, 2, 1, 3, 0, 2, 1, 0, 3};
  for (int i = 0; i < 10; ++i) r.tell(job{priorities[i], i});
  r.tell(siren{10});
  g.open();
  REQUIRE(wait_until([&] { return handled(r) == 11; }));
  CHECK(seen == std::vector<std::pair<int, int>>{{-1, 10},
                                                 {0, 5},
                                                 {0, 8},
                                                 {1, 1},
                                                 {1, 3},
                                                 {1, 7},
                                                 {2, 2},
                                                 {2, 6},
                                                 {3, 0},
                                                 {3, 4},
                                                 {3, 9}});
}

TEST_CASE("an urgent message sent while others wait is handled before them",
          "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto r = sys.spawn<recorder>(prioritised(), &g, &seen);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  // job 1000 (handled first: the only priority 0) sends the actor an siren,
  // which must overtake the four priority-5 jobs that were waiting already.
  r.tell(job{5, 1});
  r.tell(job{0, 1000});
  for (int i = 2; i <= 4; ++i) r.tell(job{5, i});
  g.open();
  REQUIRE(wait_until([&] { return handled(r) == 6; }));
  CHECK(seen ==
        std::vector<std::pair<int, int>>{{0, 1000}, {-1, 99}, {5, 1}, {5, 2}, {5, 3}, {5, 4}});
}

TEST_CASE("an ask waits in a priority mailbox by the priority of its message",
          "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto r = sys.spawn<recorder>(prioritised(), &g, &seen);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  r.tell(job{1, 0});
  r.tell(job{1, 1});
  auto reply = r.ask(count_query{});  // priority 100: after both jobs
  r.tell(job{2, 2});
  g.open();
  auto n = reply.get(patience);
  REQUIRE(n);
  CHECK(n.value() == 3);  // the three jobs went first
}

TEST_CASE("a stop (a system message) overtakes every waiting message of a priority mailbox",
          "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  auto r = sys.spawn<recorder>(prioritised(), &g, &seen);
  volley::test_probe probe(sys);
  probe.watch(r);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 6; ++i) r.tell(job{i % 2, i});
  r.tell(siren{6});
  r.stop();
  g.open();
  probe.expect_terminated(r, patience);
  CHECK(seen.empty());
  // The terminated leaves before the worker has dead-lettered the rest.
  CHECK(wait_until(
      [&] { return sys.dead_letters().count(dead_letter_reason::recipient_stopped) >= 7; }));
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 7);
}

TEST_CASE("messages sorted but not yet handled when an actor stops are dead letters, each once",
          "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  volley::props p;
  p.mailbox = volley::priority_mailbox(
      [](const volley::message_view& m) { return m.is<stop_after_this>() ? 0 : 1; });
  auto r = sys.spawn<recorder>(p, &g, &seen);
  volley::test_probe probe(sys);
  probe.watch(r);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 8; ++i) r.tell(job{1, i});
  r.tell(stop_after_this{});  // sorted ahead of the eight jobs, which it strands
  g.open();
  probe.expect_terminated(r, patience);
  CHECK(seen.empty());
  CHECK(wait_until(
      [&] { return sys.dead_letters().count(dead_letter_reason::recipient_stopped) >= 8; }));
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 8);
  CHECK(sys.dead_letters().count() == 8);
}

TEST_CASE("a bounded priority mailbox counts sorted messages until they are handled",
          "[priority_mailbox][concurrency]") {
  gate g;
  std::vector<std::pair<int, int>> seen;
  volley::system sys(volley::test::two_workers());
  volley::test::open_on_exit opener{g};
  volley::props p = prioritised();
  p.mailbox_capacity = 4;
  auto r = sys.spawn<recorder>(p, &g, &seen);
  r.tell(hold{});
  REQUIRE(g.wait_arrived());
  for (int i = 0; i < 6; ++i) r.tell(job{4 - i, i});  // the last two are refused
  CHECK(sys.dead_letters().count(dead_letter_reason::mailbox_full) == 2);
  g.open();
  REQUIRE(wait_until([&] { return handled(r) == 4; }));
  CHECK(seen == std::vector<std::pair<int, int>>{{1, 3}, {2, 2}, {3, 1}, {4, 0}});
  for (int i = 0; i < 4; ++i) r.tell(job{0, 10 + i});  // room again: all four accepted
  // (The count query is a user message too: while the jobs fill the
  // mailbox it may itself be refused; ask again.)
  REQUIRE(wait_until([&] { return handled(r) == 8; }));
  CHECK(std::vector<std::pair<int, int>>(seen.begin() + 4, seen.end()) ==
        std::vector<std::pair<int, int>>{{0, 10}, {0, 11}, {0, 12}, {0, 13}});
}

TEST_CASE("a priority mailbox without a function is refused at spawn", "[priority_mailbox]") {
  volley::system sys(volley::test::two_workers());
  volley::props p;
  p.mailbox = volley::priority_mailbox(nullptr);
  CHECK_THROWS_AS(sys.spawn<recorder>(p, nullptr, nullptr), std::invalid_argument);
}

TEST_CASE(
    "under many senders a priority mailbox handles every message once, in sending order within a "
    "priority",
    "[priority_mailbox][concurrency][stress]") {
  constexpr int senders = 4;
  const int per_sender = static_cast<int>(volley::test::scaled(200'000));
  struct tagged {
    int sender;
    int seq;
  };
  struct checker {
    explicit checker(std::vector<std::vector<int>>* last) : last_(last) {}
    void on(const tagged& t) {
      // Within one priority (seq % 3), one sender's messages arrive in order.
      int& prev = (*last_)[static_cast<std::size_t>(t.sender * 3 + t.seq % 3)].back();
      if (t.seq <= prev) ++out_of_order_;
      prev = t.seq;
      ++handled_;
    }
    std::pair<long, long> on(const count_query&) const { return {handled_, out_of_order_}; }
    std::vector<std::vector<int>>* last_;
    long handled_ = 0;
    long out_of_order_ = 0;
  };
  std::vector<std::vector<int>> last(senders * 3, std::vector<int>{-1});
  volley::system sys(volley::test::two_workers());
  volley::props p;
  p.mailbox = volley::priority_mailbox([](const volley::message_view& m) {
    const auto* t = m.get_if<tagged>();
    return t != nullptr ? t->seq % 3 : 9;
  });
  auto c = sys.spawn<checker>(p, &last);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) c.tell(tagged{s, i});
    });
  }
  for (auto& t : threads) t.join();
  std::pair<long, long> counts{0, 0};
  REQUIRE(wait_until([&] {
    auto n = c.ask(count_query{}).get(patience);
    if (n) counts = n.value();
    return counts.first == static_cast<long>(senders) * per_sender;
  }));
  CHECK(counts.second == 0);
  CHECK(sys.dead_letters().count() == 0);
}
