#include "machine_page.hpp"

#include "extra_rounds.hpp"
#include "gnuplot_chart.hpp"
#include "machine_state.hpp"
#include "report_tables.hpp"
#include "results_file.hpp"
#include "spread_section.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

// The peers a result file ran without ("CAF, Erlang/OTP"), "" if none: the
// runner found no binary for them (not built, or their packages missing).
std::string peers_not_run(const json& data) {
  std::string out;
  const json runtimes = data.value("runtimes", json::object());  // items() keeps no temporary
  for (const auto& [name, info] : runtimes.items())
    if (name != "volley" && info.is_object() && !info.value("available", true))
      out += (out.empty() ? "" : ", ") + display_name(name);
  return out;
}

std::string gib(std::uint64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buffer;
}

// The remote benchmarks and idle-actor memory of the machine's newest file
// that has them (`run --extras`, or the full profile), named with its
// commit, since it may be older than the headline figures.
void extras_section(std::ostream& md, const machine_results& m) {
  // The machine's id in each sub-heading: every machine has these, and
  // headings of the same text share one anchor (GitHub numbers the others).
  md << "### " << m.id << ": remote and idle memory\n\n";
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

}  // namespace

std::string cpu_text(const json& machine) {
  auto text = machine.value("cpu_model", "?");
  if (const std::string sig = machine.value("cpu_signature", ""); !sig.empty())
    text += " (CPUID family/model/stepping " + sig + ")";
  return text;
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
    md << "### " << m.id << ": " << sizes << " sizes\n\n";
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
      // Why a row says "no peer run": which peers that run had no binary for.
      auto absent = peers_not_run(file->data);
      if (!absent.empty()) {
        text = "not run: " + absent + " (not built where the run of " +
               file->data.value("created_utc", "?") + " was made)";
        if (std::find(builds.begin(), builds.end(), text) == builds.end()) builds.push_back(text);
      }
    }
    for (const auto& text : builds) md << "- " << text << "\n";
    md << "\n";
    latency_table(md, plain_rows);
    spread_section(md, plain_rows);
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

}  // namespace volley::bench
