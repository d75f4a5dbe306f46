// A counter that many threads bump and few read: one cache line per stripe,
// a thread always bumps the same stripe, a read sums them all.
//
// Why: a single atomic counter bumped on every send is a cache line that
// every sending thread takes in turn (a transfer of ~100 ns between cores
// when two workers send at once, and a transfer from the loop's core when
// the loop reads it). With a stripe per thread the bump is an uncontended
// write on a line the thread already holds.
//
// The first `stripes - 1` threads that count own a stripe each, for the
// process's life (the numbers are never handed out again): a bump there is
// a plain load and store, no locked instruction. A locked add drains the
// store buffer, and a send has just written its frame: perf annotate put
// ~5% of the one-way node profile on the transport's frames_queued bump
// and ~1.5% on the node's messages_sent bump. Later threads share the last
// stripe with fetch_add: still exact, only slower.
//
// Memory use: `stripes` x 64 B (1 KiB). Reads are relaxed and not a
// snapshot: the sum is at least every bump that happened before the read
// began and at most every bump that happened before it ended, which is what
// a monotonic statistic needs.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <volley/queues/cache_line.hpp>

namespace volley::remote::detail {

class striped_counter {
 public:
  /// 16: the thread counts this runs with (workers + a loop or two) stay
  /// below it on the machines we measure; more only costs memory per counter.
  static constexpr std::size_t stripes = 16;

  void add(std::uint64_t n = 1) noexcept {
    // One compare on the common path: a thread with a stripe of its own
    // (mine < shared_stripe); a thread not yet assigned (unassigned >
    // shared_stripe) and one on the shared stripe take add_slow.
    std::size_t mine = this_thread_stripe;
    if (mine < shared_stripe) [[likely]] {
      std::atomic<std::uint64_t>& v = stripe_[mine].value;
      // Relaxed: a statistic; it orders nothing. We alone write it.
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      return;
    }
    add_slow(n);
  }
  std::uint64_t load() const noexcept {
    std::uint64_t sum = 0;
    for (const auto& s : stripe_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  struct alignas(queues::cache_line_size) line {
    std::atomic<std::uint64_t> value{0};
  };
  static constexpr std::size_t shared_stripe = stripes - 1;
  /// Given out in order as threads first count: the first `shared_stripe`
  /// threads each own one; every later thread gets the shared one. The
  /// thread's stripe is constant-initialised (`unassigned`) and set on its
  /// first count: a thread_local with a dynamic initialiser passed its init
  /// guard on every add (~5 instructions, two adds a message on a sending
  /// thread: frames_queued and messages_sent, callgrind, remote_bench).
  /// `unassigned` is above `shared_stripe`, so add() tells both rare cases
  /// from the common one with one compare.
  static constexpr std::size_t unassigned = stripes;
  static constinit inline thread_local std::size_t this_thread_stripe = unassigned;
  [[gnu::noinline]] void add_slow(std::uint64_t n) noexcept {
    static constinit std::atomic<std::size_t> next{0};
    std::size_t& mine = this_thread_stripe;
    if (mine == unassigned)
      mine = std::min(next.fetch_add(1, std::memory_order_relaxed), shared_stripe);
    std::atomic<std::uint64_t>& v = stripe_[mine].value;
    if (mine != shared_stripe) {
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      v.fetch_add(n, std::memory_order_relaxed);  // shared: exact, only slower
    }
  }
  std::array<line, stripes> stripe_{};
};

}  // namespace volley::remote::detail
