// volley-savina: the Savina workloads on volley, with the command line and
// JSON line every workload binary shares (see volley/savina/workload_main.hpp).
#include "volley_workloads.hpp"

#include <volley/savina/workload_main.hpp>

#if VOLLEY_SAVINA_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

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

namespace {

struct idle_actor {
  struct never {};
  void on(const never&) {}
};

// Bytes jemalloc has handed out and not taken back; -1 if it cannot say.
// Resident memory rounds to pages and keeps what earlier runs freed, so the
// allocator's own count is the finer figure (as in bench/micro's idle_actor).
std::int64_t allocated_bytes() {
#if !VOLLEY_SAVINA_JEMALLOC
  return -1;
#else
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  std::uint64_t epoch = 1;
  std::size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t allocated = 0;
  len = sizeof allocated;
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return -1;
  return static_cast<std::int64_t>(allocated);
#endif
}

}  // namespace

nlohmann::json idle_memory(std::int64_t actors, int workers) {
  volley::system sys(make_config(workers));
  std::vector<actor_ref<idle_actor>> refs(
      static_cast<std::size_t>(actors));  // before the first sample
  auto rss_before = savina::resident_bytes();
  auto allocated_before = allocated_bytes();
  for (auto& r : refs) r = sys.spawn<idle_actor>();
  auto allocated_after = allocated_bytes();
  auto rss_after = savina::resident_bytes();
  auto n = static_cast<double>(actors);
  auto lines = nlohmann::json::array();
  lines.push_back(savina::figure_line(
      "idle-memory", "volley", "RSS growth per idle actor (" + std::to_string(actors) + " actors)",
      static_cast<double>(rss_after - rss_before) / n, "B"));
  if (allocated_before >= 0)
    lines.push_back(savina::figure_line("idle-memory", "volley", "jemalloc bytes per idle actor",
                                        static_cast<double>(allocated_after - allocated_before) / n,
                                        "B"));
  sys.shutdown();
  return lines;
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
  return volley::savina::workload_main(argc, argv, "volley", registry, describe_config,
                                       idle_memory);
}
