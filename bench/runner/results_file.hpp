#pragma once
// The result file's shape, and the summaries the run, compare and report
// commands share.
//
// A result file (results/<machine_id>/<stamp>.json) holds:
//   schema_version, created_utc, machine{...}, build{...}, run{profile,
//   sizes, repetitions, workers, sweep_workers, timeout_s, params},
//   volley_config, caf_config, runs[ one object per child run: workload,
//   runtime, workers, repetition, status ok|failed|timeout, and for ok runs
//   the workload's JSON line (elapsed_s, messages, throughput, unit, params,
//   latency percentiles) ], summary[ per workload and worker count: the
//   runtimes' medians and spreads and the volley/CAF ratio ],
//   micro_benchmarks[ Google Benchmark JSON files beside it ] (full profile).

#include <string>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// Bumped when a field changes meaning; readers skip newer files.
inline constexpr int results_schema_version = 1;

/// Now, as "2024-05-01T12:30:00Z".
std::string utc_timestamp();

/// A timestamp as a file name stem ("2024-05-01T12-30-00Z": no colons).
std::string file_stamp(const std::string& utc);

/// Per workload and worker count (first-seen order): for each runtime the
/// summary of its successful runs' throughput (count, median, min, max, q1,
/// q3, failed, timeout; latency medians where present), the ratio
/// volley/CAF of medians, and whether that difference is within noise.
nlohmann::json summarise_runs(const nlohmann::json& runs);

/// The end-of-run table: workload, workers, volley median and spread, CAF
/// median and spread, ratio.
std::string summary_table(const nlohmann::json& summary);

/// Reads a result file; throws std::runtime_error with the path on failure.
nlohmann::json load_results(const std::string& path);

}  // namespace volley::bench
