#pragma once
/// Expected results of the workloads, computed the slow, obvious way.
///
/// Every runtime checks its answer against these, so a wrong actor program
/// fails loudly instead of reporting a fast figure.

#include <cstdint>
#include <vector>

namespace volley::savina {

/// The work done per message by fork-join workloads (Savina's
/// `performComputation`): a few floating-point operations whose result
/// must be used so the compiler keeps it.
double tiny_compute(double theta);

/// Number of solutions of the n-queens problem (known values, n <= 16).
std::int64_t n_queens_solutions(int n);

/// Counts the solutions that extend a partial board of `depth` queens
/// (`columns[i]` = column of the queen in row i), sequentially.
std::int64_t n_queens_count_from(int n, const int* columns, int depth);

/// Whether a queen may go to (`depth`, `column`) on the partial board.
bool n_queens_safe(const int* columns, int depth, int column);

/// The function integrated by the trapezoid workload (as in Savina).
double trapezoid_function(double x);

/// The integral of trapezoid_function over [left, right] by Simpson's rule
/// on 200,000 panels: far more accurate than the workload's trapezoids and
/// 50 times cheaper, so a workload that drops or repeats a slice is off by
/// orders of magnitude more than the 1e-6 relative tolerance it is held to.
double trapezoid_integral(double left, double right);

/// The last term of one logistic-map series: x_{k+1} = rate * x_k * (1 - x_k),
/// starting from `start`, after `terms` steps.
double logistic_map_last_term(double start, double rate, std::int64_t terms);

/// Start value and rate of series `i` (Savina: start = i / (S + 1); rate =
/// start_rate + i * increment).
double logistic_map_start(std::int64_t series_index, std::int64_t series_count);
double logistic_map_rate(double start_rate, double increment, std::int64_t series_index);

/// fib(n) with fib(1) = fib(2) = 1, by a loop (fibonacci workload).
std::int64_t fibonacci_number(std::int64_t n);

/// Actors in the fibonacci workload's tree for fib(n): one per call of the
/// naive recursion, whose leaves are the calls with n <= 2: 2 fib(n) - 1.
std::int64_t fibonacci_actors(std::int64_t n);

/// The deterministic "busy wait" of the sleeping barber and cigarette
/// smokers workloads: `iterations` steps of a 28-bit linear congruential
/// generator (x <- (69069 x + 1) mod 2^28, from x = 1), returning the last
/// x so the loop cannot be dropped. Every runtime runs this same loop (the
/// Erlang twin is savina_work:busy_wait/1); its values stay below 2^45, so
/// Erlang computes it on small integers, not bignums.
std::int64_t busy_wait(std::int64_t iterations);

/// The work per item of the producer-consumer workload (Savina's
/// processItem): adds cost x 100 terms log(u + 0.01), u in [0, 1) from the
/// generator of busy_wait() seeded with `cost`, to `current`. The same
/// libm log in the same order on every runtime (savina_work:process_item/2).
double process_item(double current, std::int64_t cost);
/// The primes below `limit`, summarised as the sieve workload reports them:
/// how many, their sum, and the sum of (position × prime) with positions
/// counted from 1 in ascending order, so a prime lost, repeated or stored
/// out of order changes the answer.
struct sieve_answer {
  std::int64_t count = 0;
  std::int64_t sum = 0;
  std::int64_t weighted_sum = 0;
  bool operator==(const sieve_answer&) const = default;
};

/// The answer for the primes below `limit`, by a sieve of Eratosthenes.
sieve_answer sieve_primes_below(std::int64_t limit);

/// The quicksort workload's input: `n` values drawn from splitmix64 seeded
/// with `seed`, each below 2^59. (Savina draws below 2^60; 2^59 keeps every
/// value an Erlang small integer, so no runtime sorts bignums.)
std::vector<std::int64_t> quicksort_input(std::int64_t n, std::uint64_t seed);

/// The pieces of one quicksort split around `pivot`, each in input order.
struct quicksort_split {
  std::vector<std::int64_t> less, equal, greater;
};

/// Splits `values` around their middle element, values[size / 2] (the
/// pivot rule of every runtime, so all build the same tree of actors).
quicksort_split quicksort_partition(const std::vector<std::int64_t>& values);

/// Sorts `values` the way every runtime sorts below the threshold: split
/// around the middle element as quicksort_partition() does (stable, three
/// ways), sort the less and greater parts the same way, concatenate. The
/// Erlang twin (savina_quicksort:sequential/1) does the same on lists.
void quicksort_sequential(std::vector<std::int64_t>& values);

}  // namespace volley::savina
