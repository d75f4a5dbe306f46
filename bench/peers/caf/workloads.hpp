#pragma once
/// The Savina workloads on CAF 0.17, one function per workload, named as in
/// bench/savina/common (workload_specs()). Each runs once on `workers`
/// scheduler threads, checks its result and returns the measurement.

#include <volley/savina/measurement.hpp>
#include <volley/savina/parameters.hpp>

namespace volley::caf_peer {

using savina::measurement;
using savina::parameters;

// One declaration per workload of the shared list.
#define VOLLEY_SAVINA_DECLARE(function, name) \
  measurement function(const parameters& p, int workers);
VOLLEY_SAVINA_WORKLOADS(VOLLEY_SAVINA_DECLARE)
#undef VOLLEY_SAVINA_DECLARE

}  // namespace volley::caf_peer
