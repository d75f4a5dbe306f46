#include "scaling.hpp"

#include "results_file.hpp"
#include "spread_cause.hpp"
#include "statistics.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

namespace volley::bench {

using nlohmann::json;

namespace {

// repetition -> the successful run of (workload, runtime, workers).
std::map<int, const json*> runs_by_repetition(const json& runs, const std::string& workload,
                                              const std::string& runtime, int workers) {
  std::map<int, const json*> out;
  for (const auto& r : runs) {
    if (r.value("workload", "") != workload || r.value("runtime", "") != runtime ||
        r.value("workers", 0) != workers || r.value("status", "") != "ok" ||
        !r.contains("repetition") || !r["throughput"].is_number())
      continue;
    out[r["repetition"].get<int>()] = &r;
  }
  return out;
}

// A mode's place when two hold as many pairs: the round trip's mode in the
// order typical, fast, slow, unprobed, and within each a full clock before
// a lower one (spread_cause.hpp's run_probe_mode).
int mode_rank(const std::string& mode) {
  static constexpr std::array<std::string_view, 4> round_trip = {"typical", "fast", "slow",
                                                                 "unprobed"};
  const std::string_view base = std::string_view(mode).substr(0, mode.find(lower_clock_suffix));
  const auto at = std::find(round_trip.begin(), round_trip.end(), base);
  const int clock = at_lower_clock(mode) ? 1 : 0;
  return 2 * static_cast<int>(at - round_trip.begin()) + clock;
}

// One mode's pair ratios judged: {"count", "median", "min", "max",
// "below", "verdict"}.
json mode_judgement(const std::vector<double>& ratios) {
  const auto s = summarise(ratios);
  const auto below =
      std::count_if(ratios.begin(), ratios.end(), [](double r) { return r < scaling_loss_below; });
  json out = {{"count", s.count}, {"median", s.median}, {"min", s.min},
              {"max", s.max},     {"below", below},     {"verdict", "too few pairs"}};
  if (s.count >= fewest_pairs_to_judge)
    out["verdict"] = static_cast<double>(below) >= loss_agreement * static_cast<double>(s.count)
                         ? "loss"
                         : "no loss";
  return out;
}

}  // namespace

json scaling_pairs(const json& runs, const std::string& workload, const std::string& runtime,
                   int workers, std::optional<double> median_probe) {
  const auto at_1 = runs_by_repetition(runs, workload, runtime, 1);
  const auto at_n = runs_by_repetition(runs, workload, runtime, workers);
  const auto full_clock = full_clock_ns(runs);
  json pairs = json::array();
  int mixed = 0;
  std::map<std::string, std::vector<double>> by_mode;
  for (const auto& [rep, one] : at_1) {
    auto it = at_n.find(rep);
    if (it == at_n.end()) continue;
    const double base = (*one)["throughput"].get<double>();
    if (base <= 0) continue;
    const double ratio = (*it->second)["throughput"].get<double>() / base;
    // Each run's mode as the spread's cause reads it (spread_cause.hpp).
    const auto mode_1 = run_probe_mode(*one, median_probe, full_clock);
    const auto mode_n = run_probe_mode(*it->second, median_probe, full_clock);
    const auto mode = mode_1 == mode_n ? mode_1 : "mixed";
    pairs.push_back({{"repetition", rep}, {"ratio", ratio}, {"mode", mode}});
    if (mode == "mixed")
      ++mixed;
    else
      by_mode[mode].push_back(ratio);
  }
  if (pairs.empty()) return nullptr;
  json out = {{"pairs", pairs},
              {"mixed", mixed},
              {"mode", nullptr},
              {"count", 0},
              {"verdict", "too few pairs"}};
  // The mode with the most pairs leads; on a tie the one holding the median
  // probe ("typical") first, and a full clock before a lower one, so the
  // judgement does not depend on map order.
  std::vector<std::string> modes;
  for (const auto& [mode, ratios] : by_mode) modes.push_back(mode);
  std::stable_sort(modes.begin(), modes.end(), [&](const std::string& a, const std::string& b) {
    if (by_mode[a].size() != by_mode[b].size()) return by_mode[a].size() > by_mode[b].size();
    return mode_rank(a) < mode_rank(b);
  });
  if (modes.empty()) return out;  // every pair straddles two modes
  const std::string lead = modes.front();
  out["mode"] = lead;
  out.update(mode_judgement(by_mode[lead]));
  // Every other mode with enough pairs is judged too, each within itself:
  // a loss in any of them is a loss of the step.
  json others = json::array();
  for (const auto& mode : modes) {
    if (mode == lead || by_mode[mode].size() < fewest_pairs_to_judge) continue;
    json other = mode_judgement(by_mode[mode]);
    other["mode"] = mode;
    if (other["verdict"] == "loss") out["verdict"] = "loss";
    others.push_back(other);
  }
  if (!others.empty()) out["other_modes"] = others;
  return out;
}

namespace {

// "2.61 [2.32-2.70], 0 of 3 below 0.90, slow": one mode's judgement.
std::string mode_text(const json& m) {
  char text[160];
  std::snprintf(text, sizeof text, "%.2f [%.2f-%.2f], %d of %zu below %.2f, %s",
                m["median"].get<double>(), m["min"].get<double>(), m["max"].get<double>(),
                m["below"].get<int>(), m["count"].get<std::size_t>(), scaling_loss_below,
                m["mode"].get<std::string>().c_str());
  return text;
}

std::string pairs_text(const json& p) {
  if (p.is_null()) return "";
  if (p["count"].get<std::size_t>() == 0)
    return "; pairs: " + std::to_string(p["mixed"].get<int>()) + " across probe modes, none judged";
  std::string out = "; pairs " + mode_text(p);
  if (p["mixed"].get<int>() > 0) out += " (" + std::to_string(p["mixed"].get<int>()) + " mixed)";
  for (const auto& other : p.value("other_modes", json::array()))
    out += "; and " + mode_text(other);
  if (p["verdict"] == "loss") return out + ": loss";
  if (p["verdict"] == "too few pairs") return out + ": too few to judge";
  return out;
}

std::string scaling_cell(const json& at_n, const json& at_1, const json& pairs) {
  if (!has_figures(at_n)) return median_text(at_n);
  std::string text = median_text(at_n);
  if (!has_figures(at_1)) return text;
  char ratio[96];
  const double r = at_n["median"].get<double>() / at_1["median"].get<double>();
  // Without pairs (a file whose runs carry no repetition), the medians are
  // all there is to judge by.
  const bool median_loss = pairs.is_null() && r < scaling_loss_below;
  std::snprintf(ratio, sizeof ratio, " (%.2f%s", r, median_loss ? ", loss" : "");
  text += ratio + pairs_text(pairs);
  if (at_n.contains("per_cpu_s") && at_1.contains("per_cpu_s")) {
    std::snprintf(
        ratio, sizeof ratio, "; per CPU-s %.2f",
        at_n["per_cpu_s"]["median"].get<double>() / at_1["per_cpu_s"]["median"].get<double>());
    text += ratio;
  }
  return text + ")";
}

// Adds one step's verdict to `out`: the pairs' when there are pairs, else
// (a file without repetition numbers) the medians', as scaling_cell shows it.
void count_verdict(scaling_result& out, const std::string& step, const json& at_n, const json& at_1,
                   const json& pairs) {
  std::string verdict;
  if (!pairs.is_null())
    verdict = pairs["verdict"].get<std::string>();
  else if (has_figures(at_n) && has_figures(at_1))
    verdict = at_n["median"].get<double>() / at_1["median"].get<double>() < scaling_loss_below
                  ? "loss"
                  : "no loss";
  if (verdict.empty()) return;
  if (verdict == "too few pairs") {
    out.unjudged.push_back(step);
    return;
  }
  ++out.judged;
  if (verdict == "loss") out.losses.push_back(step);
}

}  // namespace

std::string scaling_table(const json& summary, const json& runs) {
  return scaling_of(summary, runs).table;
}

scaling_result scaling_of(const json& summary, const json& runs) {
  scaling_result out;
  // workload (first-seen order) -> workers -> row
  std::vector<std::string> order;
  std::map<std::string, std::map<int, json>> rows;
  int most = 1;
  for (const auto& row : summary) {
    const auto w = row["workload"].get<std::string>();
    if (rows.find(w) == rows.end()) order.push_back(w);
    const int n = row["workers"].get<int>();
    rows[w][n] = row;
    most = std::max(most, n);
  }
  const auto median_probe = runs.is_array() ? median_probe_ns(runs) : std::nullopt;
  std::ostringstream md;
  md << "| workload | runtime | 1 worker |";
  for (int n = 2; n <= most; ++n) md << " " << n << " workers (/1 worker) |";
  md << "\n|---|---|--:|";
  for (int n = 2; n <= most; ++n) md << "--:|";
  md << "\n";
  bool any = false;
  for (const auto& w : order) {
    const auto& by_n = rows[w];
    auto one = by_n.find(1);
    if (one == by_n.end() || by_n.size() < 2) continue;
    for (const auto& rt : runtime_names()) {
      const json at_1 = one->second.value(rt, json());
      if (at_1.is_null()) continue;
      any = true;
      md << "| " << w << " | " << rt << " | " << median_text(at_1) << " |";
      for (int n = 2; n <= most; ++n) {
        auto it = by_n.find(n);
        const json pairs =
            runs.is_array() ? scaling_pairs(runs, w, rt, n, median_probe) : json(nullptr);
        const json at_n = it == by_n.end() ? json() : it->second.value(rt, json());
        md << " " << (it == by_n.end() ? "-" : scaling_cell(at_n, at_1, pairs)) << " |";
        count_verdict(out, w + " (" + rt + ", " + std::to_string(n) + " workers)", at_n, at_1,
                      pairs);
      }
      md << "\n";
    }
  }
  if (any) out.table = md.str();
  return out;
}

}  // namespace volley::bench
