// What a round trip costs in wake-ups (remote/src/transport_loop.cpp,
// "Sleep/wake"): a producer writes the loop's eventfd only when the loop
// sleeps. With busy_poll the loop does not sleep while traffic flows, so
// neither a request pushed by an asking thread nor a reply pushed by the
// worker that handled a request may cost an eventfd write: each would be a syscall on the sender
// and a wake-up in the round trip (bench/remote/remote_bench: a round trip
// passes six threads; the hops that wake a sleeping thread are what
// separates volley's RTT from a raw socket's).
#include "../proc_threads.hpp"
#include "node_test_support.hpp"

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

using namespace volley::remote;
using namespace volley::remote::test;

namespace {

/// configured_nodes (node_test_support.hpp) with busy_poll chosen per node.
struct polling_nodes : configured_nodes {
  polling_nodes(bool a_polls, bool b_polls)
      : configured_nodes(with_busy_poll("node-a", a_polls), with_busy_poll("node-b", b_polls)) {}

  static node_config with_busy_poll(const char* name, bool polls) {
    node_config c = node_config_for(name);
    c.transport.busy_poll = polls;
    // Polling lasts busy_poll_idle past the last traffic (10 ms by default):
    // far longer here, so that a slow (sanitizer) build's pauses between asks
    // never let B's loop rest (busy_poll_test covers the rest).
    c.transport.busy_poll_idle = std::chrono::seconds(10);
    // What is counted here is the pushes onto a loop's inbox: asks and
    // replies go there, not to the socket (direct_write_test covers that).
    c.transport.direct_writes = false;
    return c;
  }
};

}  // namespace

TEST_CASE(
    "a busy-polling node is never woken: asks reach it and its replies leave it without "
    "an eventfd write",
    "[remote][rtt]") {
  polling_nodes t(false, true);
  volley::any_ref remote = t.to_b.select("/user/collector");
  constexpr int asks = 20;
  for (int i = 0; i < asks; ++i) {
    // A pause, so that A's loop has gone to sleep before each ask: its
    // wake-ups below then show the counter counting.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    auto r = remote.ask<pong>(ping{i}).get(patience);
    REQUIRE(r.ok());
    CHECK(r.value().n == i + 1);
  }
  // B's worker pushed every reply onto B's link while B's loop spun.
  CHECK(t.node_b->stats().transport.wakeups == 0);
  // A's loop slept between asks: the asking thread had to wake it.
  CHECK(t.node_a.stats().transport.wakeups >= 1);
}

TEST_CASE("each node's loop thread is named volley-io, so a trace tells it from the workers",
          "[remote][rtt]") {
  polling_nodes t(false, false);
  CHECK(volley::test::thread_names().count("volley-io") == 2);
}
