#pragma once
// The result file's shape, and the summaries the run, compare and report
// commands share.
//
// A result file (results/<machine_id>/<stamp>.json) holds:
//   schema_version, created_utc, complete, planned_runs, stopped (only
//   when cut short: "time budget", "SIGINT", "SIGTERM"), machine{...},
//   build{...}, run{profile, sizes, repetitions, workers, sweep_workers,
//   timeout_s, time_budget_s, params},
//   runtimes{ name: path, available, config (version, flags, warm-up and
//   GC settings as the runtime reports them) }, <name>_config, probe_cpus,
//   runs[ one object per child run: workload,
//   runtime, workers, repetition, status ok|failed|timeout, and for ok runs
//   the workload's JSON line (elapsed_s, messages, throughput, unit, params,
//   latency percentiles), and for every run probe_before/probe_after
//   {round_trip_ns, mhz, compute_ns}, steal, machine_busy, others_busy,
//   user_s, sys_s, cpu_s, voluntary_switches, involuntary_switches,
//   thread_cpu_s{thread name: seconds}, items_per_cpu_s ],
//   summary[ per workload and worker count: the runtimes' medians and
//   spreads and the volley/best-peer ratios ], extras{ per program (remote
//   benchmarks, idle-actor memory): path, status, rounds_planned, rounds[
//   status, wall_s, user_s, sys_s, figures[{bench, impl, figure, value,
//   unit}] ] (extra_rounds.hpp) },
//   micro_benchmarks[ Google Benchmark JSON files beside it ] (full profile).
//
// The runner rewrites the file after every run (write_results_atomically),
// so a run cut short by a kill, a signal or a time budget leaves a partial
// file: "complete": false, every run that finished and nothing of the one
// in progress. Files before schema 3 have no "complete" and are complete.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// Bumped when a field changes meaning; readers skip newer files.
/// 2: every runtime (volley, caf, erlang) in one summary row, best_peer,
/// worst_ratio, probes and CPU time per run.
/// 3: complete, planned_runs, stopped; the file is rewritten after each run.
/// 4: each extras entry holds rounds[] (every run of its program) instead
/// of one run's figures[].
inline constexpr int results_schema_version = 4;

/// The runtimes a result file may hold, volley first; the others are peers.
const std::vector<std::string>& runtime_names();

/// A run whose probe is more than this factor above (or below) the median
/// probe of its file is in another probe mode ("slow", "fast"; else
/// "typical"). On the project's VM the two modes are 80 ns and 315 ns,
/// a factor of 4; 1.5 keeps ordinary jitter (about +-20%) in one mode.
inline constexpr double probe_mode_factor = 1.5;

/// A spread (max/min of repetitions) up to this is narrow: the issue's
/// target for one probe mode.
inline constexpr double narrow_spread = 1.3;

/// "slow", "fast" or "typical", as above.
std::string probe_mode(double probe_ns, double median_probe_ns);

/// A run's probe: the larger of its before and after round trips (a mode
/// change during the run counts against it); std::nullopt without one.
std::optional<double> run_probe_ns(const nlohmann::json& run);

/// Median over `runs` of each run's probe (the larger of its before and
/// after round trips); std::nullopt when no run has one.
std::optional<double> median_probe_ns(const nlohmann::json& runs);

/// "3.10x (worst 2.50x)", with " (noise)" when within noise; "-" without a
/// ratio. `ascii` writes x for ×.
std::string ratio_text(const nlohmann::json& summary_row, bool ascii);

/// Per runtime with a wide spread: whether the probe modes explain it.
std::string probe_note(const nlohmann::json& summary_row);

/// Whether a runtime's summary (summarise_runs) has a successful run.
bool has_figures(const nlohmann::json& runtime_summary);

/// A runtime summary's median ("3.07 M"), or why there is none ("failed",
/// "timeout", "WRONG"); "-" for a runtime that did not run.
std::string median_text(const nlohmann::json& runtime_summary);

/// Now, as "2024-05-01T12:30:00Z".
std::string utc_timestamp();

/// A timestamp as a file name stem ("2024-05-01T12-30-00Z": no colons).
std::string file_stamp(const std::string& utc);

/// Per workload and worker count (first-seen order): for each runtime of
/// runtime_names() (null if it did not run) the summary of its successful
/// runs' throughput (count, median, min, max, q1, q3, failed, wrong_answer,
/// timeout; per_cpu_s: items per CPU-second; latency medians where present;
/// spread, probe_modes, probe_explains_spread and, for a spread above
/// narrow_spread, spread_cause: spread_cause.hpp), the best peer (highest
/// median), the ratio volley/best peer of medians, the worst-case ratio
/// (volley's min / the best peer's max), and whether the difference is
/// within noise.
nlohmann::json summarise_runs(const nlohmann::json& runs);

/// A result file's summary as this build's analysis gives it: computed again
/// from its runs for schema 2 and later (so that a file written before an
/// analysis existed, or changed, reads as the report's other tables do);
/// the stored one otherwise.
nlohmann::json current_summary(const nlohmann::json& data);

/// The end-of-run table: workload, workers, per runtime the median, range
/// and items per CPU-second, the ratios against the best peer, probe notes.
std::string summary_table(const nlohmann::json& summary);

/// Whether a result file holds every planned run (files before schema 3 do).
bool is_complete(const nlohmann::json& data);

/// "partial: 69 of 207 runs" (with ", stopped by time budget" when the file
/// says why) for a partial file; "" for a complete one.
std::string partial_text(const nlohmann::json& data);

/// For a partial file's summary row: "2 of 3 repetitions" when some
/// runtime in it ran fewer than the file's planned repetitions; else "".
std::string repetitions_text(const nlohmann::json& summary_row, const nlohmann::json& data);

/// Writes `data` to `path` so that a reader (or a crash at any instant)
/// sees the old file or the new one, never a mix: it writes <path>.tmp,
/// fsyncs it, renames it over `path` and fsyncs the folder. Throws
/// std::system_error on failure.
void write_results_atomically(const std::string& path, const nlohmann::json& data);

/// Reads a result file; throws std::runtime_error with the path on failure.
nlohmann::json load_results(const std::string& path);

}  // namespace volley::bench
