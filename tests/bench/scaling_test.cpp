#include "scaling.hpp"

#include "results_file.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace volley::bench;
using nlohmann::json;

namespace {

// One sweep run of "big" on volley: its repetition, worker count,
// throughput and (if given) the probe taken before and after it.
json sweep_run(int repetition, int workers, double throughput, double probe_ns = 0) {
  json r = {{"workload", "big"},       {"runtime", "volley"},      {"workers", workers},
            {"status", "ok"},          {"throughput", throughput}, {"unit", "msg/s"},
            {"repetition", repetition}};
  if (probe_ns > 0) {
    r["probe_before"] = {{"round_trip_ns", probe_ns}, {"mhz", nullptr}};
    r["probe_after"] = {{"round_trip_ns", probe_ns}, {"mhz", nullptr}};
  }
  return r;
}

// Repetition by repetition, 1 worker then 2, as the runner plans a sweep;
// each entry is {1-worker, 2-worker} throughput, with one probe for both.
json sweep(const std::vector<std::pair<double, double>>& reps, double probe_ns = 0) {
  json runs = json::array();
  int rep = 0;
  for (auto [one, two] : reps) {
    ++rep;
    runs.push_back(sweep_run(rep, 1, one, probe_ns));
    runs.push_back(sweep_run(rep, 2, two, probe_ns));
  }
  return runs;
}

json pairs_of(const json& runs) {
  return scaling_pairs(runs, "big", "volley", 2, median_probe_ns(runs));
}

}  // namespace

TEST_CASE("a sweep renders as a table of each worker count over 1 worker, losses marked") {
  json runs = json::array({sweep_run(1, 1, 100), sweep_run(1, 2, 80), sweep_run(1, 3, 120),
                           sweep_run(2, 1, 100), sweep_run(2, 2, 80), sweep_run(2, 3, 120),
                           sweep_run(3, 1, 100), sweep_run(3, 2, 80), sweep_run(3, 3, 120)});
  auto table = scaling_table(summarise_runs(runs), runs);
  CHECK(table.find("| workload | runtime | 1 worker | 2 workers (/1 worker) | 3 workers "
                   "(/1 worker) |") != std::string::npos);
  CHECK(table.find("| big | volley | 100 | 80.0 (0.80; pairs 0.80 [0.80-0.80], 3 of 3 below "
                   "0.90, unprobed: loss) | 120 (1.20; pairs 1.20 [1.20-1.20], 0 of 3 below "
                   "0.90, unprobed) |") != std::string::npos);
  // Without a sweep there is nothing to compare with.
  json one = json::array({sweep_run(1, 1, 100)});
  CHECK(scaling_table(summarise_runs(one), one).empty());
}

TEST_CASE("a file whose runs make no pairs is judged by its medians, as before") {
  json runs = json::array({sweep_run(1, 1, 100), sweep_run(1, 2, 80)});
  for (auto& r : runs) r.erase("repetition");
  CHECK(pairs_of(runs).is_null());
  CHECK(scaling_table(summarise_runs(runs), runs).find("| 80.0 (0.80, loss) |") !=
        std::string::npos);
}

TEST_CASE("one slow 2-worker repetition is no loss when the pairs disagree") {
  // The medians say 0.61 (100 against 61); per repetition the second
  // worker lost in one pair of three. Judged by medians this was a loss.
  json runs = sweep({{100, 95}, {100, 58}, {64, 61}});
  json p = pairs_of(runs);
  CHECK(p["count"] == 3);
  CHECK(p["below"] == 1);
  CHECK(p["median"].get<double>() == Approx(0.95));
  CHECK(p["verdict"] == "no loss");
  auto table = scaling_table(summarise_runs(runs), runs);
  CHECK(table.find("(0.61; pairs 0.95 [0.58-0.95], 1 of 3 below 0.90, unprobed) |") !=
        std::string::npos);
  CHECK(table.find("loss)") == std::string::npos);
}

TEST_CASE("a loss the pairs agree on is flagged, with their median and range") {
  // big's pairs in the AMD EPYC sweep: two of three slow at 2 workers.
  json runs = sweep({{34.0e6, 22.6e6}, {34.9e6, 34.1e6}, {35.8e6, 24.6e6}});
  json p = pairs_of(runs);
  CHECK(p["below"] == 2);
  CHECK(p["verdict"] == "loss");
  CHECK(p["min"].get<double>() == Approx(22.6 / 34.0));
  CHECK(p["max"].get<double>() == Approx(34.1 / 34.9));
}

TEST_CASE("pairs are matched by repetition, not by the order of the runs") {
  // Written out of order: repetition 2's 2-worker run first. Pairing by
  // position would compare 100 with 50 and 50 with 100.
  json runs = json::array({sweep_run(2, 2, 48), sweep_run(1, 1, 100), sweep_run(2, 1, 50),
                           sweep_run(1, 2, 97), sweep_run(3, 1, 100), sweep_run(3, 2, 99)});
  json p = pairs_of(runs);
  REQUIRE(p["pairs"].size() == 3);
  CHECK(p["pairs"][0]["ratio"].get<double>() == Approx(0.97));
  CHECK(p["pairs"][1]["repetition"] == 2);
  CHECK(p["pairs"][1]["ratio"].get<double>() == Approx(0.96));
  CHECK(p["verdict"] == "no loss");
}

TEST_CASE("a loss is judged within the probe mode that holds most pairs") {
  // Three pairs in the typical mode (70 ns) lose 30%; two pairs in the slow
  // mode (330 ns) keep their throughput. Over all five pairs only 3 of 5
  // are below 0.90, short of two thirds; within the typical mode all are.
  json runs = sweep({{100, 70}, {101, 71}, {99, 69}}, 70);
  for (auto& r : sweep({{40, 40}, {41, 41}}, 330)) {
    r["repetition"] = r["repetition"].get<int>() + 3;
    runs.push_back(r);
  }
  json p = pairs_of(runs);
  CHECK(p["mode"] == "typical");
  CHECK(p["count"] == 3);
  CHECK(p["verdict"] == "loss");
  CHECK(p["pairs"].size() == 5);
}

TEST_CASE("every probe mode holding three pairs is judged: a loss in any is a loss") {
  // Four typical pairs (70 ns) keep their throughput; three slow pairs
  // (330 ns) lose 30%. Judging the mode with most pairs alone said "no
  // loss" and left the slow pairs out, though each was within one mode.
  json runs = sweep({{100, 98}, {100, 99}, {100, 97}, {100, 96}}, 70);
  for (auto& r : sweep({{40, 28}, {41, 29}, {40, 27.2}}, 330)) {
    r["repetition"] = r["repetition"].get<int>() + 4;
    runs.push_back(r);
  }
  json p = pairs_of(runs);
  CHECK(p["mode"] == "typical");
  CHECK(p["count"] == 4);
  REQUIRE(p.contains("other_modes"));
  CHECK(p["other_modes"][0]["mode"] == "slow");
  CHECK(p["other_modes"][0]["below"] == 3);
  CHECK(p["verdict"] == "loss");
  CHECK(scaling_table(summarise_runs(runs), runs)
            .find("0 of 4 below 0.90, typical; and 0.70 [0.68-0.71], 3 of 3 below 0.90, slow: "
                  "loss") != std::string::npos);
  // Two slow pairs are too few to judge on their own: the typical verdict stands.
  runs.erase(runs.end() - 2, runs.end());
  CHECK(pairs_of(runs)["verdict"] == "no loss");
  CHECK_FALSE(pairs_of(runs).contains("other_modes"));
}

TEST_CASE("a pair whose two runs fall in different probe modes is not judged") {
  // Repetition 1's 2-worker run came in the slow mode (330 ns) and its
  // 1-worker run in the typical one: its 0.4 says more about the machine.
  json runs = sweep({{100, 98}, {100, 99}, {100, 97}, {100, 96}}, 70);
  runs[1]["throughput"] = 40;
  runs[1]["probe_before"]["round_trip_ns"] = 330;
  json p = pairs_of(runs);
  CHECK(p["mixed"] == 1);
  CHECK(p["count"] == 3);
  CHECK(p["below"] == 0);
  CHECK(p["pairs"][0]["mode"] == "mixed");
  CHECK(scaling_table(summarise_runs(runs), runs).find("(1 mixed)") != std::string::npos);
}

TEST_CASE("a pair with a run whose mode changed while it ran is not judged") {
  // Repetition 1's 1-worker run began in the typical mode and ended in the
  // slow one; its 2-worker run was slow throughout. The larger probe would
  // put both in the slow mode, yet the 1-worker figure is part typical.
  json runs = sweep({{100, 98}, {100, 99}, {100, 97}, {100, 96}}, 70);
  runs[0]["probe_after"]["round_trip_ns"] = 330;
  runs[1]["probe_before"]["round_trip_ns"] = 330;
  runs[1]["probe_after"]["round_trip_ns"] = 330;
  json p = pairs_of(runs);
  CHECK(p["pairs"][0]["mode"] == "mixed");
  CHECK(p["mixed"] == 1);
  CHECK(p["count"] == 3);
}

TEST_CASE("fewer than three pairs in the judged mode make no verdict") {
  json runs = sweep({{100, 50}, {100, 50}});
  json p = pairs_of(runs);
  CHECK(p["verdict"] == "too few pairs");
  auto table = scaling_table(summarise_runs(runs), runs);
  CHECK(table.find("too few to judge") != std::string::npos);
  CHECK(table.find(": loss") == std::string::npos);
}

TEST_CASE("failed runs make no pair") {
  json runs = sweep({{100, 98}, {100, 99}, {100, 97}});
  runs[3]["status"] = "failed";
  runs[3].erase("throughput");
  json p = pairs_of(runs);
  CHECK(p["pairs"].size() == 2);
  CHECK(p["verdict"] == "too few pairs");
}

TEST_CASE("a sweep's steps are counted: judged, losses named, too few pairs set apart") {
  // 2 workers: three pairs, all below 0.90 (a loss); 3 workers: two pairs
  // (too few); 4 workers: three pairs above (no loss).
  json runs = json::array();
  for (int rep = 1; rep <= 3; ++rep) {
    runs.push_back(sweep_run(rep, 1, 100));
    runs.push_back(sweep_run(rep, 2, 80));
    if (rep < 3) runs.push_back(sweep_run(rep, 3, 120));
    runs.push_back(sweep_run(rep, 4, 150));
  }
  auto s = scaling_of(summarise_runs(runs), runs);
  CHECK(s.table == scaling_table(summarise_runs(runs), runs));
  CHECK(s.judged == 2);
  CHECK(s.losses == std::vector<std::string>{"big (volley, 2 workers)"});
  CHECK(s.unjudged == std::vector<std::string>{"big (volley, 3 workers)"});
}

TEST_CASE("pairs are judged within one clock; the mode holding most pairs leads") {
  // Three pairs at the host's lower clock (compute step 1.67 ns) lose 30%;
  // three at its full clock (1.47 ns) do not. The round trip is one mode
  // throughout. Both clocks are judged, the loss found in the lower one.
  auto at_clock = [](json runs, double compute_ns) {
    for (auto& r : runs)
      for (const char* when : {"probe_before", "probe_after"}) r[when]["compute_ns"] = compute_ns;
    return runs;
  };
  json runs = at_clock(sweep({{100, 99}, {100, 98}, {100, 97}}, 70), 1.47);
  for (auto& r : at_clock(sweep({{80, 56}, {80, 55}, {80, 57}}, 70), 1.67)) {
    r["repetition"] = r["repetition"].get<int>() + 3;
    runs.push_back(r);
  }
  json p = pairs_of(runs);
  CHECK(p["mode"] == "typical");  // a tie: the full clock leads
  CHECK(p["count"] == 3);
  REQUIRE(p.contains("other_modes"));
  CHECK(p["other_modes"][0]["mode"] == "typical at a lower clock");
  CHECK(p["other_modes"][0]["below"] == 3);
  CHECK(p["verdict"] == "loss");
  // One more pair at the lower clock: it holds most pairs and leads.
  for (auto& r : at_clock(sweep({{80, 56}}, 70), 1.67)) {
    r["repetition"] = 7;
    runs.push_back(r);
  }
  CHECK(pairs_of(runs)["mode"] == "typical at a lower clock");
  // A pair whose two runs saw different clocks is not judged.
  runs[0]["probe_before"]["compute_ns"] = runs[0]["probe_after"]["compute_ns"] = 1.67;
  CHECK(pairs_of(runs)["mixed"] == 1);
}
