#include "statistics.hpp"

#include <algorithm>
#include <cctype>
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

// Decimals that give `value` three significant digits: 2 from 1 to 9.99,
// more below 1 (0.255, 0.000640: jemalloc keeps 0.00064 B per idle actor),
// at most 9 (a billionth: nothing the suite records is smaller and not
// zero); zero prints as "0.00".
int significant_decimals(double value) {
  constexpr int most_decimals = 9;
  const double magnitude = std::fabs(value);
  if (magnitude >= 100) return 0;
  if (magnitude >= 10) return 1;
  if (magnitude >= 1 || magnitude == 0) return 2;
  return std::min(most_decimals, 2 - static_cast<int>(std::floor(std::log10(magnitude))));
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
  std::snprintf(buffer, sizeof buffer, "%.*f%s", significant_decimals(v), v, prefixes[index]);
  return buffer;
}

std::string bytes_text(double bytes) {
  if (bytes == 0) return "0 B";
  // si writes its prefix after a space ("1.22 k"): the unit joins the
  // prefix ("1.22 kB"), or follows the number after a space ("128 B").
  auto text = si(bytes);
  const bool prefixed = !text.empty() && std::isalpha(static_cast<unsigned char>(text.back()));
  return text + (prefixed ? "B" : " B");
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
