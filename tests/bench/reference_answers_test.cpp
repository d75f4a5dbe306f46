#include <volley/savina/pseudo_random.hpp>
#include <volley/savina/reference_answers.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace volley::savina;

TEST_CASE("the sequential n-queens count matches the known counts") {
  int none[1] = {0};
  for (int n = 1; n <= 9; ++n) {
    INFO(n);
    CHECK(n_queens_count_from(n, none, 0) == n_queens_solutions(n));
  }
}

TEST_CASE("a queen on the same column or diagonal is not safe") {
  int cols[2] = {0, 2};
  CHECK_FALSE(n_queens_safe(cols, 2, 0));  // same column as row 0
  CHECK_FALSE(n_queens_safe(cols, 2, 1));  // diagonal of row 1
  CHECK_FALSE(n_queens_safe(cols, 2, 3));  // diagonal of row 1
  CHECK(n_queens_safe(cols, 2, 4));
}

TEST_CASE("the Simpson reference agrees with a fine trapezoid sum") {
  const double left = 1, right = 5;
  const int pieces = 1'000'000;
  double width = (right - left) / pieces, area = 0;
  for (int i = 0; i < pieces; ++i) {
    double x = left + i * width;
    area += 0.5 * (trapezoid_function(x) + trapezoid_function(x + width)) * width;
  }
  CHECK(std::fabs(area - trapezoid_integral(left, right)) <= 1e-6 * std::fabs(area));
}

TEST_CASE("the logistic map follows x <- r x (1 - x)") {
  CHECK(logistic_map_last_term(0.5, 2.0, 1) == Approx(0.5));
  CHECK(logistic_map_last_term(0.25, 3.0, 2) == Approx(3.0 * 0.5625 * (1 - 0.5625)));
  CHECK(logistic_map_start(0, 9) == Approx(0.1));
  CHECK(logistic_map_rate(3.46, 0.0025, 2) == Approx(3.465));
}

TEST_CASE("pseudo_random is deterministic per seed and stays in range") {
  pseudo_random a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    auto x = a.next();
    CHECK(x == b.next());
    differs = differs || x != c.next();
  }
  CHECK(differs);
  for (int i = 0; i < 1000; ++i) {
    CHECK(a.below(10) < 10);
    double u = a.unit();
    CHECK(u >= 0.0);
    CHECK(u < 1.0);
  }
}

TEST_CASE("fibonacci numbers and the size of the fibonacci workload's actor tree") {
  CHECK(fibonacci_number(1) == 1);
  CHECK(fibonacci_number(2) == 1);
  CHECK(fibonacci_number(10) == 55);
  CHECK(fibonacci_number(25) == 75'025);
  // One actor per call of the naive recursion: 1 + actors(n - 1) + actors(n - 2).
  std::int64_t actors[31] = {0, 1, 1};
  for (int n = 3; n <= 30; ++n) actors[n] = 1 + actors[n - 1] + actors[n - 2];
  for (int n = 1; n <= 30; ++n) {
    INFO(n);
    CHECK(fibonacci_actors(n) == actors[n]);
  }
}

// The Erlang twins (savina_work.erl) print these same values; the test
// erlang_savina.work_functions_match_the_cpp_values pins them there.
TEST_CASE("the busy wait and the producer-consumer work give pinned values") {
  CHECK(busy_wait(0) == 1);
  CHECK(busy_wait(1) == 69070);
  CHECK(busy_wait(1000) == 260'396'185);
  CHECK(process_item(0.0, 0) == 0.0);
  CHECK(process_item(0.0, 25) == -2345.9304306055787);
  // Linear in the start value: the work does not depend on it.
  CHECK(process_item(10.0, 25) == Approx(10.0 - 2345.9304306055787));
}

TEST_CASE("the sieve answer counts, sums and weights the primes below the limit") {
  // 2, 3, 5, 7: weighted 1*2 + 2*3 + 3*5 + 4*7.
  CHECK(sieve_primes_below(10) == sieve_answer{4, 17, 51});
  CHECK(sieve_primes_below(11) == sieve_answer{4, 17, 51});  // the limit is excluded
  CHECK(sieve_primes_below(2) == sieve_answer{});
  CHECK(sieve_primes_below(100'000).count == 9'592);
}

TEST_CASE("the quicksort input is seeded and below 2^59") {
  auto a = quicksort_input(1000, 1024), b = quicksort_input(1000, 1024);
  CHECK(a == b);
  CHECK(a != quicksort_input(1000, 1025));
  for (auto v : a) {
    CHECK(v >= 0);
    CHECK(v < (std::int64_t{1} << 59));
  }
}

TEST_CASE("quicksort's split keeps input order around the middle element") {
  auto split = quicksort_partition({5, 1, 9, 4, 7, 4, 2});  // pivot: element 3, the 4
  CHECK(split.less == std::vector<std::int64_t>{1, 2});
  CHECK(split.equal == std::vector<std::int64_t>{4, 4});
  CHECK(split.greater == std::vector<std::int64_t>{5, 9, 7});
  CHECK(quicksort_partition({}).equal.empty());
}

TEST_CASE("the sequential quicksort sorts, duplicates included") {
  auto values = quicksort_input(5000, 7);
  for (std::size_t i = 0; i < values.size(); i += 3) values[i] = 42;  // many equal keys
  auto expected = values;
  std::sort(expected.begin(), expected.end());
  quicksort_sequential(values);
  CHECK(values == expected);
}
