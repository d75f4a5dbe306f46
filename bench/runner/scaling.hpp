#pragma once
// A worker sweep's scaling, and whether a step up in workers lost throughput
// (issue 11: no workload may lose more than 10% from 1 to 2 workers, judged
// within one probe mode).
//
// Why pairs, not medians
// ----------------------
// A sweep runs each repetition of a workload at 1, 2, ... workers back to
// back, so the runs of one repetition share the machine's state: on the
// project's VM the cache-line round trip between the two vCPUs flips between
// ~70 ns and ~330 ns over minutes (machine_probe.hpp), and a workload's
// throughput follows it. Comparing the median of the 2-worker runs with the
// median of the 1-worker runs mixes repetitions taken in different states:
// with three repetitions, one slow 2-worker run in a quiet pair is enough
// to call a loss. So each repetition gives one pair ratio (its n-worker run
// over its own 1-worker run), a pair counts only when both of its runs fall
// in the same probe mode (results_file.hpp's probe_mode), and the ratios of
// the mode with the most pairs are judged together: a loss when at least
// `loss_agreement` of them are below `scaling_loss_below`, from at least
// `fewest_pairs_to_judge` pairs. The medians stay beside the pairs in the
// table, as before.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// Below this ratio (n workers over 1), a step up in workers is a loss.
inline constexpr double scaling_loss_below = 0.90;

/// The fewest pairs in one probe mode a loss is judged from: with two, one
/// disturbed run decides half the vote. Three is also the quick profile's
/// repetitions, so a quiet machine (one mode) can still be judged there.
inline constexpr std::size_t fewest_pairs_to_judge = 3;

/// The share of the judged pairs that must be below scaling_loss_below for
/// a loss: two of three, five of seven. A bare majority would let one noisy
/// pair of three tip the verdict either way; requiring all of them would let
/// one noisy pair of seven hide a loss the other six show.
inline constexpr double loss_agreement = 2.0 / 3.0;

/// One workload's, one runtime's pairs at one worker count n > 1, from a
/// sweep's runs (every run, all workloads): {"pairs": [{"repetition",
/// "ratio", "mode"}] in repetition order, "mixed": pairs whose two runs
/// were in different probe modes (not judged), "mode": the judged mode
/// ("typical", "slow", "fast", or "unprobed" for runs without probes),
/// "count", "median", "min", "max", "below": of the judged mode's pairs,
/// "verdict": "loss", "no loss" or "too few pairs"}. Pairs are matched by
/// repetition; runs that did not succeed make none. Null without a pair.
nlohmann::json scaling_pairs(const nlohmann::json& runs, const std::string& workload,
                             const std::string& runtime, int workers,
                             std::optional<double> median_probe);

/// A worker sweep's scaling, as a Markdown table: per workload and runtime
/// the median throughput at each worker count, with in brackets the ratio of
/// medians over 1 worker, the pair ratios' median and range with how many
/// were below 0.90 and in which mode, the verdict, and the ratio per
/// CPU-second. "loss" comes from the pairs; a file whose runs make no pairs
/// (no repetition numbers) falls back to the medians. Empty when no workload
/// ran at 1 worker and at more.
std::string scaling_table(const nlohmann::json& summary, const nlohmann::json& runs);

/// scaling_table's table with its verdicts counted: every step up in
/// workers is judged (a loss or not, by the rule above), or left unjudged
/// (too few pairs in one probe mode), each step named "workload (runtime,
/// n workers)".
struct scaling_result {
  std::string table;  // empty as scaling_table's
  std::size_t judged = 0;
  std::vector<std::string> losses;    // judged a loss
  std::vector<std::string> unjudged;  // too few pairs to judge
};
scaling_result scaling_of(const nlohmann::json& summary, const nlohmann::json& runs);

}  // namespace volley::bench
