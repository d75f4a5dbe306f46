// caf-savina: the Savina workloads on CAF, with the command line and JSON
// line every workload binary shares (see volley/savina/workload_main.hpp).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/workload_main.hpp>

int main(int argc, char** argv) {
  using namespace volley::caf_peer;
  // The shared list (parameters.hpp): every workload, in the table's order.
  const volley::savina::workload_registry registry = {
#define VOLLEY_SAVINA_REGISTER(function, name) {name, function},
      VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_REGISTER)
#undef VOLLEY_SAVINA_REGISTER
  };
  return volley::savina::workload_main(argc, argv, "caf", registry, describe_config);
}
