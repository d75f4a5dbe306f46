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

measurement ping_pong(const parameters& p, int workers);
measurement counting(const parameters& p, int workers);
measurement fork_join_throughput(const parameters& p, int workers);
measurement fork_join_creation(const parameters& p, int workers);
measurement thread_ring(const parameters& p, int workers);
measurement chameneos(const parameters& p, int workers);
measurement big(const parameters& p, int workers);
measurement concurrent_dictionary(const parameters& p, int workers);
measurement dining_philosophers(const parameters& p, int workers);
measurement logistic_map(const parameters& p, int workers);
measurement bank_transaction(const parameters& p, int workers);
measurement trapezoid(const parameters& p, int workers);
measurement n_queens(const parameters& p, int workers);
measurement fan_in_latency(const parameters& p, int workers);

}  // namespace volley::savina_on_volley
