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
//   - the host's SMT sibling: another guest's thread on the physical core
//     under the vCPU a worker ran on. The suite's thread ring (one worker
//     running a serial chain of sends) spent 1.44x the CPU per hop in one
//     repetition with the compute probe unchanged; neither the address
//     space layout (ASLR on or off: the same 24.0 ns median per hop) nor
//     the worker's CPU made it. The issue probe (machine_probe.hpp) reads
//     1.1-2x its quiet figure in bursts of a second or less, on one vCPU
//     at a time. Over 100 thread rings through the runner (2026-11-30,
//     loads 1.2-3.9), by the busy worker's CPU time per hop against the
//     median (22.9 ns) and whether the probe on that worker's CPU read a
//     burst before or after:
//
//       | CPU per hop    | runs | flagged |
//       |----------------|-----:|--------:|
//       | under 1.1x     |   86 |     22  |
//       | 1.1x - 1.2x    |    7 |      3  |
//       | 1.2x and above |    7 |      6  |
//
//     The probes bracket the run: a burst inside it can go unseen, and
//     one that ended as the run began still counts (a quarter of the
//     ordinary runs), so the report names such runs rather than drop them.
//     Fibonacci (both workers busy) spends about 1.6x the CPU per actor
//     with the round trip at ~330 ns as at ~80 ns; a run whose vCPUs moved
//     apart and back between its two probes would read 1.0-1.6x with both
//     probes fast, which nothing here can see.
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
#include <string_view>
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

/// A run whose issue figure (run_issue_figure), before or after it, on a
/// CPU it kept busy was more than this factor over its file's quiet figure
/// (quiet_issue_figure) is set apart: a busy SMT sibling on the host. On the
/// project's VM a quiet core read 2.62-2.73 ns (4% apart), a shared one
/// 2.87-5.2 ns, with the compute step unchanged.
inline constexpr double issue_contention_factor = 1.10;

/// A run whose compute step (machine_probe.hpp) on a CPU it kept busy was
/// more than this factor above its file's full clock (full_clock_ns) ran at
/// a lower clock: a probe mode of its own (run_probe_mode). On the Xeon VM of
/// 2026-12-03 the compute step sat at five levels, 1.47, 1.50, 1.58, 1.63
/// and 1.67 ns, and the issue step moved with it (issue over compute step
/// 1.44 in nearly every probe of three files): the host changed the vCPU's
/// clock, no sibling took its issue slots. The two quickest levels are 2.5%
/// apart, the next is 5.2% above them (a fourth suite's probes added a
/// rarer 1.43 ns). Message-bound workloads moved by
/// more than the clock did (volley's concurrent dictionary 9.1 M msg/s at
/// 1.67 ns, 15.0 M at 1.47 ns): a host busy enough to lower the clock also
/// shares its caches and memory, so a lower clock marks a state of the
/// machine, not a factor to divide out.
inline constexpr double clock_drop_factor = 1.05;

/// A run whose in-run samples (machine_probe.hpp's run_sampler) put more
/// than this share of them in a state the rest were not in, was not in one
/// state: more than a quarter at a lower clock and more than a quarter at
/// the full one makes it mixed (when the clock moved by clock_drop_factor),
/// and more than a quarter beside a busy SMT sibling sets it apart in the
/// stricter reading. A quarter of a run in a state 14% slower (the Xeon
/// VM's clocks 1.47 and 1.67 ns) moves its throughput by about 3.5%, well
/// inside narrow_spread; a half would make it neither state's.
inline constexpr double other_state_share = 0.25;

/// What run_probe_mode adds to the round trip's mode for a lower clock:
/// "typical at a lower clock".
inline constexpr std::string_view lower_clock_suffix = " at a lower clock";

/// Whether `mode` (run_probe_mode's) is at a lower clock.
inline bool at_lower_clock(std::string_view mode) {
  return mode.find(lower_clock_suffix) != std::string_view::npos;
}

/// A worker thread with at least this share of a run's sampled CPU time
/// kept its CPU busy (thread ring's idle worker: 1-3%; a balanced pair: 50%).
inline constexpr double busy_thread_share = 0.25;

/// The issue's smallest timed window: below it, start-up and scheduling
/// noise are a large share of the figure.
inline constexpr double min_window_s = 0.25;

/// "mixed" when the probes before and after the run fall in different
/// modes and differ by more than probe_mode_factor (the mode changed while
/// it ran, not a probe's jitter across a boundary); else probe_mode() of the larger
/// of the two; "unprobed" without a probe or a median. With the file's
/// full clock (full_clock_ns) the clock is part of the mode: a compute
/// step more than clock_drop_factor over it is a lower clock. From the
/// run's in-run samples on the CPUs it kept busy, where it has them: " at
/// a lower clock" is added ("typical at a lower clock") when more than half
/// of them were at a lower clock, and the run is "mixed" when more than
/// other_state_share of them were on each side of the line and its
/// slowest sample was more than the factor over its quickest. Without
/// samples (files before 2026-12-03T13:30Z), from the probes before and
/// after: a lower clock when the slower of the two (run_clock_ns) was, and
/// mixed when the clock crossed the line between them by more than the
/// factor.
std::string run_probe_mode(const nlohmann::json& run, std::optional<double> median_probe_ns,
                           std::optional<double> full_clock = std::nullopt);

/// The slowest clock a run saw: the largest compute step of its probes,
/// before or after, on the CPUs it kept busy (as run_issue_ns chooses
/// them); a probe without a compute step per CPU (files before 2026-12-03)
/// gives its first CPU's for every CPU. std::nullopt without one.
std::optional<double> run_clock_ns(const nlohmann::json& run);

/// The low_quantile_of_probes of the compute steps among `runs` (a result
/// file's array; any CPU, before or after): the file's full clock.
/// std::nullopt without any.
std::optional<double> full_clock_ns(const nlohmann::json& runs);

/// Why a run does not count towards its mode's spread, "" if it does:
/// "others kept 45% of the CPUs busy", "steal 6%".
std::string disturbance(const nlohmann::json& run);

/// The largest issue probe, before or after the run, on the CPUs it kept
/// busy: those of its volley workers ("volley-w<N>", on probe CPU N) with
/// at least busy_thread_share of its threads' CPU time, or every probed CPU
/// when its threads do not say (a peer's, or no samples). std::nullopt
/// without issue probes (files written before they existed) or when only
/// workers past the two probed CPUs were busy (nothing probed their CPUs).
std::optional<double> run_issue_ns(const nlohmann::json& run);

/// The smallest issue probe among `runs` (a result file's array; any CPU,
/// before or after). std::nullopt without any.
std::optional<double> quiet_issue_ns(const nlohmann::json& runs);

/// A probe's issue step on one CPU over the compute step it took on that
/// CPU just before (the issue time per unit of the clock's chain): a busy
/// SMT sibling raises it, a lower clock raises both steps alike and leaves
/// it. The raw issue step for a probe without a compute step. The largest
/// on the CPUs the run kept busy (as run_issue_ns); std::nullopt without
/// issue probes there.
std::optional<double> run_issue_figure(const nlohmann::json& run);

/// Which of a file's probe figures stands for the quiet core and the full
/// clock: the 5th percentile, not the least. A compute step and an issue
/// step taken a moment apart can straddle a change of clock: in the Xeon
/// VM's suite 2026-12-03T08:36:57Z the least of 1,380 issue figures was
/// 1.23, the 5th percentile 1.37 and the median 1.44; against the least
/// all 345 runs read as beside a busy sibling, against the 5th percentile
/// 27. Of the first CPU's figures (its own compute step), the 5th
/// percentile sat within 1% of the median on every machine whose sibling
/// was mostly idle (1.42-1.61) and well below it where it was mostly busy
/// (1.61 against 2.3 on the Zen 3 VM). Of the compute steps, a level the host gave for seconds only
/// (1.43 ns in 4% of a suite's probes, against 1.47 ns in half) would put
/// the next common level (1.505 ns) on the line between full and lower.
inline constexpr double low_quantile_of_probes = 0.05;

/// The low_quantile_of_probes of the issue figures among `runs` (any CPU,
/// before or after): the core's with its SMT sibling idle. std::nullopt
/// without any.
std::optional<double> quiet_issue_figure(const nlohmann::json& runs);

/// For a run with in-run samples on the CPUs it kept busy: "the host's SMT
/// sibling was busy in 4 of 10 samples while it ran (issue step up to 3.90
/// ns, 2.40x the compute step; quiet 1.44x)" when more than
/// other_state_share of those samples' issue figures were above
/// issue_contention_factor times `quiet_figure` (quiet_issue_figure), else
/// "" (a burst in one sample of five is not the run's state). Without
/// samples, from the probes before and after: "the host's SMT sibling was
/// busy (issue step 3.90 ns, 2.40x the compute step; quiet 1.44x)", or for
/// probes without a compute step "... (issue step 4.40 ns, quiet 2.62
/// ns)", when run_issue_figure is above the factor times `quiet_figure`.
std::string host_contention(const nlohmann::json& run, std::optional<double> quiet_figure);

/// For the successful runs of one runtime in one summary row, with
/// spread = max/min of their throughput: {"cause": text, and where known
/// "set_apart" (texts: mixed-mode, disturbed and host-contended runs), "clean_spread" and
/// "clean_mode" (the widest spread within one probe mode among the runs
/// not set apart, and that mode), "cost_ratio" and "parallelism_ratio"
/// (of that mode's slowest run against its fastest), "shortest_window_s"
/// (when under min_window_s)}; with thread samples (thread_cpu_s) the
/// cause also gives the busiest thread's share of each of the two runs.
/// The cause names what the file recorded that
/// accounts for the spread, or says that nothing does.
nlohmann::json explain_spread(const std::vector<const nlohmann::json*>& runs,
                              std::optional<double> median_probe_ns,
                              std::optional<double> quiet_issue,
                              std::optional<double> full_clock = std::nullopt);

}  // namespace volley::bench
