// Phi-accrual failure detector; see phi_accrual.hpp for the model.
#include <volley/remote/phi_accrual.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace volley::remote {

namespace {
double to_ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
}  // namespace

phi_accrual_detector::phi_accrual_detector(phi_config config) : config_(config) {
  config_.max_samples = std::max<std::size_t>(config_.max_samples, 2);
  window_.resize(config_.max_samples);
}

void phi_accrual_detector::add_sample(double ms) {
  if (count_ == window_.size()) {
    double old = window_[next_];
    sum_ -= old;
    sum_sq_ -= old * old;
  } else {
    ++count_;
  }
  window_[next_] = ms;
  next_ = (next_ + 1) % window_.size();
  sum_ += ms;
  sum_sq_ += ms * ms;
}

void phi_accrual_detector::heartbeat(clock::time_point now) {
  if (!have_last_) {
    // Seed the window with the expected interval +- a quarter, so the first
    // real silence is judged against a sensible distribution (same idea as
    // Akka's bootstrap samples, whose deviation is a quarter of the mean).
    constexpr double bootstrap_spread = 0.25;
    double est = to_ms(config_.first_heartbeat_estimate);
    add_sample(est - est * bootstrap_spread);
    add_sample(est + est * bootstrap_spread);
    have_last_ = true;
  } else {
    add_sample(std::max(0.0, to_ms(now - last_)));
  }
  last_ = now;
}

double phi_accrual_detector::mean_ms() const noexcept {
  return count_ ? sum_ / static_cast<double>(count_) : 0.0;
}

double phi_accrual_detector::std_deviation_ms() const noexcept {
  if (count_ == 0) return 0.0;
  double m = mean_ms();
  double var = sum_sq_ / static_cast<double>(count_) - m * m;
  return std::sqrt(std::max(0.0, var));  // rounding can push var slightly below 0
}

double phi_accrual_detector::phi(clock::time_point now) const {
  if (!have_last_) return 0.0;
  double elapsed = std::max(0.0, to_ms(now - last_));
  double mean = mean_ms() + to_ms(config_.acceptable_pause);
  double sd = std::max(std_deviation_ms(), to_ms(config_.min_std_deviation));
  if (sd <= 0) sd = 1e-3;  // a zero min_std_deviation must not divide by zero
  // P(X > elapsed) for X ~ N(mean, sd), via erfc: exact, and keeps precision in
  // the tail where 1 - CDF would cancel to 0 long before erfc underflows.
  double tail = 0.5 * std::erfc((elapsed - mean) / (sd * std::sqrt(2.0)));
  if (tail <= 0) return std::numeric_limits<double>::infinity();
  return -std::log10(tail);
}

}  // namespace volley::remote
