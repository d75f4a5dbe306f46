#pragma once
/// The shared `main` of a workload binary (`volley-savina`, `caf-savina`).
///
/// Each runtime registers its implementations by workload name and calls
/// `workload_main`. The command line is the same for every runtime:
///
///     <binary> --workload NAME [--sizes reference|savina] [--workers N]
///              [--param key=value]...
///     <binary> --list
///
/// A run executes the workload once and prints one JSON line on stdout:
/// `{"workload":..,"runtime":..,"workers":N,"sizes":..,"params":{..},
///   "elapsed_s":..,"messages":..,"throughput":..,"unit":..}`, plus
/// `p50_ns`/`p99_ns`/`p999_ns`/`max_ns` for latency workloads and `config`
/// when the runtime reports its configuration. Exit status: 0 ok, 1 usage or
/// runtime error, 2 wrong result (message on stderr).
///
///     <binary> --idle-memory N [--workers W]
///
/// spawns N idle actors and prints the runtime's figure lines (RSS growth
/// per actor, and what else the runtime can count), one JSON object each.

#include <volley/savina/measurement.hpp>
#include <volley/savina/parameters.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace volley::savina {

/// One workload implementation: runs once with `params` on `workers` threads.
using workload_fn = std::function<measurement(const parameters& params, int workers)>;

/// A runtime's implementations, by workload name (names from workload_specs()).
using workload_registry = std::map<std::string, workload_fn, std::less<>>;

/// Runs the command line above. `runtime` names the runtime in the JSON line
/// ("volley", "caf"); `describe_config`, when set, gives the runtime's
/// configuration for `workers` threads, recorded as "config".
int workload_main(
    int argc, char** argv, std::string_view runtime, const workload_registry& registry,
    const std::function<nlohmann::json(int workers)>& describe_config = {},
    const std::function<nlohmann::json(std::int64_t actors, int workers)>& idle_memory = {});

/// Resident set size of this process in bytes (/proc/self/statm); 0 if
/// unreadable. For the idle-actor memory figure, measured the same way on
/// every runtime.
std::int64_t resident_bytes();

/// One figure line as the runner keeps it (the remote benchmarks' format):
/// {"bench":bench,"impl":impl,"figure":figure,"value":value,"unit":unit}.
nlohmann::json figure_line(std::string_view bench, std::string_view impl, std::string_view figure,
                           double value, std::string_view unit);

/// The JSON line for one run (exposed for tests).
nlohmann::json result_line(const workload_spec& spec, std::string_view runtime, int workers,
                           size_set sizes, const parameters& params, measurement& m);

}  // namespace volley::savina
