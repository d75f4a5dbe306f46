#pragma once
/// The one table of Savina workloads and their sizes, shared by every runtime.
///
/// `volley-savina`, `caf-savina` and the runner all read the sizes from here,
/// so a workload run on volley and on CAF with the same size set does the same
/// work. Two size sets exist: `savina` (the paper's defaults, which finish in
/// milliseconds on a modern core) and `reference` (the sizes at which the
/// project's CAF figures were measured; they take seconds each). See
/// /work/shared/SAVINA.md and bench/savina/README.md.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The workloads that volley, CAF and Erlang implement, written once:
/// X(function, "name"). The C++ runtimes declare and register their
/// functions from this list (volley_workloads.hpp / volley_main.cpp,
/// peers/caf/workloads.hpp / main.cpp), so a runtime that lacks one fails
/// to link with "undefined reference to <runtime>::<function>". Erlang's
/// list is generated from it at build time (peers/erlang/workload_list.cpp),
/// and a workload without its module savina_<name with - as _>.erl, or a
/// module that is no workload, stops the build with its name. And
/// workload_main() refuses to start if a name here has no row in
/// workload_specs() (the sizes). A new workload: its sizes row in
/// parameters.cpp, one line here, one file per runtime, and its tiny sizes
/// in tests/bench/fault_injection_test.cpp.
#define VOLLEY_SAVINA_WORKLOADS(X)                    \
  X(ping_pong, "ping-pong")                           \
  X(counting, "counting")                             \
  X(fork_join_throughput, "fork-join-throughput")     \
  X(fork_join_creation, "fork-join-creation")         \
  X(thread_ring, "thread-ring")                       \
  X(chameneos, "chameneos")                           \
  X(big, "big")                                       \
  X(concurrent_dictionary, "concurrent-dictionary")   \
  X(dining_philosophers, "dining-philosophers")       \
  X(logistic_map, "logistic-map")                     \
  X(bank_transaction, "bank-transaction")             \
  X(trapezoid, "trapezoid")                           \
  X(n_queens, "n-queens")                             \
  X(fibonacci, "fibonacci")                           \
  X(concurrent_sorted_list, "concurrent-sorted-list") \
  X(producer_consumer, "producer-consumer")           \
  X(sleeping_barber, "sleeping-barber")               \
  X(cigarette_smokers, "cigarette-smokers")           \
  X(sieve, "sieve")                                   \
  X(quicksort, "quicksort")                           \
  X(matrix_multiplication, "matrix-multiplication")   \
  X(filter_bank, "filter-bank")                       \
  X(fan_in_latency, "fan-in-latency")

namespace volley::savina {

/// Which column of the size table a run uses.
enum class size_set { reference, savina };

/// Parses "reference" or "savina"; std::nullopt for anything else.
std::optional<size_set> parse_size_set(std::string_view text);
std::string_view to_string(size_set sizes);

/// Named numeric parameters of one workload run ("pings" -> 1000000).
///
/// Values are doubles because a few parameters are rates (logistic map);
/// every count in the tables is below 2^53, so integers survive exactly.
class parameters {
 public:
  parameters() = default;
  parameters(std::initializer_list<std::pair<const std::string, double>> values)
      : values_(values) {}

  /// The value of `key` as an integer; throws std::out_of_range if missing.
  std::int64_t integer(std::string_view key) const;
  /// The value of `key`; throws std::out_of_range if missing.
  double real(std::string_view key) const;
  bool contains(std::string_view key) const { return values_.find(key) != values_.end(); }

  void set(const std::string& key, double value) { values_[key] = value; }
  /// Applies a "key=value" override; returns false (and changes nothing) when
  /// the text is malformed or names a key the workload does not have.
  bool apply_override(std::string_view key_equals_value);

  const std::map<std::string, double, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, double, std::less<>> values_;
};

/// What a workload's figure mostly measures, so a report can say which
/// ratios compare messaging and which do not.
enum class workload_kind {
  /// Bound by message passing, scheduling and actor creation: the figures
  /// the suite exists for (issue 9's ">= 3x the best peer" applies to these).
  message_bound,
  /// Bound by the arithmetic each actor does between messages (a list walk,
  /// logarithms, divisions, multiply-adds): the ratio compares compilers and
  /// languages more than actor runtimes.
  compute_bound,
  /// The work itself depends on timing, so a faster runtime can do more work
  /// per item and the spread between repetitions is large. No workload is
  /// now: the sleeping barber was, until its room decided on a virtual clock.
  timing_dependent,
};

/// "" for message-bound workloads, else "compute-bound" or
/// "timing-dependent": the note a report prints beside the ratio.
std::string_view kind_note(workload_kind kind);

/// One parameter of a workload: its value in each size set, and the values
/// a run may give it (an override, or a size set edited). The bound lives in
/// the row beside the sizes, so a parameter cannot be sized and left
/// unbounded, or bounded under a misspelt name. Every runtime is held to it:
/// volley and CAF through parameter_problem(), Erlang through the clauses
/// bench/peers/erlang/workload_list.cpp writes from these rows.
struct parameter_spec {
  std::string_view key;
  double reference;
  double savina;
  /// The least value that makes a run: one of everything counted, more
  /// where the workload pairs or picks another (two accounts for a transfer).
  double least;
  double most;
  /// A count: no fraction.
  bool whole;
  /// A rate, a seed, an interval's end: any number makes a run.
  bool any() const;
};

/// A count from `least` (default 1) to `most` (default: no limit).
parameter_spec count(std::string_view key, double reference, double savina, double least = 1,
                     double most = std::numeric_limits<double>::infinity());
/// A percentage: a whole number from 0 to 100.
parameter_spec percent(std::string_view key, double reference, double savina);
/// Any number: a rate, a seed, an interval's end.
parameter_spec any_number(std::string_view key, double reference, double savina);

/// One row of the table: a workload, its unit, and its parameters with
/// their two size sets.
struct workload_spec {
  workload_spec(std::string_view name, std::string_view unit, std::string_view summary,
                std::vector<parameter_spec> params,
                workload_kind kind = workload_kind::message_bound);

  std::string_view name;     ///< kebab-case, the `--workload` argument
  std::string_view unit;     ///< what `throughput` counts per second ("msg/s", "actors/s", ...)
  std::string_view summary;  ///< one line: what happens
  std::vector<parameter_spec> params;
  workload_kind kind;
  /// The size sets, as `params` gives them.
  parameters reference;
  parameters savina;

  const parameters& sizes(size_set s) const {
    return s == size_set::reference ? reference : savina;
  }
  /// The row of `key`, or nullptr.
  const parameter_spec* parameter(std::string_view key) const;
};

/// Every workload of the suite, in the order reports list them: the seven
/// micro workloads first, then concurrency, then parallelism, then latency.
const std::vector<workload_spec>& workload_specs();

/// The row named `name`, or nullptr.
const workload_spec* find_workload(std::string_view name);

/// Why `p` cannot make a run of `spec`, or std::nullopt: a value outside its
/// row's bound (one actor of a ring, two accounts of a bank, a percentage
/// over 100, a fraction of a count), or one of the rules that tie two
/// parameters together (a matrix that does not split into halves, a sorted
/// list's percentages over 100 together). Written once for every runtime:
/// workload_main() refuses such a run before it starts ("bad parameters",
/// status 1, not a wrong answer), and the runner refuses its --param
/// overrides at start. Erlang checks the same rows (generated into
/// savina_workloads.erl) and words its refusals the same way; the Erlang
/// twins of the two tying rules are in their workloads' modules.
std::optional<std::string> parameter_problem(const workload_spec& spec, const parameters& p);

}  // namespace volley::savina
