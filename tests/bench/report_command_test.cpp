// The report's handling of partial result files (a run cut short): it
// takes a machine's headline figures from its latest complete file and
// falls back to a partial one only when there is no complete one, and it
// marks a partial file wherever it shows it.
#include "commands.hpp"
#include "results_file.hpp"
#include "temp_folder.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

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
                    {"items_per_cpu_s", volley ? volley_throughput / 2 : 500.0},
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

// A complete file of `machine` whose ping-pong runs are volley's alone: a
// machine where CAF and Erlang/OTP were not installed.
json volley_only_file(const std::string& machine, const std::string& created) {
  auto data = result_file(machine, created, 6, 3000);
  json runs = json::array();
  for (const auto& r : data["runs"])
    if (r["runtime"] == "volley") runs.push_back(r);
  data["runs"] = runs;
  data["planned_runs"] = runs.size();
  data["summary"] = summarise_runs(runs);
  return data;
}

// An extras entry of three rounds of volley's one-way rate.
json remote_extras(const std::vector<double>& one_way) {
  json rounds = json::array();
  for (double v : one_way)
    rounds.push_back({{"status", "ok"},
                      {"figures",
                       {{{"bench", "remote"},
                         {"impl", "volley"},
                         {"figure", "one_way"},
                         {"value", v},
                         {"unit", "M msg/s"}}}}});
  return {{"remote (volley)",
           {{"status", "ok"}, {"rounds_planned", one_way.size()}, {"rounds", rounds}}}};
}

// The part of `text` from the heading `## title` to the next "## ".
std::string section(const std::string& text, const std::string& title) {
  auto begin = text.find("\n## " + title + "\n");
  if (begin == std::string::npos) return "";
  auto end = text.find("\n## ", begin + 1);
  return text.substr(begin, end == std::string::npos ? end : end - begin);
}

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

TEST_CASE("a machine's section shows the remote and idle figures of its newest file with them") {
  results_folder results;
  auto with_extras = result_file("m", "2026-11-29T10:00:00Z", 6, 3000);
  with_extras["extras"] = remote_extras({14.84, 12.0, 16.1});
  results.add(with_extras);
  // A newer file without extras (a run without --extras) does not hide them.
  results.add(result_file("m", "2026-11-29T11:00:00Z", 6, 3000));
  results.add(result_file("bare", "2026-11-29T11:00:00Z", 6, 3000));
  auto md = results.render();
  auto m = section(md, "m");
  CHECK(m.find("From [2026-11-29T10:00:00Z](m/2026-11-29T10-00-00Z.json), commit `0123456789ab`") !=
        std::string::npos);
  CHECK(line_with(m, "| volley | one_way |") ==
        "| volley | one_way | 14.8 (12.0 – 16.1) M msg/s | 3 |");
  CHECK(section(md, "bare").find("No remote or idle-memory figures from this machine") !=
        std::string::npos);
}

TEST_CASE("across machines says plainly where no peer ran and gives volley per CPU-second") {
  results_folder results;
  results.add(result_file("with-peers", "2026-11-29T10:00:00Z", 6, 3000));
  results.add(volley_only_file("alone", "2026-11-29T10:00:00Z"));
  auto across = section(results.render(), "Across machines");
  // The machines are in the order of their ids: alone, with-peers.
  auto volley = line_with(across, "| ping-pong | msg/s |");
  CHECK(volley == "| ping-pong | msg/s | 3.00 k (1.50 k/CPU-s) | 3.00 k (1.50 k/CPU-s) |");
  auto peers = line_with(across.substr(across.find(volley) + volley.size()), "| ping-pong |");
  CHECK(peers == "| ping-pong | msg/s | no peer run | 3.00× (worst 3.00×) vs CAF at 1.00 k |");
  CHECK(across.find("(-)") == std::string::npos);
}

TEST_CASE("a machine's page names the peers its run had no binary for") {
  results_folder results;
  auto alone = volley_only_file("alone", "2026-11-29T10:00:00Z");
  alone["runtimes"] = {{"volley", {{"available", true}}},
                       {"caf", {{"available", false}, {"path", ""}}},
                       {"erlang", {{"available", false}, {"path", ""}}}};
  results.add(alone);
  auto with_caf = result_file("with-caf", "2026-11-29T10:00:00Z", 6, 3000);
  with_caf["runtimes"] = {{"volley", {{"available", true}}},
                          {"caf", {{"available", true}}},
                          {"erlang", {{"available", false}}}};
  results.add(with_caf);
  auto md = results.render();
  CHECK(line_with(section(md, "alone"), "not run:") ==
        "- not run: CAF, Erlang/OTP (not built where the run of 2026-11-29T10:00:00Z was made)");
  CHECK(line_with(section(md, "with-caf"), "not run:") ==
        "- not run: Erlang/OTP (not built where the run of 2026-11-29T10:00:00Z was made)");
}

TEST_CASE("a row whose peers all timed out says so instead of a ratio") {
  results_folder results;
  auto data = result_file("m", "2026-11-29T10:00:00Z", 6, 3000);
  for (auto& r : data["runs"])
    if (r["runtime"] == "caf") {
      r["status"] = "timeout";
      r.erase("throughput");
    }
  data["summary"] = summarise_runs(data["runs"]);
  results.add(data);
  auto md = results.render();
  CHECK(line_with(section(md, "m"), "| ping-pong | msg/s |").find("| no ratio: CAF timeout |") !=
        std::string::npos);
  CHECK(line_with(section(md, "Across machines"), "no ratio") ==
        "| ping-pong | msg/s | no ratio: CAF timeout |");
}

TEST_CASE("the machines table shows the CPUID signature where the file records it") {
  results_folder results;
  auto signed_file = result_file("amd-epyc-f25m1-2c", "2026-11-29T10:00:00Z", 6, 3000);
  signed_file["machine"]["cpu_model"] = "AMD EPYC";
  signed_file["machine"]["cpu_signature"] = "25/1/1";
  results.add(signed_file);
  auto old_file = result_file("amd-epyc-2c", "2026-11-29T10:00:00Z", 6, 3000);
  old_file["machine"]["cpu_model"] = "AMD EPYC";
  results.add(old_file);
  auto md = results.render();
  CHECK(line_with(md, "| [amd-epyc-f25m1-2c](#amd-epyc-f25m1-2c) |")
            .find("| AMD EPYC (CPUID family/model/stepping 25/1/1) |") != std::string::npos);
  CHECK(line_with(md, "| [amd-epyc-2c](#amd-epyc-2c) |").find("| AMD EPYC |") != std::string::npos);
}

namespace {

// The anchor GitHub gives a heading: lower case, punctuation other than
// '-' and '_' dropped, spaces as '-'.
std::string anchor_of(const std::string& heading) {
  std::string out;
  for (unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_')
      out += static_cast<char>(std::tolower(c));
    else if (c == ' ')
      out += '-';
  }
  return out;
}

// Every heading's anchor in `md`, in order.
std::vector<std::string> heading_anchors(const std::string& md) {
  std::vector<std::string> out;
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind('#', 0) == 0) out.push_back(anchor_of(line.substr(line.find(' ') + 1)));
  return out;
}

}  // namespace

TEST_CASE("every heading of the report has an anchor of its own") {
  // Two machines, each with headline figures and extras: before, both had
  // "### reference sizes" and "### remote and idle memory", whose anchors
  // collide (GitHub numbers the second "-1", and a link finds the first).
  results_folder results;
  for (const char* machine : {"amd-epyc-2c", "intel-xeon-2c"}) {
    auto data = result_file(machine, "2026-11-29T10:00:00Z", 6, 3000);
    data["extras"] = remote_extras({14.84, 12.0, 16.1});
    results.add(data);
  }
  const auto anchors = heading_anchors(results.render());
  CHECK(anchors.size() >= 7);
  for (std::size_t i = 0; i < anchors.size(); ++i)
    for (std::size_t j = i + 1; j < anchors.size(); ++j) {
      INFO("heading anchor #" << anchors[i]);
      CHECK(anchors[i] != anchors[j]);
    }
  // The machines table links each machine's section by its anchor.
  CHECK(std::count(anchors.begin(), anchors.end(), "amd-epyc-2c") == 1);
  CHECK(std::count(anchors.begin(), anchors.end(), "amd-epyc-2c-reference-sizes") == 1);
}

TEST_CASE("a machine's headline table is followed by issue 9's spread for volley") {
  results_folder results;
  results.add(result_file("m", "2026-11-29T10:00:00Z", 6, 3000));
  const auto m = section(results.render(), "m");
  // Runs without probes are one mode, "unprobed"; equal runs spread 1.00.
  CHECK(m.find("**Spread within one probe mode (issue 9: max/min ≤ 1.3 for volley):** of 1 "
               "workloads, 1 ≤ 1.3, 0 > 1.3, 0 not judged.") != std::string::npos);
  CHECK(line_with(m, "| ping-pong | 1.00") ==
        "| ping-pong | 1.00 ≤ 1.3 (unprobed, 3 of 3 runs) | none with a busy SMT sibling: as "
        "issue 9's | 1.00 ≤ 1.3 (unprobed, 3 of 3 runs) | none with a busy SMT sibling: as "
        "issue 9's |");
}
