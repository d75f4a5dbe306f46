// remote::node across processes: the peer is tests/remote/node_peer.cpp,
// started with fork + exec. Stopping it (SIGSTOP) leaves its sockets open,
// so only the failure detector can tell that it went silent.
#include "node_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

using namespace volley::remote;
using namespace volley::remote::test;
using namespace std::chrono_literals;

namespace {

/// The peer process; its stdin is our pipe, so it ends when we do.
class peer_process {
 public:
  explicit peer_process(std::uint16_t port) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) throw std::runtime_error("pipe");
    std::string port_arg = std::to_string(port);
    const char* path = VOLLEY_REMOTE_PEER;
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(in[0], STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::close(in[0]);
      ::close(in[1]);
      ::close(out[0]);
      ::close(out[1]);
      ::execl(path, path, port_arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_child_ = in[1];
    from_child_ = out[0];
  }
  ~peer_process() {
    ::kill(pid_, SIGKILL);
    ::close(to_child_);
    ::close(from_child_);
    ::waitpid(pid_, nullptr, 0);
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

  /// The port the peer printed (0 if it died first).
  std::uint16_t port() {
    std::string line;
    char ch;
    while (::read(from_child_, &ch, 1) == 1 && ch != '\n') line += ch;
    return static_cast<std::uint16_t>(std::atoi(line.c_str()));
  }
  void signal(int sig) { ::kill(pid_, sig); }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1;
  int from_child_ = -1;
};

}  // namespace

TEST_CASE(
    "a node in another process: tells in order, asks, a silent peer declared down, a "
    "restarted peer reached again",
    "[remote][node][process]") {
  seen_state seen;
  volley::system sys(system_config());
  node here(sys, peer_node_config("node-here"), test_types());

  auto peer = std::make_unique<peer_process>(0);
  std::uint16_t port = peer->port();
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
  peer = std::make_unique<peer_process>(port);
  REQUIRE(peer->port() == port);
  REQUIRE(poll_until([&] { return there.is_up() && there.peer_incarnation() != old_incarnation; }));
  volley::any_ref again = there.select("/user/collector");
  auto r2 = again.ask<pong>(ping{9}).get(patience);
  REQUIRE(r2.ok());
  CHECK(r2.value().n == 10);
  CHECK(collector.is_stopped());
}
