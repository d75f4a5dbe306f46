// Tests of volley::fsm: transitions and data, the transition hook, state
// timeouts (on a manual clock, so "not before" and "not after leaving" are
// exact), unhandled messages, stop(), and what an fsm accepts at compile time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <volley/engine/fsm.hpp>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::test::gate;
using volley::test::wait_until;

namespace {

// -- the door: the fsm under test ---------------------------------------------------

enum class door { closed, open, locked };

std::string name_of(door s) {
  switch (s) {
    case door::closed:
      return "closed";
    case door::open:
      return "open";
    case door::locked:
      return "locked";
  }
  return "?";
}

struct door_data {
  int opened = 0;    // how many times the door was opened
  std::string code;  // the code it was locked with
};

struct open_it {};
struct close_it {};
struct reopen {};  // goto_ the current state
struct lock_it {
  std::string code;
};
struct unlock_it {
  std::string code;
};
struct probe {};  // stay() in every state: an ask of it is a barrier
struct hold {};   // waits at the journal's gate, then stay()
struct quit {};
struct not_listed {};

/// What the door did, in order, shared with the test thread.
struct journal {
  std::mutex mu;
  std::vector<std::string> events;
  gate g;
  volley::manual_clock* clock = nullptr;
  volley::clock::time_point start{};

  void add(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return events;
  }
  bool has(const std::string& e) {
    auto s = snapshot();
    return std::find(s.begin(), s.end(), e) != s.end();
  }
  /// Manual-clock milliseconds since the test began.
  long long elapsed_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->now() - start).count();
  }
};

struct door_fsm : volley::fsm<door_fsm, door, door_data> {
  using accepts = volley::accepts<open_it, close_it, reopen, lock_it, unlock_it, probe, hold, quit>;

  enum class on_unhandled { default_, log, lock_up };

  door_fsm(journal& j, on_unhandled u) : fsm(door::closed, door_data{}), j_(j) {
    when(door::closed)
        .on([this](const open_it&) {
          return goto_(door::open).using_(door_data{data().opened + 1, data().code});
        })
        .on([this](const lock_it& l) {
          return goto_(door::locked).using_(door_data{data().opened, l.code});
        });
    when(door::open, 2s)
        .on([](const close_it&) { return goto_(door::closed); })
        .on([](const reopen&) { return goto_(door::open); })
        .on([this](const volley::state_timeout&) {
          j_.add("timeout in open at +" + std::to_string(j_.elapsed_ms()) + "ms");
          return goto_(door::closed);
        });
    when(door::locked).on([this](const unlock_it& u) {
      return u.code == data().code ? goto_(door::closed) : stay();
    });
    for (door s : {door::closed, door::open, door::locked}) {
      when(s)
          .on([](const probe&) { return stay(); })
          .on([this](const hold&) {
            j_.g.arrive_and_wait();
            return stay();
          })
          .on([this](const quit&, volley::context& ctx) {
            j_.add("quit at " + ctx.path());
            return stop();
          });
    }
    on_transition([this](door from, door to) {
      j_.add(name_of(from) + "->" + name_of(to) + " opened=" + std::to_string(data().opened));
    });
    if (u == on_unhandled::log) {
      when_unhandled([this](door s, const door_data& d, std::string_view type) {
        j_.add("unhandled " + std::string(type) + " in " + name_of(s) +
               " opened=" + std::to_string(d.opened));
      });
    } else if (u == on_unhandled::lock_up) {
      when_unhandled([](door, const door_data& d, std::string_view) {
        return goto_(door::locked).using_(door_data{d.opened, "0000"});
      });
    }
  }

  void post_stop() { j_.add("post_stop in " + name_of(state())); }

  journal& j_;
};

// What the door accepts is decided at compile time, as for any actor.
static_assert(volley::detail::has_handler<door_fsm, open_it>);
static_assert(volley::detail::has_handler<door_fsm, volley::state_timeout>);
static_assert(!volley::detail::has_handler<door_fsm, not_listed>,
              "a type missing from `accepts` must not be sendable");
static_assert(!volley::detail::has_handler<door_fsm, volley::poison_pill>,
              "the fsm must leave poison_pill to the engine (it stops the actor)");

// -- the settle barrier ----------------------------------------------------------------

struct due {};
struct sync_point {};
struct arm {
  std::chrono::milliseconds after;
};

/// Makes "the clock moved" mean "every timer due by now has been delivered".
/// Its timer is due exactly at the new time, so it fires in the timer
/// thread's pass that delivers everything due by then; starting another
/// timer takes the service's lock, which that pass holds until it ends.
struct witness : volley::actor<witness> {
  explicit witness(std::atomic<int>& passes) : passes_(passes) {}
  void on(const arm& a) { timers().start_single("due", a.after, due{}); }
  void on(const due&) {
    timers().start_single("sync", 24h, sync_point{});
    ++passes_;
  }
  void on(const sync_point&) {}
  std::atomic<int>& passes_;
};

/// An actor system on a manual clock, a door, and the means to move time.
struct rig {
  std::shared_ptr<volley::manual_clock> clock = std::make_shared<volley::manual_clock>();
  journal j;
  std::atomic<int> passes{0};
  volley::system sys{config_with(clock)};
  volley::actor_ref<witness> w = sys.spawn<witness>(passes);
  volley::actor_ref<door_fsm> d;

  explicit rig(door_fsm::on_unhandled u = door_fsm::on_unhandled::log) {
    j.clock = clock.get();
    j.start = clock->now();
    d = sys.spawn<door_fsm>(j, u);
  }

  static volley::config config_with(std::shared_ptr<volley::manual_clock> c) {
    volley::config cfg = volley::test::two_workers();
    cfg.clock = std::move(c);
    return cfg;
  }

  /// Move the clock by `d`; returns once every timer due by then is in its mailbox.
  void advance(std::chrono::milliseconds d) {
    REQUIRE(w.ask(arm{d}).get(volley::test::patience).ok());
    int before = passes.load();
    clock->advance(d);
    REQUIRE(wait_until([&] { return passes.load() > before; }));
  }

  /// Returns once the door has taken everything sent (or delivered) before.
  void drain() { REQUIRE(d.ask(probe{}).get(volley::test::patience).ok()); }
};

}  // namespace

TEST_CASE("goto_ changes the state, using_ the data, and the hook sees each (from, to) in order") {
  rig r;
  r.d.tell(open_it{});
  r.d.tell(close_it{});
  r.d.tell(open_it{});
  r.d.tell(close_it{});
  r.d.tell(lock_it{"1234"});
  r.d.tell(unlock_it{"9999"});  // wrong code: stay(), no transition
  r.d.tell(unlock_it{"1234"});
  r.drain();
  CHECK(r.j.snapshot() == std::vector<std::string>{
                              "closed->open opened=1",
                              "open->closed opened=1",
                              "closed->open opened=2",
                              "open->closed opened=2",
                              "closed->locked opened=2",
                              "locked->closed opened=2",
                          });
}

TEST_CASE("goto_ to the current state runs the hook; stay() does not") {
  rig r;
  r.d.tell(open_it{});
  r.d.tell(reopen{});
  r.d.tell(probe{});  // stay()
  r.drain();
  CHECK(r.j.snapshot() == std::vector<std::string>{"closed->open opened=1", "open->open opened=1"});
}

TEST_CASE("a state timeout arrives once the clock passes it, not before; each message re-arms it") {
  rig r;
  r.d.tell(open_it{});  // at +0: open times out at +2000
  r.drain();            // (the probe re-arms it at +0: still +2000)

  r.advance(1999ms);
  r.drain();  // anything delivered by +1999 has been handled; the probe re-arms: +3999
  CHECK_FALSE(r.j.has("open->closed opened=1"));

  r.advance(1999ms);  // +3998: had the probe not re-armed it, it would have fired at +2000
  r.drain();          // re-armed again: +5998
  CHECK(r.j.snapshot() == std::vector<std::string>{"closed->open opened=1"});

  r.advance(1999ms);  // +5997
  r.advance(1ms);     // +5998: due
  REQUIRE(wait_until([&] { return r.j.has("open->closed opened=1"); }));
  CHECK(r.j.snapshot() == std::vector<std::string>{"closed->open opened=1",
                                                   "timeout in open at +5998ms",
                                                   "open->closed opened=1"});
}

TEST_CASE("an unhandled message re-arms the timeout too (Akka's rule)") {
  rig r;
  r.d.tell(open_it{});  // +0: due +2000
  r.drain();
  r.advance(1500ms);
  r.d.tell(lock_it{"1"});  // unhandled in open, at +1500: due +3500
  r.drain();
  r.advance(1000ms);         // +2500
  r.d.tell(unlock_it{"1"});  // unhandled, at +2500: due +4500
  r.drain();
  r.advance(1999ms);  // +4499
  r.drain();          // the probe at +4499 re-arms: due +6499
  CHECK_FALSE(r.j.has("open->closed opened=1"));
  r.advance(2000ms);  // +6499
  REQUIRE(wait_until([&] { return r.j.has("open->closed opened=1"); }));
  CHECK(r.j.has("timeout in open at +6499ms"));
}

TEST_CASE("a state timeout does not arrive after the state was left") {
  rig r;
  r.d.tell(open_it{});   // due +2000
  r.d.tell(close_it{});  // closed has no timeout: cancelled
  r.drain();
  r.advance(5000ms);
  r.d.tell(open_it{});     // +5000: due +7000
  r.d.tell(lock_it{"x"});  // unhandled in open: logged, stays
  r.d.tell(close_it{});
  r.d.tell(lock_it{"x"});  // locked: no timeout either
  r.drain();
  r.advance(10000ms);
  r.drain();
  CHECK(r.j.snapshot() ==
        std::vector<std::string>{
            "closed->open opened=1",
            "open->closed opened=1",
            "closed->open opened=2",
            "unhandled " + std::string(volley::type_name<lock_it>()) + " in open opened=2",
            "open->closed opened=2",
            "closed->locked opened=2",
        });
  CHECK(r.sys.dead_letters().count() == 0);  // cancelled before firing: nothing was queued
}

TEST_CASE("a state timeout queued before the state was left is never handled") {
  rig r;
  volley::test::dead_letter_log dead(r.sys);
  volley::test::open_on_exit release{r.j.g};
  r.d.tell(open_it{});  // due +2000
  r.d.tell(hold{});     // the door waits in a handler...
  REQUIRE(r.j.g.wait_arrived());
  r.advance(2000ms);     // ...while its timeout fires and queues behind it
  r.d.tell(close_it{});  // and so does a message that leaves `open`
  r.j.g.open();          // hold's stay() re-arms: the queued timeout is stale
  r.drain();
  r.advance(10000ms);
  r.drain();
  CHECK(r.j.snapshot() ==
        std::vector<std::string>{"closed->open opened=1", "open->closed opened=1"});
  REQUIRE(wait_until([&] { return dead.size() == 1; }));
  auto letters = dead.seen();
  CHECK(letters[0].reason == volley::dead_letter_reason::timer_cancelled);
  CHECK(letters[0].type == volley::type_name<volley::state_timeout>());
}

TEST_CASE("the unhandled handler sees the state, the data and the message's type name") {
  rig r;
  r.d.tell(unlock_it{"1"});  // closed has no handler for it
  r.d.tell(open_it{});
  r.d.tell(open_it{});  // open has none for open_it
  r.drain();
  CHECK(r.j.snapshot() ==
        std::vector<std::string>{
            "unhandled " + std::string(volley::type_name<unlock_it>()) + " in closed opened=0",
            "closed->open opened=1",
            "unhandled " + std::string(volley::type_name<open_it>()) + " in open opened=1",
        });
}

TEST_CASE("an unhandled handler may answer with a transition") {
  rig r(door_fsm::on_unhandled::lock_up);
  r.d.tell(close_it{});  // unhandled in closed: the handler locks the door with 0000
  r.d.tell(unlock_it{"0000"});
  r.drain();
  CHECK(r.j.snapshot() ==
        std::vector<std::string>{"closed->locked opened=0", "locked->closed opened=0"});
}

TEST_CASE("without an unhandled handler, unhandled messages are dead letters and the fsm stays") {
  rig r(door_fsm::on_unhandled::default_);
  volley::test::dead_letter_log dead(r.sys);
  r.d.tell(close_it{});
  r.d.tell(open_it{});
  r.drain();
  CHECK(r.j.snapshot() == std::vector<std::string>{"closed->open opened=1"});
  REQUIRE(dead.size() == 1);  // published on the door's worker before the probe's reply
  auto letter = dead.seen()[0];
  CHECK(letter.reason == volley::dead_letter_reason::unhandled);
  CHECK(letter.type == volley::type_name<close_it>());
  CHECK(letter.recipient == r.d.path());
}

TEST_CASE("stop() stops the actor after its message: post_stop runs, later mail is dead") {
  rig r;
  volley::test::dead_letter_log dead(r.sys);
  r.d.tell(open_it{});
  r.d.tell(quit{});
  REQUIRE(wait_until([&] { return r.d.is_stopped(); }));
  REQUIRE(wait_until([&] { return r.j.has("post_stop in open"); }));
  CHECK(r.j.snapshot() == std::vector<std::string>{"closed->open opened=1", "quit at " + r.d.path(),
                                                   "post_stop in open"});
  r.advance(5000ms);  // open's timeout was cancelled with the actor
  r.d.tell(close_it{});
  REQUIRE(wait_until([&] { return dead.size() == 1; }));
  CHECK(dead.seen()[0].reason == volley::dead_letter_reason::recipient_stopped);
  CHECK(r.j.snapshot().size() == 3);
}

TEST_CASE("a poison pill still stops an fsm") {
  rig r;
  r.d.tell(volley::poison_pill{});
  REQUIRE(wait_until([&] { return r.j.has("post_stop in closed"); }));
}

// -- smaller machines ------------------------------------------------------------------

namespace {

enum class phase { first, second };
struct next {};

/// An fsm without data, whose initial state has a timeout.
struct stepper : volley::fsm<stepper, phase> {
  using accepts = volley::accepts<next>;
  explicit stepper(std::atomic<int>& timeouts) : fsm(phase::first), timeouts_(timeouts) {
    when(phase::first, 100ms).on([this](const volley::state_timeout&) {
      ++timeouts_;
      return goto_(phase::second);
    });
    when(phase::second).on([](const next&) { return goto_(phase::first); });
  }
  std::atomic<int>& timeouts_;
};

/// A pre_start that forgets fsm::pre_start.
struct forgetful : volley::fsm<forgetful, phase> {
  using accepts = volley::accepts<next>;
  forgetful() : fsm(phase::first) {
    when(phase::first).on([](const next&) { return stay(); });
  }
  void pre_start() {}
};

}  // namespace

TEST_CASE("the initial state's timeout is armed at start, and again when the state is re-entered") {
  auto clock = std::make_shared<volley::manual_clock>();
  volley::config cfg = volley::test::two_workers();
  cfg.clock = clock;
  volley::system sys(cfg);
  std::atomic<int> timeouts{0};
  auto s = sys.spawn<stepper>(timeouts);
  // pre_start arms it; a started actor has run pre_start once it answers an ask.
  REQUIRE(s.ask(next{}).get(volley::test::patience).ok());  // unhandled in first: re-arms at +0
  clock->advance(100ms);
  REQUIRE(wait_until([&] { return timeouts.load() == 1; }));
  s.tell(next{});  // second -> first: armed again
  REQUIRE(wait_until([&] {
    clock->advance(100ms);  // re-advancing is harmless: only one timeout is pending
    return timeouts.load() == 2;
  }));
}

TEST_CASE(
    "a pre_start that hides fsm::pre_start fails the actor at its first message, saying why") {
  volley::system sys(volley::test::two_workers());
  auto f = sys.spawn<forgetful>();
  auto r = f.ask(next{}).get(volley::test::patience);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == volley::errc::handler_failed);
  CHECK_THAT(r.err().message, Catch::Contains("hides fsm::pre_start"));
}
