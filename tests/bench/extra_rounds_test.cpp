// The extras over rounds (extra_rounds.hpp): each remote figure as median
// (min – max) with its number of rounds, the quoted ratios per round, and a
// file from before rounds (schema 3) rendered as it was.
#include "extra_rounds.hpp"

#include "readme_block.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace volley::bench;
using nlohmann::json;

namespace {

json remote_figure(const std::string& impl, const std::string& figure, double value,
                   const std::string& unit) {
  return {
      {"bench", "remote"}, {"impl", impl}, {"figure", figure}, {"value", value}, {"unit", unit}};
}

// The README line that starts with `start`, or "" when there is none.
std::string line_of(const std::string& block, const std::string& start) {
  auto at = block.find("\n" + start);
  if (at == std::string::npos) return "";
  return block.substr(at + 1, block.find('\n', at + 1) - at - 1);
}

}  // namespace

TEST_CASE("a file with several rounds renders each remote figure as median (min – max)") {
  // The first round is not the median round, and the ratio of the medians
  // (14 / 65 = 0.215) is not the median of the per-round ratios (0.217).
  const std::vector<double> volley = {15, 12, 14, 13, 16}, raw = {70, 50, 80, 60, 65},
                            caf = {0.28, 0.30, 0.25};
  json volley_rounds = json::array(), caf_rounds = json::array();
  for (std::size_t i = 0; i < volley.size(); ++i) {
    json figures = {remote_figure("volley", "one_way", volley[i], "M msg/s"),
                    remote_figure("raw", "one_way_batched", raw[i], "M msg/s")};
    // One round printed no TLS figure (a failed row): 4 of 5.
    if (i != 2) figures.push_back(remote_figure("volley", "tls_one_way", volley[i] / 2, "M msg/s"));
    volley_rounds.push_back({{"status", "ok"}, {"figures", figures}});
  }
  for (double v : caf)
    caf_rounds.push_back(
        {{"status", "ok"}, {"figures", {remote_figure("caf", "one_way", v, "M msg/s")}}});
  json data = {
      {"schema_version", 4},
      {"run", {{"repetitions", 3}, {"workers", 2}}},
      {"runs", json::array()},
      {"extras",
       {{"remote (volley)", {{"status", "ok"}, {"rounds_planned", 5}, {"rounds", volley_rounds}}},
        {"remote (CAF)", {{"status", "ok"}, {"rounds_planned", 3}, {"rounds", caf_rounds}}}}}};
  const auto block = readme_block(data, "results/m/x.json");
  CHECK(line_of(block, "| remote (volley) |") ==
        "| remote (volley) | figure | median (min – max) | rounds |");
  CHECK(line_of(block, "| volley | one_way |") ==
        "| volley | one_way | 14.0 (12.0 – 16.0) M msg/s | 5 |");
  CHECK(line_of(block, "| raw | one_way_batched |") ==
        "| raw | one_way_batched | 65.0 (50.0 – 80.0) M msg/s | 5 |");
  CHECK(line_of(block, "| volley | tls_one_way |") ==
        "| volley | tls_one_way | 7.00 (6.00 – 8.00) M msg/s | 4 of 5 |");
  CHECK(line_of(block, "| caf | one_way |") ==
        "| caf | one_way | 0.280 (0.250 – 0.300) M msg/s | 3 |");
  // Ratios round by round: volley against the raw socket of the same round,
  // TLS against plaintext where a round has both, CAF paired by round.
  CHECK(line_of(block, "| volley one_way / raw one_way_batched |") ==
        "| volley one_way / raw one_way_batched | 0.217 (0.175 – 0.246) | 5 |");
  CHECK(line_of(block, "| volley tls_one_way / volley one_way |") ==
        "| volley tls_one_way / volley one_way | 0.500 | 4 |");  // a flat range once
  CHECK(line_of(block, "| volley one_way / caf one_way |") ==
        "| volley one_way / caf one_way | 53.6 (40.0 – 56.0) | 3 |");
  // No figure of either file, so no such row.
  CHECK(line_of(block, "| volley rtt_p50 /") == "");
  CHECK(block.find("planned rounds") == std::string::npos);
}

TEST_CASE("rounds that a time budget or a failure left out are named under the table") {
  json ok_round = {{"status", "ok"},
                   {"figures", {remote_figure("volley", "one_way", 14, "M msg/s")}}};
  json failed_round = {{"status", "failed"}, {"figures", json::array()}};
  json extras = {
      {"remote (volley)",
       {{"status", "ok"},
        {"stopped", "time budget"},
        {"rounds_planned", 5},
        {"rounds", {ok_round, ok_round}}}},
      {"remote (CAF)",
       {{"status", "failed"}, {"rounds_planned", 3}, {"rounds", {ok_round, failed_round}}}}};
  const auto md = extras_markdown(extras);
  CHECK(md.find("remote (volley): 2 of 5 planned rounds ran (time budget).") != std::string::npos);
  CHECK(md.find("remote (CAF): 2 of 3 planned rounds ran (status failed).") != std::string::npos);
  // The failed round has no figure: the row says so.
  CHECK(md.find("| volley | one_way | 14.0 M msg/s | 1 of 2 |") != std::string::npos);
}

TEST_CASE("a result file from before rounds still renders its one run's values") {
  // Schema 3: one run's figures at the entry itself.
  json data = {{"schema_version", 3},
               {"run", {{"repetitions", 3}, {"workers", 2}}},
               {"runs", json::array()},
               {"extras",
                {{"remote (volley)",
                  {{"status", "ok"},
                   {"figures",
                    {remote_figure("volley", "one_way", 14.84, "M msg/s"),
                     remote_figure("raw", "one_way_batched", 76.54, "M msg/s"),
                     remote_figure("volley", "rtt_p50", 23.04, "us"),
                     remote_figure("raw", "rtt_p50", 53.92, "us")}}}},
                 {"idle memory (volley)",
                  {{"status", "ok"},
                   {"figures",
                    {{{"bench", "idle-memory"},
                      {"impl", "volley"},
                      {"figure", "RSS growth per idle actor (1000000 actors)"},
                      {"value", 128.02048},
                      {"unit", "B"}}}}}}}}};
  const auto block = readme_block(data, "results/m/old.json");
  CHECK(line_of(block, "| remote (volley) |") == "| remote (volley) | figure | value |");
  CHECK(line_of(block, "| volley | one_way |") == "| volley | one_way | 14.8 M msg/s |");
  CHECK(line_of(block, "| raw | rtt_p50 |") == "| raw | rtt_p50 | 53.9 µs |");
  CHECK(line_of(block, "| volley | RSS growth") ==
        "| volley | RSS growth per idle actor (1000000 actors) | 128 B |");
  CHECK(line_of(block, "| volley one_way / raw one_way_batched |") ==
        "| volley one_way / raw one_way_batched | 0.194 | 1 |");
  CHECK(line_of(block, "| volley rtt_p50 / raw rtt_p50 |") ==
        "| volley rtt_p50 / raw rtt_p50 | 0.427 | 1 |");
}

TEST_CASE("an extras entry without figures or rounds renders nothing and no ratio") {
  json extras = {{"remote (volley)", {{"status", "not built"}, {"rounds", json::array()}}},
                 {"remote (CAF)", {{"status", "failed"}}}};
  CHECK(extras_markdown(extras).empty());
  CHECK(extra_rounds(extras["remote (CAF)"]).empty());
  CHECK(ratio_over_rounds(extras, quoted_ratios().front()).count == 0);
}

TEST_CASE("figures print as plain decimals: latencies in the unit that suits them, no exponent") {
  // A busy machine's tail latency (17 ms, printed in us by remote_bench)
  // read "1.726e+04 us" with %.4g; jemalloc's bytes per idle actor
  // (0.00064) must keep its digits, not round to "0.00"; a large figure
  // takes an SI prefix as the Savina tables' do.
  json rounds = json::array();
  for (double tail : {17260.0, 16800.0, 1349.0})
    rounds.push_back({{"status", "ok"},
                      {"figures",
                       {remote_figure("volley", "rtt_p99.9", tail, "us"),
                        remote_figure("volley", "jemalloc bytes per idle actor", 0.00064, "B"),
                        remote_figure("volley", "RSS growth per idle actor", 1225.07, "B"),
                        remote_figure("raw", "one_way_batched", 2.5e6, "msg/s")}}});
  json extras = {{"remote (volley)", {{"status", "ok"}, {"rounds", rounds}}}};
  const auto md = extras_markdown(extras);
  CHECK(md.find("e+") == std::string::npos);
  CHECK(line_of("\n" + md, "| volley | rtt_p99.9 |") ==
        "| volley | rtt_p99.9 | 16.8 ms (1.35 ms – 17.3 ms) | 3 |");
  CHECK(line_of("\n" + md, "| volley | jemalloc bytes") ==
        "| volley | jemalloc bytes per idle actor | 0.000640 B | 3 |");
  CHECK(line_of("\n" + md, "| volley | RSS growth") ==
        "| volley | RSS growth per idle actor | 1.23 kB | 3 |");
  CHECK(line_of("\n" + md, "| raw | one_way_batched |") ==
        "| raw | one_way_batched | 2.50 M msg/s | 3 |");
}

TEST_CASE("bytes take the prefix on the unit, zero prints as 0 B, and a flat range once") {
  // README's idle-memory table read "1.22 k B" and "0.00 (0.00 – 0.00) B".
  json rounds = json::array();
  const std::vector<std::pair<double, double>> rss_and_kept = {
      {1226, 42.2}, {1210, 41.7}, {1262, 43.5}};
  for (const auto& [rss, kept] : rss_and_kept)
    rounds.push_back({{"status", "ok"},
                      {"figures",
                       {remote_figure("caf", "RSS growth per idle actor", rss, "B"),
                        remote_figure("volley", "jemalloc bytes per idle actor", 0.0, "B"),
                        remote_figure("volley", "RSS per actor kept", kept, "B")}}});
  json extras = {{"idle memory", {{"status", "ok"}, {"rounds", rounds}}}};
  const auto md = "\n" + extras_markdown(extras);
  CHECK(line_of(md, "| caf | RSS growth") ==
        "| caf | RSS growth per idle actor | 1.23 kB (1.21 kB – 1.26 kB) | 3 |");
  CHECK(line_of(md, "| volley | jemalloc bytes") ==
        "| volley | jemalloc bytes per idle actor | 0 B | 3 |");
  CHECK(line_of(md, "| volley | RSS per actor kept") ==
        "| volley | RSS per actor kept | 42.2 B (41.7 B – 43.5 B) | 3 |");
  CHECK(md.find(" k B") == std::string::npos);
  CHECK(md.find("0.00") == std::string::npos);
  // One round: the plain value, in the same form.
  json one = {{"idle memory", {{"status", "ok"}, {"rounds", json::array({rounds[0]})}}}};
  CHECK(line_of("\n" + extras_markdown(one), "| caf | RSS growth") ==
        "| caf | RSS growth per idle actor | 1.23 kB |");
}
