#include "statistics.hpp"

#include <catch2/catch.hpp>

using namespace volley::bench;

TEST_CASE("summarise gives median, range and quartiles whatever the order") {
  auto s = summarise({5, 1, 3, 2, 4});
  CHECK(s.count == 5);
  CHECK(s.median == 3);
  CHECK(s.min == 1);
  CHECK(s.max == 5);
  CHECK(s.q1 == 2);
  CHECK(s.q3 == 4);
  CHECK(summarise({1, 2}).median == Approx(1.5));
  CHECK(summarise({}).count == 0);
}

TEST_CASE("overlapping ranges are within noise") {
  auto a = summarise({100, 110, 120});
  auto b = summarise({115, 130, 140});
  CHECK(within_noise(a, b));
}

TEST_CASE("disjoint ranges more than 5% apart are not noise") {
  auto a = summarise({100, 101, 102});
  auto b = summarise({120, 121, 122});
  CHECK_FALSE(within_noise(a, b));
  CHECK_FALSE(within_noise(b, a));
}

TEST_CASE("medians within 5% are noise even when the ranges do not overlap") {
  auto a = summarise({100, 100, 100});
  auto b = summarise({104, 104, 104});
  CHECK(within_noise(a, b));
  CHECK_FALSE(within_noise(a, summarise({106, 106, 106})));
}

TEST_CASE("no data is never within noise") {
  CHECK_FALSE(within_noise(summarise({}), summarise({1})));
}

TEST_CASE("figures print with three significant digits and an SI prefix") {
  CHECK(si(3'070'000) == "3.07 M");
  CHECK(si(812'400) == "812 k");
  CHECK(si(95.14) == "95.1");
  CHECK(si(0) == "0.00");
  // Below one, still three significant digits ("0.26" and "0.00" before).
  CHECK(si(0.255) == "0.255");
  CHECK(si(0.00064) == "0.000640");
  CHECK(si(-0.0123) == "-0.0123");
  CHECK(duration_text(841) == "841 ns");
  CHECK(duration_text(181'000) == "181 µs");
  CHECK(duration_text(2'790'000) == "2.79 ms");
}

TEST_CASE("bytes print with the prefix on the unit and zero as 0 B") {
  CHECK(bytes_text(1226) == "1.23 kB");
  CHECK(bytes_text(128) == "128 B");
  CHECK(bytes_text(42.1) == "42.1 B");
  CHECK(bytes_text(0.00064) == "0.000640 B");
  CHECK(bytes_text(0) == "0 B");
  CHECK(bytes_text(3.5e9) == "3.50 GB");
}
