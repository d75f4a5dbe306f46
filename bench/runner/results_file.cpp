#include "results_file.hpp"

#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>


namespace volley::bench {

using nlohmann::json;

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string file_stamp(const std::string& utc) {
  std::string stem = utc;
  for (auto& c : stem)
    if (c == ':') c = '-';
  return stem;
}

namespace {

json runtime_summary(const json& runs, const std::string& workload, int workers, const std::string& runtime) {
  std::vector<double> throughput;
  std::map<std::string, std::vector<double>> latency;
  int failed = 0, timeout = 0, seen = 0;
  for (const auto& r : runs) {
    if (r["workload"] != workload || r["workers"] != workers || r["runtime"] != runtime) continue;
    ++seen;
    if (r["status"] == "timeout") ++timeout;
    if (r["status"] == "failed") ++failed;
    if (r["status"] != "ok") continue;
    throughput.push_back(r["throughput"].get<double>());
    for (const char* key : {"p50_ns", "p99_ns", "p999_ns"})
      if (r.contains(key)) latency[key].push_back(r[key].get<double>());
  }
  if (seen == 0) return nullptr;
  auto s = summarise(throughput);
  json out = {{"count", s.count}, {"median", s.median}, {"min", s.min}, {"max", s.max},
              {"q1", s.q1},       {"q3", s.q3},         {"failed", failed}, {"timeout", timeout}};
  for (auto& [key, values] : latency) out[key] = summarise(values).median;
  return out;
}

summary as_summary(const json& j) {
  summary s;
  s.count = j["count"].get<std::size_t>();
  s.median = j["median"].get<double>();
  s.min = j["min"].get<double>();
  s.max = j["max"].get<double>();
  s.q1 = j["q1"].get<double>();
  s.q3 = j["q3"].get<double>();
  return s;
}

std::string spread_text(const json& j) {
  if (j.is_null()) return "";
  if (j["count"].get<std::size_t>() == 0) return "";
  return si(j["min"].get<double>()) + " - " + si(j["max"].get<double>());
}

std::string median_text(const json& j) {
  if (j.is_null()) return "-";
  if (j["count"].get<std::size_t>() == 0) return j["timeout"].get<int>() > 0 ? "timeout" : "failed";
  return si(j["median"].get<double>());
}

}  // namespace

json summarise_runs(const json& runs) {
  json summary = json::array();
  std::vector<std::pair<std::string, int>> groups;
  std::map<std::pair<std::string, int>, std::string> units;
  for (const auto& r : runs) {
    std::pair<std::string, int> key{r["workload"].get<std::string>(), r["workers"].get<int>()};
    if (std::find(groups.begin(), groups.end(), key) == groups.end()) groups.push_back(key);
    if (r.contains("unit")) units[key] = r["unit"].get<std::string>();
  }
  for (const auto& key : groups) {
    // The unit of a workload none of whose runs succeeded comes from the table.
    std::string unit = units.count(key) ? units[key] : "";
    if (const auto* spec = savina::find_workload(key.first); unit.empty() && spec != nullptr) unit = spec->unit;
    json row = {{"workload", key.first}, {"workers", key.second}, {"unit", unit}};
    auto v = runtime_summary(runs, key.first, key.second, "volley");
    auto c = runtime_summary(runs, key.first, key.second, "caf");
    row["volley"] = v;
    row["caf"] = c;
    row["ratio"] = nullptr;
    row["within_noise"] = nullptr;
    if (!v.is_null() && !c.is_null() && v["count"] != 0 && c["count"] != 0 && c["median"].get<double>() > 0) {
      row["ratio"] = v["median"].get<double>() / c["median"].get<double>();
      row["within_noise"] = within_noise(as_summary(c), as_summary(v));
    }
    summary.push_back(row);
  }
  return summary;
}

std::string summary_table(const json& summary) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %7s %-12s %10s %-19s %10s %-19s %s\n", "workload", "workers", "unit",
                "volley", "  (min - max)", "caf", "  (min - max)", "volley/caf");
  out << line;
  for (const auto& row : summary) {
    std::string ratio = "-";
    if (!row["ratio"].is_null()) {
      char buffer[48];
      std::snprintf(buffer, sizeof buffer, "%.2fx%s", row["ratio"].get<double>(),
                    row["within_noise"].get<bool>() ? " (noise)" : "");
      ratio = buffer;
    }
    std::snprintf(line, sizeof line, "%-22s %7d %-12s %10s %-19s %10s %-19s %s\n",
                  row["workload"].get<std::string>().c_str(), row["workers"].get<int>(),
                  row["unit"].get<std::string>().c_str(), median_text(row["volley"]).c_str(),
                  ("  " + spread_text(row["volley"])).c_str(), median_text(row["caf"]).c_str(),
                  ("  " + spread_text(row["caf"])).c_str(), ratio.c_str());
    out << line;
  }
  return out.str();
}

json load_results(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  try {
    return json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not a result file: " + e.what());
  }
}

}  // namespace volley::bench
