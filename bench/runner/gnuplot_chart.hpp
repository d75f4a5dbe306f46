#pragma once
// Charts for the report, drawn by gnuplot (Debian package gnuplot-nox) as
// SVG. This file only writes data tables and gnuplot scripts; gnuplot does
// the drawing.

#include <optional>
#include <string>
#include <vector>

namespace volley::bench {

/// One group of bars (a workload) with one value per series; nullopt = no figure.
struct bar_group {
  std::string label;
  std::vector<std::optional<double>> values;
};

/// Grouped bars, log-scale y axis, written to `svg_path`.
struct bar_chart {
  std::string title;
  std::string y_label;
  std::vector<std::string> series;  // legend entries, one per value of a group
  std::vector<bar_group> groups;
};

/// One panel of a scaling chart: y against worker count, one line per series.
struct scaling_panel {
  std::string title;
  std::vector<std::string> series;
  std::vector<int> workers;                                // x values
  std::vector<std::vector<std::optional<double>>> values;  // [series][x]
};

/// Whether gnuplot can be run.
bool gnuplot_available();

/// Draws the chart; returns false (and says why on stderr) if gnuplot fails.
bool draw_bars(const bar_chart& chart, const std::string& svg_path);

/// Draws the panels in a grid with a shared title; false if gnuplot fails.
bool draw_scaling(const std::string& title, const std::vector<scaling_panel>& panels,
                  const std::string& svg_path);

}  // namespace volley::bench
