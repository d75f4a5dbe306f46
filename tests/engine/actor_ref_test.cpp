// Tests of actor_ref<A> and any_ref: typed sends reach the right on()
// overload (with or without a context), constructor arguments reach the
// actor, senders are passed along, and untyped sends dispatch through the
// actor's `accepts` list, dead-lettering what it does not accept.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::test::wait_until;

namespace {

struct add {
  int n;
};
struct append {
  std::string s;
};
struct who_sent {};
struct get_sum {};

/// Records what it handled into state owned by the test.
struct recorder {
  struct shared {
    std::mutex mu;
    std::vector<std::string> events;
    std::atomic<int> sum{0};
    std::atomic<int> handled{0};
  };

  recorder(shared& s, std::string prefix) : s_(s), prefix_(std::move(prefix)) {}

  void on(const add& m) {  // no context
    s_.sum += m.n;
    note("add");
  }
  void on(const append& m, volley::context& ctx) {  // with context
    note(prefix_ + m.s + "@" + ctx.path());
  }
  void on(const who_sent&, volley::context& ctx) { note("sender=" + ctx.sender().path()); }
  int on(const get_sum&) { return s_.sum.load(); }

  void note(std::string e) {
    {
      std::lock_guard lock(s_.mu);
      s_.events.push_back(std::move(e));
    }
    ++s_.handled;
  }

  shared& s_;
  std::string prefix_;
};

/// Forwards who_sent to a target, naming itself as the sender.
struct forwarder {
  explicit forwarder(volley::actor_ref<recorder> to) : to_(std::move(to)) {}
  void on(const who_sent& m, volley::context& ctx) { to_.tell(m, ctx); }
  volley::actor_ref<recorder> to_;
};

/// Declares two of its three handlers for untyped sends.
struct untyped_target {
  using accepts = volley::accepts<add, append>;
  explicit untyped_target(recorder::shared& s) : s_(s) {}
  void on(const add& m) {
    s_.sum += m.n;
    ++s_.handled;
  }
  void on(const append&, volley::context&) { ++s_.handled; }
  void on(const who_sent&) { ++s_.handled; }  // typed refs only: not in `accepts`
  recorder::shared& s_;
};

/// No `accepts` at all: reachable only through typed refs.
struct typed_only {
  void on(const add&) {}
};

}  // namespace

TEST_CASE("a typed tell reaches the handler with and without a context", "[actor_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  const volley::props p_rec{.name = "rec", .dispatcher = ""};
  auto a = sys.spawn<recorder>(p_rec, s, "got ");
  a.tell(add{2});
  a.tell(append{"x"});
  a.tell(add{40});
  REQUIRE(wait_until([&] { return s.handled == 3; }));
  CHECK(s.sum == 42);
  std::lock_guard lock(s.mu);
  CHECK(s.events == std::vector<std::string>{"add", "got x@/user/rec", "add"});
}

TEST_CASE("constructor arguments given to spawn reach the actor", "[actor_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<recorder>(s, std::string("prefix-"));
  a.tell(append{"y"});
  REQUIRE(wait_until([&] { return s.handled == 1; }));
  std::lock_guard lock(s.mu);
  CHECK(s.events.at(0).rfind("prefix-y@/user/$", 0) == 0);
}

TEST_CASE("a tell with a context names the sending actor; without one the sender is empty",
          "[actor_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  const volley::props p_rec{.name = "rec", .dispatcher = ""};
  auto rec = sys.spawn<recorder>(p_rec, s, "");
  const volley::props p_fwd{.name = "fwd", .dispatcher = ""};
  auto fwd = sys.spawn<forwarder>(p_fwd, rec);
  rec.tell(who_sent{});
  REQUIRE(wait_until([&] { return s.handled == 1; }));
  fwd.tell(who_sent{});
  REQUIRE(wait_until([&] { return s.handled == 2; }));
  std::lock_guard lock(s.mu);
  CHECK(s.events == std::vector<std::string>{"sender=", "sender=/user/fwd"});
}

TEST_CASE("refs compare equal when they name the same actor, and copies stay usable",
          "[actor_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  auto a = sys.spawn<recorder>(s, "");
  auto b = sys.spawn<recorder>(s, "");
  volley::actor_ref<recorder> copy = a;
  volley::any_ref untyped = a;
  CHECK(copy == a);
  CHECK(untyped == a.untyped());
  CHECK_FALSE(a == b);
  CHECK(copy.path() == a.path());
  a = volley::actor_ref<recorder>();  // dropping one ref leaves the actor running
  copy.tell(add{1});
  REQUIRE(wait_until([&] { return s.handled == 1; }));
}

TEST_CASE("sending through an empty ref throws a logic_error, it does not crash", "[actor_ref]") {
  volley::actor_ref<recorder> empty;
  volley::any_ref empty_untyped;
  CHECK_FALSE(empty);
  CHECK(empty.is_stopped());
  CHECK(empty.path().empty());
  CHECK_THROWS_AS(empty.tell(add{1}), std::logic_error);
  CHECK_THROWS_AS(empty_untyped.tell(add{1}), std::logic_error);
  empty.stop();  // no-ops
  empty.kill();
}

TEST_CASE("any_ref dispatches the types listed in `accepts` to their handlers", "[any_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  const volley::props p_t{.name = "t", .dispatcher = ""};
  auto t = sys.spawn<untyped_target>(p_t, s);
  volley::any_ref u = sys.select("/user/t");
  REQUIRE(u);
  u.tell(add{5});
  u.tell(append{"z"});
  const add lvalue{7};
  u.tell(lvalue);  // an lvalue is copied, a const one too
  REQUIRE(wait_until([&] { return s.handled == 3; }));
  CHECK(s.sum == 12);
  CHECK(sys.dead_letters().count() == 0);
}

TEST_CASE("an any_ref send of a type the actor does not accept becomes an `unhandled` dead letter",
          "[any_ref]") {
  recorder::shared s;
  volley::system sys(volley::test::two_workers());
  volley::test::dead_letter_log log(sys);
  const volley::props p_t{.name = "t", .dispatcher = ""};
  auto t = sys.spawn<untyped_target>(p_t, s);
  const volley::props p_plain{.name = "plain", .dispatcher = ""};
  auto plain = sys.spawn<typed_only>(p_plain);
  volley::any_ref u = t;
  u.tell(who_sent{});  // has a handler, but not declared in `accepts`
  u.tell(get_sum{});   // no handler at all
  volley::any_ref p = plain;
  p.tell(add{1});  // no `accepts`: nothing is reachable untyped
  u.tell(add{1});  // still works afterwards
  REQUIRE(wait_until([&] { return s.handled == 1; }));
  CHECK(sys.dead_letters().count(volley::dead_letter_reason::unhandled) == 3);
  CHECK(sys.dead_letters().count() == 3);
  auto seen = log.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].recipient == "/user/t");
  CHECK(seen[0].type == std::string(volley::type_name<who_sent>()));
  CHECK(seen[0].reason == volley::dead_letter_reason::unhandled);
  CHECK(seen[1].type == std::string(volley::type_name<get_sum>()));
  CHECK(seen[2].recipient == "/user/plain");
  // The typed ref still reaches the undeclared handler.
  t.tell(who_sent{});
  REQUIRE(wait_until([&] { return s.handled == 2; }));
}

TEST_CASE("a poison pill sent through an any_ref stops any actor", "[any_ref]") {
  volley::system sys(volley::test::two_workers());
  auto plain = sys.spawn<typed_only>();
  volley::any_ref p = plain;
  p.tell(volley::poison_pill{});
  REQUIRE(wait_until([&] { return plain.is_stopped(); }));
  CHECK(sys.dead_letters().count() == 0);
}

namespace named_ns {
struct tagged {};
}  // namespace named_ns

TEST_CASE("type names read like the source and type ids tell types apart", "[type_info]") {
  CHECK(volley::type_name<int>() == "int");
  CHECK(std::string(volley::type_name<add>()).find("add") != std::string::npos);
  CHECK(volley::type_name<named_ns::tagged>() == "named_ns::tagged");
  CHECK(volley::type_id<add>() == volley::type_id<add>());
  CHECK(volley::type_id<add>() != volley::type_id<append>());
}
