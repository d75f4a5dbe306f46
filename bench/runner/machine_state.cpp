#include "machine_state.hpp"

#include "results_file.hpp"
#include "spread_cause.hpp"
#include "statistics.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace volley::bench {

using nlohmann::json;

// The machine's state over one file's runs: the probe's median and range,
// which repetitions were in another probe mode, steal and frequency.
void machine_state(std::ostream& md, const json& data) {
  const auto& runs = data.value("runs", json::array());
  auto median = median_probe_ns(runs);
  if (!median) return;
  std::vector<double> probes, steal, mhz, others, compute;
  std::vector<std::string> flagged;
  int mixed = 0, clock_mixed = 0, lower_clock = 0, disturbed = 0, contended = 0;
  const auto quiet_issue = quiet_issue_ns(runs);
  const auto quiet_figure = quiet_issue_figure(runs);
  const auto full_clock = full_clock_ns(runs);
  std::optional<double> busiest_issue;
  // Files from 2026-12-03T13:30Z on sample the clock while each run runs;
  // the lines below say which reading they give.
  const bool sampled = std::any_of(runs.begin(), runs.end(),
                                   [](const json& r) { return r.contains("probe_during"); });
  for (const auto& r : runs) {
    const bool round_trip_mixed = run_probe_mode(r, median) == "mixed";
    const auto mode = run_probe_mode(r, median, full_clock);
    if (round_trip_mixed) ++mixed;
    if (!round_trip_mixed && mode == "mixed") ++clock_mixed;
    if (at_lower_clock(mode)) ++lower_clock;
    if (!disturbance(r).empty()) ++disturbed;
    if (!host_contention(r, quiet_figure).empty()) ++contended;
    if (auto issue = run_issue_ns(r)) busiest_issue = std::max(busiest_issue.value_or(0.0), *issue);
    if (r.contains("others_busy")) others.push_back(r["others_busy"].get<double>());
    for (const char* when : {"probe_before", "probe_after"})
      if (r.contains(when) && r[when].is_object() &&
          r[when].value("compute_ns", json()).is_number())
        compute.push_back(r[when]["compute_ns"].get<double>());
    std::optional<double> worst;
    for (const char* when : {"probe_before", "probe_after"})
      if (r.contains(when) && r[when].is_object()) {
        // value(): a probe may lack a field (a const operator[] on a
        // missing key is undefined; ASan's debug build aborts on it).
        const auto round_trip = r[when].value("round_trip_ns", json());
        if (round_trip.is_number()) {
          probes.push_back(round_trip.get<double>());
          worst = std::max(worst.value_or(0.0), round_trip.get<double>());
        }
        if (const auto f = r[when].value("mhz", json()); f.is_number())
          mhz.push_back(f.get<double>());
      }
    if (r.contains("steal")) steal.push_back(r["steal"].get<double>());
    if (worst && probe_mode(*worst, *median) != "typical")
      flagged.push_back(r["workload"].get<std::string>() + " " + r["runtime"].get<std::string>() +
                        " rep " + std::to_string(r.value("repetition", 0)) + " (" +
                        duration_text(*worst) + ", " + probe_mode(*worst, *median) + ")");
  }
  auto p = summarise(probes);
  char buffer[256];
  std::snprintf(
      buffer, sizeof buffer,
      "Machine state: cache-line round trip between CPUs %s median %s (%s – %s over %zu probes)",
      data.value("probe_cpus", json::array()).dump().c_str(), duration_text(*median).c_str(),
      duration_text(p.min).c_str(), duration_text(p.max).c_str(), p.count);
  md << buffer;
  if (!steal.empty()) {
    std::snprintf(buffer, sizeof buffer, "; steal up to %.1f%%", 100 * summarise(steal).max);
    md << buffer;
  }
  if (!mhz.empty()) {
    auto f = summarise(mhz);
    std::snprintf(buffer, sizeof buffer, "; CPU %.0f – %.0f MHz", f.min, f.max);
    md << buffer;
  }
  if (!compute.empty()) {
    auto c = summarise(compute);
    std::snprintf(buffer, sizeof buffer, "; compute step %.2f – %.2f ns", c.min, c.max);
    md << buffer;
  }
  if (quiet_issue && busiest_issue) {
    std::snprintf(buffer, sizeof buffer, "; issue step %.2f – %.2f ns", *quiet_issue,
                  *busiest_issue);
    md << buffer;
  }
  if (!others.empty()) {
    std::snprintf(buffer, sizeof buffer,
                  "; other processes kept up to %.0f%% of the CPUs busy during a run",
                  100 * summarise(others).max);
    md << buffer;
  }
  md << ".";
  if (mixed > 0)
    md << " " << mixed << " run(s) changed probe mode while they ran (before and after disagree);"
       << " they count in no mode's spread.";
  if (lower_clock > 0 || clock_mixed > 0) {
    char full[32];
    std::snprintf(full, sizeof full, "%.2f", full_clock.value_or(0.0));
    md << " " << lower_clock << " run(s) saw a lower clock (a compute step above "
       << clock_drop_factor << "× the full clock, " << full << " ns, on a CPU they kept busy"
       << (sampled ? ", in most of the samples taken while they ran" : "")
       << "): that is a probe mode of its own";
    if (clock_mixed > 0)
      md << ", and " << clock_mixed << " run(s) changed clock while they ran"
         << (sampled ? " (over a quarter of their samples on each side)" : "");
    md << ".";
  }
  if (disturbed > 0)
    md << " " << disturbed << " run(s) shared the machine (other processes above "
       << static_cast<int>(100 * others_busy_limit) << "% of the CPUs, or steal above "
       << static_cast<int>(100 * steal_limit) << "%) and count in no mode's spread.";
  if (contended > 0)
    md << " " << contended << " run(s) had an issue step above " << issue_contention_factor
       << "× the file's quiet one (its 5th percentile) on a CPU they kept busy, taken per"
       << " compute step where the probe has one (the host's SMT sibling busy, "
       << (sampled ? "in over a quarter of the samples taken while they ran"
                   : "before or after the run")
       << "): issue 9's spread counts them, the stricter reading sets them apart.";
  if (flagged.empty()) {
    md << " Every run's probe was within " << probe_mode_factor << "× of the median.\n\n";
  } else {
    md << " Runs in another probe mode (more than " << probe_mode_factor << "× off the median): ";
    for (std::size_t i = 0; i < flagged.size(); ++i) md << (i ? ", " : "") << flagged[i];
    md << ".\n\n";
  }
}

}  // namespace volley::bench
