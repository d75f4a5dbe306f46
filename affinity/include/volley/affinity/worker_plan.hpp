// volley::affinity::worker_plan — how many worker threads the engine runs,
// which PU each one is pinned to, and in which order an idle worker looks for
// work to steal.
//
// Which PUs, in which order:
//   - VOLLEY_CPUS set (or plan_options::cpus): the PUs listed, in list order.
//   - otherwise: the first PU of every core in topology order, then the second
//     PU of every core, and so on. One worker per core avoids two workers
//     competing for one core's execution units; hyperthreads are used only
//     when more workers than cores are asked for.
// How many workers:
//   - plan_options::workers == 0: one per listed PU, or one per core.
//   - N > 0: the first N PUs of that order (so N <= cores gives the first N
//     cores, keeping the workers close together: actor workloads gain more
//     from shared caches than from spread-out memory bandwidth). N larger
//     than the PUs available is allowed: workers wrap around the PUs (worker
//     i gets PU i mod n) and the plan's note says the PUs are oversubscribed.
//
// Steal order: worker i's victims are all other workers, closest first:
//   0. sharing an L2 cache with i (same core included), then
//   1. sharing an L3 cache, then
//   2. on the same NUMA node, then
//   3. in the same package, then
//   4. the rest.
// Within one class, the order rotates per thief so that not all thieves try
// the same victim first: with the class's members in index order, thief i
// starts at member p mod m, where m is the class size and p is i's position
// (in index order) among the workers at least as close to it as the class
// ({i} included), and continues cyclically. For the four workers of one L3
// that gives 0 -> 1,2,3; 1 -> 2,3,0; 2 -> 3,0,1; 3 -> 0,1,2, and for two
// packages of 8 workers, worker k of package 0 starts on worker 8+k.
//
// Thread-safety: make_plan() is a pure function of its arguments (and of the
// VOLLEY_CPUS environment variable when options.cpus is empty).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "volley/affinity/topology.hpp"

namespace volley::affinity {

/// What the caller asks for; the defaults give one pinned worker per core,
/// honouring VOLLEY_CPUS.
struct plan_options {
  /// Number of workers; 0 means one per core (or one per VOLLEY_CPUS entry).
  unsigned workers = 0;
  /// A cpu list ("0-3,8", see cpu_list.hpp); std::nullopt means: read the
  /// VOLLEY_CPUS environment variable, and use the default order if unset.
  std::optional<std::string> cpus;
  /// Whether the engine should pin workers. false gives pinned == false.
  bool pin = true;
};

/// One worker thread of the plan.
struct worker_slot {
  unsigned index = 0;                 ///< 0..workers-1
  int pu = -1;                        ///< OS index of the PU it runs on (for pin_current_thread)
  int core = -1;                      ///< logical index of that PU's core
  int numa_node = -1;                 ///< logical index of that PU's NUMA node
  std::vector<unsigned> steal_order;  ///< every other worker's index, closest first
};

/// The result of make_plan().
struct worker_plan {
  std::vector<worker_slot> workers;  ///< never empty
  /// Whether the workers should be pinned: options.pin, the topology is this
  /// machine, it has more than one PU and the OS supports binding threads.
  /// The engine calls pin_current_thread() in each worker when this is true;
  /// that call still reports (once) and returns false if the OS refuses.
  bool pinned = false;
  /// Empty, or one human-readable line: why the plan is not pinned, or that
  /// PUs are oversubscribed. For logs and benchmark results.
  std::string note;
};

/// Builds the plan described above.
/// Throws std::invalid_argument when the cpu list is malformed or names a PU
/// that does not exist; the message quotes the list and says what to change,
/// e.g. `VOLLEY_CPUS="0-3,99": PU 99 does not exist; this machine has PUs 0-1`.
worker_plan make_plan(const topology& topo, const plan_options& options = {});

}  // namespace volley::affinity
