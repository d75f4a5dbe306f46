#include <volley/savina/measurement.hpp>

#include <algorithm>
#include <cmath>

namespace volley::savina {

namespace {

// Nearest-rank percentile: the smallest sample with at least q of the
// samples at or below it. nth_element keeps this O(n) per percentile.
std::int64_t percentile(std::vector<std::int64_t>& samples, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  auto index = rank == 0 ? 0 : rank - 1;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index),
                   samples.end());
  return samples[index];
}

}  // namespace

latency_summary summarise_latencies(std::vector<std::int64_t>& samples) {
  latency_summary s;
  if (samples.empty()) return s;
  s.count = samples.size();
  s.p50 = percentile(samples, 0.50);
  s.p99 = percentile(samples, 0.99);
  s.p999 = percentile(samples, 0.999);
  s.max = *std::max_element(samples.begin(), samples.end());
  return s;
}

}  // namespace volley::savina
