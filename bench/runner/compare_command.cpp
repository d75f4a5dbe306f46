// `volley-bench compare A.json B.json`: how B's figures relate to A's, per
// workload, runtime and worker count, with spreads, and whether the
// difference is within noise (ranges overlap, or medians within 5%).
#include "commands.hpp"

#include "results_file.hpp"
#include "statistics.hpp"

#include <cstdio>
#include <iostream>

namespace volley::bench {

using nlohmann::json;

namespace {

summary from_json(const json& j) {
  summary s;
  s.count = j.value("count", std::size_t{0});
  s.median = j.value("median", 0.0);
  s.min = j.value("min", 0.0);
  s.max = j.value("max", 0.0);
  return s;
}

const json* find_row(const json& summary, const json& like) {
  for (const auto& row : summary)
    if (row["workload"] == like["workload"] && row["workers"] == like["workers"]) return &row;
  return nullptr;
}

std::string describe(const json& file) {
  return file["machine"].value("machine_id", "?") + " " + file.value("created_utc", "?") + " (" +
         file["build"].value("git_commit", "?").substr(0, 10) + ", " +
         file["run"].value("sizes", "?") + " sizes" +
         (is_complete(file) ? "" : "; " + partial_text(file)) + ")";
}

}  // namespace

int compare_results(const std::string& a_path, const std::string& b_path) {
  json a, b;
  try {
    a = load_results(a_path);
    b = load_results(b_path);
  } catch (const std::exception& e) {
    std::cerr << "volley-bench compare: " << e.what() << "\n";
    return 1;
  }
  std::cout << "A: " << describe(a) << "\nB: " << describe(b) << "\n";
  if (a["run"].value("sizes", "") != b["run"].value("sizes", ""))
    std::cout
        << "note: A and B use different size sets; ratios compare different amounts of work\n";
  std::cout << "\n";
  std::printf("%-22s %7s %-7s %10s %-19s %10s %-19s %8s\n", "workload", "workers", "runtime", "A",
              "  (min - max)", "B", "  (min - max)", "B/A");
  int compared = 0;
  for (const auto& row_b : b["summary"]) {
    const json* row_a = find_row(a["summary"], row_b);
    if (row_a == nullptr) continue;
    for (const char* runtime : {"volley", "caf"}) {
      const auto& ra = (*row_a)[runtime];
      const auto& rb = row_b[runtime];
      if (ra.is_null() || rb.is_null()) continue;
      auto sa = from_json(ra), sb = from_json(rb);
      std::string verdict = "-";
      if (sa.count > 0 && sb.count > 0 && sa.median > 0) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, "%.2fx%s", sb.median / sa.median,
                      within_noise(sa, sb) ? "  within noise" : "");
        verdict = buffer;
      }
      auto fmt = [](const summary& s) {
        return s.count > 0 ? si(s.median) : std::string("no data");
      };
      auto spread = [](const summary& s) {
        return s.count > 0 ? "  " + si(s.min) + " - " + si(s.max) : std::string();
      };
      std::printf("%-22s %7d %-7s %10s %-19s %10s %-19s %s\n",
                  row_b["workload"].get<std::string>().c_str(), row_b["workers"].get<int>(),
                  runtime, fmt(sa).c_str(), spread(sa).c_str(), fmt(sb).c_str(), spread(sb).c_str(),
                  verdict.c_str());
      ++compared;
    }
  }
  if (compared == 0) {
    std::cout << "(no workload at the same worker count in both files)\n";
  }
  return 0;
}

}  // namespace volley::bench
