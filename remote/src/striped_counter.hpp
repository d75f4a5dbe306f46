// A counter that many threads bump and few read: one cache line per stripe,
// a thread always bumps the same stripe, a read sums them all.
//
// Why: a single atomic counter bumped on every send is a cache line that
// every sending thread takes in turn (a transfer of ~100 ns between cores
// when two workers send at once, and a transfer from the loop's core when
// the loop reads it). With a stripe per thread the bump is an uncontended
// RMW on a line the thread already holds. Threads outnumbering the stripes
// share one: still exact (fetch_add), only slower.
//
// Memory use: `stripes` x 64 B (1 KiB). Reads are relaxed and not a
// snapshot: the sum is at least every bump that happened before the read
// began and at most every bump that happened before it ended, which is what
// a monotonic statistic needs.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace volley::remote::detail {

class striped_counter {
 public:
  /// 16: the thread counts this runs with (workers + a loop or two) stay
  /// below it on the machines we measure; more only costs memory per counter.
  static constexpr std::size_t stripes = 16;

  void add(std::uint64_t n = 1) noexcept {
    // Relaxed: a statistic; it orders nothing.
    stripe_[this_thread_stripe()].value.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : stripe_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(64) line {
    std::atomic<std::uint64_t> value{0};
  };
  /// Given out round-robin as threads first count, so that the first
  /// `stripes` threads each get their own.
  static std::size_t this_thread_stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % stripes;
    return mine;
  }
  std::array<line, stripes> stripe_{};
};

}  // namespace volley::remote::detail
