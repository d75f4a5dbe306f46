#pragma once
/// The Savina workloads on CAF 0.17, one function per workload, named as in
/// bench/savina/common (workload_specs()). Each runs once on `workers`
/// scheduler threads, checks its result and returns the measurement.

#include <volley/savina/measurement.hpp>
#include <volley/savina/parameters.hpp>

namespace volley::caf_peer {

using savina::measurement;
using savina::parameters;

measurement ping_pong(const parameters& p, int workers);
measurement counting(const parameters& p, int workers);
measurement fork_join_throughput(const parameters& p, int workers);
measurement fork_join_creation(const parameters& p, int workers);
measurement thread_ring(const parameters& p, int workers);
measurement chameneos(const parameters& p, int workers);
measurement big(const parameters& p, int workers);
measurement concurrent_dictionary(const parameters& p, int workers);
measurement bank_transaction(const parameters& p, int workers);
measurement dining_philosophers(const parameters& p, int workers);
measurement logistic_map(const parameters& p, int workers);
measurement trapezoid(const parameters& p, int workers);
measurement n_queens(const parameters& p, int workers);
measurement fan_in_latency(const parameters& p, int workers);

}  // namespace volley::caf_peer
