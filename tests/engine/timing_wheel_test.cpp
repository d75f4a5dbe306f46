// Tests of volley::detail::timing_wheel: every timer fires exactly once, at
// its tick, across level boundaries and the overflow list; a random mix of
// schedule/cancel/advance agrees with a std::multimap model.
#include "volley/engine/detail/timing_wheel.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <vector>

using volley::detail::timer_node;
using volley::detail::timing_wheel;

namespace {

constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();

struct test_timer : timer_node {
  std::size_t id = 0;
  int fired = 0;
  std::uint64_t fired_at = never;  // wheel.now() during the callback
};

// Advances to each next_deadline() in turn until `until`, so every timer
// must fire with now() exactly equal to its deadline. Returns the wake-ups.
template <class OnExpire>
std::size_t drive(timing_wheel& wheel, std::uint64_t until, OnExpire&& on_expire) {
  std::size_t wakeups = 0;
  while (auto next = wheel.next_deadline()) {
    if (*next > until) break;
    REQUIRE(*next >= wheel.now());
    wheel.advance(*next, on_expire);
    ++wakeups;
    if (*next == until) break;
  }
  wheel.advance(until, on_expire);
  return wakeups;
}

std::vector<std::uint64_t> boundary_deadlines(std::uint64_t start) {
  std::vector<std::uint64_t> out;
  for (unsigned bits = 6; bits <= 42; bits += 6) {
    std::uint64_t b = std::uint64_t{1} << bits;
    for (std::uint64_t k : {b, 2 * b, 63 * b}) {
      for (std::uint64_t d = k - 2; d <= k + 2; ++d) out.push_back(start + d);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("every deadline 0..N fires exactly once, on its own tick, when advanced tick by tick") {
  // 64^3 + margin covers levels 0-3 and every boundary between them.
  constexpr std::uint64_t n = (1u << 18) + 3000;
  for (std::uint64_t start : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{63},
                              std::uint64_t{4095}, std::uint64_t{262'100}}) {
    CAPTURE(start);
    timing_wheel wheel(timing_wheel::default_tick, start);
    auto timers = std::make_unique<test_timer[]>(n + 1);
    for (std::uint64_t d = 0; d <= n; ++d) wheel.schedule(timers[d], d);
    REQUIRE(wheel.size() == n + 1);

    std::uint64_t last_deadline = 0;
    bool ordered = true;
    auto on_expire = [&](timer_node& node) {
      auto& t = static_cast<test_timer&>(node);
      ++t.fired;
      t.fired_at = wheel.now();
      if (t.deadline() < last_deadline) ordered = false;
      last_deadline = t.deadline();
    };
    for (std::uint64_t tick = start + 1; tick <= start + n + 1; ++tick) {
      wheel.advance(tick, on_expire);
    }
    CHECK(ordered);
    CHECK(wheel.size() == 0);
    CHECK_FALSE(wheel.next_deadline());
    std::size_t wrong = 0;
    for (std::uint64_t d = 0; d <= n; ++d) {
      std::uint64_t expected = d <= start ? start : d;  // overdue: fired at once
      if (timers[d].fired != 1 || timers[d].fired_at != expected) {
        if (++wrong < 5) {
          UNSCOPED_INFO("deadline " << d << " fired " << timers[d].fired << " times at "
                                    << timers[d].fired_at);
        }
      }
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("driven by next_deadline, timers at level and overflow boundaries fire exactly on time") {
  for (std::uint64_t start :
       {std::uint64_t{0}, std::uint64_t{12'345}, timing_wheel::span - 3, std::uint64_t{1} << 50}) {
    CAPTURE(start);
    timing_wheel wheel(timing_wheel::default_tick, start);
    auto deadlines = boundary_deadlines(start);
    std::vector<test_timer> timers(deadlines.size());
    for (std::size_t i = 0; i < deadlines.size(); ++i) wheel.schedule(timers[i], deadlines[i]);

    std::size_t wakeups = drive(wheel, deadlines.back(), [&](timer_node& node) {
      auto& t = static_cast<test_timer&>(node);
      ++t.fired;
      t.fired_at = wheel.now();
    });
    CHECK(wheel.size() == 0);
    for (std::size_t i = 0; i < deadlines.size(); ++i) {
      CAPTURE(deadlines[i] - start);
      CHECK(timers[i].fired == 1);
      CHECK(timers[i].fired_at == deadlines[i]);
    }
    // Far timers may wake the driver early, at most once per level (and one overflow
    // re-examination) each.
    CHECK(wakeups <= deadlines.size() * (timing_wheel::levels + 1));
  }
}

TEST_CASE("a single jump across every level fires everything in deadline order") {
  timing_wheel wheel(timing_wheel::default_tick, 5);
  auto deadlines = boundary_deadlines(5);
  std::vector<test_timer> timers(deadlines.size());
  // Schedule in reverse so insertion order cannot fake the ordering.
  for (std::size_t i = deadlines.size(); i-- > 0;) wheel.schedule(timers[i], deadlines[i]);
  std::vector<std::uint64_t> fired;
  wheel.advance(deadlines.back(), [&](timer_node& n) { fired.push_back(n.deadline()); });
  CHECK(fired == deadlines);
  CHECK(wheel.now() == deadlines.back());
}

TEST_CASE("a random mix of schedule, cancel and advance agrees with a multimap model") {
  std::mt19937_64 rng(GENERATE(1u, 2u, 3u, 4u));
  constexpr std::size_t pool = 2000;
  std::vector<test_timer> timers(pool);
  for (std::size_t i = 0; i < pool; ++i) timers[i].id = i;
  std::multimap<std::uint64_t, std::size_t> model;  // deadline -> id, pending only
  std::vector<std::multimap<std::uint64_t, std::size_t>::iterator> where(pool, model.end());

  timing_wheel wheel(timing_wheel::default_tick, rng() % 1000);
  auto delay = [&]() -> std::uint64_t {
    switch (rng() % 8) {
      case 0:
        return 0;  // now: next advance
      case 1:
        return rng() % 64;  // level 0
      case 2:
        return rng() % 5000;  // levels 1-2
      case 3:
        return rng() % (1u << 24);  // up to level 3
      case 4:
        return rng() % (timing_wheel::span * 3);  // into overflow
      case 5:
        return never - wheel.now();  // "never"
      default:
        return 1 + rng() % 300;
    }
  };

  for (int step = 0; step < 100'000; ++step) {
    std::size_t id = rng() % pool;
    test_timer& t = timers[id];
    switch (rng() % 4) {
      case 0:
      case 1:  // (re)start
        if (t.linked()) {
          REQUIRE(wheel.cancel(t));
          model.erase(where[id]);
        }
        {
          std::uint64_t d = rng() % 16 == 0
                                ? wheel.now() - std::min<std::uint64_t>(wheel.now(), rng() % 100)
                                : wheel.now() + delay();
          wheel.schedule(t, d);
          where[id] = model.emplace(d, id);
        }
        break;
      case 2:  // cancel, pending or not
        REQUIRE(wheel.cancel(t) == (where[id] != model.end()));
        if (where[id] != model.end()) model.erase(where[id]);
        where[id] = model.end();
        break;
      case 3: {  // advance
        std::uint64_t before = wheel.now();
        std::uint64_t step_by = rng() % 10 == 0 ? rng() % (timing_wheel::span * 2) : rng() % 200;
        std::uint64_t now = before + std::min(step_by, never - before);
        std::vector<std::size_t> fired;
        bool ordered = true;
        std::uint64_t last = 0;
        wheel.advance(now, [&](timer_node& n) {
          auto& ft = static_cast<test_timer&>(n);
          // Overdue timers fire first, at `before`; the rest in deadline order.
          std::uint64_t effective = std::max(ft.deadline(), before);
          if (effective < last || wheel.now() != effective) ordered = false;
          last = effective;
          fired.push_back(ft.id);
        });
        CHECK(ordered);
        std::vector<std::size_t> expected;
        for (auto it = model.begin(); it != model.end() && it->first <= now;) {
          expected.push_back(it->second);
          where[it->second] = model.end();
          it = model.erase(it);
        }
        std::sort(fired.begin(), fired.end());
        std::sort(expected.begin(), expected.end());
        REQUIRE(fired == expected);
        break;
      }
    }
    REQUIRE(wheel.size() == model.size());
    auto next = wheel.next_deadline();
    REQUIRE(next.has_value() == !model.empty());
    if (next) {
      // A lower bound on the earliest deadline, never behind the wheel's time.
      REQUIRE(*next <= std::max(model.begin()->first, wheel.now()));
      REQUIRE(*next >= wheel.now());
    }
  }
  for (auto& t : timers) wheel.cancel(t);
}

TEST_CASE("one million timers all fire once, or all cancel to an empty wheel") {
  constexpr std::size_t n = 1'000'000;
  auto timers = std::make_unique<test_timer[]>(n);
  std::mt19937_64 rng(42);
  timing_wheel wheel;
  std::uint64_t latest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t d = 1 + rng() % (1u << 22);  // ~70 min of 1 ms ticks, levels 0-3
    latest = std::max(latest, d);
    wheel.schedule(timers[i], d);
  }
  REQUIRE(wheel.size() == n);

  SECTION("all fire") {
    std::size_t count = 0;
    // Two halves: one jump to the middle, then driven by next_deadline.
    count += wheel.advance(latest / 2, [](timer_node& t) { ++static_cast<test_timer&>(t).fired; });
    drive(wheel, latest, [&](timer_node& t) {
      ++static_cast<test_timer&>(t).fired;
      ++count;
    });
    CHECK(count == n);
    CHECK(wheel.size() == 0);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i) wrong += timers[i].fired != 1;
    CHECK(wrong == 0);
  }
  SECTION("all cancelled") {
    for (std::size_t i = 0; i < n; ++i) REQUIRE(wheel.cancel(timers[i]));
    CHECK(wheel.size() == 0);
    CHECK_FALSE(wheel.next_deadline());
    CHECK(wheel.advance(latest, [](timer_node&) { FAIL("a cancelled timer fired"); }) == 0);
  }
}

TEST_CASE(
    "a timer rescheduled from its own callback fires periodically, even in one long advance") {
  timing_wheel wheel;
  test_timer t;
  constexpr std::uint64_t period = 7;
  std::vector<std::uint64_t> at;
  auto on_expire = [&](timer_node& n) {
    at.push_back(wheel.now());
    wheel.schedule(n, n.deadline() + period);
  };
  wheel.schedule(t, period);
  wheel.advance(1000, on_expire);  // one call: 142 periods
  REQUIRE(at.size() == 1000 / period);
  for (std::size_t i = 0; i < at.size(); ++i) CHECK(at[i] == (i + 1) * period);
  at.clear();
  for (std::uint64_t tick = 1001; tick <= 2000; ++tick) wheel.advance(tick, on_expire);
  CHECK(at.size() == 2000 / period - 1000 / period);
  CHECK(t.linked());
  CHECK(wheel.cancel(t));
}

TEST_CASE("cancelling a fired, cancelled or never-scheduled timer is a no-op") {
  timing_wheel wheel;
  test_timer fired, other, never_scheduled;
  wheel.schedule(fired, 3);
  wheel.schedule(other, 10);
  wheel.advance(5, [](timer_node& n) { ++static_cast<test_timer&>(n).fired; });
  CHECK(fired.fired == 1);
  CHECK_FALSE(fired.linked());
  CHECK_FALSE(wheel.cancel(fired));
  CHECK_FALSE(wheel.cancel(never_scheduled));
  CHECK(wheel.size() == 1);
  CHECK(wheel.cancel(other));
  CHECK_FALSE(wheel.cancel(other));
  CHECK(wheel.size() == 0);
}

TEST_CASE("a callback may cancel timers due in the same tick or waiting in the same slot") {
  timing_wheel wheel;
  test_timer a, b, c;
  wheel.schedule(a, 100);
  wheel.schedule(b, 100);  // same tick as a
  wheel.schedule(c, 101);  // same level-1 slot, cascaded together
  int calls = 0;
  wheel.advance(200, [&](timer_node&) {
    ++calls;
    // Whichever of a and b fires first cancels the other one, and c.
    wheel.cancel(a);
    wheel.cancel(b);
    wheel.cancel(c);
  });
  CHECK(calls == 1);
  CHECK(wheel.size() == 0);
}

TEST_CASE("a timer scheduled at or before now fires on the next advance, not the current one") {
  timing_wheel wheel(timing_wheel::default_tick, 50);
  test_timer now_timer, past_timer, from_callback, trigger;
  wheel.schedule(now_timer, 50);
  wheel.schedule(past_timer, 3);
  CHECK(wheel.next_deadline() == 50u);  // due now: advance at once
  std::vector<timer_node*> order;
  wheel.advance(50, [&](timer_node& n) { order.push_back(&n); });
  CHECK(order == std::vector<timer_node*>{&now_timer, &past_timer});

  wheel.schedule(trigger, 60);
  order.clear();
  wheel.advance(70, [&](timer_node& n) {
    order.push_back(&n);
    if (&n == &trigger) wheel.schedule(from_callback, wheel.now());
  });
  CHECK(order == std::vector<timer_node*>{&trigger});
  CHECK(from_callback.linked());
  order.clear();
  wheel.advance(70, [&](timer_node& n) { order.push_back(&n); });
  CHECK(order == std::vector<timer_node*>{&from_callback});
}

TEST_CASE("an idle wheel has no next deadline, and advancing it fires nothing") {
  timing_wheel wheel;
  CHECK_FALSE(wheel.next_deadline());
  CHECK(wheel.advance(1'000'000, [](timer_node&) { FAIL("nothing is scheduled"); }) == 0);
  CHECK(wheel.now() == 1'000'000);
  CHECK(wheel.advance(10) == 0);  // going back is ignored
  CHECK(wheel.now() == 1'000'000);
}

TEST_CASE("a deadline of 'never' waits in overflow and a huge jump still fires it once") {
  timing_wheel wheel;
  test_timer far, farther;
  wheel.schedule(far, timing_wheel::span * 5 + 17);
  wheel.schedule(farther, never);
  // Looked at again only when the top level wraps into the epoch of `far`.
  CHECK(wheel.next_deadline() == timing_wheel::span * 5);
  drive(wheel, timing_wheel::span * 5 + 17,
        [&](timer_node& n) { static_cast<test_timer&>(n).fired_at = wheel.now(); });
  CHECK(far.fired_at == timing_wheel::span * 5 + 17);
  CHECK(farther.linked());
  int fired = 0;
  wheel.advance(never, [&](timer_node&) { ++fired; });
  CHECK(fired == 1);
  CHECK_FALSE(farther.linked());
  CHECK(wheel.size() == 0);
}

TEST_CASE("advance without a callback calls each node's own fire function") {
  struct counting_timer : timer_node {
    counting_timer() : timer_node(&on_fire) {}
    static void on_fire(timer_node* n) { ++static_cast<counting_timer*>(n)->count; }
    int count = 0;
  };
  timing_wheel wheel;
  counting_timer t;
  wheel.schedule(t, 5);
  CHECK(wheel.advance(5) == 1);
  CHECK(t.count == 1);
}

TEST_CASE("time converts to ticks so that a deadline never fires early") {
  using namespace std::chrono_literals;
  timing_wheel wheel(10ms);
  CHECK(wheel.tick_duration() == 10ms);
  CHECK(wheel.tick_at(0ms) == 0);
  CHECK(wheel.tick_at(9ms) == 0);
  CHECK(wheel.tick_at(10ms) == 1);
  CHECK(wheel.tick_at(-5ms) == 0);
  CHECK(wheel.deadline_at(0ms) == 0);
  CHECK(wheel.deadline_at(1ns) == 1);
  CHECK(wheel.deadline_at(10ms) == 1);
  CHECK(wheel.deadline_at(10ms + 1ns) == 2);
  // A deadline tick is reached only once real time has passed the deadline.
  for (std::chrono::nanoseconds t :
       std::vector<std::chrono::nanoseconds>{1ns, 9ms, 10ms, 15ms, 20ms, 1234567ns}) {
    CAPTURE(t.count());
    CHECK(wheel.tick_at(t) <= wheel.deadline_at(t));
    CHECK(wheel.tick_at(t - 1ns) < wheel.deadline_at(t));
  }
}

TEST_CASE("remove_if takes out exactly the chosen timers, from every level and overflow") {
  timing_wheel wheel(std::chrono::milliseconds(1), 5);
  std::vector<std::uint64_t> deadlines = boundary_deadlines(5);
  deadlines.push_back(5);  // due list: scheduled at now
  deadlines.push_back(never);
  std::vector<std::unique_ptr<test_timer>> timers;
  for (std::uint64_t d : deadlines) {
    timers.push_back(std::make_unique<test_timer>());
    timers.back()->id = timers.size() - 1;
    wheel.schedule(*timers.back(), d);
  }
  std::vector<std::size_t> removed;
  std::size_t n = wheel.remove_if(
      [](timer_node& t) { return static_cast<test_timer&>(t).id % 2 == 0; },
      [&removed](timer_node& t) { removed.push_back(static_cast<test_timer&>(t).id); });
  CHECK(n == (timers.size() + 1) / 2);
  CHECK(removed.size() == n);
  CHECK(wheel.size() == timers.size() - n);
  for (std::size_t id : removed) {
    CHECK(id % 2 == 0);
    CHECK_FALSE(timers[id]->linked());
  }
  // The rest still fire, each once, on time; the removed ones never do.
  drive(wheel, never, [&wheel](timer_node& t) {
    auto& tt = static_cast<test_timer&>(t);
    ++tt.fired;
    tt.fired_at = wheel.now();
  });
  for (auto& t : timers) {
    if (t->id % 2 == 0) {
      CHECK(t->fired == 0);
    } else {
      CHECK(t->fired == 1);
    }
  }
  CHECK(wheel.empty());
}
