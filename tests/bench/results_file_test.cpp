#include "results_file.hpp"

#include <catch2/catch.hpp>

using namespace volley::bench;
using nlohmann::json;

namespace {

json ok_run(const std::string& runtime, double throughput, int workers = 2) {
  return {{"workload", "ping-pong"}, {"runtime", runtime},      {"workers", workers},
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
  json runs = json::array({ok_run("volley", 300),
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
  json runs = json::array({{{"workload", "fork-join-creation"}, {"runtime", "caf"}, {"workers", 2}, {"status", "timeout"}}});
  CHECK(summarise_runs(runs)[0]["unit"] == "actors/s");
}

TEST_CASE("the table names both runtimes and marks noise") {
  json runs = json::array({ok_run("volley", 101), ok_run("caf", 100)});
  auto table = summary_table(summarise_runs(runs));
  CHECK(table.find("ping-pong") != std::string::npos);
  CHECK(table.find("1.01x (noise)") != std::string::npos);
}

TEST_CASE("file stamps have no colons") {
  CHECK(file_stamp("2024-05-01T12:30:00Z") == "2024-05-01T12-30-00Z");
  CHECK(utc_timestamp().size() == 20);
}
