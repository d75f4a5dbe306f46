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
  // The shared list (parameters.hpp): every workload, in the table's order.
  const volley::savina::workload_registry registry = {
#define VOLLEY_SAVINA_REGISTER(function, name) {name, function},
      VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_REGISTER)
#undef VOLLEY_SAVINA_REGISTER
  };
  return volley::savina::workload_main(argc, argv, "volley", registry, describe_config);
}
