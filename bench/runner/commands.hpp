#pragma once
// The runner's three commands: run the suite, compare two result files,
// render the report. main.cpp maps the command line onto these.

#include "machine_probe.hpp"

#include <string>
#include <vector>

namespace volley::bench {

struct run_options {
  std::string profile = "quick";    ///< quick | full
  std::vector<std::string> only;    ///< workloads to run; empty = all
  int workers = 0;                  ///< 0 = one per core (the engine's default)
  int repetitions = 0;              ///< 0 = the profile's
  std::string sizes = "reference";  ///< reference | savina
  bool sweep_workers = false;       ///< each workload at 1..workers
  std::string results_dir = "results";
  double timeout_s = 0;             ///< per run; 0 = the profile's
  std::vector<std::string> params;  ///< key=value, passed to the workloads with that key
  std::string volley_binary;        ///< empty = the one built beside the runner
  std::string caf_binary;
  std::string erlang_binary;
  std::string micro_dir;
  std::string remote_bench;  ///< volley's remote benchmark (full profile, or extras)
  std::string caf_remote_bench;
  /// The extras (remote benchmarks, idle memory: the figures README.md's
  /// tables show) run after a whole suite unless `no_extras`; `extras`
  /// runs them also after `--only` or a sweep. runs_extras() decides.
  bool extras = false;
  bool no_extras = false;
  /// Rounds of the extras' remote benchmarks: volley's (with the raw
  /// socket's figures of the same process) and CAF's, alternating.
  int remote_rounds = 5;
  int caf_remote_rounds = 3;
  /// Milliseconds between the samples of the clock and issue step taken
  /// while each run runs (machine_probe.hpp's run_sampler); 0 = none.
  int sample_interval_ms = static_cast<int>(run_sampler::default_interval.count());
  /// Seconds the whole run may take; 0 = no limit. A run that would end
  /// past it is not started (run_command.cpp says how it is estimated).
  double time_budget_s = 0;
};

/// Whether a run with these options runs the extras: `--no-extras` never,
/// `--extras` always, else after every workload of a suite that is not a
/// worker sweep (a sweep's figures are volley's scaling, not these).
bool runs_extras(const run_options& options);

/// Runs the suite, rewriting the result file after every run; returns the
/// process exit status: 128 + the signal if SIGINT or SIGTERM cut it short,
/// 2 if any runtime's run computed a wrong answer, 1 if a volley run failed
/// otherwise, else 0 (a time budget that stopped it early is not a failure).
int run_suite(const run_options& options);

/// Prints per-workload ratios B/A; returns the exit status.
int compare_results(const std::string& a_path, const std::string& b_path);

/// Renders <results_dir>/README.md and <results_dir>/charts/ from every
/// <results_dir>/*/*.json; returns the exit status.
int render_report(const std::string& results_dir);

}  // namespace volley::bench
