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
  return explain_spread(pointers, median_probe_ns(runs), quiet_issue_figure(runs),
                        full_clock_ns(runs));
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

// `r` with compute steps (the clock) per probe CPU, before and after.
json with_clock(json r, std::vector<double> before, std::vector<double> after) {
  r["probe_before"]["compute_cpus_ns"] = before;
  r["probe_before"]["compute_ns"] = before.at(0);
  r["probe_after"]["compute_cpus_ns"] = after;
  r["probe_after"]["compute_ns"] = after.at(0);
  return r;
}

// `r` probed at one clock on both CPUs, issue step 1.44 times it (the Xeon
// VM's ratio with the SMT sibling idle).
json at_clock(json r, double compute_ns) {
  const double issue = 1.44 * compute_ns;
  return with_issue(with_clock(std::move(r), {compute_ns, compute_ns}, {compute_ns, compute_ns}),
                    {issue, issue}, {issue, issue});
}

// The spread analysis of `mixed` (rep 1) beside two runs at the full clock,
// 0.30 and 0.31 s for the same items.
json beside_two_at_full_clock(const json& mixed) {
  return explain(json::array(
      {mixed, at_clock(run(2, 1e7, 0.30, 0.30), 1.47), at_clock(run(3, 1e7, 0.31, 0.31), 1.47)}));
}

TEST_CASE("a lower clock is a probe mode of its own") {
  // The Xeon VM's concurrent dictionary on volley (2026-12-03): 9.1 and
  // 10.7 M msg/s with the compute step at 1.67 and 1.58 ns, 13.0 and 15.0 M
  // at 1.47 ns, the round trip typical throughout: 1.65 apart in one
  // round-trip mode, each clock narrow.
  json runs = json::array(
      {at_clock(run(1, 9.1e6, 1.0, 1.0), 1.67), at_clock(run(2, 10.7e6, 1.0, 1.0), 1.58),
       at_clock(run(3, 13.0e6, 1.0, 1.0), 1.47), at_clock(run(4, 15.0e6, 1.0, 1.0), 1.47)});
  CHECK(full_clock_ns(runs) == Approx(1.47));
  CHECK(run_clock_ns(runs[0]) == Approx(1.67));
  CHECK(run_probe_mode(runs[0], 80.0, 1.47) == "typical at a lower clock");
  CHECK(run_probe_mode(runs[2], 80.0, 1.47) == "typical");
  // Without the clock (the reading before it): one mode, wide.
  CHECK(run_probe_mode(runs[0], 80.0) == "typical");
  auto a = explain(runs);
  CHECK(says(a, "probe modes explain it (typical at a lower clock mode 1.18)"));
  // The clocks are the issue step's as much as the compute step's: a clock
  // change is no busy sibling.
  CHECK_FALSE(a.contains("set_apart"));
  // Within clock_drop_factor of the full clock (1.50 against 1.47 ns: the
  // VM's next level) is the full clock.
  CHECK(run_probe_mode(at_clock(run(5, 1e7, 1.0, 1.0), 1.50), 80.0, 1.47) == "typical");
}

TEST_CASE("a run whose clock changed while it ran is mixed") {
  json moved = with_clock(run(1, 1e7, 1.0, 1.0), {1.50, 1.50}, {1.58, 1.58});
  CHECK(run_probe_mode(moved, 80.0, 1.47) == "mixed");
  // Either side of the line (1.47 x 1.05 = 1.54 ns) but 2% apart: jitter,
  // judged by the slower of the two.
  json across = with_clock(run(2, 1e7, 1.0, 1.0), {1.53, 1.53}, {1.56, 1.56});
  CHECK(run_probe_mode(across, 80.0, 1.47) == "typical at a lower clock");
  CHECK(says(beside_two_at_full_clock(moved),
             "set-apart runs explain it (typical mode 1.03): rep 1: the clock changed while it "
             "ran (compute step 1.50 ns before, 1.58 ns after)"));
}

TEST_CASE("the clock that counts is that of the CPU the run kept busy") {
  // Worker 1 did the work on a CPU at the full clock; worker 0's was lower.
  json r = on_worker(with_clock(run(1, 1e7, 1.0, 1.0), {1.67, 1.47}, {1.67, 1.47}), 1);
  CHECK(run_clock_ns(r) == Approx(1.47));
  CHECK(run_probe_mode(r, 80.0, 1.47) == "typical");
  json both = r;
  both.erase("thread_cpu_s");  // no samples: every probed CPU counts
  CHECK(run_clock_ns(both) == Approx(1.67));
  CHECK(run_probe_mode(both, 80.0, 1.47) == "typical at a lower clock");
}

TEST_CASE("a probe from before per-CPU clocks lends its first CPU's to each") {
  json old = with_issue(run(1, 1e7, 1.0, 1.0), {2.12, 2.41}, {2.12, 2.41});
  old["probe_before"]["compute_ns"] = 1.47;
  old["probe_after"]["compute_ns"] = 1.47;
  CHECK(run_clock_ns(old) == Approx(1.47));
  CHECK(run_issue_figure(old) == Approx(2.41 / 1.47));
  CHECK(full_clock_ns(json::array({old})) == Approx(1.47));
}

TEST_CASE("a busy sibling is told from a lower clock by the issue step per clock") {
  // The same 2.41 ns issue step: at a 1.67 ns clock it is the quiet ratio
  // (1.44), at 1.47 ns it is 1.64, a sibling taking issue slots.
  json slow_clock = at_clock(run(1, 1e7, 1.0, 1.0), 1.67);
  json sibling = with_issue(with_clock(run(2, 1e7, 1.0, 1.0), {1.47, 1.47}, {1.47, 1.47}),
                            {2.41, 2.41}, {2.12, 2.12});
  json runs = json::array({at_clock(run(3, 1e7, 1.0, 1.0), 1.47), slow_clock, sibling});
  CHECK(quiet_issue_figure(runs) == Approx(1.44));
  CHECK(host_contention(slow_clock, quiet_issue_figure(runs)).empty());
  CHECK(host_contention(sibling, quiet_issue_figure(runs)) ==
        "the host's SMT sibling was busy (issue step 2.41 ns, 1.64x the compute step; quiet "
        "1.44x)");
  // Known-bad, the reading before it: the raw issue step against the
  // quietest calls the lower clock a busy sibling (2.41 > 1.1 x 2.12 ns).
  CHECK(*run_issue_ns(slow_clock) > issue_contention_factor * *quiet_issue_ns(runs));
}

TEST_CASE("the quiet issue figure is a low percentile, not the least") {
  // 40 runs at the VM's 1.44 and one probe whose compute and issue steps
  // straddled a clock change (1.23): the least would make every run read
  // as contended (1.44 > 1.1 x 1.23).
  json runs = json::array();
  for (int rep = 1; rep <= 40; ++rep) runs.push_back(at_clock(run(rep, 1e7, 1.0, 1.0), 1.47));
  json odd = at_clock(run(41, 1e7, 1.0, 1.0), 1.47);
  odd["probe_after"]["issue_ns"] = {1.23 * 1.47, 1.23 * 1.47};
  runs.push_back(odd);
  CHECK(quiet_issue_figure(runs) == Approx(1.44));
  CHECK(host_contention(runs[0], quiet_issue_figure(runs)).empty());
  CHECK_FALSE(host_contention(runs[0], 1.23).empty());
}

TEST_CASE("the full clock is a low percentile of the compute steps, not the least") {
  // The Xeon VM's suite of 2026-12-03T10:25: half its probes at 1.47 ns, a
  // fifth at 1.505, and 4% at a level the host gave for seconds, 1.433.
  // Against the least, 1.505 sat on the line (1.05 x 1.433 = 1.5047) and
  // its runs fell either side of it by the fourth digit.
  json runs = json::array();
  for (int rep = 1; rep <= 40; ++rep) runs.push_back(at_clock(run(rep, 1e7, 1.0, 1.0), 1.468));
  runs.push_back(at_clock(run(41, 1e7, 1.0, 1.0), 1.4334));
  json next_level = at_clock(run(42, 1e7, 1.0, 1.0), 1.5053);
  runs.push_back(next_level);
  CHECK(full_clock_ns(runs) == Approx(1.468));
  CHECK(run_probe_mode(next_level, 80.0, full_clock_ns(runs)) == "typical");
  CHECK(run_probe_mode(next_level, 80.0, 1.4334) == "typical at a lower clock");  // the least
}

// `r` with in-run samples (run_sampler's probe_during): per probe CPU, the
// compute step of each sample; each sample's issue step `ratio` times it.
json with_samples(json r, const std::vector<std::vector<double>>& compute, double ratio = 1.44) {
  json issue = json::array();
  for (const auto& cpu : compute) {
    json steps = json::array();
    for (double ns : cpu) steps.push_back(ratio * ns);
    issue.push_back(steps);
  }
  r["probe_during"] = {{"interval_s", 0.1}, {"compute_cpus_ns", compute}, {"issue_ns", issue}};
  return r;
}

std::vector<double> repeated(double ns, int times) {
  return std::vector<double>(static_cast<std::size_t>(times), ns);
}

TEST_CASE("a run's samples, not its probes, say at which clock it ran") {
  // The probes caught the clock moving (1.50 -> 1.67 ns, mixed by them),
  // but the run spent 8 of its 9 sample times at the full clock.
  auto mostly_full = repeated(1.47, 8);
  mostly_full.push_back(1.67);
  json moved_at_end = with_samples(with_clock(run(1, 1e7, 1.0, 1.0), {1.50, 1.50}, {1.67, 1.67}),
                                   {mostly_full, mostly_full});
  CHECK(run_probe_mode(moved_at_end, 80.0, 1.47) == "typical");
  // Known-bad, the reading by the probes alone: mixed.
  json unsampled = moved_at_end;
  unsampled.erase("probe_during");
  CHECK(run_probe_mode(unsampled, 80.0, 1.47) == "mixed");
  // Probes at the full clock around a run that spent most of it lower.
  auto mostly_lower = repeated(1.67, 7);
  mostly_lower.push_back(1.47);
  json lower_inside =
      with_samples(at_clock(run(2, 1e7, 1.0, 1.0), 1.47), {mostly_lower, mostly_lower});
  CHECK(run_probe_mode(lower_inside, 80.0, 1.47) == "typical at a lower clock");
  // Only the CPU the run kept busy counts: worker 1, at the full clock.
  json busy_side = on_worker(
      with_samples(at_clock(run(3, 1e7, 1.0, 1.0), 1.47), {repeated(1.67, 5), repeated(1.47, 5)}),
      1);
  CHECK(run_probe_mode(busy_side, 80.0, 1.47) == "typical");
}

TEST_CASE("a run whose samples sit on both sides of the clock line is mixed") {
  auto half = repeated(1.47, 5);
  for (int i = 0; i < 5; ++i) half.push_back(1.67);
  json split = with_samples(at_clock(run(1, 1e7, 1.0, 1.0), 1.47), {half, half});
  CHECK(run_probe_mode(split, 80.0, 1.47) == "mixed");
  // A quarter on the other side is still one clock (3 of 12 lower).
  auto quarter = repeated(1.47, 9);
  for (int i = 0; i < 3; ++i) quarter.push_back(1.67);
  CHECK(run_probe_mode(with_samples(split, {quarter, quarter}), 80.0, 1.47) == "typical");
  // Either side of the line (1.5435 ns) but 2% apart: one level's jitter,
  // the majority's clock.
  auto jitter = repeated(1.53, 4);
  for (int i = 0; i < 6; ++i) jitter.push_back(1.56);
  CHECK(run_probe_mode(with_samples(split, {jitter, jitter}), 80.0, 1.47) ==
        "typical at a lower clock");
  CHECK(says(beside_two_at_full_clock(split),
             "set-apart runs explain it (typical mode 1.03): rep 1: the clock changed while it "
             "ran (10 of 20 samples at a lower clock; compute step 1.47-1.67 ns)"));
}

TEST_CASE("a run beside a busy sibling in over a quarter of its samples is set apart") {
  // Thread ring on worker 1; 3 of its 10 samples there read the issue step
  // at 1.67x the clock (the Xeon VM's busy-sibling level), the rest 1.44x.
  json r = on_worker(at_clock(run(1, 1.5e7, 0.34, 0.34), 1.47), 1);
  auto issue_steps = [](int busy) {
    json steps = json::array();
    for (int i = 0; i < 10; ++i) steps.push_back((i < busy ? 1.67 : 1.44) * 1.47);
    return steps;
  };
  r = with_samples(r, {repeated(1.47, 10), repeated(1.47, 10)});
  r["probe_during"]["issue_ns"][1] = issue_steps(3);
  CHECK(host_contention(r, 1.44) ==
        "the host's SMT sibling was busy in 3 of 10 samples while it ran (issue step up to 2.45 "
        "ns, 1.67x the compute step; quiet 1.44x)");
  // Two of ten: a burst, not the run's state.
  r["probe_during"]["issue_ns"][1] = issue_steps(2);
  CHECK(host_contention(r, 1.44).empty());
  // Worker 0's CPU, which the run left idle, does not count.
  r["probe_during"]["issue_ns"][0] = issue_steps(10);
  CHECK(host_contention(r, 1.44).empty());
  // The samples, not the probes: a burst in the probe after the run on the
  // busy CPU (the reading without samples sets it apart) is one moment.
  r["probe_after"]["issue_ns"][1] = 1.67 * 1.47;
  CHECK(host_contention(r, 1.44).empty());
  json unsampled = r;
  unsampled.erase("probe_during");
  CHECK_FALSE(host_contention(unsampled, 1.44).empty());
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
