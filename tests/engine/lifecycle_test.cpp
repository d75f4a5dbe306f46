// Tests of how actors start and stop: pre_start/post_stop hooks, poison
// pills, ref.stop()/kill(), ctx.stop(), stopping a subtree (children
// first), stop overtaking queued mail, and failures in handlers and hooks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::dead_letter_reason;
using volley::test::gate;
using volley::test::wait_until;

namespace {

struct work {
  int n;
};
struct block {};
struct stop_me {};
struct boom {};
struct spawn_kid {
  std::string name;
};

/// Event log shared by the actors of one test.
struct journal {
  std::mutex mu;
  std::vector<std::string> events;
  std::atomic<int> handled{0};
  std::atomic<int> post_stops{0};
  std::atomic<bool> first_finished{false};
  gate g;

  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return events;
  }
};

struct hooked {
  using accepts = volley::accepts<work>;
  explicit hooked(journal& j) : j_(j) {}
  void pre_start() { j_.add("pre_start"); }
  void post_stop(volley::context& ctx) {
    j_.add("post_stop " + ctx.path());
    ++j_.post_stops;
  }
  void on(const work& w) {
    j_.add("work " + std::to_string(w.n));
    ++j_.handled;
  }
  void on(const block&) {
    j_.g.arrive_and_wait();
    j_.first_finished = true;
    ++j_.handled;
  }
  void on(const stop_me&, volley::context& ctx) {
    ctx.stop();
    j_.add("stop_me handled");  // the handler still runs to its end
  }
  int on(const boom&) { throw std::runtime_error("boom went the handler"); }
  journal& j_;
};

/// Builds a subtree in pre_start: `fanout` children per level, `depth` levels.
struct tree_node {
  tree_node(journal& j, int depth, int fanout) : j_(j), depth_(depth), fanout_(fanout) {}
  void pre_start(volley::context& ctx) {
    for (int i = 0; i < fanout_ && depth_ > 0; ++i) {
      const volley::props p{.name = "n" + std::to_string(i), .dispatcher = ""};
      ctx.spawn<tree_node>(p, j_, depth_ - 1, fanout_);
    }
    ++j_.handled;  // counts started nodes
  }
  void post_stop(volley::context& ctx) {
    j_.add(ctx.path());
    ++j_.post_stops;
  }
  void on(const work&) {}
  journal& j_;
  int depth_, fanout_;
};

struct throwing_start {
  explicit throwing_start(journal& j) : j_(j) {}
  void pre_start() { throw std::runtime_error("cannot start"); }
  void post_stop() { ++j_.post_stops; }
  void on(const work&) { ++j_.handled; }
  journal& j_;
};

struct parent_of_kids {
  explicit parent_of_kids(journal& j) : j_(j) {}
  void on(const spawn_kid& k, volley::context& ctx) {
    if (k.name.empty()) {
      ctx.spawn<hooked>(j_);
    } else {
      const volley::props p{.name = k.name, .dispatcher = ""};
      ctx.spawn<hooked>(p, j_);
    }
    ++j_.handled;
  }
  journal& j_;
};

struct volley_ball {
  int left;
};

/// Returns the ball to whoever sent it, naming itself as the sender.
struct player {
  explicit player(std::atomic<int>& hits) : hits_(hits) {}
  void on(const volley_ball& b, volley::context& ctx) {
    ++hits_;
    if (b.left > 0) ctx.sender().tell(volley_ball{b.left - 1}, ctx);
  }
  using accepts = volley::accepts<volley_ball>;
  std::atomic<int>& hits_;
};

struct server {
  server(volley::actor_ref<player> to, std::atomic<int>& hits) : to_(std::move(to)), hits_(hits) {}
  void on(const volley_ball& b, volley::context& ctx) {
    ++hits_;
    if (b.left > 0) to_.tell(volley_ball{b.left - 1}, ctx);
  }
  using accepts = volley::accepts<volley_ball>;
  volley::actor_ref<player> to_;
  std::atomic<int>& hits_;
};

/// A hooked actor held inside its `block` handler (the journal's gate) with
/// `queued` work messages behind it. The gate opens when the fixture ends,
/// before the system does.
struct blocked_with_backlog {
  explicit blocked_with_backlog(int queued) {
    a.tell(block{});
    REQUIRE(j.g.wait_arrived());
    for (int i = 0; i < queued; ++i) a.tell(work{i});
  }

  journal j;
  volley::system sys{volley::test::two_workers()};
  volley::actor_ref<hooked> a = sys.spawn<hooked>(j);
  volley::test::open_on_exit release{j.g};
};

}  // namespace

TEST_CASE("pre_start runs before the first message", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<hooked>(j);
  a.tell(work{1});
  a.tell(work{2});
  REQUIRE(wait_until([&] { return j.handled == 2; }));
  CHECK(j.snapshot() == std::vector<std::string>{"pre_start", "work 1", "work 2"});
}

TEST_CASE("pre_start runs even if the actor is never sent a message", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<hooked>(j);
  REQUIRE(wait_until([&] { return !j.snapshot().empty(); }));
  CHECK(j.snapshot() == std::vector<std::string>{"pre_start"});
}

TEST_CASE("pre_start runs before post_stop when the stop comes before the first activation",
          "[lifecycle]") {
  // One worker, held in a handler: the new actor's stop is queued before its
  // first activation. As in Akka, the actor still starts before it stops, so
  // post_stop never releases what pre_start did not acquire.
  journal busy, j;
  volley::config cfg = volley::test::two_workers();
  cfg.workers = 1;
  volley::system sys(cfg);
  volley::test::open_on_exit release{busy.g};
  auto blocker = sys.spawn<hooked>(busy);
  blocker.tell(block{});
  REQUIRE(busy.g.wait_arrived());
  auto a = sys.spawn<hooked>(volley::props{.name = "early", .dispatcher = ""}, j);
  a.stop();
  busy.g.open();
  REQUIRE(wait_until([&] { return a.is_stopped(); }));
  CHECK(j.snapshot() == std::vector<std::string>{"pre_start", "post_stop /user/early"});
}

TEST_CASE("post_stop runs once when the actor is stopped", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "a", .dispatcher = ""};
  auto a = sys.spawn<hooked>(p, j);
  a.tell(work{1});
  a.stop();
  a.stop();  // a second stop is harmless
  REQUIRE(wait_until([&] { return a.is_stopped(); }));
  CHECK(j.post_stops == 1);
  auto ev = j.snapshot();
  REQUIRE_FALSE(ev.empty());
  CHECK(ev.back() == "post_stop /user/a");
  // A dead actor is no longer found (its path leaves /user just after).
  CHECK(wait_until([&] { return !sys.select("/user/a"); }));
  sys.shutdown();
  CHECK(j.post_stops == 1);  // and shutdown does not run it again
}

TEST_CASE(
    "a poison pill is handled in order: earlier messages are handled, later ones are "
    "dead letters",
    "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  volley::test::dead_letter_log log(sys);
  auto a = sys.spawn<hooked>(j);
  for (int i = 0; i < 5; ++i) a.tell(work{i});
  a.tell(volley::poison_pill{});
  for (int i = 5; i < 10; ++i) a.tell(work{i});
  REQUIRE(wait_until([&] { return a.is_stopped() && log.size() == 5; }));
  CHECK(j.handled == 5);
  auto ev = j.snapshot();
  REQUIRE(ev.size() == 7);
  CHECK(ev[1] == "work 0");
  CHECK(ev[5] == "work 4");
  CHECK(ev[6].rfind("post_stop", 0) == 0);
  CHECK(sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 5);
  for (const auto& d : log.seen()) {
    CHECK(d.reason == dead_letter_reason::recipient_stopped);
    CHECK(d.type == std::string(volley::type_name<work>()));
  }
}

TEST_CASE("ref.stop(): the message being handled finishes, the queued ones become dead letters",
          "[lifecycle]") {
  blocked_with_backlog f(10);
  f.a.stop();  // queued on the system lane while the actor is busy
  f.j.g.open();
  REQUIRE(wait_until([&] { return f.a.is_stopped(); }));
  REQUIRE(wait_until([&] { return f.sys.dead_letters().count() == 10; }));
  CHECK(f.j.first_finished);
  CHECK(f.j.handled == 1);
  CHECK(f.j.post_stops == 1);
  CHECK(f.sys.dead_letters().count(dead_letter_reason::recipient_stopped) == 10);
}

TEST_CASE("a stop overtakes the user messages queued before it", "[lifecycle]") {
  // Same shape as above, with many more queued messages: the stop is seen
  // after the current message, not after the backlog.
  const int queued = 1000;
  blocked_with_backlog f(queued);
  f.a.stop();
  f.j.g.open();
  REQUIRE(wait_until([&] { return f.sys.dead_letters().count() == queued; }));
  CHECK(f.j.handled == 1);
}

TEST_CASE("kill() stops the actor at once; post_stop still runs and the backlog is dead-lettered",
          "[lifecycle]") {
  blocked_with_backlog f(10);
  f.a.kill();
  f.j.g.open();
  REQUIRE(wait_until([&] { return f.a.is_stopped() && f.sys.dead_letters().count() == 10; }));
  CHECK(f.j.handled == 1);
  CHECK(f.j.post_stops == 1);
}

TEST_CASE("ctx.stop() stops the actor after the current message", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<hooked>(j);
  a.tell(work{1});
  a.tell(stop_me{});
  a.tell(work{2});
  REQUIRE(wait_until([&] { return a.is_stopped() && sys.dead_letters().count() == 1; }));
  auto ev = j.snapshot();
  REQUIRE(ev.size() == 4);
  CHECK(ev[1] == "work 1");
  CHECK(ev[2] == "stop_me handled");
  CHECK(ev[3].rfind("post_stop", 0) == 0);
}

TEST_CASE("stopping a parent stops its whole subtree, every child's post_stop before its parent's",
          "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "root", .dispatcher = ""};
  auto root = sys.spawn<tree_node>(p, j, 3, 3);  // 1 + 3 + 9 + 27 = 40 actors
  REQUIRE(wait_until([&] { return j.handled == 40; }));
  CHECK(sys.select("/user/root/n2/n1/n0"));
  root.stop();
  REQUIRE(wait_until([&] { return root.is_stopped(); }));
  auto order = j.snapshot();
  REQUIRE(order.size() == 40);
  CHECK(order.back() == "/user/root");
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  REQUIRE(position.size() == 40);
  for (const auto& [path, pos] : position) {
    auto slash = path.rfind('/');
    std::string parent = path.substr(0, slash);
    if (parent == "/user") continue;
    INFO(path << " stopped after its parent " << parent);
    CHECK(pos < position.at(parent));
  }
  CHECK_FALSE(sys.select("/user/root/n2/n1/n0"));
}

TEST_CASE("ctx.spawn makes children with paths under the parent", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "parent", .dispatcher = ""};
  auto parent = sys.spawn<parent_of_kids>(p, j);
  parent.tell(spawn_kid{"kid"});
  parent.tell(spawn_kid{""});
  REQUIRE(wait_until([&] { return j.handled == 2; }));
  volley::any_ref kid = sys.select("/user/parent/kid");
  REQUIRE(kid);
  CHECK(kid.path() == "/user/parent/kid");
  kid.tell(work{1});
  REQUIRE(wait_until([&] { return j.handled == 3; }));
  parent.stop();
  REQUIRE(wait_until([&] { return j.post_stops == 2 && parent.is_stopped(); }));
  CHECK(kid.is_stopped());
}

TEST_CASE("a handler that throws stops its actor, and an ask to it fails with handler_failed",
          "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  const volley::props p{.name = "fragile", .dispatcher = ""};
  auto a = sys.spawn<hooked>(p, j);
  volley::test::stderr_capture err;
  auto f = a.ask(boom{});
  auto r = f.get(volley::test::patience);
  a.tell(work{1});
  REQUIRE(wait_until([&] { return a.is_stopped(); }));
  std::string log = err.finish();
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::handler_failed);
  CHECK(r.err().message.find("boom went the handler") != std::string::npos);
  CHECK(j.post_stops == 1);
  CHECK(log.find("/user/fragile") != std::string::npos);
  CHECK(log.find("boom went the handler") != std::string::npos);
  REQUIRE(wait_until([&] { return sys.dead_letters().count() == 1; }));
  CHECK(j.handled == 0);
}

TEST_CASE("an actor whose pre_start throws is stopped before any message", "[lifecycle]") {
  journal j;
  volley::system sys(volley::test::two_workers());
  volley::test::stderr_capture err;
  auto a = sys.spawn<throwing_start>(j);
  a.tell(work{1});
  REQUIRE(wait_until([&] { return a.is_stopped(); }));
  CHECK(err.finish().find("pre_start") != std::string::npos);
  REQUIRE(wait_until([&] { return sys.dead_letters().count() == 1; }));
  CHECK(j.handled == 0);
}

TEST_CASE("actors that last wrote to each other do not keep each other alive once stopped",
          "[lifecycle]") {
  // The last message an actor handled stays in its mailbox as the queue's
  // stub until the next pop. If that envelope kept its sender counted, two
  // actors whose last messages came from each other would hold each other
  // (and the whole system core) for ever: a leak LSan reports at exit.
  std::atomic<int> hits{0};
  volley::system sys(volley::test::two_workers());
  auto p = sys.spawn<player>(hits);
  auto s = sys.spawn<server>(p, hits);
  s.tell(volley_ball{10});
  REQUIRE(wait_until([&] { return hits == 11; }));  // the rally is over
  p.stop();
  s.stop();
  REQUIRE(wait_until([&] { return p.is_stopped() && s.is_stopped(); }));
  // White box: once dead and idle, our ref is the only count left on each.
  CHECK(wait_until([&] { return p.cell()->refs_.load() == 1; }, 5s));
  CHECK(wait_until([&] { return s.cell()->refs_.load() == 1; }, 5s));
}
