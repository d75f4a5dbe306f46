// transport_settings::reply_spin (remote/src/reply_spin.hpp): after a turn
// that handed frames to the node, the loop looks at its inbox for a bounded
// window before it sleeps, so that a worker's reply needs no eventfd write
// and the loop no wake-up. What must hold: inside the window the reply
// costs no wake-up, and the window ends, so that an idle node's loops use
// no CPU once traffic stops. Each check is run against a known-bad setting
// (no spin; a window far longer than any reply) and must catch it.
#include "../proc_threads.hpp"
#include "node_test_support.hpp"

#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

using namespace volley::remote;
using namespace volley::remote::test;

namespace {

/// configured_nodes (node_test_support.hpp) with the loop spin window
/// `window` on both nodes.
struct spinning_nodes : configured_nodes {
  explicit spinning_nodes(std::chrono::microseconds window)
      : configured_nodes(with_window("node-a", window), with_window("node-b", window)) {}

  static node_config with_window(const char* name, std::chrono::microseconds window) {
    node_config c = node_config_for(name);
    c.transport.reply_spin = window;
    // A user frame that gets no answer (a tell, a watch) keeps a loop
    // spinning for the whole window, reading nothing: the known-bad window
    // below must not get the link declared down meanwhile.
    c.transport.phi.acceptable_pause = std::chrono::seconds(5);
    // The spin waits for a worker's reply pushed onto the loop's inbox: a
    // reply its worker writes to the socket itself never goes there.
    c.transport.direct_writes = false;
    return c;
  }

  /// `n` asks from this thread, each answered by B's worker; a pause before
  /// each lets both loops reach their sleep first.
  void ask_paced(int n) {
    volley::any_ref remote = to_b.select("/user/collector");
    for (int i = 0; i < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      auto r = remote.ask<pong>(ping{i}).get(patience);
      INFO("ask " << i << ": " << (r.ok() ? std::string("ok") : r.err().message));
      REQUIRE(r.ok());
      REQUIRE(r.value().n == i + 1);
    }
  }
};

/// The eventfd writes B's loop needed for `asks` asks answered by its worker.
std::uint64_t reply_wakeups_of_b(std::chrono::microseconds window, int asks) {
  spinning_nodes t(window);
  auto before = t.node_b->stats().transport.wakeups;
  t.ask_paced(asks);
  return t.node_b->stats().transport.wakeups - before;
}

/// What both loop threads do over a second in which nothing is sent, after
/// `asks` round trips and a last tell, which nobody answers: B's loop spins
/// for an answer that never comes.
struct idle_second {
  std::chrono::nanoseconds cpu;       ///< on a CPU
  std::chrono::nanoseconds runnable;  ///< on a CPU or waiting for one
};

idle_second idle_loops(std::chrono::microseconds window, int asks) {
  spinning_nodes t(window);
  t.ask_paced(asks);
  t.to_b.select("/user/collector").tell(numbered{0, 0});
  REQUIRE(t.seen.wait([&] { return t.seen.numbered_count == 1; }));
  auto loops = volley::test::threads_named("volley-io");
  REQUIRE(loops.size() == 2);
  auto sum = [&](auto of) {
    long long ns = 0;
    for (pid_t tid : loops) ns += of(tid);
    return ns;
  };
  const long long cpu0 = sum(volley::test::cpu_ns_of);
  const long long runnable0 = sum(volley::test::runnable_ns_of);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  return {std::chrono::nanoseconds(sum(volley::test::cpu_ns_of) - cpu0),
          std::chrono::nanoseconds(sum(volley::test::runnable_ns_of) - runnable0)};
}

}  // namespace

TEST_CASE("a reply pushed while the loop spins for it needs no eventfd write",
          "[remote][reply_spin]") {
  constexpr int asks = 20;
  // A window far above a sanitizer build's worker hand-off on a loaded
  // machine: every reply comes inside it.
  CHECK(reply_wakeups_of_b(std::chrono::milliseconds(20), asks) <= asks / 4);
  // Known-bad: no spin, so B's loop is asleep when its worker replies.
  CHECK(reply_wakeups_of_b(std::chrono::microseconds(0), asks) >= asks / 2);
}

TEST_CASE("the spin is bounded: an idle node's loops use almost no CPU once traffic stops",
          "[remote][reply_spin]") {
  using std::chrono::milliseconds;
  // The window to try where cores idle: B's loop spins once for an answer
  // to the tell that does not come; heartbeats never start a spin.
  CHECK(idle_loops(std::chrono::microseconds(50), 20).cpu < milliseconds(30));
  // Known-bad: a window nearly as long as the measurement, a loop that goes
  // on spinning after traffic stops. Its looks yield the core, so on a
  // loaded machine it may get little CPU; but it is runnable the whole
  // window, where a loop that sleeps is not.
  CHECK(idle_loops(std::chrono::milliseconds(900), 20).runnable > milliseconds(400));
}
