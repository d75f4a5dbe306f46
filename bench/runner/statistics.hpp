#pragma once
// Summaries of repeated runs: median and spread, and the noise rule used by
// `compare` and the end-of-run table.

#include <string>
#include <vector>

namespace volley::bench {

struct summary {
  std::size_t count = 0;
  double median = 0, min = 0, max = 0, q1 = 0, q3 = 0;
};

/// Median, min, max and quartiles (linear interpolation between ranks) of
/// `values`; all zero for an empty input.
summary summarise(std::vector<double> values);

/// Whether two sets of runs differ by no more than noise: their min-max
/// ranges overlap, or the medians are within `tolerance` (relative to a).
/// With three repetitions the range is the only spread worth the name.
bool within_noise(const summary& a, const summary& b, double tolerance = 0.05);

/// "3.07 M", "812 k", "95.1", "0.255": three significant digits, an SI
/// prefix from a thousand up, plain decimals below one (never an exponent).
std::string si(double value);

/// A size in bytes with si's digits and the prefix on the unit: "128 B",
/// "1.22 kB", "42.1 B", "0.000640 B" (jemalloc's share per idle actor);
/// exactly zero is "0 B", not "0.00 B": a count of bytes that is none.
std::string bytes_text(double bytes);

/// A duration given in nanoseconds, in the unit that reads best:
/// "841 ns", "181 µs", "2.79 ms", "1.20 s".
std::string duration_text(double nanoseconds);

}  // namespace volley::bench
