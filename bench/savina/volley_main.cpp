// volley-savina: the Savina workloads on volley, with the command line and
// JSON line every workload binary shares (see volley/savina/workload_main.hpp).
#include "volley_workloads.hpp"

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

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
  // Warm-up as the Erlang peer words it (issue 9: record warm-up settings):
  // each workload constructs the system, then starts its stopwatch.
  return {{"workers", cfg.workers},
          {"pin", cfg.pin},
          {"throughput", cfg.throughput},
          {"spin_before_park_us", cfg.spin_before_park.count()},
          {"warm_up", "none: one run per process start, timed after the system's workers exist"}};
}

namespace {

// -- idle-actor memory --------------------------------------------------------
//
// Three sets of `actors` actors, each measured around its own spawn (and
// messages), all kept alive to the end so that no set reuses another's
// freed memory:
//   1. never messaged, no state: the cell alone (128 B, the stateless actor
//      lives in the header's spare byte);
//   2. no state, after each handled one message: a mailbox that kept its
//      last envelope as its stub would add it here (issue 11: <= 128 B);
//   3. 16 B of state, after one message (issue 11: <= 192 B).
// Per set: RSS growth per actor, and where jemalloc counts (not in
// sanitizer builds) the bytes it handed out and its own metadata. When
// cells were jemalloc's blocks one by one, RSS was above the cell by
// jemalloc's own records: a 128 B extent record per slab (stats.metadata)
// and an 8 B page-map entry per slab page. A 128 B cell's slab is one page
// of 32 cells: 128 + 4.0 + 0.25 = 132.25 B, as measured on the 2-core VM; a
// 192 B cell's is 3 pages of 64 cells: 192 + 2.0 + 0.375 = 194.38 B. Cells
// are now carved from 1 MiB chunks that volley maps itself
// (engine/src/cell_pool.cpp), so jemalloc's figures no longer count them:
// they show what else an idle actor allocates. A last figure says what the
// process keeps once every set has stopped and its refs are gone, after
// jemalloc was told to purge: what stopped actors' memory costs afterwards.

struct idle_actor {
  struct never {};
  void on(const never&) {}
};

struct poke {};
std::atomic<std::int64_t> poked{0};

/// No state: built in the cell header's spare byte.
struct poked_actor {
  void on(const poke&) { poked.fetch_add(1, std::memory_order_release); }
};

/// 16 B of state: the cell's third line.
struct poked_actor_16 {
  std::uint64_t count = 0;
  std::uint64_t last = 0;
  void on(const poke&) {
    last = static_cast<std::uint64_t>(poked.fetch_add(1, std::memory_order_release));
    ++count;
  }
};
static_assert(sizeof(poked_actor_16) == 16);

#if VOLLEY_SAVINA_JEMALLOC
/// Hands every arena's unused dirty pages back to the system now, rather
/// than after jemalloc's decay time.
void purge_allocator() {
  const std::string all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  mallctl(all.c_str(), nullptr, nullptr, nullptr, 0);
}

// A jemalloc statistic as of now; -1 if it cannot say.
std::int64_t jemalloc_stat(const char* name) {
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  std::uint64_t epoch = 1;
  std::size_t len = sizeof epoch;
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t value = 0;
  len = sizeof value;
  if (mallctl(name, &value, &len, nullptr, 0) != 0) return -1;
  return static_cast<std::int64_t>(value);
}
#else
void purge_allocator() {}
std::int64_t jemalloc_stat(const char*) {
  return -1;
}
#endif

/// What the process holds at one moment. Resident memory rounds to pages
/// and keeps what earlier runs freed, so jemalloc's own counts are the
/// finer figures (as in bench/micro's idle_actor).
struct memory_sample {
  std::int64_t rss = savina::resident_bytes();
  std::int64_t allocated = jemalloc_stat("stats.allocated");
  std::int64_t metadata = jemalloc_stat("stats.metadata");
};

// Messages in flight at once while poking a set: the envelopes the pool
// holds meanwhile (64 B each) stay under 0.02 B per actor of a million.
constexpr std::int64_t pokes_in_flight = 256;

// Enough pokes for the pool to reach its working set (it holds ~4,000
// envelopes after a round of any size from 250 k to 2 M actors).
constexpr std::size_t warm_up_actors = 1 << 16;

/// Spawns one set of `refs.size()` actors of type A, pokes each once if
/// PokeEach, waits until every one is idle, and adds the set's figures
/// per actor to `lines` (none: a warm-up); `what` names the set in the
/// figures.
template <bool PokeEach, class A>
void measure_idle_set(volley::system& sys, std::vector<actor_ref<A>>& refs, const std::string& what,
                      nlohmann::json* lines) {
  const auto n = static_cast<std::int64_t>(refs.size());
  poked.store(0);
  const memory_sample before;
  for (auto& r : refs) r = sys.spawn<A>();
  if constexpr (PokeEach) {
    std::int64_t sent = 0;
    for (auto& r : refs) {
      r.tell(poke{});
      if (++sent % pokes_in_flight == 0) {
        while (poked.load(std::memory_order_acquire) < sent - pokes_in_flight)
          std::this_thread::yield();
      }
    }
    while (poked.load(std::memory_order_acquire) < n) std::this_thread::yield();
  }
  // An activation ends (and hands its last envelope back) just after its
  // handler returns: wait until every mailbox is marked idle again.
  // A ref without a cell (spawn refused) would be a null dereference here:
  // said, not crashed on. (Without the check g++ 12 -O3 also warned
  // -Wstringop-overflow on that null path's atomic load.)
  for (auto& r : refs) {
    const auto* cell = r.cell();
    if (cell == nullptr) throw std::runtime_error("idle-memory: an actor was not spawned");
    while (!cell->mailbox_.is_marked()) std::this_thread::yield();
  }
  if (lines == nullptr) return;
  const memory_sample after;
  const auto per_actor = [&](std::int64_t from, std::int64_t to) {
    return static_cast<double>(to - from) / static_cast<double>(n);
  };
  lines->push_back(savina::figure_line(
      "idle-memory", "volley",
      "RSS growth per idle actor" + what + " (" + std::to_string(n) + " actors)",
      per_actor(before.rss, after.rss), "B"));
  if (before.allocated < 0) return;
  lines->push_back(savina::figure_line("idle-memory", "volley",
                                       "jemalloc bytes per idle actor" + what,
                                       per_actor(before.allocated, after.allocated), "B"));
  lines->push_back(savina::figure_line("idle-memory", "volley",
                                       "jemalloc metadata per idle actor" + what,
                                       per_actor(before.metadata, after.metadata), "B"));
}

}  // namespace

nlohmann::json idle_memory(std::int64_t actors, int workers) {
  volley::system sys(make_config(workers));
  const auto n = static_cast<std::size_t>(actors);
  // Every set's ref vector is made before the first sample.
  std::vector<actor_ref<idle_actor>> never_messaged(n);
  std::vector<actor_ref<poked_actor>> messaged(n);
  std::vector<actor_ref<poked_actor_16>> messaged_16(n);
  auto lines = nlohmann::json::array();
  // The envelope pool's working set (~260 KB on the 2-core VM, for 250 k, 1 M
  // and 2 M actors alike) is the process's, not any actor's: a round of
  // pokes to a warm-up set makes it before the first sample.
  std::vector<actor_ref<poked_actor>> warm_up(warm_up_actors);
  measure_idle_set<true>(sys, warm_up, "", nullptr);
  // The first figure keeps its name: earlier result files have it.
  const memory_sample start;
  measure_idle_set<false>(sys, never_messaged, "", &lines);
  measure_idle_set<true>(sys, messaged, " after one message", &lines);
  measure_idle_set<true>(sys, messaged_16, " with 16 B of state after one message", &lines);
  sys.shutdown();
  // Every actor has stopped; dropping the last refs frees the cells. The
  // ref vectors themselves stay, as they were there at `start`.
  for (auto& r : never_messaged) r = {};
  for (auto& r : messaged) r = {};
  for (auto& r : messaged_16) r = {};
  purge_allocator();
  const memory_sample stopped;
  lines.push_back(savina::figure_line(
      "idle-memory", "volley", "RSS per actor kept after all three sets stopped (allocator purged)",
      static_cast<double>(stopped.rss - start.rss) / static_cast<double>(3 * actors), "B"));
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
