#pragma once
/// The work of the filter-bank workload, shared by volley and CAF (the
/// Erlang twin, savina_filter_bank.erl, writes the same arithmetic in the
/// same order, so all three compute bit-identical doubles).
///
/// A source emits `columns` samples x_i = i mod 1000. Each of C channels
/// runs them through two FIR filters of `taps` coefficients (analysis H_c,
/// then synthesis F_c); a combiner adds the C channel outputs of each
/// sample, in channel order, and the sink sums what it gets. This is the
/// StreamIt FilterBank that Savina's FilterBank follows, without its
/// down- and up-sampling stages: every stage handles every sample, so each
/// sample is 3·C + 2 messages.

#include <cstdint>
#include <vector>

namespace volley::savina {

/// Sample i of the source.
double filter_bank_source(std::int64_t i);

/// Coefficient t of channel c's analysis filter H_c (`synthesis` false) or
/// synthesis filter F_c (true): cos((c + 1)(t + 1)/10) / taps, and sin(...)
/// for F_c; what matters is that every runtime uses the same ones.
std::vector<double> filter_bank_coefficients(std::int64_t channel, std::int64_t taps,
                                             bool synthesis);

/// One FIR filter: keeps the last `taps` inputs (zeros before the first).
class fir_filter {
 public:
  explicit fir_filter(std::vector<double> coefficients);
  /// Feeds x, returns sum over t ascending of coefficient[t] · x_{i - t}.
  double step(double x);

 private:
  std::vector<double> coefficients_;
  std::vector<double> history_;  // ring buffer, history_[newest_] = x_i
  std::size_t newest_ = 0;
};

/// The sink's sum for the whole stream, computed sequentially.
double filter_bank_reference_sum(std::int64_t columns, std::int64_t channels, std::int64_t taps);

}  // namespace volley::savina
