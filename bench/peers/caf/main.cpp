// caf-savina: the Savina workloads on CAF, with the command line and JSON
// line every workload binary shares (see volley/savina/workload_main.hpp).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/workload_main.hpp>

int main(int argc, char** argv) {
  using namespace volley::caf_peer;
  const volley::savina::workload_registry registry = {
      {"ping-pong", ping_pong},
      {"counting", counting},
      {"fork-join-throughput", fork_join_throughput},
      {"fork-join-creation", fork_join_creation},
      {"thread-ring", thread_ring},
      {"chameneos", chameneos},
      {"big", big},
      {"concurrent-dictionary", concurrent_dictionary},
      {"bank-transaction", bank_transaction},
      {"dining-philosophers", dining_philosophers},
      {"logistic-map", logistic_map},
      {"trapezoid", trapezoid},
      {"n-queens", n_queens},
      {"fan-in-latency", fan_in_latency},
  };
  return volley::savina::workload_main(argc, argv, "caf", registry, describe_config);
}
