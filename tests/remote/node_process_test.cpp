// remote::node across processes: the peer is tests/remote/node_peer.cpp,
// started with fork + exec. Stopping it (SIGSTOP) leaves its sockets open,
// so only the failure detector can tell that it went silent.
#include "child_process.hpp"
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace {

/// The peer process, listening on `port` (0: any); it prints its port.
std::unique_ptr<child_process> start_peer(std::uint16_t port) {
  return std::make_unique<child_process>(
      std::vector<std::string>{VOLLEY_REMOTE_PEER, std::to_string(port)});
}

/// A new peer on the port the killed one had. The port can stay taken for a
/// moment after the old process is reaped: its io_uring ring, and with it
/// the listening socket its pending accept holds, is torn down by the
/// kernel after the exit, not during it (seen here: the socket still in
/// LISTEN right after waitpid). A restarted service retries its listen, and
/// so does this; a peer that cannot listen prints no port and exits. Null
/// if the port is still taken after `patience`.
std::unique_ptr<child_process> restart_peer(std::uint16_t port) {
  const auto give_up = std::chrono::steady_clock::now() + patience;
  do {
    auto peer = start_peer(port);
    if (peer->read_port() == port) return peer;
    std::this_thread::sleep_for(50ms);
  } while (std::chrono::steady_clock::now() < give_up);
  return nullptr;
}

}  // namespace

TEST_CASE(
    "a node in another process: tells in order, asks, a silent peer declared down, a "
    "restarted peer reached again",
    "[remote][node][process]") {
  seen_state seen;
  volley::system sys(system_config());
  node here(sys, peer_node_config("node-here"), test_types());

  auto peer = start_peer(0);
  std::uint16_t port = peer->read_port();
  REQUIRE(port != 0);
  remote_system there = here.connect("127.0.0.1", port);
  REQUIRE(there.wait_up(patience));
  CHECK(there.peer_name() == "node-peer");

  volley::any_ref collector = there.select("/user/collector");
  constexpr std::uint64_t count = 10'000;
  for (std::uint64_t i = 0; i < count; ++i) collector.tell(numbered{0, i});
  auto tally_r = collector.ask<std::uint64_t>(tally{}).get(patience);  // after the tells, in order
  REQUIRE(tally_r.ok());
  CHECK(tally_r.value() == count);
  auto r = collector.ask<text>(text{"over"}).get(patience);
  REQUIRE(r.ok());
  CHECK(r.value().s == "over, back");

  auto w = sys.spawn<watcher_actor>(&seen);
  w.tell(watch_this{collector});
  auto held = collector.ask<int>(hold{});
  REQUIRE(poll_until([&] { return here.stats().pending_asks == 1; }));

  // Frozen: the socket stays open, only the heartbeats stop.
  peer->signal(SIGSTOP);
  auto failed = held.get(patience);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.err().code == volley::errc::node_down);
  CHECK(failed.err().message.find("heartbeat") != std::string::npos);
  REQUIRE(seen.wait([&] { return seen.terminations == 1; }));
  CHECK(here.stats().transport.closes_for(close_reason::heartbeat_timeout) >= 1);

  // A new process on the same port: the connection comes back by itself.
  std::uint64_t old_incarnation = there.peer_incarnation();
  peer.reset();
  peer = restart_peer(port);
  REQUIRE(peer != nullptr);
  REQUIRE(poll_until([&] { return there.is_up() && there.peer_incarnation() != old_incarnation; }));
  volley::any_ref again = there.select("/user/collector");
  auto r2 = again.ask<pong>(ping{9}).get(patience);
  REQUIRE(r2.ok());
  CHECK(r2.value().n == 10);
  CHECK(collector.is_stopped());
}
