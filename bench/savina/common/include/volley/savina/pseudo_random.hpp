#pragma once
/// A small, fast, seedable random source for workloads (splitmix64).
///
/// Workloads draw random peers, keys and amounts in their hot loops; this is
/// cheaper than std::mt19937_64 and, unlike std::uniform_int_distribution,
/// gives the same sequence with every standard library, so volley and CAF
/// runs with the same seed do the same work.

#include <cstdint>

namespace volley::savina {

class pseudo_random {
 public:
  explicit pseudo_random(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    // splitmix64 (Steele, Lea, Flood 2014): the constants are the published ones.
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, bound) for bound > 0; the modulo bias is below 2^-40 for
  /// the bounds used here (< 2^24), which no workload can notice.
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }

  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

}  // namespace volley::savina
