#include <volley/savina/filter_bank.hpp>

#include <cmath>

namespace volley::savina {

double filter_bank_source(std::int64_t i) {
  return static_cast<double>(i % 1000);
}

std::vector<double> filter_bank_coefficients(std::int64_t channel, std::int64_t taps,
                                             bool synthesis) {
  std::vector<double> c(static_cast<std::size_t>(taps));
  for (std::int64_t t = 0; t < taps; ++t) {
    double angle = static_cast<double>((channel + 1) * (t + 1)) / 10.0;
    c[static_cast<std::size_t>(t)] =
        (synthesis ? std::sin(angle) : std::cos(angle)) / static_cast<double>(taps);
  }
  return c;
}

fir_filter::fir_filter(std::vector<double> coefficients)
    : coefficients_(std::move(coefficients)), history_(coefficients_.size(), 0.0) {}

double fir_filter::step(double x) {
  const auto n = history_.size();
  newest_ = newest_ == 0 ? n - 1 : newest_ - 1;
  history_[newest_] = x;
  // x_{i - t} sits t places after the newest, wrapping.
  double sum = 0;
  std::size_t at = newest_;
  for (std::size_t t = 0; t < n; ++t) {
    sum += coefficients_[t] * history_[at];
    at = at + 1 == n ? 0 : at + 1;
  }
  return sum;
}

double filter_bank_reference_sum(std::int64_t columns, std::int64_t channels, std::int64_t taps) {
  std::vector<fir_filter> analysis, synthesis;
  for (std::int64_t c = 0; c < channels; ++c) {
    analysis.emplace_back(filter_bank_coefficients(c, taps, false));
    synthesis.emplace_back(filter_bank_coefficients(c, taps, true));
  }
  double sink = 0;
  for (std::int64_t i = 0; i < columns; ++i) {
    double x = filter_bank_source(i), combined = 0;
    for (std::size_t c = 0; c < analysis.size(); ++c)
      combined += synthesis[c].step(analysis[c].step(x));
    sink += combined;
  }
  return sink;
}

}  // namespace volley::savina
