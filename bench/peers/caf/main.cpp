// caf-savina: the Savina workloads on CAF, with the command line and JSON
// line every workload binary shares (see volley/savina/workload_main.hpp).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <volley/savina/workload_main.hpp>

namespace {

// Memory of `actors` idle actors, measured as on volley: RSS growth per actor.
nlohmann::json idle_memory(std::int64_t actors, int workers) {
  using namespace volley::caf_peer;
  caf_runtime rt(workers);
  std::vector<caf::actor> refs;
  refs.reserve(static_cast<std::size_t>(actors));  // before the first sample
  auto rss_before = volley::savina::resident_bytes();
  for (std::int64_t i = 0; i < actors; ++i)
    refs.push_back(rt.system().spawn([]() -> caf::behavior { return {[](done_atom) {}}; }));
  auto rss_after = volley::savina::resident_bytes();
  stop_all(refs);
  return nlohmann::json::array({volley::savina::figure_line(
      "idle-memory", "caf", "RSS growth per idle actor (" + std::to_string(actors) + " actors)",
      static_cast<double>(rss_after - rss_before) / static_cast<double>(actors), "B")});
}

}  // namespace

int main(int argc, char** argv) {
  using namespace volley::caf_peer;
  // The shared list (parameters.hpp): every workload, in the table's order.
  const volley::savina::workload_registry registry = {
#define VOLLEY_SAVINA_REGISTER(function, name) {name, function},
      VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_REGISTER)
#undef VOLLEY_SAVINA_REGISTER
  };
  return volley::savina::workload_main(argc, argv, "caf", registry, describe_config, idle_memory);
}
