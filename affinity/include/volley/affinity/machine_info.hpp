// volley::affinity::machine_info — a description of the machine for benchmark
// results, so that figures from different machines are never compared blind.
//
// `machine_id` is a short stable name usable as a folder name under results/,
// e.g. "amd-epyc-7b13-2c": the CPU model, lowercased, without vendor marks,
// "CPU", "Processor", "N-Core" and the clock frequency, followed by the core
// count. Two machines with the same CPU model and core count share an id on
// purpose: their results are comparable.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "volley/affinity/topology.hpp"

namespace volley::affinity {

/// What describe_machine() reports.
struct machine_info {
  std::string cpu_model;  ///< as topology::cpu_model()
  unsigned packages = 0;
  unsigned numa_nodes = 0;
  unsigned cores = 0;
  unsigned pus = 0;
  std::vector<cache_info> caches;
  std::uint64_t memory_bytes = 0;
  std::string kernel;      ///< "Linux 6.1.0-18-amd64" (uname); empty for synthetic topologies
  std::string hostname;    ///< uname's nodename; empty for synthetic topologies
  std::string machine_id;  ///< see above; only [a-z0-9-]
};

/// Describes the machine of `topo` (kernel and hostname only if it is this
/// machine).
machine_info describe_machine(const topology& topo);

/// The machine_id rule on its own: slug of `cpu_model` plus "-<cores>c".
std::string make_machine_id(std::string_view cpu_model, unsigned cores);

}  // namespace volley::affinity
