#include "spread_cause.hpp"
#include "results_file.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace volley::bench;
using nlohmann::json;

namespace {

// One successful volley run of `workload`: `items` items in `elapsed_s`
// seconds using `cpu_s` CPU seconds, with the round trip `before`/`after`.
json run(int repetition, double items, double elapsed_s, double cpu_s, double before = 80,
         double after = 80, const std::string& workload = "ping-pong") {
  return {{"workload", workload},
          {"runtime", "volley"},
          {"workers", 2},
          {"repetition", repetition},
          {"status", "ok"},
          {"unit", "msg/s"},
          {"throughput", items / elapsed_s},
          {"elapsed_s", elapsed_s},
          {"cpu_s", cpu_s},
          {"probe_before", {{"round_trip_ns", before}, {"mhz", nullptr}}},
          {"probe_after", {{"round_trip_ns", after}, {"mhz", nullptr}}}};
}

json explain(const json& runs) {
  std::vector<const json*> pointers;
  for (const auto& r : runs) pointers.push_back(&r);
  return explain_spread(pointers, median_probe_ns(runs), quiet_issue_ns(runs));
}

bool says(const json& analysis, const std::string& text) {
  return analysis["cause"].get<std::string>().find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("a run whose probes before and after disagree on the mode is mixed") {
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3, 64, 337), 80.0) == "mixed");
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3, 320, 60), 80.0) == "mixed");
  // Either side of the fast/typical boundary (95 / 1.5 = 63 ns) but only
  // 15% apart: the probe's jitter, not a change of mode.
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3, 70, 61), 95.0) == "typical");
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3, 64, 90), 80.0) == "typical");
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3, 320, 330), 80.0) == "slow");
  CHECK(run_probe_mode(run(1, 1e7, 0.3, 0.3), std::nullopt) == "unprobed");
}

TEST_CASE("a run that changed probe mode counts in no mode's spread") {
  // The suite's concurrent dictionary, rep 1: 64 ns before, 337 ns after.
  json runs = json::array({run(1, 1e7, 0.5, 0.5, 64, 337), run(2, 1e7, 0.30, 0.30),
                           run(3, 1e7, 0.32, 0.32), run(4, 1e7, 0.31, 0.31)});
  auto a = explain(runs);
  CHECK(a["clean_mode"] == "typical");
  CHECK(a["clean_spread"].get<double>() == Approx(0.32 / 0.30));
  CHECK(says(a, "set-apart runs explain it"));
  CHECK(says(a, "rep 1: probe mode changed while it ran (64 ns before, 337 ns after)"));
}

TEST_CASE("a run that shared the machine with other processes is set apart") {
  json busy = run(2, 1e7, 0.9, 0.3);  // a third of the time on a CPU: preempted
  busy["others_busy"] = 0.6;
  json quiet = run(3, 1e7, 0.31, 0.31);
  quiet["others_busy"] = 0.03;  // tick noise on a quiet machine: not a disturbance
  json runs = json::array({run(1, 1e7, 0.30, 0.30), busy, quiet});
  CHECK(disturbance(busy) == "others kept 60% of the CPUs busy");
  CHECK(disturbance(quiet).empty());
  auto a = explain(runs);
  CHECK(says(a, "set-apart runs explain it (typical mode 1.03): rep 2: others kept 60%"));
  json stolen = run(4, 1e7, 0.3, 0.3);
  stolen["steal"] = 0.2;
  CHECK(disturbance(stolen) == "steal 20%");
}

// `r` with issue probes: one figure per probe CPU, before and after.
json with_issue(json r, std::vector<double> before, std::vector<double> after) {
  r["probe_before"]["issue_ns"] = before;
  r["probe_after"]["issue_ns"] = after;
  return r;
}

// `r` as thread ring runs: all its CPU time on worker `busy`.
json on_worker(json r, int busy) {
  const double cpu = r["cpu_s"].get<double>();
  r["thread_cpu_s"] = {{"volley-w" + std::to_string(busy), 0.97 * cpu},
                       {"volley-w" + std::to_string(1 - busy), 0.02 * cpu},
                       {"volley-savina", 0.01 * cpu}};
  return r;
}

TEST_CASE("a run beside a busy host sibling on its worker's CPU is set apart") {
  // This VM's thread ring: 22-25 ns of CPU per hop with the issue probe at
  // 2.62 ns; 34 ns with the busy worker's CPU reading 4.4 ns after the run.
  json runs = json::array(
      {with_issue(on_worker(run(1, 1.5e7, 0.34, 0.34), 1), {2.62, 2.63}, {2.64, 2.62}),
       with_issue(on_worker(run(2, 1.5e7, 0.36, 0.36), 0), {2.65, 2.62}, {2.62, 2.66}),
       with_issue(on_worker(run(3, 1.5e7, 0.51, 0.51), 1), {2.62, 2.70}, {2.62, 4.40})});
  CHECK(quiet_issue_ns(runs) == Approx(2.62));
  CHECK(run_issue_ns(runs[2]) == Approx(4.40));
  CHECK(host_contention(runs[2], 2.62) ==
        "the host's SMT sibling was busy (issue step 4.40 ns, quiet 2.62 ns)");
  auto a = explain(runs);
  CHECK(a["clean_spread"].get<double>() == Approx(0.36 / 0.34));
  CHECK(says(a,
             "set-apart runs explain it (typical mode 1.06): rep 3: the host's SMT sibling "
             "was busy (issue step 4.40 ns, quiet 2.62 ns)"));
  // Within the probe's quiet jitter (2.62-2.73 ns measured): not set apart.
  CHECK(host_contention(with_issue(runs[0], {2.62, 2.62}, {2.62, 2.80}), 2.62).empty());
}

TEST_CASE("a busy sibling on a CPU the run left idle does not set it apart") {
  // Worker 1 did the work; the burst was on worker 0's CPU.
  json idle_side = with_issue(on_worker(run(3, 1.5e7, 0.51, 0.51), 1), {4.9, 2.62}, {2.62, 2.62});
  CHECK(run_issue_ns(idle_side) == Approx(2.62));
  CHECK(host_contention(idle_side, 2.62).empty());
  // Without thread samples every probed CPU counts.
  json unsampled = idle_side;
  unsampled.erase("thread_cpu_s");
  CHECK(run_issue_ns(unsampled) == Approx(4.9));
  // Both workers busy (a balanced pair): both CPUs count.
  json pair = idle_side;
  pair["thread_cpu_s"] = {{"volley-w0", 0.25}, {"volley-w1", 0.25}};
  CHECK(run_issue_ns(pair) == Approx(4.9));
  // Four workers, the busy one past the two probed CPUs: nothing to judge.
  json third = idle_side;
  third["thread_cpu_s"] = {{"volley-w0", 0.01}, {"volley-w1", 0.01}, {"volley-w2", 0.49}};
  CHECK_FALSE(run_issue_ns(third));
  CHECK(host_contention(third, 2.62).empty());
  auto a = explain(
      json::array({with_issue(on_worker(run(1, 1.5e7, 0.34, 0.34), 1), {2.62, 2.62}, {2.62, 2.62}),
                   idle_side}));
  CHECK(says(a, "probe does not explain it; rep 3 against rep 1"));
}

TEST_CASE("a file without issue probes judges no run by them") {
  json old = on_worker(run(1, 1.5e7, 0.51, 0.51), 1);
  CHECK_FALSE(run_issue_ns(old));
  CHECK_FALSE(quiet_issue_ns(json::array({old})));
  CHECK(host_contention(old, std::nullopt).empty());
  CHECK(host_contention(old, 2.62).empty());
}

TEST_CASE("a spread at the same parallelism is put on the CPU time per item") {
  // The suite's ping-pong: rep 3 spent 1.5x the CPU per message, one CPU busy.
  json runs =
      json::array({run(1, 1e7, 0.30, 0.31), run(2, 1e7, 0.24, 0.25), run(3, 1e7, 0.36, 0.375)});
  auto a = explain(runs);
  CHECK(a["cost_ratio"].get<double>() == Approx(1.5));
  CHECK(a["parallelism_ratio"].get<double>() == Approx(1.0));
  CHECK(says(a,
             "probe does not explain it; rep 3 against rep 2 (typical mode 1.50): 1.50x the "
             "CPU time per item"));
  CHECK(says(a, "slower CPUs or more work per item"));
  // A compute-bound workload does the same arithmetic per item: the host.
  json trapezoid = json::array({run(1, 1e7, 0.38, 0.76, 80, 80, "trapezoid"),
                                run(2, 1e7, 0.36, 0.72, 80, 80, "trapezoid"),
                                run(3, 1e7, 0.63, 1.26, 80, 80, "trapezoid")});
  CHECK(says(explain(trapezoid), "the CPUs ran slower (the same arithmetic per item: the host)"));
}

TEST_CASE("the slowest and fastest runs' placement over their threads is named") {
  json slow = run(1, 1e7, 0.36, 0.375), fast = run(2, 1e7, 0.24, 0.25);
  slow["thread_cpu_s"] = {{"volley-w0", 0.02}, {"volley-w1", 0.35}, {"volley-savina", 0.005}};
  fast["thread_cpu_s"] = {{"volley-w0", 0.125}, {"volley-w1", 0.125}};
  auto a = explain(json::array({slow, fast}));
  CHECK(says(a, "; busiest thread 93% of the CPU time in rep 1, 50% in rep 2"));
}

TEST_CASE("a spread at the same CPU time per item is put on waiting") {
  // Same CPU per item; the slow run had half as many CPUs busy.
  json runs = json::array({run(1, 1e7, 0.30, 0.60), run(2, 1e7, 0.60, 0.60)});
  auto a = explain(runs);
  CHECK(a["parallelism_ratio"].get<double>() == Approx(2.0));
  CHECK(says(a, "rep 2 against rep 1 (typical mode 2.00): 2.00x fewer CPUs busy"));
  CHECK(says(a, "it waited"));
}

TEST_CASE("a bimodal spread is put on the probe modes only when every mode is narrow") {
  json narrow = json::array({run(1, 1e7, 0.30, 0.30), run(2, 1e7, 0.31, 0.31),
                             run(3, 1e7, 1.2, 1.2, 320, 320), run(4, 1e7, 1.25, 1.25, 315, 325),
                             run(5, 1e7, 0.30, 0.30)});
  CHECK(says(explain(narrow), "probe modes explain it"));
  json wide = narrow;
  wide.push_back(run(6, 1e7, 2.0, 2.0, 318, 318));  // the slow mode is now 1.67 wide
  auto a = explain(wide);
  CHECK(a["clean_mode"] == "slow");
  CHECK(says(a, "probe does not explain it; rep 6 against rep 3 (slow mode 1.67)"));
}

TEST_CASE("one comparable run is too few to judge") {
  json runs = json::array({run(1, 1e7, 0.5, 0.5, 64, 337), run(2, 1e7, 0.3, 0.3)});
  CHECK(says(explain(runs), "too few comparable runs to judge: rep 1: probe mode changed"));
}

TEST_CASE("a cause names at most three set-apart runs") {
  json runs = json::array();
  for (int rep = 1; rep <= 5; ++rep) {
    auto r = run(rep, 1e7, 0.3 * rep, 0.3);
    r["others_busy"] = 0.5;
    runs.push_back(r);
  }
  auto a = explain(runs);
  CHECK(a["set_apart"].size() == 5);
  CHECK(says(a, "rep 3: others kept 50% of the CPUs busy; and 2 more"));
  CHECK_FALSE(says(a, "rep 4:"));
}

TEST_CASE("a timed window under the issue's 0.25 s is named") {
  json runs = json::array({run(1, 1e7, 0.10, 0.10), run(2, 1e7, 0.15, 0.15)});
  auto a = explain(runs);
  CHECK(a["shortest_window_s"].get<double>() == Approx(0.10));
  CHECK(says(a, "shortest timed window 0.10 s, under 0.25 s"));
  json long_runs = json::array({run(1, 1e7, 0.30, 0.30), run(2, 1e7, 0.45, 0.45)});
  CHECK_FALSE(explain(long_runs).contains("shortest_window_s"));
}

TEST_CASE("a summary row's probe note carries the cause of a wide spread") {
  json runs =
      json::array({run(1, 1e7, 0.30, 0.31), run(2, 1e7, 0.24, 0.25), run(3, 1e7, 0.36, 0.375)});
  auto row = summarise_runs(runs)[0];
  CHECK(row["volley"]["spread_cause"]["cost_ratio"].get<double>() == Approx(1.5));
  CHECK(probe_note(row).find("volley spread 1.50: probe does not explain it; rep 3 against") !=
        std::string::npos);
  // A narrow spread has no cause to give.
  json narrow = json::array({run(1, 1e7, 0.30, 0.30), run(2, 1e7, 0.32, 0.32)});
  CHECK_FALSE(summarise_runs(narrow)[0]["volley"].contains("spread_cause"));
}
