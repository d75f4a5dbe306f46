#pragma once
// What a result file says about where and how its figures were taken: the
// machine (from volley::affinity's hwloc description), the compiler and
// flags the workloads were built with, and the git commit.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// The machine: CPU model, packages, NUMA nodes, cores, PUs, caches, memory,
/// kernel, hostname and machine_id (the folder name under results/).
nlohmann::json describe_machine();

/// Compiler id and version, flags and build type (baked in at build time),
/// and the git commit of the source tree (`git rev-parse HEAD` now, else the
/// commit at configure time, else "unknown").
nlohmann::json describe_build();

/// Whether the git work tree at `dir` has changes to tracked files outside
/// its results/ folder (the suite writes there: its own output is no local
/// change to what was measured); nullopt where git cannot tell.
std::optional<bool> source_changed(const std::string& dir);

/// Cores of this machine: the engine's default worker count.
int default_workers();

}  // namespace volley::bench
