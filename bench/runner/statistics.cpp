#include "statistics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace volley::bench {

namespace {

double quantile(const std::vector<double>& sorted, double q) {
  double pos = q * static_cast<double>(sorted.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  auto hi = std::min(lo + 1, sorted.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

}  // namespace

summary summarise(std::vector<double> values) {
  summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = values.size();
  s.min = values.front();
  s.max = values.back();
  s.median = quantile(values, 0.5);
  s.q1 = quantile(values, 0.25);
  s.q3 = quantile(values, 0.75);
  return s;
}

bool within_noise(const summary& a, const summary& b, double tolerance) {
  if (a.count == 0 || b.count == 0) return false;
  bool overlap = a.min <= b.max && b.min <= a.max;
  bool close = a.median != 0 && std::fabs(b.median - a.median) <= tolerance * std::fabs(a.median);
  return overlap || close;
}

std::string si(double value) {
  static constexpr const char* prefixes[] = {"", " k", " M", " G", " T"};
  int index = 0;
  double v = value;
  while (std::fabs(v) >= 1000 && index < 4) {
    v /= 1000;
    ++index;
  }
  char buffer[32];
  int decimals = std::fabs(v) >= 100 ? 0 : std::fabs(v) >= 10 ? 1 : 2;
  std::snprintf(buffer, sizeof buffer, "%.*f%s", decimals, v, prefixes[index]);
  return buffer;
}

std::string duration_text(double ns) {
  static constexpr const char* units[] = {" ns", " µs", " ms", " s"};
  int index = 0;
  while (std::fabs(ns) >= 1000 && index < 3) {
    ns /= 1000;
    ++index;
  }
  char buffer[32];
  int decimals = std::fabs(ns) >= 100 || index == 0 ? 0 : std::fabs(ns) >= 10 ? 1 : 2;
  std::snprintf(buffer, sizeof buffer, "%.*f%s", decimals, ns, units[index]);
  return buffer;
}

}  // namespace volley::bench
