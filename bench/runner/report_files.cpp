#include "report_files.hpp"

#include "extra_rounds.hpp"
#include "results_file.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <iostream>
#include <map>

namespace volley::bench {

namespace fs = std::filesystem;
using nlohmann::json;

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

}  // namespace volley::bench
