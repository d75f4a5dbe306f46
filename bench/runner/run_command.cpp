// `volley-bench run`: runs every workload on every runtime as child
// processes, shows progress, prints a table and writes the result file.
//
// Order: repetition by repetition (every workload and worker count once,
// then again), and within one repetition of a workload the runtimes
// (volley, then each peer that is present) back to back, so that slow
// drift of the machine (thermal, other tenants) hits every runtime alike
// instead of one of them, and a run cut short has every workload it
// reached on every runtime. A workload's repetitions are spread over the
// whole run, so one bad minute of the machine costs each workload at most
// one repetition.
//
// Every run gets every parameter of its workload on the command line
// (`--param k=v` for each key of the size set, overrides applied): a peer
// such as the Erlang twins has no copy of the size table and must not
// guess. Around every run the runner probes the machine (machine_probe.hpp)
// and records the child's CPU time from wait4.
//
// A run that is cut short still leaves its figures: the result file is
// rewritten (atomically) after every finished run with "complete": false,
// and gets "complete": true only after the last one (and the extras). A
// SIGKILL leaves the file of the last finished run; SIGINT/SIGTERM kill the
// workload in progress, write what finished ("stopped": "SIGTERM") and exit
// 128 + the signal; --time-budget does not start a run that would end past
// the budget ("stopped": "time budget"). The order above makes such a
// file useful: a suite stopped half-way has every workload's first
// repetitions on every runtime, not half the workloads.
#include "commands.hpp"

#include "child_process.hpp"
#include "environment.hpp"
#include "machine_probe.hpp"
#include "results_file.hpp"
#include "scaling.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <unistd.h>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct runtime_binary {
  std::string name;  // "volley", "caf", "erlang"
  std::string path;
  std::set<std::string, std::less<>> workloads;
};

struct planned_run {
  std::string workload;
  const runtime_binary* runtime;
  int workers;
  int repetition;  // 1-based
};

struct profile_defaults {
  int repetitions;
  double timeout_s;
  bool micro;
};

// quick: three repetitions are the fewest that give a median and a spread;
// the whole quick run stays under 5 minutes on 2 cores. 60 s is about six
// times the slowest quick run (CAF fork-join creation, ~9 s on 2 cores).
// full: seven repetitions make the median robust to two outliers.
// A worker sweep (quick profile) also runs seven: its scaling is judged
// from pairs of back-to-back runs within one probe mode (scaling.hpp), and
// on the project's VM, whose probe flips between two modes over minutes,
// three repetitions often left fewer than three pairs in either mode. A
// volley-only sweep on 2 workers took ~30 s per repetition (1.5 min for
// three), so seven stay under 4 minutes; with CAF and Erlang it is longer,
// and --repetitions still sets it.
profile_defaults defaults_for(const std::string& profile, bool sweep) {
  if (profile == "full") return {7, 300, true};
  return {sweep ? 7 : 3, 60, false};
}

// Asks a workload binary which workloads it implements (`--list`).
std::optional<runtime_binary> probe(const std::string& name, const std::string& path) {
  if (path.empty() || access(path.c_str(), X_OK) != 0) return std::nullopt;
  auto r = run_child({path, "--list"}, std::chrono::seconds(30));
  if (r.exit_code != 0) {
    std::cerr << "volley-bench: " << path << " --list failed: " << tail_lines(r.err, 5) << "\n";
    return std::nullopt;
  }
  runtime_binary b{name, path, {}};
  for (const auto& w : json::parse(r.out)) b.workloads.insert(w.get<std::string>());
  return b;
}

std::string clock_text(double seconds) {
  auto s = static_cast<long>(std::lround(seconds));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%ld:%02ld", s / 60, s % 60);
  return buffer;
}

// Time left, from what the runs so far took: the same workload, runtime
// and worker count if seen, else the same workload and runtime, else the
// mean of every run so far.
class progress_estimate {
 public:
  void record(const planned_run& r, double seconds) {
    exact_[key(r, true)].add(seconds);
    loose_[key(r, false)].add(seconds);
    all_.add(seconds);
  }
  std::optional<double> remaining(const std::vector<planned_run>& plan, std::size_t next) const {
    if (all_.n == 0) return std::nullopt;
    double total = 0;
    for (auto i = next; i < plan.size(); ++i) {
      if (auto it = exact_.find(key(plan[i], true)); it != exact_.end())
        total += it->second.mean();
      else if (auto it2 = loose_.find(key(plan[i], false)); it2 != loose_.end())
        total += it2->second.mean();
      else
        total += all_.mean();
    }
    return total;
  }

 private:
  struct mean_of {
    double sum = 0;
    int n = 0;
    void add(double v) { sum += v, ++n; }
    double mean() const { return sum / n; }
  };
  static std::string key(const planned_run& r, bool with_workers) {
    // Appended: `"/" + std::to_string(...)` made g++ 12 at -O3 warn
    // -Wrestrict inside std::string (a false positive, GCC bug 105329).
    std::string k = r.workload;
    k += '/';
    k += r.runtime->name;
    if (with_workers) {
      k += '/';
      k += std::to_string(r.workers);
    }
    return k;
  }
  std::map<std::string, mean_of> exact_, loose_;
  mean_of all_;
};

std::string_view param_key(std::string_view key_equals_value) {
  return key_equals_value.substr(0, key_equals_value.find('='));
}

// The workload's size set with the overrides applied. An override goes
// only to the workloads that have that parameter.
savina::parameters sized_params(const savina::workload_spec& spec, const run_options& options) {
  auto params = spec.sizes(*savina::parse_size_set(options.sizes));
  for (const auto& p : options.params)
    if (params.contains(param_key(p))) params.apply_override(p);
  return params;
}

// Every parameter of the workload's size set, overrides applied, as
// `--param k=v` arguments; integers print without a fraction.
std::vector<std::string> explicit_params(const std::string& workload, const run_options& options) {
  const auto params = sized_params(*savina::find_workload(workload), options);
  std::vector<std::string> argv;
  for (const auto& [key, value] : params.values()) {
    char buffer[64];
    if (value == std::floor(value) && std::fabs(value) < 9.0e15)
      std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(value));
    else
      std::snprintf(buffer, sizeof buffer, "%.17g", value);
    argv.push_back("--param");
    argv.push_back(key + "=" + buffer);
  }
  return argv;
}

json execute(const planned_run& run, const run_options& options, double timeout_s,
             const std::vector<int>& cpus) {
  std::vector<std::string> argv = {
      run.runtime->path,          "--workload", run.workload, "--sizes", options.sizes, "--workers",
      std::to_string(run.workers)};
  auto params = explicit_params(run.workload, options);
  argv.insert(argv.end(), params.begin(), params.end());
  json record = {{"workload", run.workload},
                 {"runtime", run.runtime->name},
                 {"workers", run.workers},
                 {"repetition", run.repetition}};
  record["probe_before"] = probe_now(cpus);
  auto ticks_before = read_cpu_ticks();
  child_result r;
  std::optional<run_sampler> sampler;
  if (options.sample_interval_ms > 0)
    sampler.emplace(cpus, std::chrono::milliseconds(options.sample_interval_ms));
  try {
    r = run_child(argv, std::chrono::duration<double>(timeout_s), true);
    if (sampler) record["probe_during"] = sampler->finish();
  } catch (const std::exception& e) {
    record["status"] = "failed";
    record["stderr_tail"] = e.what();
    return record;
  }
  const auto ticks_after = read_cpu_ticks();
  if (auto steal = steal_fraction(ticks_before, ticks_after)) record["steal"] = *steal;
  record["probe_after"] = probe_now(cpus);
  record["wall_s"] = r.wall_s;
  record["user_s"] = r.user_s;
  record["sys_s"] = r.sys_s;
  record["cpu_s"] = r.user_s + r.sys_s;
  record["max_rss_kib"] = r.max_rss_kib;
  record["voluntary_switches"] = r.voluntary_switches;
  record["involuntary_switches"] = r.involuntary_switches;
  if (!r.thread_cpu_s.empty()) record["thread_cpu_s"] = r.thread_cpu_s;
  // What else ran on the machine meanwhile: its busy share less the
  // child's own (cpu_s over wall_s on every CPU). Ticks are 10 ms, so on a
  // 0.3 s run over 2 CPUs this is good to a few percent, and clamped at 0.
  if (auto busy = busy_fraction(ticks_before, ticks_after); busy && r.wall_s > 0) {
    record["machine_busy"] = *busy;
    const double cpus_online = std::max(1u, std::thread::hardware_concurrency());
    const double own = (r.user_s + r.sys_s) / (r.wall_s * cpus_online);
    record["others_busy"] = std::max(0.0, *busy - own);
  }
  if (r.interrupted) {
    record["interrupted"] = true;
    return record;
  }
  if (r.timed_out) {
    record["status"] = "timeout";
    record["timeout_s"] = timeout_s;
    return record;
  }
  if (r.exit_code != 0) {
    record["status"] = "failed";
    record["exit_code"] = r.exit_code;
    if (r.signal != 0) record["signal"] = r.signal;
    record["stderr_tail"] = tail_lines(r.err, 20);
    return record;
  }
  try {
    // The last line is the result; a runtime may log above it.
    auto line = tail_lines(r.out, 1);
    auto figures = json::parse(line);
    for (auto& [key, value] : figures.items())
      if (!record.contains(key)) record[key] = value;
    record["status"] = "ok";
    // CPU cost: the items of the timed window per CPU-second of the whole
    // process (start-up and shutdown included, so a lower bound on
    // efficiency; the same for every runtime).
    double items = record.value("throughput", 0.0) * record.value("elapsed_s", 0.0);
    if (record["cpu_s"].get<double>() > 0)
      record["items_per_cpu_s"] = items / record["cpu_s"].get<double>();
  } catch (const std::exception& e) {
    record["status"] = "failed";
    record["exit_code"] = 0;
    record["stderr_tail"] =
        std::string("unreadable result line: ") + e.what() + "\n" + tail_lines(r.out, 3);
  }
  return record;
}

std::string outcome_text(const json& record) {
  auto status = record.at("status").get<std::string>();
  if (status == "ok")
    return si(record.at("throughput").get<double>()) + " " + record.at("unit").get<std::string>() +
           " (" + std::to_string(record.at("elapsed_s").get<double>()).substr(0, 5) + " s)";
  if (status == "timeout")
    return "TIMEOUT after " + clock_text(record.at("timeout_s").get<double>());
  if (status == "skipped") return "skipped: " + record.at("reason").get<std::string>();
  std::string text = record.value("exit_code", 0) == 2 ? "WRONG ANSWER" : "FAILED";
  if (record.contains("exit_code"))
    text += " (exit " + std::to_string(record["exit_code"].get<int>()) + ")";
  if (record.contains("signal"))
    text += " (signal " + std::to_string(record["signal"].get<int>()) + ")";
  return text + ": " + tail_lines(record.value("stderr_tail", ""), 1);
}

// Ten minutes per binary: Google Benchmark sizes its own iterations; a
// suite of a few dozen benchmarks takes a minute or two.
constexpr double micro_benchmark_limit_s = 600;

// Five minutes per run of an extra program: the child is killed past it,
// so it is also the time budget's estimate of a program's first round.
constexpr double extra_limit_s = 300;

// Runs every Google Benchmark binary in `micro_dir`, each writing its own
// JSON beside the result file; returns the file names written.
json run_micro_benchmarks(const std::string& micro_dir, const fs::path& dir,
                          const std::string& stem) {
  json files = json::array();
  std::error_code ec;
  if (micro_dir.empty() || !fs::is_directory(micro_dir, ec)) {
    std::cerr << "volley-bench: no micro benchmarks built (" << micro_dir << ")\n";
    return files;
  }
  std::vector<fs::path> binaries;
  for (const auto& entry : fs::directory_iterator(micro_dir, ec))
    if (entry.is_regular_file() && access(entry.path().c_str(), X_OK) == 0)
      binaries.push_back(entry.path());
  std::sort(binaries.begin(), binaries.end());
  for (const auto& binary : binaries) {
    auto name = stem + "." + binary.filename().string() + ".json";
    std::cerr << "volley-bench: micro " << binary.filename().string() << " -> " << name << "\n";
    auto r = run_child({binary.string(), "--benchmark_out=" + (dir / name).string(),
                        "--benchmark_out_format=json"},
                       std::chrono::duration<double>(micro_benchmark_limit_s));
    if (r.timed_out || r.exit_code != 0) {
      std::cerr << "volley-bench: micro " << binary.filename().string()
                << " failed: " << tail_lines(r.err, 5) << "\n";
      continue;
    }
    files.push_back(name);
  }
  return files;
}

// Runs a figure-printing benchmark program (the remote benchmarks, idle
// memory) once and keeps the JSON lines it prints ({"bench":..,"impl":..,
// "figure":..,"value":..,"unit":..}), so that the README's remote figures
// come from a result file: one round of its extras entry.
json run_extra_round(const std::vector<std::string>& argv) {
  auto r = run_child(argv, std::chrono::duration<double>(extra_limit_s));
  json out = {{"status", r.timed_out        ? "timeout"
                         : r.exit_code == 0 ? "ok"
                                            : "failed"},
              {"wall_s", r.wall_s},
              {"user_s", r.user_s},
              {"sys_s", r.sys_s},
              {"figures", json::array()}};
  if (r.interrupted) out["interrupted"] = true;
  std::size_t pos = 0;
  while (pos < r.out.size()) {
    auto end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    auto line = r.out.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() != '{') continue;
    try {
      out["figures"].push_back(json::parse(line));
    } catch (const std::exception&) {
      // a log line that happens to start with a brace; not a figure
    }
  }
  if (out["status"] != "ok") out["stderr_tail"] = tail_lines(r.err, 10);
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The time budget's estimate of a run: the slowest earlier repetition of
// the same workload on the same runtime (any worker count: the slowest is
// the safe guess). The slowest, not the mean: stopping one run early costs
// a repetition, overrunning the budget can cost the whole file's last runs
// on a machine that is taken away at the limit.
class longest_run {
 public:
  void record(const planned_run& r, double seconds) {
    auto& longest = longest_[r.workload + "/" + r.runtime->name];
    longest = std::max(longest, seconds);
  }
  std::optional<double> of(const planned_run& r) const {
    auto it = longest_.find(r.workload + "/" + r.runtime->name);
    if (it == longest_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, double> longest_;
};

// Whether a phase after the runs (at most `limit_s` long) fits the budget;
// says so when it does not.
bool fits_budget(const run_options& options, std::chrono::steady_clock::time_point started,
                 const char* phase, double limit_s) {
  if (options.time_budget_s <= 0 || seconds_since(started) + limit_s <= options.time_budget_s)
    return true;
  std::cerr << "volley-bench: time budget: skipping " << phase << " (up to " << clock_text(limit_s)
            << ")\n";
  return false;
}

// One program of the extras: its entry's name in the result file, its
// command line and how many rounds it runs.
struct extra_program {
  std::string name;  ///< "remote (volley)", "idle memory (CAF)", ...
  std::vector<std::string> argv;
  int rounds;
};

// Idle memory's rounds. volley's 1 M idle actors take about 2 s, so three
// rounds cost little; on the 2-core VM three runs gave 128.02-128.17 B of
// RSS per idle actor, 192.02-192.57 B with 16 B of state, and 39.5-45.9 B
// kept after the actors stopped: the last is worth a range. CAF's take
// about 15 s, and its figures are the same kind of RSS count: once.
constexpr int volley_idle_rounds = 3;
constexpr int caf_idle_rounds = 1;

// Runs the extras round-robin: round 1 of every program, then round 2 of
// every program that has one, and so on, so that volley's and CAF's remote
// rounds alternate as the workloads' repetitions do and drift of the
// machine hits both. A round starts only if it fits the time budget: the
// program's longest round so far, or extra_limit_s (its kill limit) before
// its first. Each entry keeps every round (extra_rounds.hpp reads them);
// a program whose round fails runs no further round (its entry's status
// says how the round ended), and a round cut by SIGINT or SIGTERM is left
// out, as a cut workload run is.
json run_extras(const std::vector<extra_program>& programs, const run_options& options,
                std::chrono::steady_clock::time_point started) {
  json extras = json::object();
  std::vector<double> longest(programs.size(), 0);
  int most_rounds = 0;
  for (const auto& p : programs) {
    const auto& path = p.argv.front();
    json entry = {{"path", path}, {"rounds_planned", p.rounds}, {"rounds", json::array()}};
    if (path.empty() || access(path.c_str(), X_OK) != 0) {
      std::cerr << "volley-bench: " << p.name << " not built (" << path << "): skipped\n";
      entry["status"] = "not built";
    }
    extras[p.name] = entry;
    most_rounds = std::max(most_rounds, p.rounds);
  }
  for (int round = 1; round <= most_rounds && interrupt_signal() == 0; ++round) {
    for (std::size_t i = 0; i < programs.size() && interrupt_signal() == 0; ++i) {
      const auto& p = programs[i];
      auto& entry = extras[p.name];
      if (round > p.rounds || entry.contains("status")) continue;
      const std::string what = p.name + " round " + std::to_string(round);
      if (!fits_budget(options, started, what.c_str(), round == 1 ? extra_limit_s : longest[i])) {
        entry["stopped"] = "time budget";
        entry["status"] = round == 1 ? "skipped" : "ok";
        continue;
      }
      std::cerr << "volley-bench: " << what << "/" << p.rounds << "\n";
      auto r = run_extra_round(p.argv);
      if (r.value("interrupted", false)) break;  // not a whole round: left out
      longest[i] = std::max(longest[i], r.value("wall_s", 0.0));
      if (r["status"] != "ok") entry["status"] = r["status"];
      entry["rounds"].push_back(std::move(r));
    }
  }
  for (auto& [name, entry] : extras.items()) {
    if (interrupt_signal() != 0 && !entry.contains("status")) entry["stopped"] = "interrupted";
    if (!entry.contains("status")) entry["status"] = "ok";
  }
  return extras;
}

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

// While alive, SIGINT and SIGTERM ask run_child to kill the workload in
// progress (request_interrupt) instead of killing the runner, so that the
// runner can write the runs it has and exit 128 + the signal. No
// SA_RESTART: the signal interrupts run_child's poll at once.
class interrupt_guard {
 public:
  interrupt_guard() {
    struct sigaction action {};
    action.sa_handler = [](int signal) { request_interrupt(signal); };
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < 2; ++i) sigaction(signals_[i], &action, &previous_[i]);
  }
  ~interrupt_guard() {
    for (int i = 0; i < 2; ++i) sigaction(signals_[i], &previous_[i], nullptr);
  }
  interrupt_guard(const interrupt_guard&) = delete;
  interrupt_guard& operator=(const interrupt_guard&) = delete;

 private:
  static constexpr int signals_[2] = {SIGINT, SIGTERM};
  struct sigaction previous_[2]{};
};

// The runtimes' own configuration, as their first successful run at the
// run's worker count reported it.
void add_runtime_configs(json& result, const std::vector<runtime_binary>& runtimes,
                         json& runtime_info, int workers) {
  for (const auto& rt : runtimes) {
    json config = {{"workers", workers}};
    for (const auto& r : result["runs"])
      if (r["runtime"] == rt.name && r["status"] == "ok" && r.contains("config") &&
          r["workers"] == workers) {
        config = r["config"];
        break;
      }
    result[rt.name + "_config"] = config;
    runtime_info[rt.name]["config"] = config;
  }
  result["runtimes"] = runtime_info;
}

// One million: the figure the README quotes, and large enough that RSS
// page rounding is below 0.01 byte per actor.
constexpr std::int64_t idle_memory_actors = 1'000'000;

}  // namespace

bool runs_extras(const run_options& options) {
  if (options.no_extras) return false;
  return options.extras || (options.only.empty() && !options.sweep_workers);
}

int run_suite(const run_options& options) {
  // The time budget counts from here: probing the runtimes (Erlang starts
  // a VM for --list) is part of what the machine's limit sees.
  const auto started = std::chrono::steady_clock::now();
  auto defaults = defaults_for(options.profile, options.sweep_workers);
  const int repetitions = options.repetitions > 0 ? options.repetitions : defaults.repetitions;
  const double timeout_s = options.timeout_s > 0 ? options.timeout_s : defaults.timeout_s;
  const int workers = options.workers > 0 ? options.workers : default_workers();
  if (!savina::parse_size_set(options.sizes)) {
    std::cerr << "volley-bench: --sizes must be reference or savina\n";
    return 1;
  }

  // Every runtime is optional: a machine without CAF or Erlang runs what
  // it has, says so here, and records it in the result file.
  std::vector<runtime_binary> runtimes;
  json runtime_info = json::object();
  for (auto [name, path] : {std::pair<std::string, std::string>{"volley", options.volley_binary},
                            {"caf", options.caf_binary},
                            {"erlang", options.erlang_binary}}) {
    runtime_info[name] = {{"path", path}, {"available", false}};
    if (auto b = probe(name, path)) {
      runtime_info[name]["available"] = true;
      runtime_info[name]["workloads"] = b->workloads;
      runtimes.push_back(std::move(*b));
    } else {
      std::cerr << "volley-bench: no " << name << " workloads ("
                << (path.empty() ? "not built" : path) << "): its column stays empty\n";
    }
  }
  if (runtimes.empty()) {
    std::cerr << "volley-bench: no workload binary found; build the bench targets first\n";
    return 1;
  }

  // What to run: workloads in the table's order, filtered by --only.
  for (const auto& name : options.only) {
    if (savina::find_workload(name) == nullptr) {
      std::cerr << "volley-bench: unknown workload '" << name << "'; known:";
      for (const auto& s : savina::workload_specs()) std::cerr << " " << s.name;
      std::cerr << "\n";
      return 1;
    }
  }
  const auto selected = [&](const savina::workload_spec& spec) {
    return options.only.empty() ||
           std::find(options.only.begin(), options.only.end(), spec.name) != options.only.end();
  };
  for (const auto& p : options.params) {
    bool used = false;
    for (const auto& spec : savina::workload_specs())
      used = used || (selected(spec) && spec.reference.contains(param_key(p)));
    if (!used) {
      std::cerr << "volley-bench: --param " << p << ": no selected workload has that parameter\n";
      return 1;
    }
  }
  // Every selected workload's sizes, overrides applied, are checked now,
  // not by a child process minutes into the run.
  for (const auto& spec : savina::workload_specs()) {
    if (!selected(spec)) continue;
    if (auto problem = savina::parameter_problem(spec, sized_params(spec, options))) {
      std::cerr << "volley-bench: bad parameters: " << *problem << "\n";
      return 1;
    }
  }
  std::vector<int> worker_counts;
  if (options.sweep_workers)
    for (int w = 1; w <= workers; ++w) worker_counts.push_back(w);
  else
    worker_counts.push_back(workers);
  std::vector<planned_run> plan;
  for (int rep = 1; rep <= repetitions; ++rep)
    for (const auto& spec : savina::workload_specs()) {
      std::string name(spec.name);
      if (!options.only.empty() &&
          std::find(options.only.begin(), options.only.end(), name) == options.only.end())
        continue;
      for (int w : worker_counts)
        for (const auto& rt : runtimes)
          if (rt.workloads.count(name) != 0) plan.push_back({name, &rt, w, rep});
    }
  if (plan.empty()) {
    std::cerr << "volley-bench: nothing to run (no runtime implements the selected workloads)\n";
    return 1;
  }

  auto machine = describe_machine();
  auto build = describe_build();
  if (build["build_type"] != "Release" && build["build_type"] != "RelWithDebInfo")
    std::cerr << "volley-bench: warning: workloads built as '"
              << build["build_type"].get<std::string>() << "': figures are not representative\n";
  std::cerr << "volley-bench: " << plan.size() << " runs (" << options.profile << " profile, "
            << options.sizes << " sizes, " << repetitions << " repetitions, " << workers
            << " workers" << (options.sweep_workers ? ", swept from 1" : "") << ", timeout "
            << timeout_s << " s) on " << machine["cpu_model"].get<std::string>() << "\n";

  const auto cpus = probe_cpus(workers);
  if (cpus.size() >= 2) {
    std::cerr << "volley-bench: probing the cache-line round trip between CPUs " << cpus[0]
              << " and " << cpus[1] << " around every run\n";
  } else {
    std::cerr << "volley-bench: one CPU to probe (" << cpus[0]
              << "): no cache-line round trip, no probe modes\n";
  }
  auto created_utc = utc_timestamp();
  fs::path dir = fs::path(options.results_dir) / machine["machine_id"].get<std::string>();
  fs::create_directories(dir);
  const auto stem = file_stamp(created_utc);
  const auto path = (dir / (stem + ".json")).string();
  json run_settings = {{"profile", options.profile},
                       {"sizes", options.sizes},
                       {"repetitions", repetitions},
                       {"workers", workers},
                       {"sweep_workers", options.sweep_workers},
                       {"timeout_s", timeout_s},
                       {"params", options.params}};
  if (options.time_budget_s > 0) run_settings["time_budget_s"] = options.time_budget_s;
  json result = {
      {"schema_version", results_schema_version},
      {"created_utc", created_utc},
      {"complete", false},
      {"planned_runs", plan.size()},
      {"machine", machine},
      {"build", build},
      {"run", run_settings},
      {"probe_cpus", cpus},
      {"runs", json::array()},
  };
  json& runs = result["runs"];
  // Written after every run: a kill at any instant leaves the previous
  // whole file (write_results_atomically), so a cut-short suite keeps
  // every run that finished.
  auto save = [&] {
    add_runtime_configs(result, runtimes, runtime_info, workers);
    result["summary"] = summarise_runs(runs);
    write_results_atomically(path, result);
  };

  interrupt_guard guard;
  progress_estimate estimate;
  longest_run longest;
  bool volley_failed = false, wrong_answer = false;
  // A workload that timed out on a runtime at a worker count is not run
  // there again: its later repetitions would each spend the whole timeout
  // to say the same (CAF's sleeping barber took 5 of a 5-repetition
  // suite's 30 minutes on the Xeon VM, 2026-12-03T13-34-43Z).
  std::map<std::string, int> timed_out_in;
  auto row_key = [](const planned_run& r) {
    return r.workload + "/" + r.runtime->name + "/" + std::to_string(r.workers);
  };
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& run = plan[i];
    if (auto first = timed_out_in.find(row_key(run)); first != timed_out_in.end()) {
      json record = {{"workload", run.workload},
                     {"runtime", run.runtime->name},
                     {"workers", run.workers},
                     {"repetition", run.repetition},
                     {"status", "skipped"},
                     {"reason", "rep " + std::to_string(first->second) + " timed out after " +
                                    clock_text(timeout_s) + "; not run again"}};
      std::fprintf(stderr, "[%3zu/%zu] %-22s %-6s workers %-2d rep %d/%d | %s\n", i + 1,
                   plan.size(), run.workload.c_str(), run.runtime->name.c_str(), run.workers,
                   run.repetition, repetitions, outcome_text(record).c_str());
      runs.push_back(std::move(record));
      save();
      continue;
    }
    const double elapsed = seconds_since(started);
    const double expected = longest.of(run).value_or(timeout_s);
    if (options.time_budget_s > 0 && elapsed + expected > options.time_budget_s) {
      result["stopped"] = "time budget";
      std::fprintf(stderr,
                   "volley-bench: time budget: %s elapsed + ~%s for %s on %s would pass %s; "
                   "stopping after %zu of %zu runs\n",
                   clock_text(elapsed).c_str(), clock_text(expected).c_str(), run.workload.c_str(),
                   run.runtime->name.c_str(), clock_text(options.time_budget_s).c_str(), i,
                   plan.size());
      break;
    }
    auto left = estimate.remaining(plan, i);
    std::fprintf(stderr, "[%3zu/%zu] %-22s %-6s workers %-2d rep %d/%d | %s elapsed, %s left | ",
                 i + 1, plan.size(), run.workload.c_str(), run.runtime->name.c_str(), run.workers,
                 run.repetition, repetitions, clock_text(elapsed).c_str(),
                 left ? ("~" + clock_text(*left)).c_str() : "?");
    std::fflush(stderr);
    auto record = execute(run, options, timeout_s, cpus);
    if (record.value("interrupted", false)) {
      // Not a whole run: it stays out of the file.
      result["stopped"] = signal_name(interrupt_signal());
      std::fprintf(stderr, "interrupted\n");
      break;
    }
    estimate.record(run, record.value("wall_s", 0.0));
    longest.record(run, record.value("wall_s", 0.0));
    std::fprintf(stderr, "%s\n", outcome_text(record).c_str());
    if (record["status"] == "timeout") timed_out_in.emplace(row_key(run), run.repetition);
    if (run.runtime->name == "volley" && record["status"] != "ok") volley_failed = true;
    // A wrong answer fails the run whichever runtime gave it: a peer's
    // figure is only worth comparing with if its answer is right.
    if (record["status"] == "failed" && record.value("exit_code", 0) == 2) wrong_answer = true;
    runs.push_back(std::move(record));
    save();
  }

  if (!result.contains("stopped")) {
    const bool every_workload = options.only.empty();
    if (defaults.micro && every_workload) {
      if (fits_budget(options, started, "the micro benchmarks", micro_benchmark_limit_s))
        result["micro_benchmarks"] = run_micro_benchmarks(options.micro_dir, dir, stem);
    }
    if (runs_extras(options)) {
      // Idle-actor memory: 1 M idle actors on each C++ runtime, the same
      // measurement (RSS growth; volley adds jemalloc's count).
      const auto idle = std::to_string(idle_memory_actors);
      result["extras"] = run_extras(
          {{"remote (volley)", {options.remote_bench, "--actor-sender"}, options.remote_rounds},
           {"remote (CAF)", {options.caf_remote_bench}, options.caf_remote_rounds},
           {"idle memory (volley)",
            {options.volley_binary, "--idle-memory", idle, "--workers", std::to_string(workers)},
            volley_idle_rounds},
           {"idle memory (CAF)",
            {options.caf_binary, "--idle-memory", idle, "--workers", std::to_string(workers)},
            caf_idle_rounds}},
          options, started);
    }
    if (interrupt_signal() != 0)
      result["stopped"] = signal_name(interrupt_signal());
    else
      result["complete"] = true;
  }
  if (!runs.empty()) save();

  const bool cut_short = result.contains("stopped");
  std::cout << "\n";
  if (cut_short) std::cout << partial_text(result) << "\n";
  std::cout << summary_table(result["summary"]) << "\n";
  if (options.sweep_workers) std::cout << scaling_table(result["summary"], result["runs"]) << "\n";
  if (runs.empty())
    std::cerr << "volley-bench: no run finished; no result file written\n";
  else
    std::cerr << "volley-bench: wrote " << path
              << (cut_short ? " (" + partial_text(result) + ")" : "") << " in "
              << clock_text(seconds_since(started)) << "\n";
  if (interrupt_signal() != 0) return 128 + interrupt_signal();
  if (wrong_answer) {
    std::cerr
        << "volley-bench: some runs computed a WRONG ANSWER (exit 2; see above and \"runs\")\n";
    return 2;
  }
  if (volley_failed) {
    std::cerr
        << "volley-bench: some volley runs failed (see above and \"runs\" in the result file)\n";
    return 1;
  }
  return 0;
}

}  // namespace volley::bench
