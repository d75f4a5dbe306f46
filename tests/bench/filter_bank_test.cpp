#include <volley/savina/filter_bank.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace volley::savina;

TEST_CASE("a FIR filter sums coefficient times the input t samples back") {
  fir_filter f({1.0, 10.0, 100.0});
  CHECK(f.step(1) == 1.0);               // 1·1
  CHECK(f.step(2) == 2.0 + 10.0);        // 1·2 + 10·1
  CHECK(f.step(3) == 3.0 + 20.0 + 100);  // 1·3 + 10·2 + 100·1
  CHECK(f.step(4) == 4.0 + 30.0 + 200);  // the first input has left the window
}

TEST_CASE("the source and the coefficients are fixed") {
  CHECK(filter_bank_source(0) == 0.0);
  CHECK(filter_bank_source(1234) == 234.0);
  auto h = filter_bank_coefficients(1, 4, false);
  auto f = filter_bank_coefficients(1, 4, true);
  REQUIRE(h.size() == 4);
  CHECK(h[2] == std::cos(0.6) / 4);
  CHECK(f[2] == std::sin(0.6) / 4);
}

TEST_CASE("the reference sum runs every channel's two filters over the stream") {
  // One channel, one tap: y = h·f·x, summed over x = 0, 1, 2.
  const double hf = (std::cos(0.1) / 1) * (std::sin(0.1) / 1);
  CHECK(filter_bank_reference_sum(3, 1, 1) == Approx(hf * 3));
  // A sample more or less changes the sum (what the sink's check relies on).
  CHECK(filter_bank_reference_sum(500, 4, 8) != filter_bank_reference_sum(499, 4, 8));
}
