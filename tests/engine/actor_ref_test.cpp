// Tests of actor_ref<A> and any_ref: typed sends reach the right on()
// overload (with or without a context), constructor arguments reach the
// actor, senders are passed along, and untyped sends dispatch through the
// actor's `accepts` list, dead-lettering what it does not accept.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
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

static_assert(sizeof(volley::any_ref) == sizeof(void*), "an any_ref is one pointer");

TEST_CASE(
    "an empty ref from a failed select is one pointer, its copies name the path, and it behaves "
    "as empty",
    "[any_ref][select]") {
  struct ping {};
  volley::system sys(volley::test::two_workers());
  auto missing = sys.select("/user/nobody");
  REQUIRE_FALSE(missing);
  CHECK(missing == volley::any_ref{});
  CHECK(missing.path().empty());
  CHECK(missing.is_stopped());
  CHECK(missing.cell() == nullptr);
  missing.stop();  // no-ops on an empty ref
  missing.kill();

  auto message_of = [](const volley::any_ref& r) {
    try {
      r.tell(ping{});
    } catch (const std::logic_error& e) {
      return std::string(e.what());
    }
    return std::string("no throw");
  };
  volley::any_ref copy = missing;
  volley::any_ref assigned;
  assigned = copy;
  volley::any_ref moved = std::move(copy);
  std::vector<volley::any_ref> many(8, assigned);  // shared record, counted per copy
  for (const auto* r : {&missing, &assigned, &moved, &many.back()}) {
    CHECK(message_of(*r).find("/user/nobody") != std::string::npos);
  }
  assigned = sys.select("/user");  // overwriting drops this copy's count
  CHECK(assigned);
  CHECK(message_of(volley::any_ref{}) == "volley: send through an empty actor ref");
}

namespace {

struct price {
  int item;
};
struct last_sender_query {};

/// Answers a price ask (int), and says who sent its last tell.
struct pricer {
  using accepts = volley::accepts<price, last_sender_query>;
  int on(const price& p) { return p.item * 10; }
  void on(const last_sender_query&, volley::context& ctx) { last_sender_ = ctx.sender().path(); }
  std::string on(const volley::unit&) const { return last_sender_; }
  std::string last_sender_;
};

/// Holds the pricer only as an any_ref and passes everything on.
struct untyped_middle {
  explicit untyped_middle(volley::any_ref to) : to_(std::move(to)) {}
  volley::deferred<int> on(const price& p, volley::context& ctx) {
    to_.forward<int>(p, ctx);  // the pricer's answer goes to our asker
    return {};
  }
  void on(const last_sender_query& w, volley::context& ctx) { to_.forward(w, ctx); }
  volley::any_ref to_;
};

/// Asks or tells through the middle, as an actor (so it has a path).
struct client {
  struct go {
    volley::actor_ref<untyped_middle> mid;
  };
  void on(const go& g, volley::context& ctx) { g.mid.tell(last_sender_query{}, ctx); }
};

}  // namespace

TEST_CASE("any_ref::forward passes an ask along (named reply type) and keeps a tell's sender",
          "[any_ref][forward][concurrency]") {
  volley::system sys(volley::test::two_workers());
  auto p = sys.spawn<pricer>();
  auto mid = sys.spawn<untyped_middle>(p.untyped());
  for (int i = 1; i <= 5; ++i) {
    auto r = mid.ask(price{i}).get(std::chrono::seconds(20));
    REQUIRE(r);
    CHECK(r.value() == i * 10);
  }
  auto c = sys.spawn<client>(volley::props{.name = "client"});
  c.tell(client::go{mid});
  CHECK(wait_until([&] { return p.ask(volley::unit{}).get().value() == "/user/client"; }));
  CHECK(sys.dead_letters().count() == 0);
}
