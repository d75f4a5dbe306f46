// remote_pong — the serving half of the remoting example (see remote_ping.cpp).
//
// Runs an actor system with one actor, /user/pong, and a remote::node that
// listens for other nodes. Nothing in the actor knows about the network:
// `ctx.sender()` of a ping from another node is a ref to the remote pinger,
// and telling it goes back over the wire.
//
//     remote_pong [port]      (default 2552; 0 picks a free port)
//
// Prints its address on the first line of standard output (remote_ping can
// read it from there) and exits when a node says bye.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <utility>

#include <volley/remote/node.hpp>
#include <volley/volley.hpp>

#include "remote_messages.hpp"

class ponger {
 public:
  // Messages from other nodes arrive through untyped refs: list them.
  using accepts = volley::accepts<ping, greeting, bye>;

  explicit ponger(std::promise<void>* bye_received) : bye_received_(bye_received) {}

  void on(const ping& p, volley::context& ctx) {
    std::fprintf(stderr, "pong: ping %d from %s\n", p.n, ctx.sender().path().c_str());
    ctx.sender().tell(pong{p.n}, ctx);
  }
  greeting on(const greeting& g) { return greeting{"hello, " + g.text}; }
  void on(const bye&) { bye_received_->set_value(); }

 private:
  std::promise<void>* bye_received_;
};

int main(int argc, char** argv) {
  auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 2552);

  volley::system sys;
  std::promise<void> bye_received;
  sys.spawn<ponger>(volley::props{.name = "pong"}, &bye_received);

  // Set field by field: from a designated initializer, g++ 12 at -O3 warns
  // that tls.ca may be destroyed uninitialized (a false positive).
  volley::remote::node_config config;
  config.name = "pong-node";
  config.secret = pingpong_secret;
  config.port = port;
  config.access.allowed_paths = {"/user/pong"};  // remote peers may message it, nothing else
  volley::remote::node node(sys, std::move(config), pingpong_types());
  std::printf("remote_pong: listening on 127.0.0.1:%u\n", static_cast<unsigned>(node.port()));
  std::fflush(stdout);  // a reader on a pipe waits for this line

  // A minute is plenty for the example; it keeps a forgotten server from
  // running for ever.
  if (bye_received.get_future().wait_for(std::chrono::minutes(1)) != std::future_status::ready) {
    std::fprintf(stderr, "remote_pong: nobody said bye within a minute; exiting\n");
    return 1;
  }
  // The reply to the bye is sent as its handler returns, on a worker. Stop
  // the actors first (shutdown waits for running handlers), then let the
  // node go: it writes what is queued, the reply included, before it closes.
  sys.shutdown();
  return 0;
}
