// A node in a process of its own, for node_process_test: serves
// /user/collector (node_test_support.hpp) on 127.0.0.1.
//
//     remote_node_peer <port>      (0: a free port)
//
// Prints the bound port on a line of its own, then runs until its standard
// input closes (the test holds the other end, so the peer never outlives it).
#include "node_test_support.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

using namespace volley::remote;
using namespace volley::remote::test;

int main(int argc, char** argv) {
  auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  seen_state seen;
  volley::system sys(system_config());
  sys.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
  node_config cfg = peer_node_config("node-peer");
  cfg.port = port;
  node n(sys, cfg, test_types());
  std::printf("%u\n", static_cast<unsigned>(n.port()));
  std::fflush(stdout);
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  return 0;
}
