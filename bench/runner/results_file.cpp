#include "results_file.hpp"

#include "mode_spread.hpp"
#include "spread_cause.hpp"
#include "statistics.hpp"

#include <volley/savina/parameters.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

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

// A run's probe: the worse (larger) of the round trips taken before and
// after it, so that a mode change in the middle of a run counts against it.
std::optional<double> run_probe_ns(const json& r) {
  std::optional<double> worst;
  for (const char* when : {"probe_before", "probe_after"}) {
    if (!r.contains(when) || !r[when].is_object()) continue;
    const auto& rt = r[when].value("round_trip_ns", json());
    if (rt.is_number()) worst = std::max(worst.value_or(0.0), rt.get<double>());
  }
  return worst;
}

namespace {

bool in_row(const json& r, const std::string& workload, int workers, const std::string& runtime) {
  return r["workload"] == workload && r["workers"] == workers && r["runtime"] == runtime;
}

json summary_json(const summary& s) {
  return {{"count", s.count}, {"median", s.median}, {"min", s.min}, {"max", s.max}};
}

json runtime_summary(const json& runs, const std::string& workload, int workers,
                     const std::string& runtime, std::optional<double> median_probe) {
  std::vector<double> throughput, per_cpu;
  std::map<std::string, std::vector<double>> latency;
  std::map<std::string, std::vector<double>> by_mode;
  std::vector<const json*> ok_runs;
  int failed = 0, wrong = 0, timeout = 0, skipped = 0, seen = 0;
  for (const auto& r : runs) {
    if (!in_row(r, workload, workers, runtime)) continue;
    ++seen;
    if (r["status"] == "timeout") ++timeout;
    if (r["status"] == "skipped") ++skipped;  // after a timeout (run_command.cpp)
    if (r["status"] == "failed") ++failed;
    if (r["status"] == "failed" && r.value("exit_code", 0) == 2) ++wrong;
    if (r["status"] != "ok") continue;
    double t = r["throughput"].get<double>();
    throughput.push_back(t);
    ok_runs.push_back(&r);
    if (r.contains("items_per_cpu_s") && r["items_per_cpu_s"].is_number())
      per_cpu.push_back(r["items_per_cpu_s"].get<double>());
    for (const char* key : {"p50_ns", "p99_ns", "p999_ns"})
      if (r.contains(key)) latency[key].push_back(r[key].get<double>());
    if (auto p = run_probe_ns(r); p && median_probe)
      by_mode[probe_mode(*p, *median_probe)].push_back(t);
  }
  if (seen == 0) return nullptr;
  auto s = summarise(throughput);
  json out = {
      {"count", s.count},  {"median", s.median}, {"min", s.min},     {"max", s.max},
      {"q1", s.q1},        {"q3", s.q3},         {"failed", failed}, {"wrong_answer", wrong},
      {"timeout", timeout}};
  if (skipped > 0) out["skipped"] = skipped;
  if (!per_cpu.empty()) out["per_cpu_s"] = summary_json(summarise(per_cpu));
  for (auto& [key, values] : latency) out[key] = summarise(values).median;
  const auto quiet_issue = quiet_issue_figure(runs);
  const auto full_clock = full_clock_ns(runs);
  // Issue 9's spread within one probe mode, and the stricter reading.
  if (s.count >= 1)
    out["mode_spread"] = mode_spread(ok_runs, median_probe, quiet_issue, full_clock);
  // Spread and what the probe says about it: a wide spread is explained
  // when the repetitions fall into more than one probe mode and each mode
  // on its own is narrow.
  if (s.count >= 2 && s.min > 0) {
    double spread = s.max / s.min;
    out["spread"] = spread;
    json modes = json::object();
    bool every_mode_narrow = true;
    for (auto& [mode, values] : by_mode) {
      auto m = summarise(values);
      modes[mode] = summary_json(m);
      if (m.min > 0 && m.max / m.min > narrow_spread) every_mode_narrow = false;
    }
    if (!modes.empty()) out["probe_modes"] = modes;
    if (spread > narrow_spread) {
      out["probe_explains_spread"] =
          by_mode.size() >= 2 && every_mode_narrow ? json(true) : json(false);
      // What else the file recorded about it (spread_cause.hpp).
      out["spread_cause"] = explain_spread(ok_runs, median_probe, quiet_issue, full_clock);
    }
  }
  return out;
}

summary as_summary(const json& j) {
  summary s;
  s.count = j["count"].get<std::size_t>();
  s.median = j["median"].get<double>();
  s.min = j["min"].get<double>();
  s.max = j["max"].get<double>();
  s.q1 = j.value("q1", s.min);
  s.q3 = j.value("q3", s.max);
  return s;
}

}  // namespace

bool has_figures(const json& j) {
  return !j.is_null() && j["count"].get<std::size_t>() > 0;
}

std::string median_text(const json& j) {
  if (j.is_null()) return "-";
  if (j["count"].get<std::size_t>() == 0)
    return j.value("wrong_answer", 0) > 0 ? "WRONG"
           : j["timeout"].get<int>() > 0  ? "timeout"
                                          : "failed";
  return si(j["median"].get<double>());
}

namespace {

std::string range_text(const json& j) {
  if (!has_figures(j)) return "";
  return si(j["min"].get<double>()) + "-" + si(j["max"].get<double>());
}

std::string per_cpu_text(const json& j) {
  if (!has_figures(j) || !j.contains("per_cpu_s")) return "";
  return si(j["per_cpu_s"]["median"].get<double>());
}

}  // namespace

const std::vector<std::string>& runtime_names() {
  static const std::vector<std::string> names = {"volley", "caf", "erlang"};
  return names;
}

std::string probe_mode(double probe_ns, double median_probe_ns) {
  if (probe_ns > median_probe_ns * probe_mode_factor) return "slow";
  if (probe_ns * probe_mode_factor < median_probe_ns) return "fast";
  return "typical";
}

std::optional<double> median_probe_ns(const json& runs) {
  std::vector<double> probes;
  for (const auto& r : runs)
    if (auto p = run_probe_ns(r)) probes.push_back(*p);
  if (probes.empty()) return std::nullopt;
  return summarise(probes).median;
}

json current_summary(const json& data) {
  if (data.value("schema_version", 0) >= 2 && data.contains("runs") && data["runs"].is_array())
    return summarise_runs(data["runs"]);
  return data.value("summary", json::array());
}

json summarise_runs(const json& runs) {
  json summary = json::array();
  std::vector<std::pair<std::string, int>> groups;
  std::map<std::pair<std::string, int>, std::string> units;
  for (const auto& r : runs) {
    std::pair<std::string, int> key{r["workload"].get<std::string>(), r["workers"].get<int>()};
    if (std::find(groups.begin(), groups.end(), key) == groups.end()) groups.push_back(key);
    if (r.contains("unit")) units[key] = r["unit"].get<std::string>();
  }
  auto median_probe = median_probe_ns(runs);
  for (const auto& key : groups) {
    // The unit of a workload none of whose runs succeeded comes from the table.
    std::string unit = units.count(key) ? units[key] : "";
    if (const auto* spec = savina::find_workload(key.first); unit.empty() && spec != nullptr)
      unit = spec->unit;
    json row = {{"workload", key.first}, {"workers", key.second}, {"unit", unit}};
    for (const auto& rt : runtime_names())
      row[rt] = runtime_summary(runs, key.first, key.second, rt, median_probe);
    // The peer volley is held against: the one with the highest median.
    row["best_peer"] = nullptr;
    for (const auto& rt : runtime_names()) {
      if (rt == "volley" || !has_figures(row[rt])) continue;
      if (row["best_peer"].is_null() ||
          row[rt]["median"].get<double>() >
              row[row["best_peer"].get<std::string>()]["median"].get<double>())
        row["best_peer"] = rt;
    }
    row["ratio"] = nullptr;
    row["worst_ratio"] = nullptr;
    row["within_noise"] = nullptr;
    const auto& v = row["volley"];
    if (!row["best_peer"].is_null() && has_figures(v)) {
      const auto& peer = row[row["best_peer"].get<std::string>()];
      if (peer["median"].get<double>() > 0) {
        row["ratio"] = v["median"].get<double>() / peer["median"].get<double>();
        // The least flattering reading: volley's slowest repetition against
        // the best peer's fastest.
        row["worst_ratio"] = v["min"].get<double>() / peer["max"].get<double>();
        row["within_noise"] = within_noise(as_summary(peer), as_summary(v));
      }
    }
    summary.push_back(row);
  }
  return summary;
}

std::string ratio_text(const json& row, bool ascii) {
  if (row["ratio"].is_null()) return "-";
  const char* times = ascii ? "x" : "×";
  char buffer[96];
  std::string text;
  std::snprintf(buffer, sizeof buffer, "%.2f%s", row["ratio"].get<double>(), times);
  text = buffer;
  // Files from before schema 2 have no worst case.
  if (row.contains("worst_ratio") && row["worst_ratio"].is_number()) {
    std::snprintf(buffer, sizeof buffer, " (worst %.2f%s)", row["worst_ratio"].get<double>(),
                  times);
    text += buffer;
  }
  if (row.value("within_noise", false)) text += " (noise)";
  return text;
}

std::string probe_note(const json& row) {
  std::string out;
  for (const auto& rt : runtime_names()) {
    if (!row.contains(rt) || row[rt].is_null() || !row[rt].contains("probe_explains_spread"))
      continue;
    const auto& s = row[rt];
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s%s spread %.2f: ", out.empty() ? "" : "; ", rt.c_str(),
                  s["spread"].get<double>());
    out += buffer;
    // Files before the cause was recorded say only what the probe says.
    if (s.contains("spread_cause"))
      out += s["spread_cause"]["cause"].get<std::string>();
    else
      out += s["probe_explains_spread"].get<bool>() ? "probe modes explain it"
                                                    : "probe does not explain it";
  }
  return out;
}

std::string summary_table(const json& summary) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-22s %3s %-11s", "workload", "wkr", "unit");
  out << line;
  for (const auto& rt : runtime_names()) {
    std::snprintf(line, sizeof line, " %9s %-17s %9s", rt.c_str(), "(min-max)", "per CPU-s");
    out << line;
  }
  out << "  volley/best peer\n";
  for (const auto& row : summary) {
    std::snprintf(line, sizeof line, "%-22s %3d %-11s", row["workload"].get<std::string>().c_str(),
                  row["workers"].get<int>(), row["unit"].get<std::string>().c_str());
    out << line;
    for (const auto& rt : runtime_names()) {
      std::snprintf(line, sizeof line, " %9s %-17s %9s", median_text(row[rt]).c_str(),
                    range_text(row[rt]).c_str(), per_cpu_text(row[rt]).c_str());
      out << line;
    }
    std::string peer =
        row["best_peer"].is_null() ? "" : " vs " + row["best_peer"].get<std::string>();
    out << "  " << ratio_text(row, true) << peer;
    if (auto note = probe_note(row); !note.empty()) out << "  [" << note << "]";
    out << "\n";
  }
  return out.str();
}

bool is_complete(const json& data) {
  return data.value("complete", true);
}

std::string partial_text(const json& data) {
  if (is_complete(data)) return "";
  auto text = "partial: " + std::to_string(data.value("runs", json::array()).size()) + " of " +
              std::to_string(data.value("planned_runs", 0)) + " runs";
  if (data.contains("stopped")) text += ", stopped by " + data["stopped"].get<std::string>();
  return text;
}

std::string repetitions_text(const json& row, const json& data) {
  if (is_complete(data)) return "";
  const int planned = data.value("run", json::object()).value("repetitions", 0);
  int fewest = planned;
  for (const auto& rt : runtime_names()) {
    if (!row.contains(rt) || row[rt].is_null()) continue;
    const auto& s = row[rt];
    const int seen = s["count"].get<int>() + s.value("failed", 0) + s.value("timeout", 0) +
                     s.value("skipped", 0);
    fewest = std::min(fewest, seen);
  }
  if (fewest >= planned) return "";
  return std::to_string(fewest) + " of " + std::to_string(planned) + " repetitions";
}

namespace {

void write_all(int fd, const std::string& text, const std::string& path) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "write " + path);
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

void write_results_atomically(const std::string& path, const json& data) {
  const auto tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + tmp);
  try {
    write_all(fd, data.dump(2) + "\n", tmp);
    if (::fsync(fd) != 0) throw std::system_error(errno, std::generic_category(), "fsync " + tmp);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  // rename() replaces the old file in one step; the folder's fsync makes
  // the new name itself survive a power cut, not only the bytes.
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::system_error(errno, std::generic_category(), "rename " + tmp);
  auto slash = path.find_last_of('/');
  const auto dir = slash == std::string::npos ? std::string(".") : path.substr(0, slash + 1);
  if (const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
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
