#include "report_tables.hpp"

#include "results_file.hpp"
#include "scaling.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

namespace volley::bench {

using nlohmann::json;

// " (partial: 69 of 207 runs)" for a partial file, else "".
std::string partial_mark(const json& data) {
  auto text = partial_text(data);
  return text.empty() ? text : " (" + text + ")";
}

// " (partial: ...; 2 of 3 repetitions)": the file's mark and, when the row
// has fewer repetitions than planned, how many it has.
std::string row_mark(const json& row, const json& data) {
  auto text = partial_text(data);
  if (text.empty()) return text;
  if (auto reps = repetitions_text(row, data); !reps.empty()) text += "; " + reps;
  return " (" + text + ")";
}

// median_text's, with the report's dash for a runtime that did not run.
std::string figure(const json& runtime_summary) {
  return runtime_summary.is_null() ? "–" : median_text(runtime_summary);
}

// "3.07 M (2.9 M – 3.1 M; 1.5 M/CPU-s)": median, range, cost.
std::string runtime_cell(const json& s) {
  auto text = figure(s);
  if (s.is_null() || s["count"].get<std::size_t>() == 0) return text;
  text += " (" + si(s["min"].get<double>()) + " – " + si(s["max"].get<double>());
  if (s.contains("per_cpu_s")) text += "; " + si(s["per_cpu_s"]["median"].get<double>()) + "/CPU-s";
  return text + ")";
}

std::string display_name(const std::string& runtime) {
  if (runtime == "caf") return "CAF";
  if (runtime == "erlang") return "Erlang/OTP";
  return runtime;
}

// The peer volley is held against; files from before schema 2 compared
// with CAF only and name none.
std::string best_peer_of(const json& row) {
  const auto& peer = row.value("best_peer", json("caf"));
  return peer.is_string() ? peer.get<std::string>() : "";
}

// "3.29× (worst 2.59×) vs Erlang/OTP", or why the row has no ratio: no peer
// ran on that machine (a run without CAF and Erlang installed), every peer
// failed, or volley did.
std::string best_peer_ratio(const json& row) {
  if (!row["ratio"].is_null())
    return ratio_text(row, false) + " vs " + display_name(best_peer_of(row));
  std::string peers;
  for (const auto& rt : runtime_names())
    if (rt != "volley" && row.contains(rt) && !row[rt].is_null())
      peers += (peers.empty() ? "" : ", ") + display_name(rt) + " " + figure(row[rt]);
  if (peers.empty()) return "no peer run";
  if (!has_figures(row.value("volley", json())))
    return "no ratio: volley " +
           (row.value("volley", json()).is_null() ? "did not run" : figure(row["volley"]));
  return "no ratio: " + peers;
}

// " (compute-bound)" or " (timing-dependent)" from the workload registry,
// "" for a message-bound or unknown workload: a reader sees at the ratio
// which comparisons are not about messaging.
std::string kind_suffix(const std::string& workload) {
  const auto* spec = savina::find_workload(workload);
  if (spec == nullptr) return "";
  auto note = savina::kind_note(spec->kind);
  return note.empty() ? "" : " (" + std::string(note) + ")";
}

// The runtimes that have a figure in any of `rows`, volley first.
std::vector<std::string> runtimes_in(const std::vector<json>& rows) {
  std::vector<std::string> out;
  for (const auto& rt : runtime_names())
    for (const auto& row : rows)
      if (row.contains(rt) && !row[rt].is_null()) {
        out.push_back(rt);
        break;
      }
  return out;
}

void throughput_table_head(std::ostream& md, const std::vector<std::string>& runtimes,
                           bool with_run) {
  md << "| workload | unit | workers |";
  for (const auto& rt : runtimes)
    md << " " << display_name(rt) << " median (min – max; per CPU-s) |";
  md << " volley / best peer (worst case) | probe |" << (with_run ? " run |" : "")
     << "\n|---|---|--:|";
  for (std::size_t i = 0; i < runtimes.size(); ++i) md << "--:|";
  md << "--:|---|" << (with_run ? "---|" : "") << "\n";
}

// `note` follows the workload's name (a partial file's "(2 of 3 repetitions)").
void throughput_table_row(std::ostream& md, const json& row,
                          const std::vector<std::string>& runtimes, const std::string& note) {
  const auto* spec = savina::find_workload(row["workload"].get<std::string>());
  md << "| " << row["workload"].get<std::string>() << note << " | "
     << (spec ? spec->unit : row.value("unit", "")) << " | " << row["workers"].get<int>() << " |";
  for (const auto& rt : runtimes) md << " " << runtime_cell(row.value(rt, json())) << " |";
  md << " " << best_peer_ratio(row) << kind_suffix(row["workload"].get<std::string>()) << " | "
     << probe_note(row) << " |";
}

// A worker sweep's scaling table with what its cells mean, or "" when the
// file has no step to compare: results/README.md and the top-level README's
// sweep block show the same text.
std::string scaling_section(const json& data) {
  auto table = scaling_table(data["summary"], data.value("runs", json()));
  if (table.empty()) return table;
  return "Scaling, median throughput by worker count, from the sweep of " +
         data.value("created_utc", "?") + partial_mark(data) +
         " (in brackets: the medians' ratio over 1 worker; then each repetition's run over its own "
         "1-worker run, taken back to back, judged within each probe mode holding at least 3 "
         "pairs, the one holding most first: their median, range and how many are below 0.90; "
         "\"loss\" when at least two thirds of a mode's pairs are; bench/runner/scaling.hpp):\n\n" +
         table + "\n";
}

void latency_table(std::ostream& md, const std::vector<json>& rows) {
  bool any = false;
  for (const auto& row : rows)
    for (const auto& rt : runtime_names())
      if (row.contains(rt) && !row[rt].is_null() && row[rt].contains("p99_ns")) any = true;
  if (!any) return;
  md << "Latency, send to handle (median over repetitions), every runtime:\n\n";
  md << "| workload | runtime | p50 | p99 | p99.9 |\n|---|---|--:|--:|--:|\n";
  for (const auto& row : rows)
    for (const auto& rt : runtime_names()) {
      if (!row.contains(rt) || row[rt].is_null() || !row[rt].contains("p99_ns")) continue;
      const auto& s = row[rt];
      md << "| " << row["workload"].get<std::string>() << " | " << display_name(rt) << " | "
         << duration_text(s["p50_ns"].get<double>()) << " | "
         << duration_text(s["p99_ns"].get<double>()) << " | "
         << duration_text(s["p999_ns"].get<double>()) << " |\n";
    }
  md << "\n";
}

std::optional<double> median_of(const json& runtime_summary) {
  if (runtime_summary.is_null() || runtime_summary["count"].get<std::size_t>() == 0)
    return std::nullopt;
  return runtime_summary["median"].get<double>();
}

// Rows of a summary in the suite's workload order.
std::vector<json> ordered_rows(const json& summary) {
  std::vector<json> rows;
  for (const auto& spec : savina::workload_specs())
    for (const auto& row : summary)
      if (row["workload"] == spec.name) rows.push_back(row);
  return rows;
}

}  // namespace volley::bench
