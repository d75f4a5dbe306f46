// volley::affinity::machine_info — a description of the machine for benchmark
// results, so that figures from different machines are never compared blind.
//
// `machine_id` is a short stable name usable as a folder name under results/,
// e.g. "amd-epyc-7b13-2c": the CPU model, lowercased, without vendor marks,
// "CPU", "Processor", "N-Core" and the clock frequency, followed by the core
// count. Two machines with the same CPU model and core count share an id on
// purpose: their results are comparable. A model name without a part number
// ("AMD EPYC", as KVM shows both a Zen 3 Milan and a Zen 4 Genoa) would join
// different generations under one id, so there the CPUID family and model
// number go in too: "amd-epyc-f25m1-2c".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "volley/affinity/topology.hpp"

namespace volley::affinity {

/// What describe_machine() reports.
struct machine_info {
  std::string cpu_model;      ///< as topology::cpu_model()
  std::string cpu_signature;  ///< as topology::cpu_signature(): "25/1/1", or ""
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

/// The machine_id rule on its own: slug of `cpu_model`, then "-f<family>m<model>"
/// from `cpu_signature` if the slug has no digit (no part number), then
/// "-<cores>c".
std::string make_machine_id(std::string_view cpu_model, unsigned cores,
                            std::string_view cpu_signature = {});

}  // namespace volley::affinity
