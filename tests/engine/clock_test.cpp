// Tests of volley::clock: steady_clock follows real time; manual_clock moves
// only on advance(), tells its listeners, and wakes a timer thread's wait.
#include "volley/engine/clock.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("steady_clock never goes back and wait_until returns once the deadline passed") {
  volley::steady_clock clock;
  auto a = clock.now();
  auto b = clock.now();
  CHECK(b >= a);
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  auto deadline = clock.now() + 2ms;
  while (clock.now() < deadline) clock.wait_until(lock, cv, deadline);
  CHECK(clock.now() >= deadline);
  CHECK(clock.subscribe([] { FAIL("real time does not jump"); }) == 0);
}

TEST_CASE("manual_clock moves only when advanced, by exactly the amount asked") {
  volley::manual_clock clock(volley::clock::time_point{5s});
  CHECK(clock.now() == volley::clock::time_point{5s});
  CHECK(clock.now() == volley::clock::time_point{5s});
  clock.advance(250ms);
  CHECK(clock.now() == volley::clock::time_point{5s + 250ms});
  clock.advance(-1s);  // time never goes back
  clock.advance(0s);
  CHECK(clock.now() == volley::clock::time_point{5s + 250ms});
}

TEST_CASE("manual_clock calls its listeners on every advance until they unsubscribe") {
  volley::manual_clock clock;
  int a = 0, b = 0;
  auto sub_a = clock.subscribe([&] { ++a; });
  auto sub_b = clock.subscribe([&] { ++b; });
  CHECK(sub_a != sub_b);
  CHECK(sub_a != 0);
  clock.advance(1ms);
  clock.unsubscribe(sub_a);
  clock.advance(1ms);
  CHECK(a == 1);
  CHECK(b == 2);
  clock.unsubscribe(sub_b);
  clock.unsubscribe(sub_b);  // twice is harmless
  clock.advance(1ms);
  CHECK(b == 2);
}

TEST_CASE("a listener sees the new time", "[concurrency]") {
  volley::manual_clock clock;
  auto start = clock.now();
  volley::clock::time_point seen{};
  auto sub = clock.subscribe([&] { seen = clock.now(); });
  clock.advance(3s);
  CHECK(seen == start + 3s);
  clock.unsubscribe(sub);
}

TEST_CASE("a timer thread waiting on manual_clock wakes when the test advances past its deadline",
          "[concurrency]") {
  volley::manual_clock clock;
  volley::clock& generic = clock;
  std::mutex mu;
  std::condition_variable cv;
  auto sub = generic.subscribe([&] {
    std::lock_guard lock(mu);
    cv.notify_one();
  });
  const auto deadline = clock.now() + 10s;
  std::atomic<bool> woke{false};
  std::thread timer_thread([&] {
    std::unique_lock lock(mu);
    while (generic.now() < deadline) generic.wait_until(lock, cv, deadline);
    woke = true;
  });
  // Several small steps: each wakes the thread, which goes back to sleep
  // until the last one crosses the deadline. No step may be lost.
  for (int i = 0; i < 10; ++i) {
    CHECK_FALSE(woke.load());
    clock.advance(1s);
  }
  timer_thread.join();
  CHECK(woke.load());
  generic.unsubscribe(sub);
}

TEST_CASE("readers on other threads see manual time only move forward", "[concurrency]") {
  volley::manual_clock clock;
  std::atomic<bool> done{false};
  std::atomic<int> backwards{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      auto last = clock.now();
      while (!done.load(std::memory_order_relaxed)) {
        auto t = clock.now();
        if (t < last) ++backwards;
        last = t;
      }
    });
  }
  std::atomic<int> calls{0};
  auto sub = clock.subscribe([&] { ++calls; });
  std::thread other_writer([&] {
    for (int i = 0; i < 20'000; ++i) clock.advance(1ns);
  });
  for (int i = 0; i < 20'000; ++i) clock.advance(1ns);
  other_writer.join();
  done = true;
  for (auto& t : readers) t.join();
  CHECK(backwards == 0);
  CHECK(calls == 40'000);
  CHECK(clock.now().time_since_epoch() == 1h + 40'000ns);  // default start is 1 h
  clock.unsubscribe(sub);
}
