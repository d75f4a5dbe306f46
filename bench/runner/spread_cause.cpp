#include "spread_cause.hpp"

#include "mode_spread.hpp"
#include "results_file.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace volley::bench {

using nlohmann::json;

namespace {

std::optional<double> probe_at(const json& run, const char* when) {
  if (!run.contains(when) || !run[when].is_object()) return std::nullopt;
  const auto& rt = run[when].value("round_trip_ns", json());
  if (!rt.is_number()) return std::nullopt;
  return rt.get<double>();
}

std::optional<double> number(const json& run, const char* key) {
  if (!run.contains(key) || !run[key].is_number()) return std::nullopt;
  return run[key].get<double>();
}

std::string rep_text(const json& run) {
  return "rep " + std::to_string(run.value("repetition", 0));
}

std::string fixed(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// The two factors of a run's throughput (spread_cause.hpp): CPUs busy on
// average, and CPU seconds per item. std::nullopt without CPU time.
struct factors {
  double parallelism;
  double cost;
};

std::optional<factors> factors_of(const json& run) {
  auto cpu = number(run, "cpu_s"), elapsed = number(run, "elapsed_s");
  auto throughput = number(run, "throughput");
  if (!cpu || !elapsed || !throughput || *cpu <= 0 || *elapsed <= 0 || *throughput <= 0)
    return std::nullopt;
  return factors{*cpu / *elapsed, *cpu / (*throughput * *elapsed)};
}

// The busiest thread's share of the CPU time of the run's sampled threads
// (thread_cpu_s): near 1 when one worker did everything, 1/N when N shared
// it evenly. std::nullopt without samples.
std::optional<double> busiest_share(const json& run) {
  if (!run.contains("thread_cpu_s") || !run["thread_cpu_s"].is_object()) return std::nullopt;
  double total = 0, busiest = 0;
  for (const auto& [name, seconds] : run["thread_cpu_s"].items()) {
    total += seconds.get<double>();
    busiest = std::max(busiest, seconds.get<double>());
  }
  if (total <= 0) return std::nullopt;
  return busiest / total;
}

// The probe CPU indices a run kept busy (busy_thread_share), from its
// volley workers' names; empty when its threads do not say.
std::vector<std::size_t> busy_worker_cpus(const json& run) {
  std::vector<std::size_t> out;
  if (!run.contains("thread_cpu_s") || !run["thread_cpu_s"].is_object()) return out;
  double total = 0;
  for (const auto& [name, seconds] : run["thread_cpu_s"].items()) total += seconds.get<double>();
  const std::string worker = "volley-w";
  for (const auto& [name, seconds] : run["thread_cpu_s"].items()) {
    if (total <= 0 || name.rfind(worker, 0) != 0 ||
        seconds.get<double>() < busy_thread_share * total)
      continue;
    try {
      out.push_back(std::stoul(name.substr(worker.size())));
    } catch (const std::exception&) {
      // Not a worker number: the threads do not say which CPU.
      return {};
    }
  }
  return out;
}

// The low_quantile of `values` (spread_cause.hpp says why not the least);
// std::nullopt when empty.
std::optional<double> low_quantile(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  const auto at =
      static_cast<std::size_t>(low_quantile_of_probes * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

bool chosen(const std::vector<std::size_t>& only, std::size_t cpu) {
  return only.empty() || std::find(only.begin(), only.end(), cpu) != only.end();
}

// A probe's compute step on `cpu`: its own, or for a probe from before
// compute_cpus_ns the first CPU's (on the Xeon VM the second CPU's issue
// step over the first's compute step has the same median, 1.44, as the
// first's own: the host's clock mostly moves for both).
std::optional<double> clock_at(const json& probe, std::size_t cpu) {
  const auto& each = probe.value("compute_cpus_ns", json());
  if (each.is_array()) {
    if (cpu < each.size() && each[cpu].is_number()) return each[cpu].get<double>();
    return std::nullopt;
  }
  const auto& first = probe.value("compute_ns", json());
  if (first.is_number()) return first.get<double>();
  return std::nullopt;
}

// How many CPUs a probe covers: one figure each in its arrays.
std::size_t probed_cpus(const json& probe) {
  std::size_t n = 1;
  for (const char* key : {"issue_ns", "compute_cpus_ns"})
    if (const auto& a = probe.value(key, json()); a.is_array()) n = std::max(n, a.size());
  return n;
}

// One issue probe on one CPU: the step, and the same CPU's compute step
// where the probe has one.
struct issue_reading {
  double issue_ns;
  std::optional<double> clock_ns;
  double figure() const { return clock_ns ? issue_ns / *clock_ns : issue_ns; }
};

// Every issue reading a run's probes hold, on the CPUs `only` names (all
// when empty).
std::vector<issue_reading> issue_readings(const json& run,
                                          const std::vector<std::size_t>& only = {}) {
  std::vector<issue_reading> out;
  for (const char* when : {"probe_before", "probe_after"}) {
    if (!run.contains(when) || !run[when].is_object()) continue;
    const auto& issue = run[when].value("issue_ns", json());
    if (!issue.is_array()) continue;
    for (std::size_t cpu = 0; cpu < issue.size(); ++cpu)
      if (issue[cpu].is_number() && chosen(only, cpu))
        out.push_back({issue[cpu].get<double>(), clock_at(run[when], cpu)});
  }
  return out;
}

// Every sample a run's in-run probe (probe_during) holds on the CPUs
// `only` names (all when empty), each with the compute step taken just
// before its issue step on that CPU.
std::vector<issue_reading> sampled_readings(const json& run,
                                            const std::vector<std::size_t>& only = {}) {
  std::vector<issue_reading> out;
  if (!run.contains("probe_during") || !run["probe_during"].is_object()) return out;
  const auto compute = run["probe_during"].value("compute_cpus_ns", json());
  const auto issue = run["probe_during"].value("issue_ns", json());
  if (!compute.is_array() || !issue.is_array()) return out;
  for (std::size_t cpu = 0; cpu < std::min(compute.size(), issue.size()); ++cpu) {
    if (!chosen(only, cpu) || !compute[cpu].is_array() || !issue[cpu].is_array()) continue;
    for (std::size_t i = 0; i < std::min(compute[cpu].size(), issue[cpu].size()); ++i)
      if (compute[cpu][i].is_number() && issue[cpu][i].is_number())
        out.push_back({issue[cpu][i].get<double>(), compute[cpu][i].get<double>()});
  }
  return out;
}

// Where a run's in-run samples on the CPUs it kept busy sat against the
// line of a lower clock (clock_drop_factor over the file's full clock).
struct sampled_clock {
  std::size_t samples = 0;
  std::size_t lower = 0;  // above the line
  double quickest = 0;
  double slowest = 0;
  double lower_share() const { return static_cast<double>(lower) / static_cast<double>(samples); }
  // More than other_state_share on each side, and the clock itself moved
  // by the factor (a level on the line is one clock, not two).
  bool changed() const {
    return std::min(lower_share(), 1 - lower_share()) > other_state_share &&
           slowest > clock_drop_factor * quickest;
  }
};

std::optional<sampled_clock> clock_samples(const json& run, double full_clock) {
  const auto readings = sampled_readings(run, busy_worker_cpus(run));
  if (readings.empty()) return std::nullopt;
  sampled_clock out;
  out.quickest = out.slowest = *readings.front().clock_ns;
  for (const auto& r : readings) {
    ++out.samples;
    if (*r.clock_ns > clock_drop_factor * full_clock) ++out.lower;
    out.quickest = std::min(out.quickest, *r.clock_ns);
    out.slowest = std::max(out.slowest, *r.clock_ns);
  }
  return out;
}

// The slowest clock of one probe of a run on the CPUs `only` names.
std::optional<double> probe_clock(const json& run, const char* when,
                                  const std::vector<std::size_t>& only) {
  if (!run.contains(when) || !run[when].is_object()) return std::nullopt;
  std::optional<double> slowest;
  for (std::size_t cpu = 0; cpu < probed_cpus(run[when]); ++cpu)
    if (auto ns = clock_at(run[when], cpu); ns && chosen(only, cpu))
      slowest = std::max(slowest.value_or(*ns), *ns);
  return slowest;
}

// The end of host_contention's text: "3.90 ns, 2.40x the compute step;
// quiet 1.44x)", or for a reading without a compute step "4.40 ns, quiet
// 2.62 ns)".
std::string issue_against_quiet(const issue_reading& r, double quiet_figure) {
  if (!r.clock_ns)
    return fixed("%.2f", r.issue_ns) + " ns, quiet " + fixed("%.2f", quiet_figure) + " ns)";
  return fixed("%.2f", r.issue_ns) + " ns, " + fixed("%.2f", r.figure()) +
         "x the compute step; quiet " + fixed("%.2f", quiet_figure) + "x)";
}

// Why run_probe_mode called `run` mixed: its round trip's mode changed
// while it ran, or else its clock did (seen in its samples, or between
// its two probes).
std::string mixed_text(const json& run, std::optional<double> median_probe_ns,
                       std::optional<double> full_clock) {
  if (run_probe_mode(run, median_probe_ns) == "mixed")
    return "probe mode changed while it ran (" + duration_text(*probe_at(run, "probe_before")) +
           " before, " + duration_text(*probe_at(run, "probe_after")) + " after)";
  if (auto s = full_clock ? clock_samples(run, *full_clock) : std::nullopt)
    return "the clock changed while it ran (" + std::to_string(s->lower) + " of " +
           std::to_string(s->samples) + " samples at a lower clock; compute step " +
           fixed("%.2f", s->quickest) + "-" + fixed("%.2f", s->slowest) + " ns)";
  const auto busy = busy_worker_cpus(run);
  return "the clock changed while it ran (compute step " +
         fixed("%.2f", *probe_clock(run, "probe_before", busy)) + " ns before, " +
         fixed("%.2f", *probe_clock(run, "probe_after", busy)) + " ns after)";
}

}  // namespace

std::optional<double> run_issue_ns(const json& run) {
  std::optional<double> busiest;
  for (const auto& r : issue_readings(run, busy_worker_cpus(run)))
    busiest = std::max(busiest.value_or(r.issue_ns), r.issue_ns);
  return busiest;
}

std::optional<double> quiet_issue_ns(const json& runs) {
  std::optional<double> quiet;
  for (const auto& run : runs)
    for (const auto& r : issue_readings(run))
      quiet = std::min(quiet.value_or(r.issue_ns), r.issue_ns);
  return quiet;
}

std::optional<double> run_issue_figure(const json& run) {
  std::optional<double> busiest;
  for (const auto& r : issue_readings(run, busy_worker_cpus(run)))
    busiest = std::max(busiest.value_or(r.figure()), r.figure());
  return busiest;
}

std::optional<double> quiet_issue_figure(const json& runs) {
  std::vector<double> figures;
  for (const auto& run : runs)
    for (const auto& r : issue_readings(run)) figures.push_back(r.figure());
  return low_quantile(figures);
}

std::string host_contention(const json& run, std::optional<double> quiet_figure) {
  if (!quiet_figure) return "";
  const auto busy_cpus = busy_worker_cpus(run);
  if (const auto sampled = sampled_readings(run, busy_cpus); !sampled.empty()) {
    std::size_t busy = 0;
    const issue_reading* busiest = &sampled.front();
    for (const auto& r : sampled) {
      if (r.figure() > issue_contention_factor * *quiet_figure) ++busy;
      if (r.figure() > busiest->figure()) busiest = &r;
    }
    if (static_cast<double>(busy) <= other_state_share * static_cast<double>(sampled.size()))
      return "";
    return "the host's SMT sibling was busy in " + std::to_string(busy) + " of " +
           std::to_string(sampled.size()) + " samples while it ran (issue step up to " +
           issue_against_quiet(*busiest, *quiet_figure);
  }
  const auto readings = issue_readings(run, busy_cpus);
  if (readings.empty()) return "";
  const auto busiest = std::max_element(
      readings.begin(), readings.end(),
      [](const issue_reading& a, const issue_reading& b) { return a.figure() < b.figure(); });
  if (busiest->figure() <= issue_contention_factor * *quiet_figure) return "";
  return "the host's SMT sibling was busy (issue step " +
         issue_against_quiet(*busiest, *quiet_figure);
}

std::optional<double> run_clock_ns(const json& run) {
  const auto busy = busy_worker_cpus(run);
  auto before = probe_clock(run, "probe_before", busy);
  auto after = probe_clock(run, "probe_after", busy);
  if (!before) return after;
  if (!after) return before;
  return std::max(*before, *after);
}

std::optional<double> full_clock_ns(const json& runs) {
  std::vector<double> steps;
  for (const auto& run : runs)
    for (const char* when : {"probe_before", "probe_after"})
      if (run.contains(when) && run[when].is_object())
        for (std::size_t cpu = 0; cpu < probed_cpus(run[when]); ++cpu)
          if (auto ns = clock_at(run[when], cpu)) steps.push_back(*ns);
  return low_quantile(steps);
}

std::string run_probe_mode(const json& run, std::optional<double> median_probe_ns,
                           std::optional<double> full_clock) {
  auto before = probe_at(run, "probe_before"), after = probe_at(run, "probe_after");
  if (!median_probe_ns || (!before && !after)) return "unprobed";
  // Two probes either side of a mode's boundary (61 and 70 ns against a
  // 95 ns median) are one mode: mixed needs the probe itself to have moved
  // by the modes' own factor.
  if (before && after &&
      probe_mode(*before, *median_probe_ns) != probe_mode(*after, *median_probe_ns) &&
      std::max(*before, *after) > probe_mode_factor * std::min(*before, *after))
    return "mixed";
  auto mode = probe_mode(std::max(before.value_or(0.0), after.value_or(0.0)), *median_probe_ns);
  if (!full_clock) return mode;
  // The clock: from the samples taken while the run ran where it has
  // them, at the clock most of them saw.
  if (auto sampled = clock_samples(run, *full_clock)) {
    if (sampled->changed()) return "mixed";
    if (sampled->lower_share() > 0.5) mode += lower_clock_suffix;
    return mode;
  }
  // Else from the probes around it, the way the round trip's mode is read:
  // a crossing counts only when the clock itself moved by the factor (1.53
  // and 1.56 ns against a 1.47 ns full clock are one clock, 1.50 and 1.58
  // ns are not).
  const auto busy = busy_worker_cpus(run);
  auto clock_before = probe_clock(run, "probe_before", busy);
  auto clock_after = probe_clock(run, "probe_after", busy);
  auto lower = [&](double ns) { return ns > clock_drop_factor * *full_clock; };
  if (clock_before && clock_after && lower(*clock_before) != lower(*clock_after) &&
      std::max(*clock_before, *clock_after) >
          clock_drop_factor * std::min(*clock_before, *clock_after))
    return "mixed";
  if (auto slowest = run_clock_ns(run); slowest && lower(*slowest)) mode += lower_clock_suffix;
  return mode;
}

std::string disturbance(const json& run) {
  std::string out;
  if (auto others = number(run, "others_busy"); others && *others > others_busy_limit)
    out = "others kept " + fixed("%.0f", 100 * *others) + "% of the CPUs busy";
  if (auto steal = number(run, "steal"); steal && *steal > steal_limit)
    out += (out.empty() ? "" : ", ") + std::string("steal ") + fixed("%.0f", 100 * *steal) + "%";
  return out;
}

json explain_spread(const std::vector<const json*>& runs, std::optional<double> median_probe_ns,
                    std::optional<double> quiet_issue, std::optional<double> full_clock) {
  json out = json::object();
  std::vector<std::string> set_apart;
  std::map<std::string, std::vector<const json*>> groups;
  std::optional<double> shortest;
  for (const json* r : runs) {
    if (auto e = number(*r, "elapsed_s")) shortest = std::min(shortest.value_or(*e), *e);
    auto mode = run_probe_mode(*r, median_probe_ns, full_clock);
    if (mode == "mixed") {
      set_apart.push_back(rep_text(*r) + ": " + mixed_text(*r, median_probe_ns, full_clock));
    } else if (auto why = disturbance(*r); !why.empty()) {
      set_apart.push_back(rep_text(*r) + ": " + why);
    } else if (auto host = host_contention(*r, quiet_issue); !host.empty()) {
      set_apart.push_back(rep_text(*r) + ": " + host);
    } else {
      groups[mode].push_back(r);
    }
  }
  if (!set_apart.empty()) out["set_apart"] = set_apart;
  if (shortest && *shortest < min_window_s) out["shortest_window_s"] = *shortest;

  // The widest group of comparable runs (mode_spread.hpp): the issue's
  // target is a narrow spread within every probe mode.
  std::string cause;
  const auto widest = widest_mode_group(groups);
  if (widest) {
    out["clean_spread"] = widest->spread;
    out["clean_mode"] = widest->mode;
  }
  const std::string group_mode = widest ? widest->mode : "";
  const json* slowest = widest ? widest->slowest : nullptr;
  const json* fastest = widest ? widest->fastest : nullptr;
  const bool several_modes = groups.size() >= 2;
  const bool comparable = slowest != nullptr;
  // The first three set-apart runs by name; a table cell has no room for
  // more.
  auto apart_text = [&] {
    std::string text;
    for (std::size_t i = 0; i < set_apart.size() && i < 3; ++i)
      text += (text.empty() ? "" : "; ") + set_apart[i];
    if (set_apart.size() > 3) text += "; and " + std::to_string(set_apart.size() - 3) + " more";
    return text;
  };

  if (!comparable) {
    // One run or none left to compare: nothing can be said of the rest.
    cause = set_apart.empty() ? "probe does not explain it; nothing else recorded does"
                              : "too few comparable runs to judge: " + apart_text();
  } else if ((several_modes || !set_apart.empty()) &&
             out["clean_spread"].get<double>() <= narrow_spread) {
    cause = several_modes && set_apart.empty() ? "probe modes explain it"
            : several_modes                    ? "probe modes and set-apart runs explain it"
                                               : "set-apart runs explain it";
    cause += " (" + group_mode + " mode " + fixed("%.2f", out["clean_spread"].get<double>()) + ")";
    if (!set_apart.empty()) cause += ": " + apart_text();
  } else {
    auto slow = factors_of(*slowest), fast = factors_of(*fastest);
    if (slow && fast) {
      const double cost = slow->cost / fast->cost;
      const double parallelism = fast->parallelism / slow->parallelism;
      out["cost_ratio"] = cost;
      out["parallelism_ratio"] = parallelism;
      const std::string pair = rep_text(*slowest) + " against " + rep_text(*fastest) + " (" +
                               group_mode + " mode " +
                               fixed("%.2f", out["clean_spread"].get<double>()) + "): ";
      // A compute-bound workload does the same arithmetic per item every
      // time: more CPU time per item there is the CPU running slower.
      const auto* spec = savina::find_workload(slowest->value("workload", ""));
      const bool compute_bound =
          spec != nullptr && spec->kind == savina::workload_kind::compute_bound;
      cause = "probe does not explain it; " + pair +
              (cost >= parallelism
                   ? fixed("%.2f", cost) + "x the CPU time per item at " +
                         fixed("%.2f", parallelism) + "x the parallelism: " +
                         (compute_bound ? "the CPUs ran slower (the same arithmetic per item: "
                                          "the host), which no probe sees"
                                        : "slower CPUs or more work per item, which no probe "
                                          "sees")
                   : fixed("%.2f", parallelism) + "x fewer CPUs busy at " + fixed("%.2f", cost) +
                         "x the CPU time per item: it waited (workers parked, or preempted)");
      // How each run spread over its threads: a change of placement (one
      // worker against two) shows here.
      auto slow_share = busiest_share(*slowest), fast_share = busiest_share(*fastest);
      if (slow_share && fast_share)
        cause += "; busiest thread " + fixed("%.0f", 100 * *slow_share) + "% of the CPU time in " +
                 rep_text(*slowest) + ", " + fixed("%.0f", 100 * *fast_share) + "% in " +
                 rep_text(*fastest);
    } else {
      cause = "probe does not explain it; nothing else recorded does";
    }
    if (!set_apart.empty()) cause += "; set apart: " + apart_text();
  }
  if (out.contains("shortest_window_s"))
    cause += "; shortest timed window " + fixed("%.2f", *shortest) + " s, under " +
             fixed("%.2f", min_window_s) + " s";
  out["cause"] = cause;
  return out;
}

}  // namespace volley::bench
