// remote_ping — remoting: actors on two nodes talking as if they were local.
//
// Start remote_pong first, then:
//
//     remote_ping [host [port]]     (default 127.0.0.1 2552)
//     remote_pong 0 | remote_ping - (port read from remote_pong's first line)
//
// `node.connect` gives a handle to the other actor system, `select` a ref to
// one of its actors. That ref is an ordinary volley::any_ref: tell (with a
// sender, so the other side can answer), ask<R>, watch. Only the message
// types must be registered on both sides (remote_messages.hpp).
//
// Prints:
//   connected to pong-node
//   pinger: pong 1
//   pinger: pong 2
//   pinger: pong 3
//   asked pong-node: hello, ping-node
//   pong-node said bye
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <string>

#include <volley/remote/node.hpp>
#include <volley/volley.hpp>

#include "remote_messages.hpp"

using namespace std::chrono_literals;

struct start {
  volley::any_ref target;
};

class pinger {
 public:
  // pongs come back from the other node through an untyped ref.
  using accepts = volley::accepts<pong>;

  explicit pinger(std::promise<void>* all_back) : all_back_(all_back) {}

  void on(const start& s, volley::context& ctx) {
    // With ctx, each ping carries this actor as its sender.
    for (int i = 1; i <= 3; ++i) s.target.tell(ping{i}, ctx);
  }
  void on(const pong& p) {
    std::printf("pinger: pong %d\n", p.n);
    if (p.n == 3) all_back_->set_value();  // in order: one sender, one receiver
  }

 private:
  std::promise<void>* all_back_;
};

int main(int argc, char** argv) {
  std::string host = argc > 1 ? argv[1] : "127.0.0.1";
  std::uint16_t port = 2552;
  if (host == "-") {  // "remote_pong: listening on 127.0.0.1:PORT"
    std::string line;
    std::getline(std::cin, line);
    host = "127.0.0.1";
    port = static_cast<std::uint16_t>(std::atoi(line.substr(line.rfind(':') + 1).c_str()));
  } else if (argc > 2) {
    port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  }

  volley::system sys;
  // This node only connects out; the replies come back on that connection.
  volley::remote::node node(sys, {.name = "ping-node", .secret = pingpong_secret, .listen = false},
                            pingpong_types());
  volley::remote::remote_system pong_node = node.connect(host, port);
  if (!pong_node.wait_up(10s)) {
    std::fprintf(stderr, "remote_ping: no node at %s:%u\n", host.c_str(), unsigned{port});
    return 1;
  }
  std::printf("connected to %s\n", pong_node.peer_name().c_str());
  std::fflush(stdout);

  volley::any_ref ponger = pong_node.select("/user/pong");

  std::promise<void> all_back;
  auto back = all_back.get_future();
  sys.spawn<pinger>(&all_back).tell(start{ponger});
  if (back.wait_for(10s) != std::future_status::ready) {
    std::fprintf(stderr, "remote_ping: the pongs did not come back\n");
    return 1;
  }

  // ask<R>: the reply type is named here; the remote handler returns it.
  volley::result<greeting> hello = ponger.ask<greeting>(greeting{"ping-node"}).get(5s);
  if (!hello) {
    std::fprintf(stderr, "remote_ping: ask failed: %s\n", hello.err().message.c_str());
    return 1;
  }
  std::printf("asked %s: %s\n", pong_node.peer_name().c_str(), hello.value().text.c_str());

  // An ask, not a tell, so that we know it arrived before we exit.
  if (!ponger.ask<volley::unit>(bye{}).get(5s)) return 1;
  std::printf("%s said bye\n", pong_node.peer_name().c_str());
  return 0;
}
