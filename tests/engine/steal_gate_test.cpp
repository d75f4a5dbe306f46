// Tests of the steal gate (engine/src/steal_gate.hpp): from what a thief
// reads of a victim at each look, when it may take the victim's queued
// cells. The thread-level consequence (a conversation stays on one worker,
// surplus work is shared) is dispatch_test's.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>

#include "../../engine/src/steal_gate.hpp"

using namespace std::chrono_literals;
using volley::detail::backlog_window;
using volley::detail::oldest_wait_before_steal;
using volley::detail::steal_gate;
using volley::detail::victim_look;

namespace {

/// A victim seen by one thief, look after look: it runs activations (some
/// requeued), moves its top, and time passes between looks.
struct victim_model {
  victim_look now{4, 100, 0, 0};
  steal_gate::time_point at{};
  steal_gate gate;

  bool look() { return gate.may_steal(now, at); }
  /// `n` activations, `requeued` of which ended with work left; the owner
  /// takes its oldest cell once during them when `top_moves`.
  void run(std::uint32_t n, std::uint32_t requeued, bool top_moves) {
    now.activations += n;
    now.requeues += requeued;
    if (top_moves) ++now.top;
    at += 1us;
  }
};

}  // namespace

TEST_CASE("an empty deque is never stolen from", "[steal_gate]") {
  victim_model v;
  v.now.size = 0;
  for (int i = 0; i < 100; ++i) {
    v.run(backlog_window, backlog_window, false);  // even a backlogged victim
    v.at += oldest_wait_before_steal;
    CHECK_FALSE(v.look());
  }
}

TEST_CASE("a victim getting through a conversation's cells keeps them", "[steal_gate]") {
  // Its activations end idle (partners answered, nothing requeued) and its
  // top moves between looks: however long the thief watches, no steal.
  victim_model v;
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(v.look());
    v.run(backlog_window, 0, true);
    v.at += oldest_wait_before_steal;
  }
  CHECK_FALSE(v.gate.backlogged());
}

TEST_CASE("a hub requeued once per window does not make its deque surplus", "[steal_gate]") {
  // Chameneos' mall: its mailbox outgrows the budget, so its own activation
  // ends requeued, once among its partners' activations.
  victim_model v;
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(v.look());
    v.run(backlog_window, backlog_window / 2 - 1, true);
  }
}

TEST_CASE("an oldest cell that waits is stolen once it has waited long enough", "[steal_gate]") {
  victim_model v;
  CHECK_FALSE(v.look());  // the first look starts the wait
  v.at += oldest_wait_before_steal / 2;
  CHECK_FALSE(v.look());  // the same top, not long enough
  v.at += oldest_wait_before_steal / 2;
  CHECK(v.look());  // the same top, waited
  v.run(1, 0, true);
  CHECK_FALSE(v.look());  // the top moved: a new wait starts
}

TEST_CASE("a backlogged victim is stolen from at once, though its top moves", "[steal_gate]") {
  // Fork-join: every activation ends with the actor still holding work, and
  // the owner rotates through its deque, so the top never stays put long
  // enough for the wait rule.
  victim_model v;
  CHECK_FALSE(v.look());  // the first look ever opens the window
  v.run(backlog_window, backlog_window, true);
  CHECK(v.look());
  CHECK(v.gate.backlogged());
  v.run(backlog_window, backlog_window / 2, true);  // half is enough
  CHECK(v.look());
}

TEST_CASE("a victim whose backlog ends keeps its deque again after one window", "[steal_gate]") {
  victim_model v;
  CHECK_FALSE(v.look());
  v.run(backlog_window, backlog_window, true);
  REQUIRE(v.look());
  v.run(backlog_window - 1, 0, true);  // the window is not closed yet
  CHECK(v.look());
  v.run(1, 0, true);
  CHECK_FALSE(v.look());  // 1 requeue in 8 activations: not backlogged
  CHECK_FALSE(v.gate.backlogged());
}

TEST_CASE("the activation counts may wrap", "[steal_gate]") {
  victim_model v;
  v.now.activations = UINT32_MAX - 2;
  v.now.requeues = UINT32_MAX - 1;
  CHECK_FALSE(v.look());
  v.run(backlog_window, backlog_window, true);
  CHECK(v.look());
}
