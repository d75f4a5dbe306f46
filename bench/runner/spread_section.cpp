#include "spread_section.hpp"

#include "mode_spread.hpp"
#include "report_tables.hpp"
#include "results_file.hpp"
#include "spread_cause.hpp"

#include <cstdio>
#include <string>

namespace volley::bench {

using nlohmann::json;

namespace {

bool has_mode_spread(const json& row, const std::string& runtime) {
  return row.contains(runtime) && row[runtime].is_object() && row[runtime].contains("mode_spread");
}

// Workloads by their verdict in one reading ("issue" or "strict").
struct verdicts {
  std::vector<std::string> narrow, wide, unjudged;
};

verdicts volley_verdicts(const std::vector<json>& rows, const char* reading) {
  verdicts out;
  for (const auto& row : rows) {
    const auto name = row["workload"].get<std::string>();
    if (!has_mode_spread(row, "volley")) {
      out.unjudged.push_back(name + " (no successful run)");
      continue;
    }
    const auto& figure = row["volley"]["mode_spread"][reading];
    if (figure["verdict"] == "narrow") {
      out.narrow.push_back(name);
    } else if (figure["verdict"] == "wide") {
      char spread[32];
      std::snprintf(spread, sizeof spread, " %.2f", figure["spread"].get<double>());
      out.wide.push_back(name + spread);
    } else {
      out.unjudged.push_back(name);
    }
  }
  return out;
}

std::string names(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& name : list) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "15 ≤ 1.3, 1 > 1.3 (fork-join-creation 1.38), 6 not judged (too few
// runs in one probe mode: ping-pong, ...)".
std::string counts_text(const verdicts& v, const std::string& limit, bool name_unjudged) {
  std::string text = std::to_string(v.narrow.size()) + " ≤ " + limit + ", " +
                     std::to_string(v.wide.size()) + " > " + limit;
  if (!v.wide.empty()) text += " (" + names(v.wide) + ")";
  text += ", " + std::to_string(v.unjudged.size()) + " not judged";
  if (name_unjudged && !v.unjudged.empty())
    text += " (too few runs in one probe mode: " + names(v.unjudged) + ")";
  return text;
}

// Rows whose volley repetitions, all of them and whatever their mode,
// spread by no more than narrow_spread.
std::size_t narrow_ignoring_modes(const std::vector<json>& rows) {
  std::size_t count = 0;
  for (const auto& row : rows)
    if (has_mode_spread(row, "volley") && row["volley"].contains("spread") &&
        row["volley"]["spread"].get<double>() <= narrow_spread)
      ++count;
  return count;
}

}  // namespace

void spread_section(std::ostream& md, const std::vector<json>& rows) {
  std::vector<std::string> present;
  for (const auto& rt : runtime_names())
    for (const auto& row : rows)
      if (has_mode_spread(row, rt)) {
        present.push_back(rt);
        break;
      }
  if (present.empty()) return;
  char limit[16];
  std::snprintf(limit, sizeof limit, "%g", narrow_spread);
  const auto issue = volley_verdicts(rows, "issue");
  const auto strict = volley_verdicts(rows, "strict");
  md << "**Spread within one probe mode (issue 9: max/min ≤ " << limit << " for volley):** of "
     << rows.size() << " workloads, " << counts_text(issue, limit, true)
     << ". With the runs beside a busy host SMT sibling also set apart (the report's stricter "
        "reading, not the issue's figure): "
     << counts_text(strict, limit, false)
     << ". Over all repetitions, probe modes ignored: " << narrow_ignoring_modes(rows) << " within "
     << limit << ".\n\n";
  md << "Spread per workload and runtime. *Issue 9*: the runs that are neither mixed (the probe "
        "mode changed while they ran) nor disturbed (other processes above "
     << static_cast<int>(100 * others_busy_limit) << "% of the CPUs, or steal above "
     << static_cast<int>(100 * steal_limit)
     << "%), grouped by probe mode; the widest max/min of a mode holding at least "
     << fewest_runs_in_mode
     << " runs (bench/runner/mode_spread.hpp says why two). *Busy SMT sibling set apart*: how "
        "many of those runs had an issue step above "
     << issue_contention_factor
     << "× the file's quietest on a CPU they kept busy, and the same figure without them. The "
        "issue's figures are about volley; the peers' are here for comparison.\n\n";
  md << "| workload |";
  for (const auto& rt : present)
    md << " " << display_name(rt) << ": issue 9 | " << display_name(rt)
       << ": busy SMT sibling set apart |";
  md << "\n|---|";
  for (std::size_t i = 0; i < present.size(); ++i) md << "---|---|";
  md << "\n";
  for (const auto& row : rows) {
    md << "| " << row["workload"].get<std::string>() << " |";
    for (const auto& rt : present) {
      if (!has_mode_spread(row, rt)) {
        md << " " << figure(row.value(rt, json())) << " | |";
        continue;
      }
      const auto& m = row[rt]["mode_spread"];
      md << " " << issue_spread_text(m) << " | " << strict_spread_text(m) << " |";
    }
    md << "\n";
  }
  md << "\n";
}

}  // namespace volley::bench
