// Prints volley::savina::pseudo_random's output for a few seeds, in the
// format savina_random_sequence.erl prints the Erlang splitmix64's, so the
// test can compare the two byte for byte.
#include <volley/savina/pseudo_random.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>

int main() {
  const std::uint64_t seeds[] = {0, 1, 42, 7919 * 19 + 1, 0xFFFFFFFFFFFFFFFFULL};
  for (auto seed : seeds) {
    volley::savina::pseudo_random random(seed);
    std::printf("seed %" PRIu64 "\n", seed);
    for (int i = 0; i < 4; ++i) std::printf("next %" PRIu64 "\n", random.next());
    for (int i = 0; i < 3; ++i) std::printf("below1000 %" PRIu64 "\n", random.below(1000));
    for (int i = 0; i < 2; ++i) std::printf("below119 %" PRIu64 "\n", random.below(119));
    for (int i = 0; i < 2; ++i) {
      double u = random.unit();
      std::uint64_t bits = 0;
      std::memcpy(&bits, &u, sizeof bits);
      std::printf("unit_bits %" PRIu64 "\n", bits);
    }
  }
  return 0;
}
