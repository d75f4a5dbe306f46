// The report's handling of partial result files (a run cut short): it
// takes a machine's headline figures from its latest complete file and
// falls back to a partial one only when there is no complete one, and it
// marks a partial file wherever it shows it.
#include "commands.hpp"
#include "results_file.hpp"
#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

using namespace volley::bench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A result file of `machine` with `done` ping-pong runs (volley and caf in
// turn, as the runner interleaves them) of 3 planned repetitions.
json result_file(const std::string& machine, const std::string& created, std::size_t done,
                 double volley_throughput) {
  json runs = json::array();
  for (std::size_t i = 0; i < done; ++i) {
    const bool volley = i % 2 == 0;
    runs.push_back({{"workload", "ping-pong"},
                    {"runtime", volley ? "volley" : "caf"},
                    {"workers", 2},
                    {"repetition", static_cast<int>(i / 2 + 1)},
                    {"status", "ok"},
                    {"throughput", volley ? volley_throughput : 1000.0},
                    {"unit", "msg/s"}});
  }
  json data = {{"schema_version", results_schema_version},
               {"created_utc", created},
               {"complete", done == 6},
               {"planned_runs", 6},
               {"machine", {{"machine_id", machine}}},
               {"build", {{"git_commit", "0123456789abcdef"}}},
               {"run", {{"profile", "quick"}, {"sizes", "reference"}, {"repetitions", 3}}},
               {"runs", runs},
               {"summary", summarise_runs(runs)}};
  if (done < 6) data["stopped"] = "time budget";
  return data;
}

struct results_folder {
  volley::bench::testing::temp_folder folder;
  const fs::path& root = folder.path;
  void add(const json& data) {
    auto dir = root / data["machine"]["machine_id"].get<std::string>();
    fs::create_directories(dir);
    write_results_atomically((dir / (file_stamp(data["created_utc"]) + ".json")).string(), data);
  }
  std::string render() {
    REQUIRE(render_report(root.string()) == 0);
    std::ifstream in(root / "README.md");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

// The line of `text` that contains `needle` ("" if none).
std::string line_with(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  if (at == std::string::npos) return "";
  auto begin = text.rfind('\n', at) + 1;
  return text.substr(begin, text.find('\n', at) - begin);
}

}  // namespace

TEST_CASE("the headline figures come from a complete file even when a partial one is newer") {
  results_folder results;
  results.add(result_file("m", "2026-11-29T10:00:00Z", 6, 3000));
  results.add(result_file("m", "2026-11-29T11:00:00Z", 1, 9000));
  auto md = results.render();
  auto headline = line_with(md, "| ping-pong | msg/s |");
  CHECK(headline.find("3.00 k") != std::string::npos);
  CHECK(headline.find("2026-11-29T10-00-00Z.json") != std::string::npos);
  CHECK(headline.find("partial") == std::string::npos);
  // The partial file is still listed, marked.
  auto listed = line_with(md, "2026-11-29T11-00-00Z.json) (partial");
  CHECK(listed.find("partial: 1 of 6 runs, stopped by time budget") != std::string::npos);
}

TEST_CASE("a machine with only partial files shows one, marked with its missing repetitions") {
  results_folder results;
  results.add(result_file("m", "2026-11-29T11:00:00Z", 3, 9000));
  auto md = results.render();
  auto headline = line_with(md, "| ping-pong | msg/s |");
  CHECK(headline.find("9.00 k") != std::string::npos);
  CHECK(headline.find("(partial: 3 of 6 runs, stopped by time budget; 1 of 3 repetitions)") !=
        std::string::npos);
  CHECK(line_with(md, "| [m](#m) |").find("partial: 3 of 6 runs") != std::string::npos);
}
