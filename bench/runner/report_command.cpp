// `volley-bench report`: reads every results/<machine>/*.json and renders
// results/README.md with tables per machine, a side-by-side table across
// machines, and gnuplot charts under results/charts/.
//
// Per machine the report shows its latest run at one worker count (the
// headline figures) and its latest worker sweep (the scaling curves);
// older files stay listed, so history is one click away.
#include "commands.hpp"

#include "gnuplot_chart.hpp"
#include "results_file.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct result_file {
  fs::path path;  // relative to the results folder
  json data;
};

// One workload's figures at one worker count, from the newest file that ran it.
struct headline_row {
  json row;  // an entry of the file's "summary"
  const result_file* file;
};

struct machine_results {
  std::string id;
  json description;
  std::vector<result_file> files;             // oldest first
  const result_file* latest_sweep = nullptr;  // latest worker sweep
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
        std::cerr << "volley-bench report: skipping " << entry.path().string() << " (newer schema)\n";
        continue;
      }
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
    for (const auto& f : m.files)
      if (f.data["run"].value("sweep_workers", false)) m.latest_sweep = &f;
    for (const char* sizes : {"reference", "savina"}) {
      std::vector<headline_row> rows;
      for (const auto& spec : savina::workload_specs()) {
        const headline_row* newest = nullptr;
        headline_row candidate{};
        for (const auto& f : m.files) {
          if (f.data["run"].value("sweep_workers", false) || f.data["run"].value("sizes", "") != sizes) continue;
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
    m.description = m.files.back().data["machine"];
  }
  return out;
}

std::string figure(const json& runtime_summary) {
  if (runtime_summary.is_null()) return "–";
  if (runtime_summary["count"].get<std::size_t>() == 0)
    return runtime_summary["timeout"].get<int>() > 0 ? "timeout" : "failed";
  return si(runtime_summary["median"].get<double>());
}

std::string spread(const json& runtime_summary) {
  if (runtime_summary.is_null() || runtime_summary["count"].get<std::size_t>() == 0) return "";
  return si(runtime_summary["min"].get<double>()) + " – " + si(runtime_summary["max"].get<double>());
}

std::string ratio_text(const json& row) {
  if (row["ratio"].is_null()) return "–";
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.2f×%s", row["ratio"].get<double>(),
                row["within_noise"].get<bool>() ? " (noise)" : "");
  return buffer;
}

std::optional<double> median_of(const json& runtime_summary) {
  if (runtime_summary.is_null() || runtime_summary["count"].get<std::size_t>() == 0) return std::nullopt;
  return runtime_summary["median"].get<double>();
}

std::string cache_text(const json& machine) {
  std::string out;
  for (const auto& c : machine.value("caches", json::array())) {
    if (!out.empty()) out += ", ";
    out += "L" + std::to_string(c["level"].get<int>()) + " " +
           std::to_string(c["size_bytes"].get<std::uint64_t>() / 1024) + " KiB×" +
           std::to_string(c["count"].get<int>());
  }
  return out.empty() ? "?" : out;
}

std::string gib(std::uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
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

void machine_section(std::ostream& md, const machine_results& m, const fs::path& root, bool charts) {
  const auto& d = m.description;
  md << "## " << m.id << "\n\n";
  md << d.value("cpu_model", "?") << "; " << d.value("packages", 0) << " package(s), " << d.value("numa_nodes", 0)
     << " NUMA node(s), " << d.value("cores", 0) << " cores, " << d.value("pus", 0) << " PUs; " << cache_text(d)
     << "; " << gib(d.value("memory_bytes", std::uint64_t{0})) << "; " << d.value("kernel", "?") << ".\n\n";
  for (const auto& [sizes, rows] : m.headlines) {
    md << "### " << sizes << " sizes\n\n";
    md << "| workload | unit | workers | volley | (min – max) | CAF | (min – max) | volley/CAF | run |\n";
    md << "|---|---|--:|--:|---|--:|---|--:|---|\n";
    bool latency = false;
    for (const auto& [row, file] : rows) {
      const auto* spec = savina::find_workload(row["workload"].get<std::string>());
      md << "| " << spec->name << " | " << spec->unit << " | " << row["workers"].get<int>() << " | "
         << figure(row["volley"]) << " | " << spread(row["volley"]) << " | " << figure(row["caf"]) << " | "
         << spread(row["caf"]) << " | " << ratio_text(row) << " | [" << file->data.value("created_utc", "?") << "]("
         << file->path.string() << ") |\n";
      for (const char* rt : {"volley", "caf"})
        if (!row[rt].is_null() && row[rt].contains("p99_ns")) latency = true;
    }
    md << "\n";
    // Each row's run says how it was built; list the distinct builds once.
    std::vector<std::string> builds;
    for (const auto& [row, file] : rows) {
      const auto& build = file->data["build"];
      const auto& run = file->data["run"];
      auto text = "median of " + std::to_string(run.value("repetitions", 0)) + ", " + run.value("profile", "?") +
                  " profile, commit `" + build.value("git_commit", "?").substr(0, 12) + "`" +
                  (build.value("git_dirty", false) ? " (with local changes)" : "") + ", " +
                  build.value("compiler_id", "?") + " " + build.value("compiler_version", "?") + " `" +
                  build.value("flags", "") + "` (" + build.value("build_type", "?") + ")";
      if (std::find(builds.begin(), builds.end(), text) == builds.end()) builds.push_back(text);
    }
    for (const auto& text : builds) md << "- " << text << "\n";
    md << "\n";
    if (latency) {
      md << "Latency, send to handle (median over repetitions):\n\n";
      md << "| workload | runtime | p50 | p99 | p99.9 |\n|---|---|--:|--:|--:|\n";
      for (const auto& [row, file] : rows)
        for (const char* rt : {"volley", "caf"}) {
          const auto& s = row[rt];
          if (s.is_null() || !s.contains("p99_ns")) continue;
          md << "| " << row["workload"].get<std::string>() << " | " << rt << " | "
             << duration_text(s["p50_ns"].get<double>()) << " | " << duration_text(s["p99_ns"].get<double>()) << " | "
             << duration_text(s["p999_ns"].get<double>()) << " |\n";
        }
      md << "\n";
    }
    if (charts) {
      bar_chart chart{m.id + ": throughput, " + sizes + " sizes (median; log scale)", "throughput (unit per workload)",
                      {"volley", "CAF"}, {}};
      for (const auto& [row, file] : rows)
        chart.groups.push_back({row["workload"].get<std::string>() + " (" +
                                    std::string(savina::find_workload(row["workload"].get<std::string>())->unit) + ")",
                                {median_of(row["volley"]), median_of(row["caf"])}});
      auto name = "charts/" + m.id + "-" + sizes + ".svg";
      if (draw_bars(chart, (root / name).string())) md << "![throughput on " << m.id << "](" << name << ")\n\n";
    }
  }
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
        panel.series = {"volley", "CAF"};
        panel.values.resize(2);
        order.push_back(w);
      }
      panel.workers.push_back(row["workers"].get<int>());
      panel.values[0].push_back(median_of(row["volley"]));
      panel.values[1].push_back(median_of(row["caf"]));
    }
    for (const auto& w : order) panels.push_back(by_workload[w]);
    auto name = "charts/" + m.id + "-scaling.svg";
    if (draw_scaling(m.id + ": throughput by worker count (" + data.value("created_utc", "") + ")", panels,
                     (root / name).string()))
      md << "Scaling, from the sweep of " << data.value("created_utc", "?") << " ([file](" << m.latest_sweep->path.string()
         << ")):\n\n![scaling on " << m.id << "](" << name << ")\n\n";
  }
  md << "<details><summary>All result files of " << m.id << " (" << m.files.size() << ")</summary>\n\n";
  md << "| created (UTC) | profile | sizes | workers | sweep | commit |\n|---|---|---|--:|---|---|\n";
  for (auto it = m.files.rbegin(); it != m.files.rend(); ++it) {
    const auto& data = it->data;
    md << "| [" << data.value("created_utc", "?") << "](" << it->path.string() << ") | "
       << data["run"].value("profile", "?") << " | " << data["run"].value("sizes", "?") << " | "
       << data["run"].value("workers", 0) << " | " << (data["run"].value("sweep_workers", false) ? "yes" : "") << " | `"
       << data["build"].value("git_commit", "?").substr(0, 12) << "` |\n";
  }
  md << "\n</details>\n\n";
}

void across_machines(std::ostream& md, const std::vector<machine_results>& machines, const fs::path& root,
                     bool charts) {
  // Reference sizes where a machine has them, else Savina's.
  std::vector<const machine_results*> with_runs;
  std::vector<const std::vector<headline_row>*> rows_of;
  for (const auto& m : machines)
    if (!m.headlines.empty()) {
      with_runs.push_back(&m);
      rows_of.push_back(&m.headlines.front().second);
    }
  if (with_runs.empty()) return;
  md << "## Across machines\n\nEach machine's newest figures (" << "reference sizes where it has them); cells are "
        "volley / CAF medians and their ratio.\n\n";
  md << "| workload | unit |";
  for (const auto* m : with_runs) md << " " << m->id << " |";
  md << "\n|---|---|";
  for (std::size_t i = 0; i < with_runs.size(); ++i) md << "--:|";
  md << "\n";
  bar_chart volley_chart{"volley throughput across machines (log scale)", "throughput (unit per workload)", {}, {}};
  bar_chart ratio_chart{"volley / CAF across machines (log scale; 1 = parity)", "volley / CAF", {}, {}};
  for (std::size_t i = 0; i < with_runs.size(); ++i) {
    auto label = with_runs[i]->id + " (" + with_runs[i]->headlines.front().first + ")";
    volley_chart.series.push_back(label);
    ratio_chart.series.push_back(label);
  }
  for (const auto& spec : savina::workload_specs()) {
    std::vector<std::optional<double>> volley_values, ratios;
    bool any = false;
    std::ostringstream cells;
    for (const auto* rows : rows_of) {
      const json* found = nullptr;
      for (const auto& [row, file] : *rows)
        if (row["workload"] == spec.name) found = &row;
      if (found == nullptr) {
        cells << " – |";
        volley_values.push_back(std::nullopt);
        ratios.push_back(std::nullopt);
        continue;
      }
      any = true;
      cells << " " << figure((*found)["volley"]) << " / " << figure((*found)["caf"]) << " (" << ratio_text(*found)
            << ") |";
      volley_values.push_back(median_of((*found)["volley"]));
      ratios.push_back((*found)["ratio"].is_null() ? std::nullopt
                                                   : std::optional<double>((*found)["ratio"].get<double>()));
    }
    if (!any) continue;
    md << "| " << spec.name << " | " << spec.unit << " |" << cells.str() << "\n";
    volley_chart.groups.push_back({std::string(spec.name), volley_values});
    ratio_chart.groups.push_back({std::string(spec.name), ratios});
  }
  md << "\n";
  if (charts) {
    if (draw_bars(volley_chart, (root / "charts/across-machines-volley.svg").string()))
      md << "![volley across machines](charts/across-machines-volley.svg)\n\n";
    if (draw_bars(ratio_chart, (root / "charts/across-machines-ratio.svg").string()))
      md << "![volley/CAF across machines](charts/across-machines-ratio.svg)\n\n";
  }
}

}  // namespace

int render_report(const std::string& results_dir) {
  fs::path root(results_dir);
  auto machines = load_all(root);
  if (machines.empty()) {
    std::cerr << "volley-bench report: no result files under " << results_dir << "/*/ (run `volley-bench run` first)\n";
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
  md << "Generated by `volley-bench report` from " << file_count << " result file(s) on " << machines.size()
     << " machine(s); do not edit by hand: run `./volley.sh bench` (or `./volley.sh report`).\n\n";
  md << "Figures are medians of repeated runs, each run a separate process; \"(noise)\" marks a volley/CAF "
        "difference within the runs' spread (min–max ranges overlap) or below 5%. Workloads and sizes: "
        "[bench/savina/README.md](../bench/savina/README.md).\n\n";
  md << "| machine | CPU | cores / PUs | NUMA nodes | latest run |\n|---|---|--:|--:|---|\n";
  for (const auto& m : machines)
    md << "| [" << m.id << "](#" << m.id << ") | " << m.description.value("cpu_model", "?") << " | "
       << m.description.value("cores", 0) << " / " << m.description.value("pus", 0) << " | "
       << m.description.value("numa_nodes", 0) << " | " << m.files.back().data.value("created_utc", "?") << " |\n";
  md << "\n";
  for (const auto& m : machines) machine_section(md, m, root, charts);
  across_machines(md, machines, root, charts);

  auto readme = root / "README.md";
  std::ofstream(readme) << md.str();
  std::cerr << "volley-bench report: wrote " << readme.string() << (charts ? " and charts/" : "") << "\n";
  return 0;
}

}  // namespace volley::bench
