// Tests of the steal gate (engine/src/steal_gate.hpp): from what a thief
// reads of a victim at each look, when it may take the victim's queued
// cells. The thread-level consequence (a conversation stays on one worker,
// surplus work is shared) is dispatch_test's.
#include <catch2/catch.hpp>

#include <chrono>

#include "../../engine/src/steal_gate.hpp"

using namespace std::chrono_literals;
using volley::detail::oldest_wait_before_steal;
using volley::detail::steal_gate;
using volley::detail::victim_look;

namespace {

/// A victim seen by one thief, look after look: its owner runs an
/// activation (of its newest cell: the top stays) or takes its oldest cell
/// (the top moves), and time passes between looks.
struct victim_model {
  victim_look now{4, 100, 0};
  steal_gate::time_point at{};
  steal_gate gate;

  bool look() { return gate.may_steal(now, at); }
  void run(bool top_moves) {
    if (top_moves) ++now.top;
    ++now.activations;
    at += 1us;
  }
};

}  // namespace

TEST_CASE("an empty deque is never stolen from", "[steal_gate]") {
  victim_model v;
  v.now.size = 0;
  for (int i = 0; i < 100; ++i) {
    v.run(false);
    v.at += oldest_wait_before_steal;
    CHECK_FALSE(v.look());
  }
}

TEST_CASE("a victim getting through a conversation's cells keeps them", "[steal_gate]") {
  // Its top moves between looks: however long the thief watches, no steal.
  victim_model v;
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(v.look());
    v.run(true);
    v.at += oldest_wait_before_steal;
  }
}

TEST_CASE("an oldest cell that waits is stolen once it has waited long enough", "[steal_gate]") {
  // Its owner is busy with newer cells (it runs activations, the top stays).
  victim_model v;
  CHECK_FALSE(v.look());  // the first look starts the wait
  v.run(false);
  v.at += oldest_wait_before_steal / 2;
  CHECK_FALSE(v.look());  // the same top, not long enough
  v.at += oldest_wait_before_steal / 2;
  CHECK(v.look());  // the same top, waited
  v.run(true);
  CHECK_FALSE(v.look());  // the top moved: a new wait starts
}

TEST_CASE("a deque that empties and fills again starts a new wait", "[steal_gate]") {
  victim_model v;
  CHECK_FALSE(v.look());
  v.at += oldest_wait_before_steal;
  v.now.size = 0;
  CHECK_FALSE(v.look());  // emptied: forget the wait
  v.now.size = 1;
  CHECK_FALSE(v.look());  // the same top index, but a new cell
  v.run(false);
  v.at += oldest_wait_before_steal;
  CHECK(v.look());
}

TEST_CASE("a backlog whose top moves slowly is stolen from by a thief that looks once per nap",
          "[steal_gate]") {
  // Eight cells whose activations take ~25 µs: the owner takes its oldest
  // every 8 picks, so the top moves every ~200 µs, and a thief napping 1 ms
  // never sees the same top twice. By the drain rate (8 cells, ~5 taken per
  // ms) the oldest waits ~1.6 ms: a backlog, stolen at the second look.
  using volley::detail::backlog_drain_before_steal;
  victim_model v;
  v.now.size = 8;
  CHECK_FALSE(v.look());  // the first look starts the interval
  v.now.top += 5;
  v.now.activations += 40;  // ~25 µs each
  v.at += 1ms;
  CHECK(v.look());
  static_assert(8 * 1ms >= 5 * backlog_drain_before_steal);
}

TEST_CASE("a conversation's queue that drains fast is kept from a thief that looks once per nap",
          "[steal_gate]") {
  // 100 cells of ~0.1 µs activations, the oldest taken every 8 picks: the
  // top moves ~1,250 times per ms, and the queue drains in ~80 µs.
  victim_model v;
  v.now.size = 100;
  for (int nap = 0; nap < 100; ++nap) {
    CHECK_FALSE(v.look());
    v.now.top += 1250;
    v.at += 1ms;
  }
}

TEST_CASE("a conversation on a worker that was off its CPU for most of a nap is no backlog",
          "[steal_gate]") {
  // The concurrent dictionary's 20 clients: ~0.2 µs activations, the oldest
  // taken every 8 picks. Its worker lost its CPU for all but ~0.1 ms of the
  // thief's 1 ms nap, so the top moved by 60 where ~600 was usual: by the
  // clock a backlog (20 cells, 60 taken per ms: 333 µs to drain), by its
  // 500 activations a conversation's queue (2 µs each on average). Taking
  // half of it split the conversation across the two workers.
  using volley::detail::backlog_drain_before_steal;
  using volley::detail::backlog_min_activation;
  static_assert(20 * 1ms >= 60 * backlog_drain_before_steal, "a backlog by the clock");
  static_assert(1ms < 500 * backlog_min_activation, "short activations");
  victim_model v;
  v.now.size = 20;
  for (int nap = 0; nap < 100; ++nap) {
    CHECK_FALSE(v.look());
    v.now.top += 60;
    v.now.activations += 500;
    v.at += 1ms;
  }
}

TEST_CASE("a victim off its CPU for two time slices keeps its queue", "[steal_gate]") {
  // A loaded 2-core machine takes a worker's CPU for several ms at a time
  // (other processes' slices); a thief looking once per nap must not take
  // the preempted worker's conversation before it runs again.
  victim_model v;
  CHECK_FALSE(v.look());
  for (int nap = 0; nap < 10; ++nap) {
    v.at += 1ms;
    CHECK_FALSE(v.look());
  }
  v.run(true);  // back on its CPU: it takes its oldest cell
  CHECK_FALSE(v.look());
}

TEST_CASE("a victim that runs nothing while its top waits keeps it for the stalled wait",
          "[steal_gate]") {
  // Its worker has started no activation since the top began to wait: its
  // thread lost its CPU for a time slice (or is stuck in one handler).
  // Stealing then split the conversation it was running (steal_gate.hpp),
  // so the thief waits stalled_wait_before_steal, looking once per nap.
  using volley::detail::stalled_wait_before_steal;
  static_assert(stalled_wait_before_steal >= 4 * 1ms);
  victim_model v;
  CHECK_FALSE(v.look());  // the first look starts the wait
  std::chrono::nanoseconds waited{0};
  while (waited + 1ms < stalled_wait_before_steal) {
    v.at += 1ms;
    waited += 1ms;
    CHECK_FALSE(v.look());
  }
  v.at += 1ms;
  CHECK(v.look());  // stalled that long: stuck, not preempted
}

TEST_CASE("a stalled victim that runs again loses a waiting top after the short wait",
          "[steal_gate]") {
  // Back on its CPU, the owner runs newer cells while the oldest still
  // waits: that is work waiting behind other work, the short wait's case.
  victim_model v;
  CHECK_FALSE(v.look());
  v.at += 1ms;
  CHECK_FALSE(v.look());  // stalled: waits on
  v.run(false);
  CHECK(v.look());  // it ran, the oldest has waited over 50 µs
}
