// tests/sanitizers.hpp — which sanitizer this test build runs under, and the
// stress-size scaling every stress test shares.
//
// Sanitizers slow the stress tests down (ASan+UBSan in a Debug build about
// 5x, TSan about 10-20x on the 2-core VM), so each test area divides its item
// counts by a factor it measured for itself (tests/queues/stress.hpp,
// tests/engine/engine_test_support.hpp). VOLLEY_STRESS_SCALE=<factor>
// multiplies them again at run time (10 for a long soak, 0.1 for a quick look).
//
// gcc says __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__; clang says
// __has_feature(...). engine/src/pool_poisoning.hpp has its own copy: the
// library cannot include a test header.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#if defined(__SANITIZE_THREAD__)
#define VOLLEY_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VOLLEY_TEST_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define VOLLEY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VOLLEY_TEST_ASAN 1
#endif
#endif

namespace volley::test {

/// VOLLEY_STRESS_SCALE from the environment (1 when unset or not a positive
/// number).
inline double stress_scale() {
  if (const char* s = std::getenv("VOLLEY_STRESS_SCALE")) {
    char* end = nullptr;
    double v = std::strtod(s, &end);
    if (end != s && v > 0) return v;
  }
  return 1.0;
}

/// `n` divided by `slowdown`, times VOLLEY_STRESS_SCALE; never 0.
inline std::size_t scaled_for(std::size_t n, double slowdown) {
  double r = static_cast<double>(n) * stress_scale() / slowdown;
  return std::max<std::size_t>(1, static_cast<std::size_t>(r));
}

}  // namespace volley::test
