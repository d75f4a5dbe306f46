// The counter behind the transport's and the node's send statistics
// (remote/src/striped_counter.hpp): exact however many threads count, those
// with a stripe of their own and those past the last one, which share it.
#include "../../remote/src/striped_counter.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

using volley::remote::detail::striped_counter;

TEST_CASE("a striped counter bumped by more threads than it has stripes misses no bump",
          "[remote][striped_counter]") {
  // Three times as many threads as stripes: most share the last stripe,
  // bumping it at once (a start gate), where a plain load and store would
  // lose bumps. Every thread also bumps a second counter, so the two paths
  // of add() (a thread's first bump, and the later ones) meet on each.
  constexpr std::size_t threads = 3 * striped_counter::stripes;
  constexpr std::uint64_t per_thread = 20'000;
  striped_counter one;
  striped_counter two;
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (std::uint64_t i = 0; i < per_thread; ++i) {
        one.add();
        two.add(t + 1);
      }
    });
  }
  go = true;
  for (auto& th : pool) th.join();
  CHECK(one.load() == threads * per_thread);
  CHECK(two.load() == per_thread * threads * (threads + 1) / 2);
}
