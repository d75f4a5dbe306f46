// volley::affinity::topology — what the machine looks like: packages, NUMA
// nodes, caches, cores and PUs (hardware threads), as hwloc sees them.
//
// Use it to build a worker plan (worker_plan.hpp), to pin threads
// (pinning.hpp) and to describe the machine in benchmark results
// (machine_info.hpp). Detect the topology once at engine start and keep it for
// the engine's lifetime: detection walks sysfs and takes milliseconds.
//
// `synthetic()` builds a topology of a machine we do not have (tests of plans
// and steal orders for 2-socket NUMA boxes on a 2-core CI runner). A synthetic
// topology cannot be used for pinning.
//
// PUs are named by their OS index (the number Linux uses: taskset, /proc,
// VOLLEY_CPUS). Cores and NUMA nodes are named by their logical index: 0..n-1
// in topology order, usable as an array index. PUs that the process may not
// run on (cgroup or taskset restrictions) are not part of the topology.
//
// Thread-safety: after construction every const member may be called from
// any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace volley::affinity {

/// One level of data (or unified) cache, summed over the machine.
/// Instruction caches are left out: they say nothing about which workers
/// share data.
struct cache_info {
  unsigned level = 0;            ///< 1, 2, 3, ...
  std::uint64_t size_bytes = 0;  ///< size of one cache of this level
  unsigned count = 0;            ///< how many such caches the machine has
  unsigned pus_per_cache = 0;    ///< how many PUs share one of them

  friend bool operator==(const cache_info&, const cache_info&) = default;
};

/// A loaded hwloc topology. Movable, not copyable (it owns the hwloc object);
/// a moved-from topology may only be assigned to or destroyed.
class topology {
 public:
  /// The topology of this machine, restricted to the PUs this process may use.
  /// Throws std::runtime_error if hwloc cannot load it.
  static topology detect();

  /// A made-up machine, in hwloc's synthetic syntax, e.g.
  /// "pack:2 numa:2 l3:1 core:4 l2:1 pu:2" (2 packages, each with 2 NUMA
  /// nodes, each with one L3 shared by 4 cores with private L2 and 2 PUs).
  /// PU OS indices are 0..n-1 in topology order.
  /// Throws std::invalid_argument on a description hwloc rejects.
  static topology synthetic(std::string_view description);

  topology(topology&&) noexcept;
  topology& operator=(topology&&) noexcept;
  topology(const topology&) = delete;
  topology& operator=(const topology&) = delete;
  ~topology();

  // -- counts --------------------------------------------------------------

  unsigned packages() const;    ///< at least 1 (a machine without package info counts as one)
  unsigned numa_nodes() const;  ///< at least 1
  unsigned cores() const;       ///< at least 1
  unsigned pus() const;         ///< at least 1

  // -- details -------------------------------------------------------------

  /// Data/unified caches, one entry per (level, size), ordered by level.
  std::vector<cache_info> caches() const;

  /// OS indices of the PUs that share the level-`level` cache with PU
  /// `pu_os_index` (itself included), ascending; empty if there is no such
  /// cache or no such PU.
  std::vector<unsigned> pus_sharing_cache(unsigned level, unsigned pu_os_index) const;

  /// CPU model as the OS reports it ("AMD EPYC 7B13 64-Core Processor"),
  /// or "unknown" (always for synthetic topologies).
  std::string cpu_model() const;

  /// The x86 CPUID signature ("25/1/1": family/model/stepping, decimal) as
  /// hwloc reads it, or "" where the OS or architecture gives none (always
  /// for synthetic topologies). Hypervisors often shorten cpu_model() to
  /// "AMD EPYC"; the signature still tells one generation from another.
  std::string cpu_signature() const;

  /// OS indices of all PUs, in topology order (cores in order, the PUs of one
  /// core next to each other).
  std::vector<unsigned> pu_os_indices() const;

  /// Logical index of the core that holds PU `pu_os_index`; -1 if no such PU.
  int core_of(unsigned pu_os_index) const;

  /// Logical index of the NUMA node local to PU `pu_os_index`; -1 if no such PU.
  int numa_node_of(unsigned pu_os_index) const;

  /// Total memory of all NUMA nodes, in bytes (0 if unknown).
  std::uint64_t memory_bytes() const;

  /// True for detect(), false for synthetic(): only the former can pin.
  bool is_this_system() const;

  /// The hwloc state; defined in src/, so that hwloc stays out of this header.
  struct impl;
  /// For volley::affinity's own sources (plans and pinning need the hwloc
  /// objects); other code has no definition of `impl` to use it with.
  const impl& internals() const { return *impl_; }

 private:
  explicit topology(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

}  // namespace volley::affinity
