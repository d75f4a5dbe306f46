// Node B of partition_test, in a process of its own that partition_test
// starts inside B's network namespace: serves /user/collector
// (node_test_support.hpp) on the namespace's veth address.
//
//     remote_partition_peer <host> <port>
//
// Prints the bound port on a line of its own (0 when the node could not
// start, with the reason on stderr), then runs until its standard input
// closes: the test holds the other end, so the peer never outlives it.
#include "partition_config.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

using namespace volley::remote;
using namespace volley::remote::test;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: remote_partition_peer <host> <port>\n");
    return 2;
  }
  seen_state seen;
  volley::system sys(system_config());
  sys.spawn<collector_actor>(volley::props{.name = "collector"}, &seen);
  node_config cfg = partition_node_config("node-b");
  cfg.host = argv[1];
  cfg.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  std::unique_ptr<node> n;
  try {
    n = std::make_unique<node>(sys, cfg, test_types());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remote_partition_peer: %s\n", e.what());
    std::printf("0\n");
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(n->port()));
  std::fflush(stdout);
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
  }
  return 0;
}
