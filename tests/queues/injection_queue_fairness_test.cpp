// How far one producer's item is overtaken in the injection queue
// (volley/queues/injection_queue.hpp, "Bounded overtaking").
//
// moodycamel keeps FIFO per producer only. A worker pops with its own
// consumer token, which visits producers in turn (at most 256 items from one
// before all consumers rotate), so an item of a quiet producer waits behind
// a bounded number of a busy producer's later items. The plain try_pop takes
// from the fullest sub-queue first: the same item waits behind all of them.
// That variant is kept here as the known-bad one, so the test shows it can
// tell the two apart.
#include <volley/queues/injection_queue.hpp>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using volley::queues::injection_queue;

namespace {

constexpr std::uint64_t busy_items = 100'000;
constexpr std::uint64_t quiet_item = ~std::uint64_t{0};
// moodycamel's EXPLICIT_CONSUMER_CONSUMPTION_QUOTA_BEFORE_ROTATE: items a
// token takes from one producer before every consumer moves on.
constexpr std::uint64_t rotation_quota = 256;

/// A busy producer pushes `busy_items`, then a quiet one pushes one item;
/// returns how many items were popped before the quiet one.
template <class Pop>
std::uint64_t popped_before_quiet(injection_queue<std::uint64_t>& q, Pop pop) {
  // Both producers are alive at once: moodycamel finds a thread's sub-queue
  // by thread id, and a thread started after another was joined may get the
  // same id, and with it the same sub-queue (then there is one producer).
  std::atomic<bool> quiet_pushed{false};
  std::thread busy([&] {
    for (std::uint64_t i = 0; i < busy_items; ++i) q.push(i);
    while (!quiet_pushed.load()) std::this_thread::yield();
  });
  while (q.size_approx() < busy_items) std::this_thread::yield();
  std::thread quiet([&] {
    q.push(quiet_item);
    quiet_pushed = true;
  });
  quiet.join();
  busy.join();
  std::uint64_t before = 0;
  for (;;) {
    auto v = pop();
    REQUIRE(v.has_value());
    if (*v == quiet_item) return before;
    ++before;
  }
}

}  // namespace

TEST_CASE("a worker's consumer reaches a quiet producer's item within one rotation",
          "[injection_queue]") {
  injection_queue<std::uint64_t> q;
  injection_queue<std::uint64_t>::consumer me(q);
  std::uint64_t before = popped_before_quiet(q, [&] { return q.try_pop(me); });
  INFO("items popped before the quiet producer's one: " << before);
  // Two producers: at most one quota of the busy one's items first.
  CHECK(before <= rotation_quota);
}

TEST_CASE("without a consumer, the quiet producer's item waits behind every busy item (known-bad)",
          "[injection_queue]") {
  injection_queue<std::uint64_t> q;
  std::uint64_t before = popped_before_quiet(q, [&] { return q.try_pop(); });
  INFO("items popped before the quiet producer's one: " << before);
  CHECK(before > rotation_quota * 4);  // the measurement tells the variants apart
}

TEST_CASE("an empty pop answers without visiting the producers", "[injection_queue]") {
  injection_queue<std::uint64_t> q;
  injection_queue<std::uint64_t>::consumer me(q);
  std::vector<std::thread> producers;
  for (int p = 0; p < 64; ++p) producers.emplace_back([&] { q.push(1); });
  for (auto& t : producers) t.join();
  int n = 0;
  while (q.try_pop(me)) ++n;
  CHECK(n == 64);
  CHECK(q.empty_approx());
  CHECK_FALSE(q.try_pop());
  CHECK_FALSE(q.try_pop(me));
  // Items pushed in bulk all arrive, in order for one producer.
  std::uint64_t batch[5] = {10, 11, 12, 13, 14};
  q.push_bulk(batch, 5);
  CHECK(q.size_approx() == 5);
  for (std::uint64_t want : batch) CHECK(q.try_pop(me) == want);
  CHECK_FALSE(q.try_pop(me));
}
