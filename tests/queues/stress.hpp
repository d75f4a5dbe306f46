// tests/queues/stress.hpp — shared knobs for the queue stress tests.
//
// The stress tests move millions of items in a plain build. Sanitizers slow
// them down (ASan+UBSan in a Debug build about 5x, TSan about 10-20x on this
// 2-core VM), so item counts are divided by a sanitizer factor; the
// environment variable VOLLEY_STRESS_SCALE multiplies them again (e.g. 10 for
// a long soak, 0.1 for a quick look).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <thread>

#include "../sanitizers.hpp"

namespace volley::test {

/// How much to shrink the item counts. Measured on the 2-core VM: at full
/// counts the slowest file (intrusive_mpsc) takes ~1 s optimised. Under
/// ASan+UBSan (Debug, -O0) at /1.5 it took 77 s in a CI-like run (ctest -j2
/// beside a build) and up to 180 s at load ~25, so ASan runs /4: the queue
/// tests are labelled `stress` as well, and the Release stage runs them at
/// full size, where races meet far more interleavings per second than at
/// -O0; ASan keeps every case at a size that still reuses each node many
/// times over. TSan at /1.5 took 80 s (intrusive_mpsc), 65 s (bounded_mpsc)
/// and 53 s (work_stealing_deque) at load ~18, so it runs /3.
inline double sanitizer_slowdown() {
#if defined(VOLLEY_TEST_TSAN)
  return 3.0;
#elif defined(VOLLEY_TEST_ASAN)
  return 4.0;
#else
  return 1.0;
#endif
}

/// `n` divided by the sanitizer slowdown, times VOLLEY_STRESS_SCALE; never 0.
inline std::size_t scaled(std::size_t n) {
  return scaled_for(n, sanitizer_slowdown());
}

/// Yields now and then, so that threads interleave at many different points
/// even on two cores (where a thread otherwise runs a whole time slice).
class chaos {
 public:
  explicit chaos(std::uint64_t seed, unsigned one_in = 64) : rng_(seed), one_in_(one_in) {}
  void maybe_yield() {
    if (rng_() % one_in_ == 0) std::this_thread::yield();
  }
  std::uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
  unsigned one_in_;
};

/// Spin-then-yield, for the waiting loops of the tests (two cores: a pure
/// spin would starve the thread being waited for).
inline void relax(unsigned& spins) {
  if (++spins < 64) return;
  spins = 0;
  std::this_thread::yield();
}

}  // namespace volley::test
