// `volley-bench report`: reads every results/<machine>/*.json and renders
// results/README.md with tables per machine, a side-by-side table across
// machines, and gnuplot charts under results/charts/.
//
// Per machine the report shows its latest run at one worker count (the
// headline figures) and its latest worker sweep (the scaling curves);
// older files stay listed, so history is one click away. A partial file (a
// run cut short: results_file.hpp) is used for the headline figures or the
// sweep only when the machine has no complete one of that kind, and is
// marked wherever it appears ("partial: 69 of 207 runs").
#include "commands.hpp"

#include "extra_rounds.hpp"
#include "gnuplot_chart.hpp"
#include "readme_block.hpp"
#include "results_file.hpp"
#include "scaling.hpp"
#include "spread_cause.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct result_file {
  fs::path path;  // relative to the results folder
  json data;
};

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

// One workload's figures at one worker count, from the newest file that ran it.
struct headline_row {
  json row;  // an entry of the file's "summary"
  const result_file* file;
};

struct machine_results {
  std::string id;
  json description;
  std::vector<result_file> files;              // oldest first
  const result_file* latest_sweep = nullptr;   // latest worker sweep
  const result_file* latest_extras = nullptr;  // newest with remote or idle-memory figures
  // Per size set ("reference" first), the newest figures of each workload
  // from runs without a sweep, in the suite's order. Runs with --only
  // refresh some rows and leave the others as they were.
  std::vector<std::pair<std::string, std::vector<headline_row>>> headlines;
};

std::vector<machine_results> load_all(const fs::path& root) {
  std::map<std::string, machine_results> machines;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(root, ec)) {
    if (!dir.is_directory() || dir.path().filename() == "charts") continue;
    for (const auto& entry : fs::directory_iterator(dir.path(), ec)) {
      if (entry.path().extension() != ".json") continue;
      json data;
      try {
        data = load_results(entry.path().string());
      } catch (const std::exception& e) {
        std::cerr << "volley-bench report: skipping " << e.what() << "\n";
        continue;
      }
      // Google Benchmark's files sit beside ours and have no schema_version.
      if (!data.is_object() || !data.contains("schema_version")) continue;
      if (data["schema_version"].get<int>() > results_schema_version) {
        std::cerr << "volley-bench report: skipping " << entry.path().string()
                  << " (newer schema)\n";
        continue;
      }
      // The summary is computed again from the runs, so that a file written
      // before an analysis existed (the spread's cause) gets it too.
      data["summary"] = current_summary(data);
      auto id = data["machine"].value("machine_id", dir.path().filename().string());
      auto& m = machines[id];
      m.id = id;
      m.files.push_back({fs::relative(entry.path(), root), std::move(data)});
    }
  }
  std::vector<machine_results> out;
  for (auto& [id, m] : machines) {
    std::sort(m.files.begin(), m.files.end(), [](const result_file& a, const result_file& b) {
      return a.data.value("created_utc", "") < b.data.value("created_utc", "");
    });
    out.push_back(std::move(m));
  }
  for (auto& m : out) {
    // The latest complete sweep, else the latest partial one.
    for (const auto& f : m.files)
      if (f.data["run"].value("sweep_workers", false) &&
          (is_complete(f.data) || m.latest_sweep == nullptr || !is_complete(m.latest_sweep->data)))
        m.latest_sweep = &f;
    for (const char* sizes : {"reference", "savina"}) {
      auto headline_kind = [&](const result_file& f) {
        return !f.data["run"].value("sweep_workers", false) &&
               f.data["run"].value("sizes", "") == sizes;
      };
      // Partial files only when the machine has no complete one.
      const bool any_complete = std::any_of(m.files.begin(), m.files.end(), [&](const auto& f) {
        return headline_kind(f) && is_complete(f.data);
      });
      std::vector<headline_row> rows;
      for (const auto& spec : savina::workload_specs()) {
        const headline_row* newest = nullptr;
        headline_row candidate{};
        for (const auto& f : m.files) {
          if (!headline_kind(f) || (any_complete && !is_complete(f.data))) continue;
          for (const auto& row : f.data["summary"])
            if (row["workload"] == spec.name) {
              candidate = {row, &f};
              newest = &candidate;
            }
        }
        if (newest != nullptr) rows.push_back(*newest);
      }
      if (!rows.empty()) m.headlines.emplace_back(sizes, std::move(rows));
    }
    for (const auto& f : m.files)
      if (f.data.contains("extras") && !extras_markdown(f.data["extras"]).empty())
        m.latest_extras = &f;
    m.description = m.files.back().data["machine"];
  }
  return out;
}

std::string figure(const json& runtime_summary) {
  if (runtime_summary.is_null()) return "–";
  if (runtime_summary["count"].get<std::size_t>() == 0)
    return runtime_summary.value("wrong_answer", 0) > 0 ? "WRONG"
           : runtime_summary["timeout"].get<int>() > 0  ? "timeout"
                                                        : "failed";
  return si(runtime_summary["median"].get<double>());
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
                          const std::vector<std::string>& runtimes, const std::string& note = "") {
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
         "1-worker run, taken back to back, judged within the probe mode holding most pairs: "
         "their median, range and how many are below 0.90; \"loss\" when at least two thirds of "
         "at least 3 pairs are; bench/runner/scaling.hpp):\n\n" +
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

// The machine's state over one file's runs: the probe's median and range,
// which repetitions were in another probe mode, steal and frequency.
void machine_state(std::ostream& md, const json& data) {
  const auto& runs = data.value("runs", json::array());
  auto median = median_probe_ns(runs);
  if (!median) return;
  std::vector<double> probes, steal, mhz, others, compute;
  std::vector<std::string> flagged;
  int mixed = 0, disturbed = 0, contended = 0;
  const auto quiet_issue = quiet_issue_ns(runs);
  std::optional<double> busiest_issue;
  for (const auto& r : runs) {
    if (run_probe_mode(r, median) == "mixed") ++mixed;
    if (!disturbance(r).empty()) ++disturbed;
    if (!host_contention(r, quiet_issue).empty()) ++contended;
    if (auto issue = run_issue_ns(r)) busiest_issue = std::max(busiest_issue.value_or(0.0), *issue);
    if (r.contains("others_busy")) others.push_back(r["others_busy"].get<double>());
    for (const char* when : {"probe_before", "probe_after"})
      if (r.contains(when) && r[when].is_object() &&
          r[when].value("compute_ns", json()).is_number())
        compute.push_back(r[when]["compute_ns"].get<double>());
    std::optional<double> worst;
    for (const char* when : {"probe_before", "probe_after"})
      if (r.contains(when) && r[when].is_object()) {
        if (r[when]["round_trip_ns"].is_number()) {
          probes.push_back(r[when]["round_trip_ns"].get<double>());
          worst = std::max(worst.value_or(0.0), r[when]["round_trip_ns"].get<double>());
        }
        if (r[when]["mhz"].is_number()) mhz.push_back(r[when]["mhz"].get<double>());
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
  if (disturbed > 0)
    md << " " << disturbed << " run(s) shared the machine (other processes above "
       << static_cast<int>(100 * others_busy_limit) << "% of the CPUs, or steal above "
       << static_cast<int>(100 * steal_limit) << "%) and count in no mode's spread.";
  if (contended > 0)
    md << " " << contended << " run(s) had an issue step above " << issue_contention_factor
       << "× the quietest on a CPU they kept busy (the host's SMT sibling busy, before or after"
       << " the run) and count in no mode's spread.";
  if (flagged.empty()) {
    md << " Every run's probe was within " << probe_mode_factor << "× of the median.\n\n";
  } else {
    md << " Runs in another probe mode (more than " << probe_mode_factor << "× off the median): ";
    for (std::size_t i = 0; i < flagged.size(); ++i) md << (i ? ", " : "") << flagged[i];
    md << ".\n\n";
  }
}

std::optional<double> median_of(const json& runtime_summary) {
  if (runtime_summary.is_null() || runtime_summary["count"].get<std::size_t>() == 0)
    return std::nullopt;
  return runtime_summary["median"].get<double>();
}

std::string cache_text(const json& machine) {
  std::string out;
  for (const auto& c : machine.value("caches", json::array())) {
    // Appended piece by piece: "L" + std::to_string(...) made g++ 12 at -O3
    // warn -Wrestrict inside std::string (a false positive, GCC bug 105329).
    if (!out.empty()) out += ", ";
    out += 'L';
    out += std::to_string(c["level"].get<int>());
    out += ' ';
    out += std::to_string(c["size_bytes"].get<std::uint64_t>() / 1024);
    out += " KiB×";
    out += std::to_string(c["count"].get<int>());
  }
  return out.empty() ? "?" : out;
}

// "AMD EPYC (CPUID family/model/stepping 25/1/1)": the signature tells
// apart two machines whose CPU name has no part number. Files before it
// was recorded have none; a machine without one has "".
std::string cpu_text(const json& machine) {
  auto text = machine.value("cpu_model", "?");
  if (const std::string sig = machine.value("cpu_signature", ""); !sig.empty())
    text += " (CPUID family/model/stepping " + sig + ")";
  return text;
}

std::string gib(std::uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buffer;
}

// Rows of a summary in the suite's workload order.
std::vector<json> ordered_rows(const json& summary) {
  std::vector<json> rows;
  for (const auto& spec : savina::workload_specs())
    for (const auto& row : summary)
      if (row["workload"] == spec.name) rows.push_back(row);
  return rows;
}

// The remote benchmarks and idle-actor memory of the machine's newest file
// that has them (`run --extras`, or the full profile), named with its
// commit, since it may be older than the headline figures.
void extras_section(std::ostream& md, const machine_results& m) {
  md << "### remote and idle memory\n\n";
  if (m.latest_extras == nullptr) {
    md << "No remote or idle-memory figures from this machine (`volley-bench run --extras` "
          "records them).\n\n";
    return;
  }
  const auto& data = m.latest_extras->data;
  md << "From [" << data.value("created_utc", "?") << "](" << m.latest_extras->path.string() << ")"
     << partial_mark(data) << ", commit `"
     << data.value("build", json::object()).value("git_commit", std::string("?")).substr(0, 12)
     << "`, the newest file of this machine with them. A figure of several rounds reads median "
        "(min – max) over its rounds (bench/runner/extra_rounds.hpp).\n\n"
     << extras_markdown(data["extras"]);
}

void machine_section(std::ostream& md, const machine_results& m, const fs::path& root,
                     bool charts) {
  const auto& d = m.description;
  md << "## " << m.id << "\n\n";
  md << cpu_text(d) << "; " << d.value("packages", 0) << " package(s), " << d.value("numa_nodes", 0)
     << " NUMA node(s), " << d.value("cores", 0) << " cores, " << d.value("pus", 0) << " PUs; "
     << cache_text(d) << "; " << gib(d.value("memory_bytes", std::uint64_t{0})) << "; "
     << d.value("kernel", "?") << ".\n\n";
  for (const auto& [sizes, rows] : m.headlines) {
    md << "### " << sizes << " sizes\n\n";
    std::vector<json> plain_rows;
    for (const auto& [row, file] : rows) plain_rows.push_back(row);
    auto present = runtimes_in(plain_rows);
    throughput_table_head(md, present, true);
    for (const auto& [row, file] : rows) {
      throughput_table_row(md, row, present);
      md << " [" << file->data.value("created_utc", "?") << "](" << file->path.string() << ")"
         << row_mark(row, file->data) << " |\n";
    }
    md << "\n";
    // Each row's run says how it was built; list the distinct builds once.
    std::vector<std::string> builds;
    for (const auto& [row, file] : rows) {
      const auto& build = file->data["build"];
      const auto& run = file->data["run"];
      auto text = "median of " + std::to_string(run.value("repetitions", 0)) +
                  partial_mark(file->data) + ", " + run.value("profile", "?") +
                  " profile, commit `" + build.value("git_commit", "?").substr(0, 12) + "`" +
                  (build.value("git_dirty", false) ? " (with local changes)" : "") + ", " +
                  build.value("compiler_id", "?") + " " + build.value("compiler_version", "?") +
                  " `" + build.value("flags", "") + "` (" + build.value("build_type", "?") + ")";
      if (std::find(builds.begin(), builds.end(), text) == builds.end()) builds.push_back(text);
    }
    for (const auto& text : builds) md << "- " << text << "\n";
    md << "\n";
    latency_table(md, plain_rows);
    // The machine's state over the newest file these rows come from.
    machine_state(md, rows.back().file->data);
    if (charts) {
      bar_chart chart{m.id + ": throughput, " + sizes + " sizes (median; log scale)",
                      "throughput (unit per workload)",
                      {},
                      {}};
      for (const auto& rt : present) chart.series.push_back(display_name(rt));
      for (const auto& [row, file] : rows) {
        std::vector<std::optional<double>> values;
        values.reserve(present.size());
        for (const auto& rt : present) values.push_back(median_of(row.value(rt, json())));
        chart.groups.push_back(
            {row["workload"].get<std::string>() + " (" +
                 std::string(savina::find_workload(row["workload"].get<std::string>())->unit) + ")",
             values});
      }
      auto name = "charts/" + m.id + "-" + sizes + ".svg";
      if (draw_bars(chart, (root / name).string()))
        md << "![throughput on " << m.id << "](" << name << ")\n\n";
    }
  }
  if (m.latest_sweep != nullptr) md << scaling_section(m.latest_sweep->data);
  if (m.latest_sweep != nullptr && charts) {
    const auto& data = m.latest_sweep->data;
    std::vector<scaling_panel> panels;
    std::map<std::string, scaling_panel> by_workload;
    std::vector<std::string> order;
    for (const auto& row : ordered_rows(data["summary"])) {
      auto w = row["workload"].get<std::string>();
      auto& panel = by_workload[w];
      if (panel.title.empty()) {
        panel.title = w + " (" + row["unit"].get<std::string>() + ")";
        for (const auto& rt : runtime_names()) panel.series.push_back(display_name(rt));
        panel.values.resize(runtime_names().size());
        order.push_back(w);
      }
      panel.workers.push_back(row["workers"].get<int>());
      for (std::size_t i = 0; i < runtime_names().size(); ++i)
        panel.values[i].push_back(median_of(row.value(runtime_names()[i], json())));
    }
    panels.reserve(panels.size() + order.size());
    for (const auto& w : order) panels.push_back(by_workload[w]);
    auto name = "charts/" + m.id + "-scaling.svg";
    if (draw_scaling(m.id + ": throughput by worker count (" + data.value("created_utc", "") + ")",
                     panels, (root / name).string()))
      md << "Scaling, from the sweep of " << data.value("created_utc", "?") << partial_mark(data)
         << " ([file](" << m.latest_sweep->path.string() << ")):\n\n![scaling on " << m.id << "]("
         << name << ")\n\n";
  }
  extras_section(md, m);
  md << "<details><summary>All result files of " << m.id << " (" << m.files.size()
     << ")</summary>\n\n";
  md << "| created (UTC) | profile | sizes | workers | sweep | commit "
        "|\n|---|---|---|--:|---|---|\n";
  for (auto it = m.files.rbegin(); it != m.files.rend(); ++it) {
    const auto& data = it->data;
    md << "| [" << data.value("created_utc", "?") << "](" << it->path.string() << ")"
       << partial_mark(data) << " | " << data["run"].value("profile", "?") << " | "
       << data["run"].value("sizes", "?") << " | " << data["run"].value("workers", 0) << " | "
       << (data["run"].value("sweep_workers", false) ? "yes" : "") << " | `"
       << data.value("build", json::object()).value("git_commit", std::string("?")).substr(0, 12)
       << "` |\n";
  }
  md << "\n</details>\n\n";
}

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

}  // namespace

std::optional<std::string> replace_between_markers(const std::string& text,
                                                   const std::string& block,
                                                   const char* begin_marker,
                                                   const char* end_marker) {
  auto begin = text.find(begin_marker);
  auto end = text.find(end_marker);
  if (begin == std::string::npos || end == std::string::npos || end < begin) return std::nullopt;
  if (text.find(begin_marker, begin + 1) != std::string::npos ||
      text.find(end_marker, end + 1) != std::string::npos)
    return std::nullopt;
  auto after_begin = begin + std::string(begin_marker).size();
  std::string body = block;
  if (body.empty() || body.back() != '\n') body += '\n';
  return text.substr(0, after_begin) + "\n" + body + text.substr(end);
}

namespace {

// ", " between the names.
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

// "**Verdict:** no loss in any judged step up in workers (23 judged)." or
// the steps judged a loss, then any left unjudged: the README's sentence on
// scaling is this line, not prose typed after a run.
std::string verdict_line(const scaling_result& s) {
  const auto judged = std::to_string(s.judged);
  std::string text =
      s.losses.empty()
          ? "**Verdict:** no loss in any judged step up in workers (" + judged + " judged)"
          : "**Verdict:** loss at " + joined(s.losses) + " (" + std::to_string(s.losses.size()) +
                " of " + judged + " judged steps)";
  if (!s.unjudged.empty()) text += "; too few pairs to judge " + joined(s.unjudged);
  return text + ".\n\n";
}

std::string generated_comment(const std::string& command) {
  return "<!-- generated by `" + command + "`; do not edit by hand -->\n\n";
}

std::string readme_command(const std::string& path, const std::string& sweep_path) {
  return "volley-bench report --readme README.md --from " + path +
         (sweep_path.empty() ? "" : " --sweep-from " + sweep_path);
}

bool is_sweep(const json& data) {
  return data.value("run", json::object()).value("sweep_workers", false);
}

}  // namespace

std::string readme_block(const json& data, const std::string& path, const std::string& command) {
  std::ostringstream md;
  const auto& run = data.value("run", json::object());
  const auto& build = data.value("build", json::object());
  const auto& machine = data.value("machine", json::object());
  md << generated_comment(command.empty() ? readme_command(path, "") : command);
  auto rows = ordered_rows(current_summary(data));
  auto present = runtimes_in(rows);
  throughput_table_head(md, present, false);
  for (const auto& row : rows) {
    auto reps = repetitions_text(row, data);
    throughput_table_row(md, row, present, reps.empty() ? reps : " (" + reps + ")");
    md << "\n";
  }
  md << "\n";
  latency_table(md, rows);
  machine_state(md, data);
  if (auto partial = partial_text(data); !partial.empty())
    md << "**This run was cut short (" << partial << ")**: a row marked with fewer repetitions "
       << "has only those.\n\n";
  md << "Median of " << run.value("repetitions", 0) << " repetitions (" << run.value("profile", "?")
     << " profile, " << run.value("sizes", "?") << " sizes, " << run.value("workers", 0)
     << " workers) on " << machine.value("cpu_model", "?") << "; commit `"
     << build.value("git_commit", "?").substr(0, 12) << "`"
     << (build.value("git_dirty", false) ? " (with local changes)" : "") << ", "
     << build.value("compiler_id", "?") << " " << build.value("compiler_version", "?") << " `"
     << build.value("flags", "") << "`. Runtimes:";
  const auto runtimes = data.value("runtimes", json::object());
  for (const auto& [name, info] : runtimes.items()) {
    md << " " << display_name(name);
    if (!info.value("available", false)) {
      md << " (not installed)";
      continue;
    }
    const auto& config = info.value("config", json::object());
    md << " `" << config.dump() << "`";
  }
  md << ".\n\n";
  if (data.contains("extras")) md << extras_markdown(data["extras"]);
  md << "Source: [`" << path << "`](" << path << ").\n";
  return md.str();
}

std::string readme_sweep_block(const json& data, const std::string& path,
                               const std::string& command) {
  if (!is_sweep(data)) return "";
  // The summary as the report computes it from the runs (load_all).
  json current = data;
  current["summary"] = current_summary(data);
  auto section = scaling_section(current);
  if (section.empty()) return section;
  const auto& build = data.value("build", json::object());
  return generated_comment(command) + section +
         verdict_line(scaling_of(current["summary"], current.value("runs", json()))) + "Commit `" +
         build.value("git_commit", "?").substr(0, 12) + "`" +
         (build.value("git_dirty", false) ? " (with local changes)" : "") + ", " +
         std::to_string(data["run"].value("repetitions", 0)) + " repetitions. Source: [`" + path +
         "`](" + path + ").\n";
}

namespace {

std::optional<json> load_or_say(const std::string& path) {
  try {
    return load_results(path);
  } catch (const std::exception& e) {
    std::cerr << "volley-bench report: " << e.what() << "\n";
    return std::nullopt;
  }
}

// `text` with `block` between the markers, or std::nullopt after saying
// which markers `readme_path` lacks.
std::optional<std::string> fill_block(const std::string& text, const std::string& block,
                                      const char* begin, const char* end,
                                      const std::string& readme_path) {
  auto replaced = replace_between_markers(text, block, begin, end);
  if (!replaced)
    std::cerr << "volley-bench report: " << readme_path << " needs exactly one '" << begin
              << "' line followed by one '" << end << "' line\n";
  return replaced;
}

}  // namespace

int write_readme(const std::string& readme_path, const std::string& result_path,
                 const std::string& sweep_path) {
  auto data = load_or_say(result_path);
  if (!data) return 1;
  std::optional<json> sweep;
  if (!sweep_path.empty()) {
    sweep = load_or_say(sweep_path);
    if (!sweep) return 1;
    if (!is_sweep(*sweep)) {
      std::cerr << "volley-bench report: --sweep-from " << sweep_path
                << " is not a worker sweep (run it with `volley-bench run --sweep-workers`)\n";
      return 1;
    }
  }
  std::ifstream in(readme_path);
  if (!in) {
    std::cerr << "volley-bench report: cannot read " << readme_path << "\n";
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto command = readme_command(result_path, sweep_path);
  auto replaced = fill_block(text, readme_block(*data, result_path, command), readme_begin_marker,
                             readme_end_marker, readme_path);
  if (!replaced) return 1;
  if (sweep) {
    auto block = readme_sweep_block(*sweep, sweep_path, command);
    if (block.empty()) {
      std::cerr << "volley-bench report: " << sweep_path
                << " has no workload at 1 worker and at more: no scaling to show\n";
      return 1;
    }
    replaced = fill_block(*replaced, block, readme_sweep_begin_marker, readme_sweep_end_marker,
                          readme_path);
    if (!replaced) return 1;
  }
  std::ofstream(readme_path) << *replaced;
  std::cerr << "volley-bench report: wrote the figures of " << result_path
            << (sweep ? " and " + sweep_path : "") << " into " << readme_path << "\n";
  return 0;
}

int render_report(const std::string& results_dir) {
  fs::path root(results_dir);
  auto machines = load_all(root);
  if (machines.empty()) {
    std::cerr << "volley-bench report: no result files under " << results_dir
              << "/*/ (run `volley-bench run` first)\n";
    return 1;
  }
  bool charts = gnuplot_available();
  if (charts) {
    fs::create_directories(root / "charts");
  } else {
    std::cerr << "volley-bench report: gnuplot not found (Debian: gnuplot-nox): tables only\n";
  }
  std::size_t file_count = 0;
  for (const auto& m : machines) file_count += m.files.size();

  std::ostringstream md;
  md << "# Benchmark results\n\n";
  md << "Generated by `volley-bench report` from " << file_count << " result file(s) on "
     << machines.size()
     << " machine(s); do not edit by hand: run `./volley.sh bench` (or `./volley.sh report`).\n\n";
  md << "Figures are medians of repeated runs, each run a separate process; \"(noise)\" marks a "
        "volley/CAF "
        "difference within the runs' spread (min–max ranges overlap) or below 5%. Workloads and "
        "sizes: "
        "[bench/savina/README.md](../bench/savina/README.md).\n\n";
  md << "| machine | CPU | cores / PUs | NUMA nodes | latest run |\n|---|---|--:|--:|---|\n";
  for (const auto& m : machines)
    md << "| [" << m.id << "](#" << m.id << ") | " << cpu_text(m.description) << " | "
       << m.description.value("cores", 0) << " / " << m.description.value("pus", 0) << " | "
       << m.description.value("numa_nodes", 0) << " | "
       << m.files.back().data.value("created_utc", "?") << partial_mark(m.files.back().data)
       << " |\n";
  md << "\n";
  for (const auto& m : machines) machine_section(md, m, root, charts);
  across_machines(md, machines, root, charts);

  auto readme = root / "README.md";
  std::ofstream(readme) << md.str();
  std::cerr << "volley-bench report: wrote " << readme.string() << (charts ? " and charts/" : "")
            << "\n";
  return 0;
}

}  // namespace volley::bench
