#include "readme_block.hpp"

#include "results_file.hpp"
#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

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

TEST_CASE("the README block lists each runtime's configuration as prose, not as JSON") {
  json runs = json::array();
  runs.push_back({{"workload", "ping-pong"},
                  {"runtime", "volley"},
                  {"workers", 2},
                  {"status", "ok"},
                  {"throughput", 300.0},
                  {"unit", "msg/s"}});
  json data = {
      {"run", {{"repetitions", 1}, {"profile", "quick"}, {"sizes", "reference"}, {"workers", 2}}},
      {"build", {{"git_commit", "0123456789abcdef"}}},
      {"runs", runs},
      {"summary", summarise_runs(runs)},
      {"runtimes",
       {{"caf",
         {{"available", true},
          {"config",
           {{"caf_version", "0.17.6"},
            {"scheduler.max-threads", 2},
            {"build", {{"flags", "-O2 -DNDEBUG"}}},
            {"bindings", {0, 1}}}}}},
        {"erlang", {{"available", false}}}}}};
  auto block = readme_block(data, "results/m/2026-11-29T00-00-00Z.json");
  CHECK(block.find("- CAF: ") != std::string::npos);
  CHECK(block.find("`caf_version` 0.17.6") != std::string::npos);
  CHECK(block.find("`scheduler.max-threads` 2") != std::string::npos);
  CHECK(block.find("`build.flags` -O2 -DNDEBUG") != std::string::npos);
  CHECK(block.find("`bindings` 0 1") != std::string::npos);
  CHECK(block.find("- Erlang/OTP: not installed") != std::string::npos);
  CHECK(block.find("{\"") == std::string::npos);  // no JSON object dumped
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

namespace {

// A worker sweep of "big" on volley at 1 and 2 workers, three repetitions
// back to back; `two` is each repetition's 2-worker throughput (1 worker: 100).
json sweep_file(std::vector<double> two) {
  json runs = json::array();
  int rep = 0;
  for (double v : two) {
    ++rep;
    for (auto [workers, throughput] : {std::pair{1, 100.0}, std::pair{2, v}})
      runs.push_back({{"workload", "big"},
                      {"runtime", "volley"},
                      {"workers", workers},
                      {"status", "ok"},
                      {"throughput", throughput},
                      {"unit", "msg/s"},
                      {"repetition", rep}});
  }
  return {{"created_utc", "2026-12-01T01:07:17Z"},
          {"run",
           {{"repetitions", 3}, {"sizes", "reference"}, {"workers", 2}, {"sweep_workers", true}}},
          {"build", {{"git_commit", "0123456789abcdef"}}},
          {"runs", runs},
          {"summary", summarise_runs(runs)}};
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("the sweep markers are a pair of their own: filling one leaves the other") {
  std::string readme =
      "<!-- volley-bench:begin -->\nsuite\n<!-- volley-bench:end -->\nprose\n"
      "<!-- volley-bench:sweep-begin -->\nold sweep\n<!-- volley-bench:sweep-end -->\n";
  auto out = replace_between_markers(readme, "new sweep", readme_sweep_begin_marker,
                                     readme_sweep_end_marker);
  REQUIRE(out);
  CHECK(*out ==
        "<!-- volley-bench:begin -->\nsuite\n<!-- volley-bench:end -->\nprose\n"
        "<!-- volley-bench:sweep-begin -->\nnew sweep\n<!-- volley-bench:sweep-end -->\n");
  CHECK(replace_between_markers(readme, "new suite") ==
        "<!-- volley-bench:begin -->\nnew suite\n<!-- volley-bench:end -->\nprose\n"
        "<!-- volley-bench:sweep-begin -->\nold sweep\n<!-- volley-bench:sweep-end -->\n");
  // The suite's markers alone are no sweep markers.
  CHECK_FALSE(replace_between_markers("<!-- volley-bench:begin -->\n<!-- volley-bench:end -->\n",
                                      "x", readme_sweep_begin_marker, readme_sweep_end_marker));
}

TEST_CASE("the README's sweep block is the report's scaling table, verdict and file named") {
  auto block = readme_sweep_block(sweep_file({80, 85, 95}), "results/m/sweep.json",
                                  "volley-bench report --readme README.md --from a.json "
                                  "--sweep-from results/m/sweep.json");
  CHECK(block.find("--sweep-from results/m/sweep.json`; do not edit by hand") != std::string::npos);
  CHECK(block.find("| big | volley | 100 | 85.0 (0.85; pairs 0.85 [0.80-0.95], 2 of 3 below "
                   "0.90, unprobed: loss) |") != std::string::npos);
  CHECK(block.find("Source: [`results/m/sweep.json`](results/m/sweep.json)") != std::string::npos);
  CHECK(block.find("**Verdict:** loss at big (volley, 2 workers) (1 of 1 judged steps).") !=
        std::string::npos);
  CHECK(readme_sweep_block(sweep_file({95, 100, 85}), "s.json", "x")
            .find("**Verdict:** no loss in any judged step up in workers (1 judged).") !=
        std::string::npos);
  // Two pairs are too few to judge, and the block says so rather than "no loss".
  auto two = sweep_file({80, 85});
  CHECK(readme_sweep_block(two, "s.json", "x")
            .find("**Verdict:** no loss in any judged step up in workers (0 judged); too few "
                  "pairs to judge big (volley, 2 workers).") != std::string::npos);
  CHECK(block.find("0123456789ab") != std::string::npos);
  // A file that is not a sweep has no scaling to show.
  auto suite = sweep_file({80, 85, 95});
  suite["run"]["sweep_workers"] = false;
  CHECK(readme_sweep_block(suite, "results/m/suite.json", "x").empty());
}

TEST_CASE("--sweep-from into a README without sweep markers fails and leaves the file alone") {
  volley::bench::testing::temp_folder dir;
  const auto suite = dir.path / "suite.json";
  const auto sweep = dir.path / "sweep.json";
  json suite_data = sweep_file({100, 100, 100});
  suite_data["run"]["sweep_workers"] = false;
  std::ofstream(suite) << suite_data.dump();
  std::ofstream(sweep) << sweep_file({80, 85, 95}).dump();
  const auto readme = dir.path / "README.md";
  const std::string only_suite =
      "# x\n<!-- volley-bench:begin -->\nold\n<!-- volley-bench:end -->\n";
  std::ofstream(readme) << only_suite;

  CHECK(write_readme(readme.string(), suite.string(), sweep.string()) == 1);
  CHECK(read_all(readme) == only_suite);
  // --from alone still works there.
  CHECK(write_readme(readme.string(), suite.string()) == 0);
  // (The line, not the word: the block's prose may say "holding".)
  CHECK(read_all(readme).find("\nold\n") == std::string::npos);

  // With both pairs, both blocks are filled and each names the command.
  std::ofstream(readme) << only_suite
                        << "<!-- volley-bench:sweep-begin -->\n<!-- volley-bench:sweep-end -->\n";
  REQUIRE(write_readme(readme.string(), suite.string(), sweep.string()) == 0);
  const auto text = read_all(readme);
  const auto command = "--from " + suite.string() + " --sweep-from " + sweep.string() + "`";
  const auto sweep_at = text.find(readme_sweep_begin_marker);
  REQUIRE(sweep_at != std::string::npos);
  CHECK(text.find(command) < sweep_at);
  CHECK(text.find(command, sweep_at) != std::string::npos);
  CHECK(text.find("2 of 3 below 0.90, unprobed: loss", sweep_at) != std::string::npos);

  // A suite file given as the sweep is refused, the README untouched.
  CHECK(write_readme(readme.string(), suite.string(), suite.string()) == 1);
  CHECK(read_all(readme) == text);
}

namespace {

// A volley run of `workload` at `throughput`, probed at `before`/`after` ns.
json probed_run(const std::string& workload, int repetition, double throughput, double before = 120,
                double after = 120) {
  return {{"workload", workload},
          {"runtime", "volley"},
          {"workers", 2},
          {"repetition", repetition},
          {"status", "ok"},
          {"throughput", throughput},
          {"unit", "msg/s"},
          {"probe_before", {{"round_trip_ns", before}}},
          {"probe_after", {{"round_trip_ns", after}}}};
}

}  // namespace

TEST_CASE("the README block judges issue 9's spread for volley, the stricter reading beside it") {
  // ping-pong: three typical runs 1.10 apart; counting: 1.50 apart;
  // fork-join throughput: two of its three runs changed mode while they
  // ran, which leaves one run in a mode.
  json runs = json::array({probed_run("ping-pong", 1, 100), probed_run("ping-pong", 2, 110),
                           probed_run("ping-pong", 3, 105), probed_run("counting", 1, 100),
                           probed_run("counting", 2, 150), probed_run("counting", 3, 120),
                           probed_run("fork-join-throughput", 1, 100, 120, 440),
                           probed_run("fork-join-throughput", 2, 150, 440, 120),
                           probed_run("fork-join-throughput", 3, 120)});
  json data = {{"schema_version", results_schema_version},
               {"run", {{"repetitions", 3}, {"workers", 2}}},
               {"runs", runs}};
  const auto block = readme_block(data, "results/m/x.json");
  CHECK(block.find("**Spread within one probe mode (issue 9: max/min ≤ 1.3 for volley):** of 3 "
                   "workloads, 1 ≤ 1.3, 1 > 1.3 (counting 1.50), 1 not judged (too few runs in "
                   "one probe mode: fork-join-throughput).") != std::string::npos);
  CHECK(block.find("| counting | 1.50 > 1.3 (typical, 3 of 3 runs) | none with a busy SMT "
                   "sibling: as issue 9's |") != std::string::npos);
  CHECK(block.find("| fork-join-throughput | too few runs in one mode (1 typical, 2 mixed) |") !=
        std::string::npos);
  CHECK(block.find("Over all repetitions, probe modes ignored: 1 within 1.3.") !=
        std::string::npos);
}
