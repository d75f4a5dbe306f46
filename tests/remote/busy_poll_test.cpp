// transport_settings::busy_poll and busy_poll_idle (remote/src/transport_loop.cpp,
// "Busy-poll"): while traffic flows a polling loop looks at its completions
// and its inbox instead of sleeping, and once busy_poll_idle passes without
// traffic it rests, sleeping as a loop without busy_poll does. What must
// hold: a frame pushed at the moment the poll ends is sent without waiting
// for a timer (the rest loses no wake-up), the poll stops at its bound, and
// stop() ends a poll at once. Each case also runs a known-bad variant of the
// loop (detail::busy_poll_variant) and must catch it. Every check is on the
// loop's counters (transport_stats::sleeps, poll_looks, poll_rests), none
// on how long something took.
#include "test_support.hpp"

#include <volley/remote/transport.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace volley::remote::detail {
/// transport_loop.cpp: 0 the rule; 1, 2 and 3 its known-bad variants.
extern std::atomic<int> busy_poll_variant;
extern std::atomic<void (*)(std::uint64_t)> busy_poll_rest_hook;
}  // namespace volley::remote::detail

namespace {

/// Runs the loop with `variant` of its poll for the guard's life.
struct poll_variant {
  explicit poll_variant(int v) { volley::remote::detail::busy_poll_variant = v; }
  ~poll_variant() {
    volley::remote::detail::busy_poll_variant = 0;
    volley::remote::detail::busy_poll_rest_hook = nullptr;
  }
};

/// A polls (with busy_poll_idle `idle`) and connects to B, which does not.
struct polling_pair {
  explicit polling_pair(std::chrono::microseconds idle)
      : a(config_a(idle), ha), b(test_config("node-b"), hb) {}

  static transport_config config_a(std::chrono::microseconds idle) {
    transport_config c = test_config("node-a");
    c.busy_poll = true;
    c.busy_poll_idle = idle;
    return c;
  }

  /// Sends B a tell numbered `seq` (recording_handler checks the order).
  void tell(std::uint64_t seq) {
    std::array<std::byte, 8> payload{};
    frame f = numbered_frame(seq);
    f.type_marker = 1;
    f.payload = payload;
    REQUIRE(a.send(id, f) == send_result::queued);
  }

  recording_handler ha, hb;
  transport a;
  transport b;
  connection_id id = a.connect("127.0.0.1", b.port());

  bool up() {
    return ha.wait([&] { return ha.ups.size() == 1; }) &&
           hb.wait([&] { return hb.ups.size() == 1; });
  }
};

/// What the rest hook saw: the loop's sleeps at its first two rests. At the
/// first it holds the loop until the test thread has pushed a frame, so the
/// push lands exactly between the poll's last look and the sleep.
struct rest_probe {
  static inline std::atomic<int> rests{0};
  static inline std::array<std::atomic<std::uint64_t>, 2> sleeps_at{};
  static inline std::atomic<bool> pushed{false};

  static void reset() {
    rests = 0;
    sleeps_at[0] = sleeps_at[1] = 0;
    pushed = false;
  }
  static void hook(std::uint64_t sleeps) {
    int n = rests.fetch_add(1);
    if (n < 2) sleeps_at[static_cast<std::size_t>(n)] = sleeps;
    if (n != 0) return;
    auto give_up = std::chrono::steady_clock::now() + patience;
    while (!pushed.load() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  }
};

/// The sleeps A's loop took between a rest during which a frame was pushed
/// and its next rest (which follows that frame's traffic): 0 when the push
/// was seen without sleeping.
std::uint64_t sleeps_after_push_at_rest(int variant) {
  poll_variant v(variant);
  rest_probe::reset();
  polling_pair t(20ms);
  REQUIRE(t.up());
  volley::remote::detail::busy_poll_rest_hook = &rest_probe::hook;
  t.tell(0);  // traffic: a poll that will end 20 ms from now, if none is ending already
  REQUIRE(poll_until([] { return rest_probe::rests.load() >= 1; }));
  t.tell(1);  // the loop is in its rest, before its sleep: this push writes no eventfd
  rest_probe::pushed = true;
  REQUIRE(t.hb.wait([&] { return t.hb.frames == 2; }));
  REQUIRE(poll_until([] { return rest_probe::rests.load() >= 2; }));
  CHECK_FALSE(t.hb.with_lock([&] { return t.hb.out_of_order; }));
  return rest_probe::sleeps_at[1] - rest_probe::sleeps_at[0];
}

/// A's poll looks over 100 ms without traffic, after a tell and (the rule) its
/// first rest; `polled` gets the looks made before that rest.
std::uint64_t looks_while_quiet(int variant, std::uint64_t& polled) {
  poll_variant v(variant);
  polling_pair t(20ms);
  REQUIRE(t.up());
  t.tell(0);
  REQUIRE(t.hb.wait([&] { return t.hb.frames == 1; }));
  // Any rest from now on ends the poll the tell started (it renewed the
  // bound before it left). The rule rests 20 ms after the tell, perhaps
  // already; the known-bad variant never does, and is measured after this
  // wait all the same.
  const std::uint64_t rests0 = t.a.stats().poll_rests;
  for (auto give_up = std::chrono::steady_clock::now() + 2s;
       t.a.stats().poll_rests == rests0 && std::chrono::steady_clock::now() < give_up;)
    std::this_thread::sleep_for(1ms);
  polled = t.a.stats().poll_looks;
  const std::uint64_t looks0 = polled;
  std::this_thread::sleep_for(100ms);  // heartbeats may come: they start no poll
  return t.a.stats().poll_looks - looks0;
}

/// A's rests by the time its stop() returns, stopped while it polls with a
/// bound (5 s) far longer than the test takes.
std::uint64_t rests_when_stopped_while_polling(int variant) {
  poll_variant v(variant);
  polling_pair t(5s);
  REQUIRE(t.up());
  t.tell(0);
  REQUIRE(t.hb.wait([&] { return t.hb.frames == 1; }));
  const std::uint64_t looks0 = t.a.stats().poll_looks;
  REQUIRE(poll_until([&] { return t.a.stats().poll_looks > looks0 + 10; }));  // it polls
  t.a.stop();
  return t.a.stats().poll_rests;
}

}  // namespace

TEST_CASE("a frame pushed as the busy-poll ends is sent without the loop sleeping first",
          "[remote][busy_poll]") {
  // The rest sleeps through turn_sleep's handshake, whose inbox check after
  // setting `sleeping_` sees the push that wrote no eventfd.
  CHECK(sleeps_after_push_at_rest(0) == 0);
  // Known-bad 1: the rest sleeps without the handshake; the frame waits for
  // the loop's next wake-up (a heartbeat or the idle tick, ~1 s).
  CHECK(sleeps_after_push_at_rest(1) >= 1);
}

TEST_CASE("a busy-polling loop stops polling once busy_poll_idle passes without traffic",
          "[remote][busy_poll]") {
  std::uint64_t polled = 0;
  CHECK(looks_while_quiet(0, polled) == 0);
  CHECK(polled > 0);  // it did poll while the tell was fresh
  // Known-bad 2: no bound, the loop polls on for as long as it has a peer.
  CHECK(looks_while_quiet(2, polled) > 0);
}

TEST_CASE("stop() during a busy-poll ends the poll without waiting for its bound",
          "[remote][busy_poll]") {
  // stop() writes the eventfd, whose completion a look sees, and sets
  // stopping_: the loop leaves its poll and shuts down, no rest.
  CHECK(rests_when_stopped_while_polling(0) == 0);
  // Known-bad 3: the poll watches only the inbox and its bound (as
  // spin_for_push, less its stop check), so stop() waits for the bound (5 s)
  // and the loop rests once before it sees the stop.
  CHECK(rests_when_stopped_while_polling(3) == 1);
}

TEST_CASE("busy_poll_idle outside (0, 60 s] is refused at start, with the reason",
          "[remote][busy_poll]") {
  recording_handler h;
  for (auto bad : {std::chrono::microseconds(0), std::chrono::microseconds(-1),
                   std::chrono::microseconds(std::chrono::seconds(61))}) {
    transport_config c = test_config("node-a");
    c.busy_poll = true;
    c.busy_poll_idle = bad;
    INFO("busy_poll_idle " << bad.count() << " us");
    CHECK_THROWS_WITH(transport(c, h), Catch::Contains("busy_poll_idle must be > 0"));
  }
  transport_config c = test_config("node-a");
  c.busy_poll = true;
  c.busy_poll_idle = std::chrono::seconds(60);
  CHECK_NOTHROW(transport(c, h));
}
