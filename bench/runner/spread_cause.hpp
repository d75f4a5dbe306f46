#pragma once
// Why one runtime's repetitions of a workload differ: what the result file
// recorded that accounts for a spread (max/min) above narrow_spread.
//
// The probes (machine_probe.hpp) are taken before and after a run, so they
// say nothing about what happened in between, and a VM has more ways to
// slow a run than the cache-line round trip. Measured on the project's
// 2-vCPU VM (2026-11-30), against the suite's unexplained spreads:
//   - other processes: while someone else builds, a run gets the CPUs part
//     of the time. Trapezoid went from 55 M to 18 M pieces/s with its CPU
//     time per piece unchanged (36-38 ns); the runner now records the
//     machine's busy share less the run's own (others_busy).
//   - a probe mode that changed during the run (before 64 ns, after 337 ns):
//     such a run belongs to neither mode ("mixed").
//   - neither: at the same parallelism, the slow repetition spent more CPU
//     time per item. Ping-pong at 1 worker (no placement to differ; the
//     pair always runs on one worker at 2) spent 23-32 ns of CPU per message
//     on a quiet machine, with the compute probe unchanged; the suite's
//     trapezoid spent 1.74x the CPU per piece in one repetition. No probe
//     sees this; the decomposition below at least says which it was.
//
// A run's throughput is its items per second; with its CPU time it splits
// exactly into two factors:
//   throughput = (cpu_s / elapsed_s) / (cpu_s / items)
//              =  parallelism        /  cost per item
// so the spread between the fastest and the slowest run is the product of
// a parallelism ratio (the slow run had fewer CPUs busy: it waited, was
// preempted, or workers parked) and a cost ratio (each item took more CPU
// time: slower CPUs, or more work per item). cpu_s covers the whole
// process, start-up included: the same bias for every repetition.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// A run during which other processes kept more than this share of the
/// machine's CPUs busy is set apart. On a quiet machine the measured share
/// is 0.00-0.07 (ticks are 10 ms); one other compiler on 2 CPUs is 0.5.
inline constexpr double others_busy_limit = 0.1;

/// A run with more steal than this is set apart (none of the suite's runs
/// on the project's VM had more than 2.4%).
inline constexpr double steal_limit = 0.05;

/// The smallest timed window: below it, start-up and scheduling
/// noise are a large share of the figure.
inline constexpr double min_window_s = 0.25;

/// "mixed" when the probes before and after the run fall in different
/// modes and differ by more than probe_mode_factor (the mode changed while
/// it ran, not a probe's jitter across a boundary); else probe_mode() of the larger
/// of the two; "unprobed" without a probe or a median.
std::string run_probe_mode(const nlohmann::json& run, std::optional<double> median_probe_ns);

/// Why a run does not count towards its mode's spread, "" if it does:
/// "others kept 45% of the CPUs busy", "steal 6%".
std::string disturbance(const nlohmann::json& run);

/// For the successful runs of one runtime in one summary row, with
/// spread = max/min of their throughput: {"cause": text, and where known
/// "set_apart" (texts: mixed-mode and disturbed runs), "clean_spread" and
/// "clean_mode" (the widest spread within one probe mode among the runs
/// not set apart, and that mode), "cost_ratio" and "parallelism_ratio"
/// (of that mode's slowest run against its fastest), "shortest_window_s"
/// (when under min_window_s)}; with thread samples (thread_cpu_s) the
/// cause also gives the busiest thread's share of each of the two runs.
/// The cause names what the file recorded that
/// accounts for the spread, or says that nothing does.
nlohmann::json explain_spread(const std::vector<const nlohmann::json*>& runs,
                              std::optional<double> median_probe_ns);

}  // namespace volley::bench
