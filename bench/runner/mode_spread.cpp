#include "mode_spread.hpp"

#include "results_file.hpp"
#include "spread_cause.hpp"

#include <algorithm>
#include <cstdio>

namespace volley::bench {

using nlohmann::json;

std::optional<mode_group> widest_mode_group(
    const std::map<std::string, std::vector<const json*>>& by_mode) {
  std::optional<mode_group> widest;
  for (const auto& [mode, members] : by_mode) {
    if (members.size() < fewest_runs_in_mode) continue;
    auto by_throughput = [](const json* a, const json* b) {
      return a->at("throughput").get<double>() < b->at("throughput").get<double>();
    };
    const auto [lo, hi] = std::minmax_element(members.begin(), members.end(), by_throughput);
    const double spread =
        (*hi)->at("throughput").get<double>() / (*lo)->at("throughput").get<double>();
    if (!widest || spread > widest->spread)
      widest = mode_group{mode, spread, *lo, *hi, members.size()};
  }
  return widest;
}

namespace {

json figure_of(const std::map<std::string, std::vector<const json*>>& by_mode) {
  const auto widest = widest_mode_group(by_mode);
  if (!widest) return {{"verdict", "too few runs"}};
  return {{"spread", widest->spread},
          {"mode", widest->mode},
          {"runs", widest->runs},
          {"verdict", widest->spread <= narrow_spread ? "narrow" : "wide"}};
}

std::string fixed(const char* format, double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// "1.38 > 1.3 (typical, 3 of 3 runs)": `of` is how many runs the figure
// could have drawn on.
std::string judged_text(const json& figure, std::size_t of) {
  return fixed("%.2f", figure["spread"].get<double>()) +
         (figure["verdict"] == "narrow" ? " ≤ " : " > ") + fixed("%g", narrow_spread) + " (" +
         figure["mode"].get<std::string>() + ", " +
         std::to_string(figure["runs"].get<std::size_t>()) + " of " + std::to_string(of) + " runs)";
}

}  // namespace

json mode_spread(const std::vector<const json*>& runs, std::optional<double> median_probe_ns,
                 std::optional<double> quiet_issue, std::optional<double> full_clock) {
  std::map<std::string, std::vector<const json*>> issue_runs, strict_runs;
  int mixed = 0, disturbed = 0, contended = 0;
  for (const json* r : runs) {
    const auto mode = run_probe_mode(*r, median_probe_ns, full_clock);
    if (mode == "mixed") {
      ++mixed;
      continue;
    }
    if (!disturbance(*r).empty()) {
      ++disturbed;
      continue;
    }
    issue_runs[mode].push_back(r);
    if (!host_contention(*r, quiet_issue).empty())
      ++contended;
    else
      strict_runs[mode].push_back(r);
  }
  json modes = json::object();
  for (const auto& [mode, members] : issue_runs) modes[mode] = members.size();
  return {{"runs", runs.size()},
          {"mixed", mixed},
          {"disturbed", disturbed},
          {"modes", modes},
          {"contended", contended},
          {"issue", figure_of(issue_runs)},
          {"strict", figure_of(strict_runs)}};
}

std::string issue_spread_text(const json& m) {
  if (!m.is_object() || !m.contains("issue")) return "";
  const auto runs = m["runs"].get<std::size_t>();
  if (m["issue"]["verdict"] != "too few runs") return judged_text(m["issue"], runs);
  // Where the runs went: "1 typical, 2 mixed".
  std::string where;
  for (const auto& [mode, count] : m["modes"].items())
    where += (where.empty() ? "" : ", ") + std::to_string(count.get<int>()) + " " + mode;
  for (const char* kind : {"mixed", "disturbed"})
    if (m[kind].get<int>() > 0)
      where += (where.empty() ? "" : ", ") + std::to_string(m[kind].get<int>()) + " " + kind;
  return "too few runs in one mode (" + (where.empty() ? "no run" : where) + ")";
}

std::string strict_spread_text(const json& m) {
  if (!m.is_object() || !m.contains("strict")) return "";
  const auto contended = m["contended"].get<std::size_t>();
  std::size_t counted = 0;
  for (const auto& [mode, count] : m["modes"].items()) counted += count.get<std::size_t>();
  if (contended == 0) return "none with a busy SMT sibling: as issue 9's";
  std::string text =
      std::to_string(contended) + " of " + std::to_string(counted) + " with a busy SMT sibling";
  if (m["strict"]["verdict"] == "too few runs") return text + "; too few left";
  return text + "; " + judged_text(m["strict"], counted - contended);
}

}  // namespace volley::bench
