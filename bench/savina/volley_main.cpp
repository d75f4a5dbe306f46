// volley-savina: the Savina workloads on volley, with the command line and
// JSON line every workload binary shares (see volley/savina/workload_main.hpp).
#include "volley_workloads.hpp"

#include <volley/savina/workload_main.hpp>

namespace volley::savina_on_volley {

volley::config make_config(int workers) {
  volley::config cfg;
  cfg.workers = static_cast<unsigned>(workers);
  return cfg;
}

nlohmann::json describe_config(int workers) {
  auto cfg = make_config(workers);
  return {{"workers", cfg.workers},
          {"pin", cfg.pin},
          {"throughput", cfg.throughput},
          {"spin_before_park_us", cfg.spin_before_park.count()}};
}

}  // namespace volley::savina_on_volley

int main(int argc, char** argv) {
  using namespace volley::savina_on_volley;
  const volley::savina::workload_registry registry = {
      {"ping-pong", ping_pong},
      {"counting", counting},
      {"fork-join-throughput", fork_join_throughput},
      {"fork-join-creation", fork_join_creation},
      {"thread-ring", thread_ring},
      {"chameneos", chameneos},
      {"big", big},
      {"concurrent-dictionary", concurrent_dictionary},
      {"dining-philosophers", dining_philosophers},
      {"logistic-map", logistic_map},
      {"bank-transaction", bank_transaction},
      {"trapezoid", trapezoid},
      {"n-queens", n_queens},
      {"fan-in-latency", fan_in_latency},
  };
  return volley::savina::workload_main(argc, argv, "volley", registry, describe_config);
}
