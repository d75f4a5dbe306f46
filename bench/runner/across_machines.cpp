#include "across_machines.hpp"

#include "gnuplot_chart.hpp"
#include "report_tables.hpp"
#include "results_file.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <optional>
#include <sstream>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "39.9 M (38.3 M/CPU-s)": volley's median and its items per CPU-second.
std::string volley_cell(const json& row) {
  const auto& v = row.value("volley", json());
  auto text = figure(v);
  if (has_figures(v) && v.contains("per_cpu_s"))
    text += " (" + si(v["per_cpu_s"]["median"].get<double>()) + "/CPU-s)";
  return text;
}

// "0.92× (worst 0.83×) (noise) vs CAF at 50.9 M", or why there is no ratio.
std::string peer_cell(const json& row) {
  auto text = best_peer_ratio(row);
  if (!row["ratio"].is_null()) text += " at " + figure(row.value(best_peer_of(row), json()));
  return text;
}

}  // namespace

void across_machines(std::ostream& md, const std::vector<machine_results>& machines,
                     const fs::path& root, bool charts) {
  // Reference sizes where a machine has them, else Savina's.
  std::vector<const machine_results*> with_runs;
  std::vector<const std::vector<headline_row>*> rows_of;
  for (const auto& m : machines)
    if (!m.headlines.empty()) {
      with_runs.push_back(&m);
      rows_of.push_back(&m.headlines.front().second);
    }
  if (with_runs.empty()) return;
  std::ostringstream head;
  head << "| workload | unit |";
  for (const auto* m : with_runs) head << " " << m->id << " |";
  head << "\n|---|---|";
  for (std::size_t i = 0; i < with_runs.size(); ++i) head << "--:|";
  head << "\n";
  bar_chart volley_chart{
      "volley throughput across machines (log scale)", "throughput (unit per workload)", {}, {}};
  bar_chart ratio_chart{
      "volley / best peer across machines (log scale; 1 = parity)", "volley / best peer", {}, {}};
  for (std::size_t i = 0; i < with_runs.size(); ++i) {
    auto label = with_runs[i]->id + " (" + with_runs[i]->headlines.front().first + ")";
    volley_chart.series.push_back(label);
    ratio_chart.series.push_back(label);
  }
  std::ostringstream volley_rows, peer_rows;
  for (const auto& spec : savina::workload_specs()) {
    std::vector<std::optional<double>> volley_values, ratios;
    bool any = false;
    std::ostringstream volley_cells, peer_cells;
    for (const auto* rows : rows_of) {
      const headline_row* found = nullptr;
      for (const auto& r : *rows)
        if (r.row["workload"] == spec.name) found = &r;
      if (found == nullptr) {
        volley_cells << " – |";
        peer_cells << " – |";
        volley_values.push_back(std::nullopt);
        ratios.push_back(std::nullopt);
        continue;
      }
      any = true;
      const auto& row = found->row;
      const auto mark = row_mark(row, found->file->data);
      volley_cells << " " << volley_cell(row) << mark << " |";
      peer_cells << " " << peer_cell(row) << mark << " |";
      volley_values.push_back(median_of(row["volley"]));
      ratios.push_back(row["ratio"].is_null() ? std::nullopt
                                              : std::optional<double>(row["ratio"].get<double>()));
    }
    if (!any) continue;
    volley_rows << "| " << spec.name << " | " << spec.unit << " |" << volley_cells.str() << "\n";
    peer_rows << "| " << spec.name << kind_suffix(std::string(spec.name)) << " | " << spec.unit
              << " |" << peer_cells.str() << "\n";
    volley_chart.groups.push_back({std::string(spec.name), volley_values});
    ratio_chart.groups.push_back({std::string(spec.name), ratios});
  }
  md << "## Across machines\n\n"
     << "Each machine's newest figures (reference sizes where it has them), at the worker count "
        "its headline table names.\n\n"
     << "volley's median throughput, and in brackets per CPU-second: items per second of CPU "
        "time its process used (user and system). Throughput grows with cores where a workload "
        "scales; per CPU-second compares what the same work costs on each machine, whatever "
        "its core count.\n\n"
     << head.str() << volley_rows.str() << "\n"
     << "volley against the best peer on the same machine: the ratio of medians, the worst case "
        "(volley's slowest repetition against the peer's fastest), the peer and its median; "
        "\"no peer run\" where that machine's file has no CAF or Erlang/OTP runs.\n\n"
     << head.str() << peer_rows.str() << "\n";
  if (charts) {
    if (draw_bars(volley_chart, (root / "charts/across-machines-volley.svg").string()))
      md << "![volley across machines](charts/across-machines-volley.svg)\n\n";
    if (draw_bars(ratio_chart, (root / "charts/across-machines-ratio.svg").string()))
      md << "![volley/best peer across machines](charts/across-machines-ratio.svg)\n\n";
  }
}

}  // namespace volley::bench
