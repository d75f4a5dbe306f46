#pragma once
// The Savina workloads on volley, one function per workload, named as in
// common/ (workload_specs()) and twinned with bench/peers/caf/. Each runs
// once on `workers` workers, checks its result and returns the measurement.

#include <volley/savina/measurement.hpp>
#include <volley/savina/parameters.hpp>
#include <volley/volley.hpp>

#include <nlohmann/json.hpp>

namespace volley::savina_on_volley {

using savina::measurement;
using savina::parameters;

/// The engine configuration every workload uses: defaults, `workers` workers.
volley::config make_config(int workers);

/// That configuration, as recorded in the JSON line.
nlohmann::json describe_config(int workers);

/// Memory of `actors` idle actors: RSS growth and jemalloc's count per actor.
nlohmann::json idle_memory(std::int64_t actors, int workers);

// One declaration per workload of the shared list.
#define VOLLEY_SAVINA_DECLARE(function, name) \
  measurement function(const parameters& p, int workers);
VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_DECLARE)
#undef VOLLEY_SAVINA_DECLARE

}  // namespace volley::savina_on_volley
