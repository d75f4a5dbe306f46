#include "readme_block.hpp"

#include "results_file.hpp"

#include <catch2/catch.hpp>

using namespace volley::bench;
using nlohmann::json;

TEST_CASE("the text between the README markers is replaced and the rest is kept") {
  std::string readme =
      "# volley\n\nintro\n\n<!-- volley-bench:begin -->\nold table\n<!-- volley-bench:end "
      "-->\n\nrest\n";
  auto out = replace_between_markers(readme, "| new | table |");
  REQUIRE(out);
  CHECK(*out ==
        "# volley\n\nintro\n\n<!-- volley-bench:begin -->\n| new | table |\n<!-- volley-bench:end "
        "-->\n\nrest\n");
  // Rendering twice gives the same file: the markers survive.
  CHECK(replace_between_markers(*out, "| new | table |") == out);
}

TEST_CASE("a README without both markers in order is refused, not guessed at") {
  CHECK_FALSE(replace_between_markers("no markers\n", "x"));
  CHECK_FALSE(replace_between_markers("<!-- volley-bench:begin -->\n", "x"));
  CHECK_FALSE(
      replace_between_markers("<!-- volley-bench:end -->\n<!-- volley-bench:begin -->\n", "x"));
  CHECK_FALSE(replace_between_markers(
      "<!-- volley-bench:begin -->\n<!-- volley-bench:end -->\n<!-- volley-bench:begin -->\n",
      "x"));
}

TEST_CASE("the README block names its result file and shows every runtime") {
  json runs = json::array();
  for (double v : {300.0, 310.0, 290.0})
    runs.push_back({{"workload", "ping-pong"},
                    {"runtime", "volley"},
                    {"workers", 2},
                    {"status", "ok"},
                    {"throughput", v},
                    {"unit", "msg/s"}});
  for (double v : {100.0, 95.0, 100.0})
    runs.push_back({{"workload", "ping-pong"},
                    {"runtime", "erlang"},
                    {"workers", 2},
                    {"status", "ok"},
                    {"throughput", v},
                    {"unit", "msg/s"}});
  json data = {
      {"run", {{"repetitions", 3}, {"profile", "quick"}, {"sizes", "reference"}, {"workers", 2}}},
      {"build", {{"git_commit", "0123456789abcdef"}}},
      {"runs", runs},
      {"summary", summarise_runs(runs)}};
  auto block = readme_block(data, "results/m/2026-11-29T00-00-00Z.json");
  CHECK(block.find("results/m/2026-11-29T00-00-00Z.json") != std::string::npos);
  CHECK(block.find("Erlang/OTP") != std::string::npos);
  CHECK(block.find("3.00× (worst 2.90×) vs Erlang/OTP") != std::string::npos);
  CHECK(block.find("0123456789ab") != std::string::npos);
}

TEST_CASE(
    "the README block reads a schema-2 file's runs as the report does, not its stored summary") {
  json runs = json::array();
  json stale = json::array();  // what an older runner summarised: other figures
  for (double v : {300.0, 310.0, 290.0})
    for (const char* runtime : {"volley", "erlang"}) {
      json r = {{"workload", "ping-pong"},
                {"runtime", runtime},
                {"workers", 2},
                {"status", "ok"},
                {"throughput", std::string(runtime) == "volley" ? v : v / 3},
                {"unit", "msg/s"}};
      runs.push_back(r);
      r["throughput"] = 50.0;
      stale.push_back(r);
    }
  json data = {{"schema_version", 2},
               {"run", {{"repetitions", 3}, {"sizes", "reference"}, {"workers", 2}}},
               {"runs", runs},
               {"summary", summarise_runs(stale)}};
  auto block = readme_block(data, "results/m/x.json");
  CHECK(block.find("3.00× (worst 2.81×) vs Erlang/OTP") != std::string::npos);
  CHECK(block.find("1.00×") == std::string::npos);
}

TEST_CASE("the README block marks compute-bound ratios from the registry") {
  json runs = json::array();
  for (const char* workload : {"trapezoid", "sleeping-barber", "ping-pong"})
    for (const char* runtime : {"volley", "caf"})
      for (double v : {100.0, 110.0, 105.0})
        runs.push_back({{"workload", workload},
                        {"runtime", runtime},
                        {"workers", 2},
                        {"status", "ok"},
                        {"throughput", std::string(runtime) == "volley" ? 2 * v : v},
                        {"unit", "x/s"}});
  json data = {{"run", {{"repetitions", 3}, {"sizes", "reference"}, {"workers", 2}}},
               {"runs", runs},
               {"summary", summarise_runs(runs)}};
  auto block = readme_block(data, "results/m/x.json");
  auto line_of = [&](const std::string& workload) {
    auto at = block.find("| " + workload + " |");
    REQUIRE(at != std::string::npos);
    return block.substr(at, block.find('\n', at) - at);
  };
  CHECK(line_of("trapezoid").find("vs CAF (compute-bound)") != std::string::npos);
  // Same work on every runtime since its room decides on a virtual clock.
  CHECK(line_of("sleeping-barber").find("vs CAF |") != std::string::npos);
  CHECK(line_of("ping-pong").find("vs CAF |") != std::string::npos);
  CHECK(line_of("ping-pong").find("-bound") == std::string::npos);
}
