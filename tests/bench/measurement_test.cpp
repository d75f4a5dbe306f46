#include <volley/savina/measurement.hpp>
#include <volley/savina/workload_main.hpp>

#include <catch2/catch.hpp>

#include <numeric>

using namespace volley::savina;

TEST_CASE("latency percentiles use the nearest rank") {
  std::vector<std::int64_t> samples(1000);
  std::iota(samples.begin(), samples.end(), 1);  // 1..1000
  std::reverse(samples.begin(), samples.end());
  auto s = summarise_latencies(samples);
  CHECK(s.count == 1000);
  CHECK(s.p50 == 500);
  CHECK(s.p99 == 990);
  CHECK(s.p999 == 999);
  CHECK(s.max == 1000);
}

TEST_CASE("a single sample is every percentile; no samples give zeros") {
  std::vector<std::int64_t> one{42};
  auto s = summarise_latencies(one);
  CHECK(s.p50 == 42);
  CHECK(s.p999 == 42);
  std::vector<std::int64_t> none;
  CHECK(summarise_latencies(none).count == 0);
}

TEST_CASE("the JSON line carries the figures, the unit and the sizes") {
  const auto& spec = *find_workload("fork-join-creation");
  measurement m;
  m.elapsed_s = 2.0;
  m.messages = 10;
  m.items = 1000;
  auto line = result_line(spec, "caf", 2, size_set::savina, spec.savina, m);
  CHECK(line["workload"] == "fork-join-creation");
  CHECK(line["runtime"] == "caf");
  CHECK(line["unit"] == "actors/s");
  CHECK(line["sizes"] == "savina");
  CHECK(line["throughput"].get<double>() == Approx(500.0));
  CHECK(line["params"]["actors"] == 40'000);  // a count prints as an integer
  CHECK_FALSE(line.contains("p99_ns"));
}

TEST_CASE("a latency workload's line adds percentiles") {
  const auto& spec = *find_workload("fan-in-latency");
  measurement m;
  m.elapsed_s = 1;
  m.latencies_ns = {5, 1, 3};
  auto line = result_line(spec, "volley", 1, size_set::reference, spec.reference, m);
  CHECK(line["p50_ns"] == 3);
  CHECK(line["max_ns"] == 5);
}

TEST_CASE("check() throws check_failed with the message") {
  CHECK_NOTHROW(check(true, "fine"));
  CHECK_THROWS_WITH(check(false, "sum is 3, expected 4"), "sum is 3, expected 4");
  CHECK_THROWS_AS(check(false, "x"), check_failed);
}
