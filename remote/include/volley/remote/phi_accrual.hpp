// volley/remote/phi_accrual.hpp — phi-accrual failure detector (Hayashibara et
// al., "The phi accrual failure detector", 2004).
//
// Instead of a yes/no timeout, the detector keeps a sliding window of
// heartbeat inter-arrival times and answers "how surprised would we be to
// still be waiting?" as phi = -log10(P(next heartbeat later than now)), with
// the inter-arrival times taken as normally distributed (mean and standard
// deviation of the window). phi = 1 means a 10% chance the peer is still fine,
// phi = 8 means 1e-8. A peer is declared down once phi passes the threshold.
// The threshold adapts the timeout to the measured jitter of the link.
//
// `acceptable_pause` is added to the mean, so a GC-style pause of that length
// is tolerated; `min_std_deviation` keeps a perfectly regular link (std ~ 0)
// from turning a few milliseconds of delay into infinite phi.
//
// Not thread-safe: one detector per connection, used by its loop thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace volley::remote {

struct phi_config {
  /// Akka's default: 8 gives ~1e-8 false-positive odds per check on a
  /// normally distributed link; 10-12 suits clouds with noisy schedulers.
  double threshold = 8.0;
  /// Window of inter-arrival samples. 200 heartbeats at 1 s cover a few
  /// minutes, enough to follow load changes without forgetting too fast.
  std::size_t max_samples = 200;
  /// Floor for the std deviation; without it a steady LAN link would be
  /// declared down after a jitter of a few times its (tiny) deviation.
  std::chrono::nanoseconds min_std_deviation = std::chrono::milliseconds(100);
  /// Silence that is tolerated on top of the mean interval.
  std::chrono::nanoseconds acceptable_pause = std::chrono::seconds(3);
  /// Assumed interval before any sample exists (the heartbeat interval).
  std::chrono::nanoseconds first_heartbeat_estimate = std::chrono::seconds(1);
};

class phi_accrual_detector {
 public:
  using clock = std::chrono::steady_clock;

  explicit phi_accrual_detector(phi_config config = {});

  /// Records a heartbeat arrival at `now`.
  void heartbeat(clock::time_point now);

  /// Suspicion level at `now`; 0 before the first heartbeat (nothing is known
  /// yet: the connection's own timeouts cover that phase). +inf when the
  /// normal tail underflows a double.
  double phi(clock::time_point now) const;

  /// phi(now) < threshold.
  bool available(clock::time_point now) const { return phi(now) < config_.threshold; }

  double mean_ms() const noexcept;
  double std_deviation_ms() const noexcept;
  std::size_t samples() const noexcept { return count_; }
  const phi_config& config() const noexcept { return config_; }

 private:
  void add_sample(double ms);

  phi_config config_;
  std::vector<double> window_;  // ring buffer of inter-arrival times, ms
  std::size_t next_ = 0;
  std::size_t count_ = 0;
  double sum_ = 0;
  double sum_sq_ = 0;
  clock::time_point last_{};
  bool have_last_ = false;
};

}  // namespace volley::remote
