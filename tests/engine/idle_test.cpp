// Tests that an idle system costs no CPU: after a busy period, every worker
// (default pool, named pool, a pinned actor's thread) spins for at most
// spin_before_park and then parks on a futex. This checks a behaviour —
// parked workers — not a speed: a spinning worker burns a whole second of
// CPU per second, a parked one none, and the bound sits far from both.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using volley::test::wait_until;

namespace {

struct hop {
  std::uint32_t left;
};

struct passer {
  passer(std::atomic<std::uint64_t>& done, const std::vector<volley::actor_ref<passer>>& all,
         std::size_t index)
      : done_(done), all_(all), index_(index) {}
  void on(const hop& h, volley::context& ctx) {
    if (h.left == 0) {
      done_.fetch_add(1, std::memory_order_release);
      return;
    }
    all_[(index_ + 1) % all_.size()].tell(hop{h.left - 1}, ctx);
  }
  std::atomic<std::uint64_t>& done_;
  const std::vector<volley::actor_ref<passer>>& all_;
  std::size_t index_;
};

std::chrono::microseconds process_cpu_time() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) { return std::int64_t(t.tv_sec) * 1'000'000 + t.tv_usec; };
  return std::chrono::microseconds(us(u.ru_utime) + us(u.ru_stime));
}

}  // namespace

TEST_CASE("after a busy period an idle system uses (almost) no CPU", "[idle][concurrency]") {
  volley::config cfg;  // default pool: one pinned worker per core
  cfg.pools["io"] = volley::pool_config{.workers = 2};
  std::atomic<std::uint64_t> done{0};
  std::vector<volley::actor_ref<passer>> all;
  volley::system sys(cfg);
  const std::size_t actors = 64;
  all.reserve(actors);
  for (std::size_t i = 0; i < actors; ++i) {
    const volley::props p{.name = "", .dispatcher = i % 4 == 0 ? "io" : i == 1 ? "pinned" : ""};
    all.push_back(sys.spawn<passer>(p, done, all, i));
  }
  // Busy: every actor passes tokens around the ring.
  const auto hops =
      static_cast<std::uint32_t>(std::max<std::size_t>(10, volley::test::scaled(20000)));
  for (std::size_t i = 0; i < actors; ++i) all[i].tell(hop{hops});
  REQUIRE(wait_until([&] { return done.load(std::memory_order_acquire) == actors; }, 60s));

  // Settle: far longer than spin_before_park (50 µs) and the linger spins.
  std::this_thread::sleep_for(200ms);
  auto before = process_cpu_time();
  std::this_thread::sleep_for(1s);
  auto used = process_cpu_time() - before;
  INFO("CPU time over one idle second: " << used.count() << " µs");
  CHECK(used < 50ms);
}
