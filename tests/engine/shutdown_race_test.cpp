// Senders that race the end of an actor system: tells that land while the
// system shuts down, and after the workers have been joined.
//
// A tell that finds its actor idle schedules the actor. If that happens
// while shutdown is joining the workers and draining their queues, the cell
// must still be run (its messages dead-lettered), never left in a queue that
// nobody reads: that leaks the cell and the system core (LSan reports it at
// exit in the asan build) and loses the message (the count below fails).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

namespace {

struct counter {
  explicit counter(std::atomic<std::uint64_t>& handled) : handled_(handled) {}
  void on(const int&) { handled_.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<std::uint64_t>& handled_;
};

/// One system, `senders` threads telling its actors until shutdown() has
/// returned (and a little after). Returns false if a message is unaccounted.
bool one_round(unsigned workers, unsigned senders, unsigned actors, std::uint64_t& sent_total,
               std::uint64_t& dead_total) {
  std::atomic<std::uint64_t> handled{0};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> shut{false};
  std::atomic<unsigned> started{0};
  volley::config cfg;
  cfg.workers = workers;
  cfg.pin = false;
  cfg.dead_letter_log_first = 0;  // thousands of expected dead letters: no log lines
  cfg.dead_letter_summary_interval = std::chrono::hours(1);
  volley::system sys(cfg);
  std::vector<volley::actor_ref<counter>> refs;
  for (unsigned i = 0; i < actors; ++i) refs.push_back(sys.spawn<counter>(handled));

  std::vector<std::thread> threads;
  for (unsigned t = 0; t < senders; ++t) {
    threads.emplace_back([&, t] {
      started.fetch_add(1);
      std::uint64_t n = 0;
      // Keep going for a few hundred tells after shutdown returned: those
      // meet joined workers (the inline path) rather than a stopping system.
      int after = 200;
      for (unsigned i = t; after > 0; ++i) {
        refs[i % refs.size()].tell(static_cast<int>(i));
        ++n;
        if (shut.load(std::memory_order_relaxed)) --after;
      }
      sent.fetch_add(n);
    });
  }
  volley::test::wait_until([&] { return started.load() == senders; });
  std::this_thread::sleep_for(std::chrono::microseconds(200));
  sys.shutdown();
  shut = true;
  for (auto& th : threads) th.join();
  std::uint64_t dead = sys.dead_letters().count();
  sent_total += sent.load();
  dead_total += dead;
  return sent.load() == handled.load() + dead;
}

}  // namespace

TEST_CASE("tells racing shutdown are each handled or dead-lettered, and nothing leaks",
          "[shutdown][concurrency]") {
  const int rounds = static_cast<int>(std::max<std::size_t>(4, volley::test::scaled(32)));
  std::uint64_t sent = 0;
  std::uint64_t dead = 0;
  int unaccounted_rounds = 0;
  for (int r = 0; r < rounds; ++r) {
    if (!one_round(2, 4, 8, sent, dead)) ++unaccounted_rounds;
  }
  INFO("rounds " << rounds << ", sent " << sent << ", dead-lettered " << dead);
  CHECK(unaccounted_rounds == 0);
  CHECK(dead > 0);  // the race was run: some tells did meet the end
}

TEST_CASE("tells racing shutdown with 16 workers oversubscribed on few cores are all accounted",
          "[shutdown][concurrency][stress]") {
  const int rounds = static_cast<int>(std::max<std::size_t>(2, volley::test::scaled(8)));
  std::uint64_t sent = 0;
  std::uint64_t dead = 0;
  int unaccounted_rounds = 0;
  for (int r = 0; r < rounds; ++r) {
    if (!one_round(16, 8, 32, sent, dead)) ++unaccounted_rounds;
  }
  INFO("rounds " << rounds << ", sent " << sent << ", dead-lettered " << dead);
  CHECK(unaccounted_rounds == 0);
  CHECK(dead > 0);
}
