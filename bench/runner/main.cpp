// volley-bench: runs the Savina workloads on volley, CAF and Erlang/OTP, writes
// results/<machine>/<time>.json, compares two result files, and renders the
// results report.
//
//   volley-bench run [--profile quick|full] [--only NAME]... [--workers N]
//                    [--repetitions N] [--sizes reference|savina]
//                    [--sweep-workers] [--results-dir DIR] [--timeout S]
//                    [--time-budget S]
//   volley-bench compare A.json B.json
//   volley-bench report [--results-dir DIR] [--readme README.md --from FILE
//                        [--sweep-from SWEEP_FILE]]
#include <iostream>
#include "commands.hpp"
#include "readme_block.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  using namespace volley::bench;
  CLI::App app{
      "volley-bench: the volley benchmark suite (Savina workloads on volley, CAF and Erlang/OTP)"};
  app.require_subcommand(1);

  run_options run;
  run.volley_binary = VOLLEY_BENCH_VOLLEY_SAVINA;
  run.caf_binary = VOLLEY_BENCH_CAF_SAVINA;
  run.erlang_binary = VOLLEY_BENCH_ERLANG_SAVINA;
  run.micro_dir = VOLLEY_BENCH_MICRO_DIR;
  run.remote_bench = VOLLEY_BENCH_REMOTE_DIR "/remote_bench";
  run.caf_remote_bench = VOLLEY_BENCH_REMOTE_DIR "/caf_remote_bench";
  bool full = false;
  auto* run_cmd = app.add_subcommand("run", "run the suite and write a result file");
  run_cmd
      ->add_option(
          "--profile", run.profile,
          "quick: reference sizes, 3 repetitions (7 with --sweep-workers); full: 7 repetitions "
          "and the micro benchmarks")
      ->check(CLI::IsMember({"quick", "full"}));
  run_cmd->add_flag("--full", full, "same as --profile full");
  run_cmd->add_option("--only", run.only, "run only this workload (repeatable)");
  run_cmd
      ->add_option("--workers", run.workers, "worker threads per runtime (default: one per core)")
      ->check(CLI::PositiveNumber);
  run_cmd
      ->add_option("--repetitions", run.repetitions,
                   "runs per workload and runtime (default: the profile's)")
      ->check(CLI::PositiveNumber);
  run_cmd->add_option("--sizes", run.sizes, "size set")
      ->check(CLI::IsMember({"reference", "savina"}));
  run_cmd->add_flag("--sweep-workers", run.sweep_workers, "run each workload at 1..N workers");
  run_cmd->add_option("--results-dir", run.results_dir, "where results/<machine>/<time>.json goes");
  run_cmd
      ->add_option("--timeout", run.timeout_s,
                   "seconds per run before it is killed (default: 60 quick, 300 full)")
      ->check(CLI::PositiveNumber);
  run_cmd
      ->add_option("--time-budget", run.time_budget_s,
                   "seconds the whole run may take: a run that would end past it is not started, "
                   "and the file says so (complete: false)")
      ->check(CLI::PositiveNumber);
  run_cmd
      ->add_option("--sample-interval", run.sample_interval_ms,
                   "milliseconds between the clock and issue-step samples taken on the workers' "
                   "CPUs while each run runs (0: none, only the probes before and after)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option(
      "--param", run.params,
      "key=value size override, passed to the workloads that have that parameter (repeatable)");
  run_cmd->add_option("--volley-binary", run.volley_binary, "volley workload binary")
      ->capture_default_str();
  run_cmd->add_option("--caf-binary", run.caf_binary, "CAF workload binary")->capture_default_str();
  run_cmd->add_option("--erlang-binary", run.erlang_binary, "Erlang/OTP workload program")
      ->capture_default_str();
  run_cmd
      ->add_option("--micro-dir", run.micro_dir,
                   "folder of Google Benchmark binaries (full profile)")
      ->capture_default_str();

  run_cmd->add_option("--remote-bench", run.remote_bench, "volley's remote benchmark (extras)")
      ->capture_default_str();
  run_cmd->add_option("--caf-remote-bench", run.caf_remote_bench, "CAF's remote benchmark (extras)")
      ->capture_default_str();
  auto* extras = run_cmd->add_flag("--extras", run.extras,
                                   "run the extras (remote benchmarks, idle memory) also after "
                                   "--only or --sweep-workers; a whole suite runs them anyway");
  run_cmd->add_flag("--no-extras", run.no_extras, "skip the extras after a whole suite")
      ->excludes(extras);
  run_cmd
      ->add_option("--remote-rounds", run.remote_rounds,
                   "runs of volley's remote benchmark (and the raw socket's) in the extras")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  run_cmd
      ->add_option("--caf-remote-rounds", run.caf_remote_rounds,
                   "runs of CAF's remote benchmark in the extras, alternating with volley's")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  std::string a, b;
  auto* compare_cmd = app.add_subcommand("compare", "per-workload ratios B/A of two result files");
  compare_cmd->add_option("A", a, "baseline result file")->required()->check(CLI::ExistingFile);
  compare_cmd->add_option("B", b, "result file compared with A")
      ->required()
      ->check(CLI::ExistingFile);

  std::string report_dir = "results";
  auto* report_cmd = app.add_subcommand(
      "report", "render <results-dir>/README.md and charts from all result files");
  report_cmd->add_option("--results-dir", report_dir, "folder with <machine>/<time>.json files");
  std::string readme, readme_from;
  report_cmd->add_option(
      "--readme", readme,
      "also write the figures of --from between the volley-bench markers of this file");
  report_cmd->add_option("--from", readme_from, "the result file the --readme figures come from")
      ->check(CLI::ExistingFile);
  std::string readme_sweep_from;
  report_cmd
      ->add_option("--sweep-from", readme_sweep_from,
                   "a worker-sweep result file whose scaling table --readme writes between the "
                   "volley-bench sweep markers")
      ->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);
  if (full) run.profile = "full";
  if (run_cmd->parsed()) return run_suite(run);
  if (compare_cmd->parsed()) return compare_results(a, b);
  if (report_cmd->parsed()) {
    if (!readme.empty() && readme_from.empty()) {
      std::cerr << "volley-bench report: --readme needs --from <result file> (one named, committed "
                   "file)\n";
      return 1;
    }
    if (readme.empty() && !readme_sweep_from.empty()) {
      std::cerr << "volley-bench report: --sweep-from needs --readme <file> and --from <result "
                   "file>\n";
      return 1;
    }
    int status = render_report(report_dir);
    if (status == 0 && !readme.empty())
      status = write_readme(readme, readme_from, readme_sweep_from);
    return status;
  }
  return 2;
}
