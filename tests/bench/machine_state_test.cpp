#include "machine_state.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace volley::bench;
using nlohmann::json;

namespace {

// A run probed at `clock_ns` on both CPUs before and after, with `samples`
// taken while it ran (the same on both CPUs; none when empty), the issue
// step 1.44 times the compute step throughout (no busy sibling).
json run(int repetition, double clock_ns, const std::vector<double>& samples) {
  const json probe = {{"round_trip_ns", 80.0},
                      {"mhz", 2600.0},
                      {"compute_ns", clock_ns},
                      {"compute_cpus_ns", {clock_ns, clock_ns}},
                      {"issue_ns", {1.44 * clock_ns, 1.44 * clock_ns}}};
  json r = {{"workload", "counting"},   {"runtime", "volley"}, {"workers", 2},
            {"repetition", repetition}, {"status", "ok"},      {"probe_before", probe},
            {"probe_after", probe}};
  if (!samples.empty()) {
    json issue = json::array();
    for (double ns : samples) issue.push_back(1.44 * ns);
    r["probe_during"] = {
        {"interval_s", 0.1}, {"compute_cpus_ns", {samples, samples}}, {"issue_ns", {issue, issue}}};
  }
  return r;
}

std::string state_of(const json& runs) {
  std::ostringstream md;
  machine_state(md, {{"probe_cpus", {0, 1}}, {"runs", runs}});
  return md.str();
}

}  // namespace

TEST_CASE("the machine-state line says the clock was read from samples taken during the runs") {
  const std::vector<double> full(6, 1.47), lower(6, 1.67);
  std::vector<double> split(3, 1.47);
  split.insert(split.end(), 3, 1.67);
  // The probes around every run read the full clock; the samples say one
  // run spent its time lower and one changed clock half-way.
  json runs = json::array({run(1, 1.47, full), run(2, 1.47, full), run(3, 1.47, full),
                           run(4, 1.47, lower), run(5, 1.47, split)});
  const auto text = state_of(runs);
  CHECK(text.find("1 run(s) saw a lower clock (a compute step above 1.05× the full clock, 1.47 "
                  "ns, on a CPU they kept busy, in most of the samples taken while they ran)") !=
        std::string::npos);
  CHECK(text.find("and 1 run(s) changed clock while they ran (over a quarter of their samples on "
                  "each side)") != std::string::npos);
  // No run read a busy sibling: the issue step kept 1.44x the clock.
  CHECK(text.find("SMT sibling") == std::string::npos);
  // Known-bad, the same runs without samples: the probes around them saw
  // the full clock every time, and the line has nothing to say of it.
  json unsampled = json::array();
  for (int rep = 1; rep <= 5; ++rep) unsampled.push_back(run(rep, 1.47, {}));
  CHECK(state_of(unsampled).find("lower clock") == std::string::npos);
}
