#include <volley/remote/phi_accrual.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using namespace volley::remote;
using namespace std::chrono_literals;
using tp = phi_accrual_detector::clock::time_point;

namespace {

phi_config strict(std::chrono::milliseconds min_std = 10ms) {
  phi_config c;
  c.threshold = 8;
  c.max_samples = 100;
  c.min_std_deviation = min_std;
  c.acceptable_pause = 0ms;
  c.first_heartbeat_estimate = 100ms;
  return c;
}

/// Feeds `n` heartbeats, `interval` apart (+- jitter), and returns the last arrival.
tp feed(phi_accrual_detector& d, tp start, int n, std::chrono::milliseconds interval,
        std::chrono::milliseconds jitter = 0ms, unsigned seed = 1) {
  std::mt19937 rng(seed);
  tp t = start;
  for (int i = 0; i < n; ++i) {
    auto j = jitter.count()
                 ? std::chrono::milliseconds(static_cast<long>(rng() % (2 * jitter.count() + 1)) -
                                             jitter.count())
                 : 0ms;
    t += interval + j;
    d.heartbeat(t);
  }
  return t;
}

}  // namespace

TEST_CASE("phi is zero before the first heartbeat", "[remote][phi]") {
  phi_accrual_detector d(strict());
  CHECK(d.phi(tp{} + 10s) == 0.0);
  CHECK(d.available(tp{} + 10s));
}

TEST_CASE("regular heartbeats keep phi low, silence drives it past the threshold",
          "[remote][phi]") {
  phi_accrual_detector d(strict());
  tp last = feed(d, tp{} + 1s, 300, 100ms, 5ms);
  CHECK(d.phi(last + 50ms) < 0.1);
  CHECK(d.phi(last + 100ms) < 1.0);
  CHECK(d.available(last + 110ms));
  CHECK_FALSE(d.available(last + 300ms));
  CHECK(d.phi(last + 1s) > 8.0);
}

TEST_CASE("phi grows monotonically with the time since the last heartbeat", "[remote][phi]") {
  phi_accrual_detector d(strict());
  tp last = feed(d, tp{} + 1s, 50, 100ms, 20ms);
  double prev = -1;
  for (int ms = 0; ms <= 2000; ms += 10) {
    double p = d.phi(last + std::chrono::milliseconds(ms));
    CHECK(p >= prev);
    prev = p;
  }
  CHECK(std::isinf(d.phi(last + 1h)));
}

TEST_CASE("phi follows the normal tail with the window's mean and deviation", "[remote][phi]") {
  // After more than max_samples steady beats the window holds only 100 ms
  // samples: mean 100, deviation 0 -> floored to min_std_deviation (10 ms).
  phi_accrual_detector d(strict());
  tp last = feed(d, tp{} + 1s, 150, 100ms);
  CHECK(d.samples() == 100);
  CHECK(d.mean_ms() == Approx(100.0));
  CHECK(d.std_deviation_ms() == Approx(0.0).margin(1e-6));
  // Two deviations late: P(X > mean + 2 sd) = 0.02275 -> phi = 1.643.
  CHECK(d.phi(last + 120ms) ==
        Approx(-std::log10(0.5 * std::erfc(2 / std::sqrt(2.0)))).epsilon(1e-6));
  CHECK(d.phi(last + 120ms) == Approx(1.643).epsilon(1e-3));
  // Exactly on time: half the mass is later -> phi = log10(2).
  CHECK(d.phi(last + 100ms) == Approx(std::log10(2.0)).epsilon(1e-6));
}

TEST_CASE("a jittery link tolerates longer silences than a steady one", "[remote][phi]") {
  phi_accrual_detector steady(strict());
  phi_accrual_detector jittery(strict());
  tp a = feed(steady, tp{} + 1s, 200, 100ms, 1ms);
  tp b = feed(jittery, tp{} + 1s, 200, 100ms, 60ms);
  CHECK(jittery.std_deviation_ms() > steady.std_deviation_ms());
  CHECK(jittery.phi(b + 250ms) < steady.phi(a + 250ms));
  CHECK_FALSE(steady.available(a + 250ms));
  CHECK(jittery.available(b + 250ms));
}

TEST_CASE("the acceptable pause is added to the expected interval", "[remote][phi]") {
  auto cfg = strict();
  cfg.acceptable_pause = 500ms;
  phi_accrual_detector d(cfg);
  tp last = feed(d, tp{} + 1s, 200, 100ms);
  CHECK(d.available(last + 550ms));
  CHECK_FALSE(d.available(last + 900ms));
}

TEST_CASE("the first silence is judged against the configured estimate", "[remote][phi]") {
  phi_accrual_detector d(strict());
  d.heartbeat(tp{} + 1s);
  CHECK(d.samples() == 2);
  CHECK(d.mean_ms() == Approx(100.0));
  CHECK(d.available(tp{} + 1s + 100ms));
  CHECK_FALSE(d.available(tp{} + 1s + 1s));
}

TEST_CASE("a recovered peer is available again", "[remote][phi]") {
  phi_accrual_detector d(strict());
  tp last = feed(d, tp{} + 1s, 100, 100ms);
  CHECK_FALSE(d.available(last + 2s));
  d.heartbeat(last + 2s);
  CHECK(d.available(last + 2s + 10ms));
}
