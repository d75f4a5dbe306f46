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

/// A victim seen by one thief, look after look: its owner may take its
/// oldest cell (the top moves), and time passes between looks.
struct victim_model {
  victim_look now{4, 100};
  steal_gate::time_point at{};
  steal_gate gate;

  bool look() { return gate.may_steal(now, at); }
  void run(bool top_moves) {
    if (top_moves) ++now.top;
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
  victim_model v;
  CHECK_FALSE(v.look());  // the first look starts the wait
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
  v.at += oldest_wait_before_steal;
  CHECK(v.look());
}
