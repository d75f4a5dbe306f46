#include "gnuplot_chart.hpp"

#include "child_process.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace volley::bench {

namespace fs = std::filesystem;

namespace {

// gnuplot's string literals: double quotes, with \ and " escaped.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string value_text(const std::optional<double>& v) {
  return v && std::isfinite(*v) && *v > 0 ? std::to_string(*v) : "?";
}

class scratch_dir {
 public:
  scratch_dir() {
    std::string pattern = (fs::temp_directory_path() / "volley-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool run_gnuplot(const fs::path& script, const std::string& svg) {
  try {
    auto r = run_child({"gnuplot", script.string()}, std::chrono::seconds(60));
    if (r.exit_code == 0) return true;
    // A half-written chart would be linked by a stale README otherwise.
    std::error_code ec;
    fs::remove(svg, ec);
    std::cerr << "volley-bench report: gnuplot failed on " << script.filename().string() << ": "
              << tail_lines(r.err, 5) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "volley-bench report: cannot run gnuplot: " << e.what() << "\n";
  }
  return false;
}

// Shared look: SVG without gnuplot's enhanced-text markup (so '-' and '_' in
// names print as they are), light grid, legend top left.
const char* preamble =
    R"(set terminal svg size %d,%d dynamic noenhanced font "sans,11" background rgb "white"
set datafile missing "?"
set grid ytics lc rgb "#dddddd"
set key top left
)";

std::string format(const char* pattern, int a, int b) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, pattern, a, b);
  return buffer;
}

}  // namespace

bool gnuplot_available() {
  try {
    return run_child({"gnuplot", "--version"}, std::chrono::seconds(10)).exit_code == 0;
  } catch (const std::exception&) {
    return false;
  }
}

bool draw_bars(const bar_chart& chart, const std::string& svg_path) {
  // gnuplot refuses a log axis with nothing on it; no bars, no chart.
  bool any = false;
  for (const auto& g : chart.groups)
    for (const auto& v : g.values) any = any || value_text(v) != "?";
  if (!any) {
    fs::remove(svg_path);
    return false;
  }
  scratch_dir scratch;
  auto data = scratch.path() / "bars.dat";
  {
    std::ofstream out(data);
    for (const auto& g : chart.groups) {
      out << quoted(g.label);
      for (const auto& v : g.values) out << " " << value_text(v);
      out << "\n";
    }
  }
  auto script = scratch.path() / "bars.gp";
  {
    int width = std::max(
        640,
        70 * static_cast<int>(chart.groups.size() * std::max<std::size_t>(1, chart.series.size())) /
                2 +
            200);
    std::ofstream out(script);
    out << format(preamble, width, 480);
    out << "set output " << quoted(svg_path) << "\n";
    out << "set title " << quoted(chart.title) << "\n";
    out << "set ylabel " << quoted(chart.y_label) << "\n";
    out << "set logscale y\n";
    out << "set style data histogram\nset style histogram clustered gap 1\n";
    out << "set style fill solid 0.85 border -1\nset boxwidth 0.9\n";
    out << "set xtics rotate by 45 right scale 0\nset bmargin 9\nset format y \"%.0s%c\"\n";
    out << "plot ";
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
      if (i > 0) out << ", ";
      out << quoted(data.string()) << " using " << (i + 2) << (i == 0 ? ":xtic(1)" : "")
          << " title " << quoted(chart.series[i]);
    }
    out << "\n";
  }
  return run_gnuplot(script, svg_path);
}

bool draw_scaling(const std::string& title, const std::vector<scaling_panel>& panels,
                  const std::string& svg_path) {
  if (panels.empty()) return false;
  scratch_dir scratch;
  const int columns = std::min<int>(4, static_cast<int>(panels.size()));
  const int rows = (static_cast<int>(panels.size()) + columns - 1) / columns;
  auto script = scratch.path() / "scaling.gp";
  std::ofstream out(script);
  out << format(preamble, 300 * columns, 260 * rows + 40);
  out << "set output " << quoted(svg_path) << "\n";
  out << "set key top left font \",9\"\nset xlabel \"workers\"\nset format y \"%.2s%c\"\nset "
         "yrange [0:*]\n";
  out << "set multiplot layout " << rows << "," << columns << " title " << quoted(title) << "\n";
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& panel = panels[p];
    auto data = scratch.path() / ("panel" + std::to_string(p) + ".dat");
    {
      std::ofstream d(data);
      for (std::size_t x = 0; x < panel.workers.size(); ++x) {
        d << panel.workers[x];
        for (const auto& series : panel.values) d << " " << value_text(series[x]);
        d << "\n";
      }
    }
    out << "set title " << quoted(panel.title) << "\n";
    out << "set xtics 1\n";
    out << "plot ";
    for (std::size_t s = 0; s < panel.series.size(); ++s) {
      if (s > 0) out << ", ";
      out << quoted(data.string()) << " using 1:" << (s + 2) << " with linespoints lw 2 title "
          << quoted(panel.series[s]);
    }
    out << "\n";
  }
  out << "unset multiplot\n";
  out.close();
  return run_gnuplot(script, svg_path);
}

}  // namespace volley::bench
