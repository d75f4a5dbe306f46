// caf-savina: the Savina workloads on CAF, with the command line and JSON
// line every workload binary shares (see volley/savina/workload_main.hpp).
#include "caf_runtime.hpp"
#include "workloads.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <volley/savina/workload_main.hpp>

namespace {

// -- idle-actor memory --------------------------------------------------------
//
// The three sets volley's idle_memory measures (bench/savina/volley_main.cpp),
// each around its own spawn and messages, all kept alive to the end: never
// messaged; after each handled one message; with 16 B of state, after one
// message. CAF allocates through glibc's malloc, so RSS growth is the figure.

std::atomic<std::int64_t> poked{0};

caf::behavior idle_actor() {
  return {[](volley::caf_peer::done_atom) {}};
}

caf::behavior poked_actor() {
  return {[](volley::caf_peer::ping_atom) { poked.fetch_add(1, std::memory_order_release); }};
}

struct state_16 {
  std::uint64_t count = 0;
  std::uint64_t last = 0;
};
static_assert(sizeof(state_16) == 16);

caf::behavior poked_actor_16(caf::stateful_actor<state_16>* self) {
  return {[self](volley::caf_peer::ping_atom) {
    self->state.last = static_cast<std::uint64_t>(poked.fetch_add(1, std::memory_order_release));
    ++self->state.count;
  }};
}

// Messages in flight at once while poking a set, as on volley.
constexpr std::int64_t pokes_in_flight = 256;

/// Spawns `actors` actors with `spawn()`, pokes each once if `poke_each`,
/// and adds the set's RSS growth per actor to `lines`. `refs` has room for
/// the set already (reserved before the first sample).
template <class Spawn>
void measure_idle_set(std::int64_t actors, std::vector<caf::actor>& refs, Spawn spawn,
                      bool poke_each, const std::string& what, nlohmann::json& lines) {
  poked.store(0);
  const auto rss_before = volley::savina::resident_bytes();
  const auto first = refs.size();
  for (std::int64_t i = 0; i < actors; ++i) refs.push_back(spawn());
  if (poke_each) {
    for (auto i = first; i < refs.size(); ++i) {
      caf::anon_send(refs[i], volley::caf_peer::ping_atom::value);
      const auto sent = static_cast<std::int64_t>(i - first + 1);
      if (sent % pokes_in_flight == 0) {
        while (poked.load(std::memory_order_acquire) < sent - pokes_in_flight)
          std::this_thread::yield();
      }
    }
    while (poked.load(std::memory_order_acquire) < actors) std::this_thread::yield();
  }
  const auto rss_after = volley::savina::resident_bytes();
  lines.push_back(volley::savina::figure_line(
      "idle-memory", "caf",
      "RSS growth per idle actor" + what + " (" + std::to_string(actors) + " actors)",
      static_cast<double>(rss_after - rss_before) / static_cast<double>(actors), "B"));
}

nlohmann::json idle_memory(std::int64_t actors, int workers) {
  using namespace volley::caf_peer;
  caf_runtime rt(workers);
  auto& sys = rt.system();
  std::vector<caf::actor> refs;
  refs.reserve(static_cast<std::size_t>(3 * actors));  // before the first sample
  auto lines = nlohmann::json::array();
  // The first figure keeps its name: earlier result files have it.
  measure_idle_set(
      actors, refs, [&] { return sys.spawn(idle_actor); }, false, "", lines);
  measure_idle_set(
      actors, refs, [&] { return sys.spawn(poked_actor); }, true, " after one message", lines);
  measure_idle_set(
      actors, refs, [&] { return sys.spawn(poked_actor_16); }, true,
      " with 16 B of state after one message", lines);
  stop_all(refs);
  return lines;
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
