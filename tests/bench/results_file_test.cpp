#include "results_file.hpp"
#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <system_error>

#include <unistd.h>

using namespace volley::bench;
using nlohmann::json;

namespace {

json ok_run(const std::string& runtime, double throughput, int workers = 2) {
  return {{"workload", "ping-pong"}, {"runtime", runtime},       {"workers", workers},
          {"status", "ok"},          {"throughput", throughput}, {"unit", "msg/s"}};
}

}  // namespace

TEST_CASE("a summary row has both runtimes' medians and their ratio") {
  json runs = json::array({ok_run("volley", 300), ok_run("caf", 100), ok_run("volley", 330),
                           ok_run("caf", 110), ok_run("volley", 270), ok_run("caf", 90)});
  auto summary = summarise_runs(runs);
  REQUIRE(summary.size() == 1);
  const auto& row = summary[0];
  CHECK(row["volley"]["median"] == 300.0);
  CHECK(row["caf"]["median"] == 100.0);
  CHECK(row["ratio"].get<double>() == Approx(3.0));
  CHECK(row["within_noise"] == false);
  CHECK(row["unit"] == "msg/s");
}

TEST_CASE("failed and timed-out runs are counted, not averaged") {
  json runs = json::array(
      {ok_run("volley", 300),
       {{"workload", "ping-pong"}, {"runtime", "volley"}, {"workers", 2}, {"status", "failed"}},
       {{"workload", "ping-pong"}, {"runtime", "caf"}, {"workers", 2}, {"status", "timeout"}}});
  auto row = summarise_runs(runs)[0];
  CHECK(row["volley"]["count"] == 1);
  CHECK(row["volley"]["failed"] == 1);
  CHECK(row["caf"]["count"] == 0);
  CHECK(row["caf"]["timeout"] == 1);
  CHECK(row["ratio"].is_null());
}

TEST_CASE("each worker count of a sweep is its own row, in run order") {
  json runs = json::array({ok_run("caf", 1, 1), ok_run("caf", 2, 2), ok_run("caf", 3, 1)});
  auto summary = summarise_runs(runs);
  REQUIRE(summary.size() == 2);
  CHECK(summary[0]["workers"] == 1);
  CHECK(summary[0]["caf"]["median"] == 2.0);
  CHECK(summary[0]["volley"].is_null());
  CHECK(summary[1]["workers"] == 2);
}

TEST_CASE("a workload with no successful run takes its unit from the table") {
  json runs = json::array({{{"workload", "fork-join-creation"},
                            {"runtime", "caf"},
                            {"workers", 2},
                            {"status", "timeout"}}});
  CHECK(summarise_runs(runs)[0]["unit"] == "actors/s");
}

TEST_CASE("the table names every runtime and marks noise") {
  json runs = json::array({ok_run("volley", 101), ok_run("caf", 100)});
  auto table = summary_table(summarise_runs(runs));
  CHECK(table.find("ping-pong") != std::string::npos);
  CHECK(table.find("erlang") != std::string::npos);
  CHECK(table.find("1.01x (worst 1.01x) (noise) vs caf") != std::string::npos);
}

TEST_CASE("volley is compared with the best peer of each workload, by median and worst case") {
  json runs = json::array({ok_run("volley", 300), ok_run("volley", 240), ok_run("volley", 330),
                           ok_run("caf", 100), ok_run("caf", 110), ok_run("erlang", 150),
                           ok_run("erlang", 120), ok_run("erlang", 160)});
  auto row = summarise_runs(runs)[0];
  CHECK(row["best_peer"] == "erlang");
  CHECK(row["ratio"].get<double>() == Approx(300.0 / 150.0));
  // volley's slowest repetition against the best peer's fastest.
  CHECK(row["worst_ratio"].get<double>() == Approx(240.0 / 160.0));
  CHECK(row["caf"]["median"] == 105.0);
}

TEST_CASE("a peer that gave a wrong answer is counted as such and is no best peer") {
  json wrong = {{"workload", "ping-pong"},
                {"runtime", "erlang"},
                {"workers", 2},
                {"status", "failed"},
                {"exit_code", 2}};
  json runs = json::array({ok_run("volley", 300), ok_run("caf", 100), wrong});
  auto row = summarise_runs(runs)[0];
  CHECK(row["erlang"]["wrong_answer"] == 1);
  CHECK(row["best_peer"] == "caf");
  CHECK(summary_table(summarise_runs(runs)).find("WRONG") != std::string::npos);
}

namespace {

json probed_run(double throughput, double probe_ns) {
  auto r = ok_run("volley", throughput);
  r["probe_before"] = {{"round_trip_ns", probe_ns}, {"mhz", nullptr}};
  r["probe_after"] = {{"round_trip_ns", probe_ns}, {"mhz", nullptr}};
  r["items_per_cpu_s"] = throughput / 2;
  return r;
}

}  // namespace

TEST_CASE("a bimodal workload is explained when each probe mode on its own is narrow") {
  // Four runs at an 80 ns round trip, two at 315 ns: the median probe is
  // 80 ns, the slow runs are another mode, and each mode is tight.
  json runs = json::array({probed_run(22e6, 80), probed_run(21e6, 82), probed_run(5.6e6, 315),
                           probed_run(22.5e6, 79), probed_run(5.9e6, 320), probed_run(21.5e6, 81)});
  CHECK(*median_probe_ns(runs) == Approx(81.5));
  auto v = summarise_runs(runs)[0]["volley"];
  CHECK(v["spread"].get<double>() > 3);
  CHECK(v["probe_modes"]["slow"]["count"] == 2);
  CHECK(v["probe_modes"]["typical"]["count"] == 4);
  CHECK(v["probe_explains_spread"] == true);
  CHECK(v["per_cpu_s"]["median"].get<double>() == Approx(21.25e6 / 2));
  CHECK(probe_note(summarise_runs(runs)[0]).find("probe modes explain it") != std::string::npos);
}

TEST_CASE("a wide spread within one probe mode is reported as not explained") {
  json runs = json::array({probed_run(22e6, 80), probed_run(11e6, 81), probed_run(16e6, 80)});
  auto v = summarise_runs(runs)[0]["volley"];
  CHECK(v["probe_explains_spread"] == false);
  CHECK(probe_note(summarise_runs(runs)[0]).find("does not explain") != std::string::npos);
}

TEST_CASE("probe modes are relative to the run's median probe") {
  CHECK(probe_mode(100, 100) == "typical");
  CHECK(probe_mode(140, 100) == "typical");
  CHECK(probe_mode(160, 100) == "slow");
  CHECK(probe_mode(60, 100) == "fast");
}

TEST_CASE("file stamps have no colons") {
  CHECK(file_stamp("2024-05-01T12:30:00Z") == "2024-05-01T12-30-00Z");
  CHECK(utc_timestamp().size() == 20);
}

TEST_CASE("a partial file says how many runs it has, and which rows lack repetitions") {
  json runs = json::array({ok_run("volley", 300), ok_run("caf", 100), ok_run("volley", 310)});
  json data = {{"complete", false},
               {"planned_runs", 6},
               {"stopped", "time budget"},
               {"run", {{"repetitions", 3}}},
               {"runs", runs}};
  CHECK_FALSE(is_complete(data));
  CHECK(partial_text(data) == "partial: 3 of 6 runs, stopped by time budget");
  auto summary = summarise_runs(runs);
  // caf ran once, volley twice: the row is as short as its shortest runtime.
  CHECK(repetitions_text(summary[0], data) == "1 of 3 repetitions");
  data["complete"] = true;
  CHECK(partial_text(data).empty());
  CHECK(repetitions_text(summary[0], data).empty());
}

TEST_CASE("a file from before schema 3 has no complete flag and counts as complete") {
  json data = {{"schema_version", 2}, {"run", {{"repetitions", 3}}}, {"runs", json::array()}};
  CHECK(is_complete(data));
  CHECK(partial_text(data).empty());
}

TEST_CASE("a result file is replaced whole, and no temporary file is left behind") {
  volley::bench::testing::temp_folder folder;
  const std::string dir = folder.path.string();
  const std::string path = dir + "/r.json";
  write_results_atomically(path, {{"runs", json::array({1})}});
  write_results_atomically(path, {{"runs", json::array({1, 2})}});
  CHECK(load_results(path)["runs"].size() == 2);
  CHECK(access((path + ".tmp").c_str(), F_OK) != 0);
  CHECK_THROWS_AS(write_results_atomically(dir + "/no-such-dir/r.json", json::object()),
                  std::system_error);
}
