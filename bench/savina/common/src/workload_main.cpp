#include <volley/savina/workload_main.hpp>

#include <volley/savina/fault_injection.hpp>

#include <algorithm>
#include <cmath>
#include <exception>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include <unistd.h>

namespace volley::savina {

namespace {

// Counts print as integers, rates as doubles: the JSON reads like the table.
nlohmann::json params_json(const parameters& params) {
  auto out = nlohmann::json::object();
  for (const auto& [key, value] : params.values()) {
    if (value == std::floor(value) && std::fabs(value) < 9.0e15)
      out[key] = static_cast<std::int64_t>(value);
    else
      out[key] = value;
  }
  return out;
}

}  // namespace

nlohmann::json result_line(const workload_spec& spec, std::string_view runtime, int workers,
                           size_set sizes, const parameters& params, measurement& m) {
  nlohmann::json line = {
      {"workload", spec.name},
      {"runtime", runtime},
      {"workers", workers},
      {"sizes", to_string(sizes)},
      {"params", params_json(params)},
      {"elapsed_s", m.elapsed_s},
      {"messages", m.messages},
      {"throughput", m.elapsed_s > 0 ? static_cast<double>(m.items) / m.elapsed_s : 0.0},
      {"unit", spec.unit},
  };
  if (!m.latencies_ns.empty()) {
    auto s = summarise_latencies(m.latencies_ns);
    line["p50_ns"] = s.p50;
    line["p99_ns"] = s.p99;
    line["p999_ns"] = s.p999;
    line["max_ns"] = s.max;
    line["samples"] = s.count;
  }
  if (!m.details.empty()) {
    auto& details = line["details"];
    for (const auto& [name, value] : m.details) details[name] = value;
  }
  return line;
}

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

nlohmann::json figure_line(std::string_view bench, std::string_view impl, std::string_view figure,
                           double value, std::string_view unit) {
  return {{"bench", bench}, {"impl", impl}, {"figure", figure}, {"value", value}, {"unit", unit}};
}

int workload_main(
    int argc, char** argv, std::string_view runtime, const workload_registry& registry,
    const std::function<nlohmann::json(int workers)>& describe_config,
    const std::function<nlohmann::json(std::int64_t actors, int workers)>& idle_memory) {
  CLI::App app{std::string(runtime) +
               " Savina workloads: runs one workload once, prints one JSON line"};
  std::string workload;
  std::string sizes_text = "reference";
  int workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> overrides;
  bool list = false;
  std::int64_t idle_actors = 0;
  std::string fault_text = "none";
  double deadline_s = 0;
  app.add_option("--workload", workload, "workload name (see --list)");
  app.add_option("--sizes", sizes_text, "size set")->check(CLI::IsMember({"reference", "savina"}));
  app.add_option("--workers", workers, "worker threads of the runtime")->check(CLI::PositiveNumber);
  app.add_option("--param", overrides, "override a size parameter: key=value (repeatable)");
  app.add_flag("--list", list, "print the implemented workloads as a JSON array and exit");
  app.add_option("--idle-memory", idle_actors, "spawn N idle actors and print the memory figures")
      ->check(CLI::PositiveNumber);
  app.add_option("--inject-fault", fault_text,
                 "drop or duplicate one message; the run must then fail (exit 2)")
      ->check(CLI::IsMember({"none", "drop", "dup"}));
  app.add_option("--deadline", deadline_s,
                 "seconds after which a run without an answer is a wrong answer (exit 2)");
  CLI11_PARSE(app, argc, argv);

  // The shared list and the size table must agree: a runtime whose registry
  // names a workload without sizes is a build mistake, said at once.
  for (const auto& [name, fn] : registry) {
    if (find_workload(name) == nullptr) {
      std::cerr << runtime << ": workload '" << name
                << "' has no row in workload_specs() (parameters.cpp)\n";
      return 1;
    }
    if (!fn) {
      std::cerr << runtime << ": workload '" << name << "' is listed but has no implementation\n";
      return 1;
    }
  }
  if (idle_actors > 0) {
    if (!idle_memory) {
      std::cerr << runtime << " has no idle-memory measurement\n";
      return 1;
    }
    try {
      for (const auto& line : idle_memory(idle_actors, workers)) std::cout << line.dump() << "\n";
      std::cout << std::flush;
      return 0;
    } catch (const std::exception& e) {
      std::cerr << runtime << " idle memory: error: " << e.what() << std::endl;
      return 1;
    }
  }
  if (list) {
    auto names = nlohmann::json::array();
    for (const auto& spec : workload_specs())
      if (registry.count(spec.name) != 0) names.push_back(spec.name);
    std::cout << names.dump() << std::endl;
    return 0;
  }
  if (workload.empty()) {
    std::cerr << "--workload is required (or --list)\n";
    return 1;
  }
  const auto* spec = find_workload(workload);
  auto impl = registry.find(workload);
  if (spec == nullptr || impl == registry.end()) {
    std::cerr << runtime << " has no workload '" << workload << "' (see --list)\n";
    return 1;
  }
  auto sizes = *parse_size_set(sizes_text);
  auto params = spec->sizes(sizes);
  for (const auto& text : overrides) {
    if (!params.apply_override(text)) {
      std::cerr << "bad --param '" << text << "': expected key=number with a key of " << workload
                << " (" << params_json(params).dump() << ")\n";
      return 1;
    }
  }

  if (auto problem = parameter_problem(*spec, params)) {
    std::cerr << runtime << " " << workload << ": bad parameters: " << *problem << "\n";
    return 1;
  }

  fault injected = fault::none;
  parse_fault(fault_text, injected);
  inject_fault(injected);
  arm_deadline(deadline_s);
  try {
    auto m = impl->second(params, workers);
    auto line = result_line(*spec, runtime, workers, sizes, params, m);
    if (describe_config) line["config"] = describe_config(workers);
    std::cout << line.dump() << std::endl;
    return 0;
  } catch (const check_failed& e) {
    std::cerr << runtime << " " << workload << ": WRONG RESULT: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << runtime << " " << workload << ": error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace volley::savina
