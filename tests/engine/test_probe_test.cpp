// Tests of volley::test_probe: it receives what is sent to it, in order;
// it is a sender and a watcher; and every expectation that does not hold
// fails with a test_failure that names what came instead (no false pass).
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <volley/engine/test_probe.hpp>
#include <volley/volley.hpp>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

struct ping {
  int n;
};
struct pong {
  int n;
};
struct other {};

/// Replies to whoever sent the ping, through the untyped ctx.sender().
struct echo {
  void on(const ping& p, volley::context& ctx) { ctx.sender().tell(pong{p.n}, ctx); }
};

/// Replies to a typed ref carried in the request.
struct ask_for {
  int n;
  volley::actor_ref<volley::test_probe::actor_type> reply_to;
};
struct replier {
  void on(const ask_for& a) { a.reply_to.tell(pong{a.n * 10}); }
};

struct idle {
  void on(const other&) {}
};

volley::config small_config() {
  volley::config cfg;
  cfg.workers = 2;
  cfg.pin = false;
  return cfg;
}

}  // namespace

TEST_CASE("a probe returns the messages sent to it, in order", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  for (int i = 0; i < 5; ++i) probe.ref().tell(pong{i});
  for (int i = 0; i < 5; ++i) REQUIRE(probe.expect_msg<pong>().n == i);
  probe.expect_no_msg(10ms);
}

TEST_CASE("an actor replies to a probe's typed ref carried in a message", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  auto r = sys.spawn<replier>();
  r.tell(ask_for{4, probe.ref()});
  REQUIRE(probe.expect_msg<pong>().n == 40);
}

TEST_CASE("send() makes the probe the sender, so ctx.sender() replies reach it", "[test_probe]") {
  volley::system sys(small_config());
  volley::basic_test_probe<pong> probe(sys);  // pong arrives through an any_ref
  auto e = sys.spawn<echo>();
  probe.send(e, ping{7});
  REQUIRE(probe.expect_msg<pong>().n == 7);
  REQUIRE(probe.last_sender() == e.untyped());
}

TEST_CASE("reply() answers the sender of the last expected message", "[test_probe]") {
  volley::system sys(small_config());
  volley::basic_test_probe<pong> a(sys);
  volley::basic_test_probe<ping> b(sys);
  a.send(b.ref(), ping{1});
  REQUIRE(b.expect_msg<ping>().n == 1);
  REQUIRE(b.last_sender() == a.ref().untyped());
  b.reply(pong{2});
  REQUIRE(a.expect_msg<pong>().n == 2);
}

TEST_CASE("reply() without a sender fails", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  probe.ref().tell(ping{1});  // no sender
  probe.expect_msg<ping>();
  REQUIRE_THROWS_WITH(probe.reply(pong{1}), Contains("no sender"));
}

TEST_CASE("expect_msg of the wrong type fails and names the type that came", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  probe.ref().tell(ping{1});
  probe.ref().tell(pong{2});
  REQUIRE_THROWS_AS(probe.expect_msg<pong>(), volley::test_failure);
  // The mismatch consumed the ping, as Akka's TestKit does.
  REQUIRE(probe.expect_msg<pong>().n == 2);

  probe.ref().tell(ping{3});
  try {
    probe.expect_msg<pong>();
    FAIL("expect_msg<pong> passed on a ping");
  } catch (const volley::test_failure& f) {
    std::string what = f.what();
    REQUIRE_THAT(what, Contains("expect_msg<") && Contains("pong>"));
    REQUIRE_THAT(what, Contains("got a message of type") && Contains("ping"));
  }
}

TEST_CASE("expect_msg with nothing sent fails after its timeout", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  REQUIRE_THROWS_WITH(probe.expect_msg<pong>(20ms), Contains("no message within 20 ms"));
}

TEST_CASE("expect_msg with a predicate checks the message", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  probe.ref().tell(pong{1});
  probe.ref().tell(pong{2});
  REQUIRE(probe.expect_msg<pong>([](const pong& p) { return p.n == 1; }).n == 1);
  REQUIRE_THROWS_WITH(probe.expect_msg<pong>([](const pong& p) { return p.n == 1; }),
                      Contains("did not satisfy the predicate"));
  probe.ref().tell(ping{3});
  REQUIRE_THROWS_WITH(probe.expect_msg<pong>([](const pong&) { return true; }), Contains("ping"));
}

TEST_CASE("expect_no_msg fails when a message arrives", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  probe.ref().tell(other{});
  // A long window: it returns as soon as the message is there.
  REQUIRE_THROWS_WITH(probe.expect_no_msg(10s), Contains("other"));
  probe.expect_no_msg(10ms);
}

TEST_CASE("a probe keeps move-only messages", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  probe.ref().tell(std::make_unique<int>(42));
  auto p = probe.expect_msg<std::unique_ptr<int>>();
  REQUIRE(p != nullptr);
  REQUIRE(*p == 42);
}

TEST_CASE("expect_terminated watches the target and reports why it stopped", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);

  auto a = sys.spawn<idle>(volley::props{.name = "a", .dispatcher = {}});
  probe.watch(a);  // the watch is in place when this returns
  a.stop();
  auto t = probe.expect_terminated(a);
  REQUIRE(t.reason == volley::termination_reason::stopped);
  REQUIRE(t.actor.path() == "/user/a");

  auto b = sys.spawn<idle>();
  b.kill();
  // Watching after the fact still reports it (the target answers the watch).
  REQUIRE(probe.expect_terminated(b).reason == volley::termination_reason::killed);
  probe.expect_no_msg(10ms);
}

TEST_CASE("watching twice reports one termination", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  auto a = sys.spawn<idle>();
  probe.watch(a);
  probe.watch(a);
  a.stop();
  probe.expect_terminated(a);  // watches again: must not ask for a second one
  REQUIRE_THROWS_WITH(probe.expect_terminated(a, 20ms), Contains("no message within"));
  probe.expect_no_msg(10ms);
}

TEST_CASE("expect_terminated fails on another message or another actor", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  auto a = sys.spawn<idle>(volley::props{.name = "a", .dispatcher = {}});
  auto b = sys.spawn<idle>(volley::props{.name = "b", .dispatcher = {}});

  probe.ref().tell(pong{1});
  REQUIRE_THROWS_WITH(probe.expect_terminated(a), Contains("pong") && Contains("instead"));

  probe.watch(b);
  b.stop();
  REQUIRE_THROWS_WITH(probe.expect_terminated(a), Contains("termination of /user/b instead"));
  a.stop();
  probe.expect_terminated(a);
}

TEST_CASE("unwatch: no terminated after it", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  auto a = sys.spawn<idle>();
  probe.watch(a);
  probe.unwatch(a);
  a.stop();
  // The stop is seen by a second probe; a terminated for the first one
  // would have been sent at that moment, so a short wait is enough to catch
  // it (a wrong pass is possible on a loaded machine, a wrong failure not).
  volley::test_probe witness(sys);
  witness.expect_terminated(a);
  probe.expect_no_msg(50ms);
}

TEST_CASE("a poison pill stops a probe like any actor", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe watcher(sys);
  volley::test_probe probe(sys);
  probe.ref().tell(volley::poison_pill{});
  REQUIRE(watcher.expect_terminated(probe.ref()).reason == volley::termination_reason::stopped);
}

TEST_CASE("an untyped send of a type the probe does not accept is a dead letter", "[test_probe]") {
  volley::system sys(small_config());
  volley::test_probe plain(sys);
  volley::basic_test_probe<pong> accepting(sys);
  volley::any_ref to_plain = plain.ref();
  volley::any_ref to_accepting = accepting.ref();
  auto before = sys.dead_letters().count(volley::dead_letter_reason::unhandled);
  to_plain.tell(pong{1});
  to_accepting.tell(pong{2});
  REQUIRE(accepting.expect_msg<pong>().n == 2);
  REQUIRE(sys.dead_letters().count(volley::dead_letter_reason::unhandled) == before + 1);
  plain.expect_no_msg(10ms);
}

TEST_CASE("a message sent to a destroyed probe is dropped safely", "[test_probe]") {
  volley::system sys(small_config());
  volley::any_ref ref;
  {
    volley::basic_test_probe<pong> probe(sys);
    ref = probe.ref();
  }
  ref.tell(pong{1});  // a dead letter or dropped with the queue; never a crash
  volley::test_probe witness(sys);
  witness.expect_terminated(ref);
}

TEST_CASE("messages from many threads all arrive, each sender's in order",
          "[test_probe][concurrency]") {
  constexpr int senders = 4;
  constexpr int per_sender = 500;
  volley::system sys(small_config());
  volley::test_probe probe(sys);
  std::vector<std::thread> threads;
  for (int s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < per_sender; ++i) probe.ref().tell(pong{s * per_sender + i});
    });
  }
  std::vector<int> next(senders, 0);
  for (int k = 0; k < senders * per_sender; ++k) {
    int n = probe.expect_msg<pong>().n;
    int s = n / per_sender;
    REQUIRE(n % per_sender == next[s]);
    ++next[s];
  }
  for (auto& t : threads) t.join();
  probe.expect_no_msg(10ms);
}
