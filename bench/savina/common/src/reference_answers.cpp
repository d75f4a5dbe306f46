#include <volley/savina/reference_answers.hpp>

#include <volley/savina/pseudo_random.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace volley::savina {

double tiny_compute(double theta) {
  double s = std::sin(theta);
  return s * s;
}

std::int64_t n_queens_solutions(int n) {
  // OEIS A000170.
  static constexpr std::int64_t known[] = {
      1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512};
  if (n < 0 || n > 16) throw std::out_of_range("n-queens size must be in [0, 16]");
  return known[n];
}

bool n_queens_safe(const int* columns, int depth, int column) {
  for (int row = 0; row < depth; ++row) {
    int c = columns[row];
    if (c == column || c - column == depth - row || column - c == depth - row) return false;
  }
  return true;
}

std::int64_t n_queens_count_from(int n, const int* columns, int depth) {
  if (depth == n) return 1;
  int board[32];
  for (int i = 0; i < depth; ++i) board[i] = columns[i];
  std::int64_t count = 0;
  for (int c = 0; c < n; ++c) {
    if (!n_queens_safe(board, depth, c)) continue;
    board[depth] = c;
    count += n_queens_count_from(n, board, depth + 1);
  }
  return count;
}

double trapezoid_function(double x) {
  // Savina's TrapezoidalConfig.fx.
  double a = std::sin(x * x * x - 1);
  double b = x + 1;
  double c = a / b;
  double d = std::sqrt(1 + std::exp(std::sqrt(2 * x)));
  return c * d;
}

double trapezoid_integral(double left, double right) {
  constexpr int panels = 200'000;  // even, as Simpson's rule needs
  double h = (right - left) / panels;
  double sum = trapezoid_function(left) + trapezoid_function(right);
  for (int i = 1; i < panels; ++i) sum += (i % 2 == 1 ? 4 : 2) * trapezoid_function(left + i * h);
  return sum * h / 3;
}

double logistic_map_last_term(double start, double rate, std::int64_t terms) {
  double x = start;
  for (std::int64_t k = 0; k < terms; ++k) x = rate * x * (1 - x);
  return x;
}

double logistic_map_start(std::int64_t series_index, std::int64_t series_count) {
  return static_cast<double>(series_index + 1) / static_cast<double>(series_count + 1);
}

double logistic_map_rate(double start_rate, double increment, std::int64_t series_index) {
  return start_rate + static_cast<double>(series_index) * increment;
}

std::int64_t fibonacci_number(std::int64_t n) {
  std::int64_t previous = 0, current = 1;  // fib(0), fib(1)
  for (std::int64_t k = 1; k < n; ++k) {
    auto next = previous + current;
    previous = current;
    current = next;
  }
  return n <= 0 ? 0 : current;
}

std::int64_t fibonacci_actors(std::int64_t n) {
  return 2 * fibonacci_number(n) - 1;  // also for n = 1, 2: one leaf
}

sieve_answer sieve_primes_below(std::int64_t limit) {
  sieve_answer answer;
  if (limit <= 2) return answer;
  std::vector<bool> composite(static_cast<std::size_t>(limit), false);
  for (std::int64_t n = 2; n < limit; ++n) {
    if (composite[static_cast<std::size_t>(n)]) continue;
    ++answer.count;
    answer.sum += n;
    answer.weighted_sum += answer.count * n;
    for (std::int64_t m = n * n; m < limit; m += n) composite[static_cast<std::size_t>(m)] = true;
  }
  return answer;
}

std::vector<std::int64_t> quicksort_input(std::int64_t n, std::uint64_t seed) {
  pseudo_random random(seed);
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (auto& v : values) v = static_cast<std::int64_t>(random.below(std::uint64_t{1} << 59));
  return values;
}

quicksort_split quicksort_partition(const std::vector<std::int64_t>& values) {
  quicksort_split split;
  if (values.empty()) return split;
  const auto pivot = values[values.size() / 2];
  for (auto v : values)
    (v < pivot ? split.less : v == pivot ? split.equal : split.greater).push_back(v);
  return split;
}

namespace {

// 69069 (Marsaglia's multiplier) with an odd increment has the full period
// 2^28; 69069 x 2^28 < 2^45 keeps every step a small integer in Erlang.
constexpr std::int64_t work_multiplier = 69069;
constexpr std::int64_t work_mask = (std::int64_t{1} << 28) - 1;

std::int64_t work_step(std::int64_t x) {
  return (x * work_multiplier + 1) & work_mask;
}

// Sorts data[0, n) with `scratch` (n elements) to split into: count the
// three parts, copy each value to its part in input order, copy back.
void quicksort_range(std::int64_t* data, std::size_t n, std::int64_t* scratch) {
  if (n < 2) return;
  const auto pivot = data[n / 2];
  std::size_t less = 0, equal = 0;
  for (std::size_t i = 0; i < n; ++i) {
    less += data[i] < pivot;
    equal += data[i] == pivot;
  }
  std::size_t next_less = 0, next_equal = less, next_greater = less + equal;
  for (std::size_t i = 0; i < n; ++i) {
    auto v = data[i];
    scratch[v < pivot ? next_less++ : v == pivot ? next_equal++ : next_greater++] = v;
  }
  for (std::size_t i = 0; i < n; ++i) data[i] = scratch[i];
  quicksort_range(data, less, scratch);
  quicksort_range(data + less + equal, n - less - equal, scratch);
}

}  // namespace

std::int64_t busy_wait(std::int64_t iterations) {
  std::int64_t x = 1;
  for (std::int64_t i = 0; i < iterations; ++i) x = work_step(x);
  return x;
}

double process_item(double current, std::int64_t cost) {
  double result = current;
  std::int64_t x = cost & work_mask;
  for (std::int64_t i = 0; i < cost * 100; ++i) {
    x = work_step(x);
    result += std::log(static_cast<double>(x) * 0x1.0p-28 + 0.01);
  }
  return result;
}

void quicksort_sequential(std::vector<std::int64_t>& values) {
  std::vector<std::int64_t> scratch(values.size());
  quicksort_range(values.data(), values.size(), scratch.data());
}

}  // namespace volley::savina
