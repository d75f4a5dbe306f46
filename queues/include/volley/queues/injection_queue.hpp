// volley/queues/injection_queue.hpp — the scheduler's global run queue.
//
// What it is for
// --------------
// Work that does not start on a worker thread (a tell from main(), a timer
// thread, the io_uring loop) and work that overflows a worker's local deque
// goes here; every worker takes from it. Many producers, many consumers, no
// ordering promise between producers (moodycamel keeps per-producer FIFO,
// which we do not rely on).
//
// It wraps moodycamel::ConcurrentQueue (Debian libconcurrentqueue-dev): a
// well-kept lock-free MPMC queue built from per-producer sub-queues. We add
// only an approximate count that the scheduler's park protocol reads, so a
// worker about to sleep can see work without a dequeue attempt.
//
// When not to use it: one consumer (intrusive_mpsc is cheaper), anything that
// needs a bound (bounded_mpsc).
//
// Costs (bench/micro/queues_bench.cpp): an enqueue without a producer token
// looks up the calling thread's implicit sub-queue (a hash probe) and then
// writes one slot; it is several times a Vyukov push, which is why actors are
// rescheduled on local deques and only cross-thread wake-ups land here.
// Measured (volley-micro-queues, the 2-core VM of results/, one run):
// 1 producer 11.4 M items/s, 2 producers 13.2 M, 4 producers 18.1 M — the
// raw moodycamel queue gives 21.9 / 22.7 / 40.4 M in the same run. The
// likely cost is our approximate count (one more shared RMW per push and
// pop); not profiled.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <type_traits>

#include <concurrentqueue/concurrentqueue.h>

namespace volley::queues {

template <class T>
class injection_queue {
  static_assert(std::is_trivially_copyable_v<T>, "meant for pointers to runnable items");

 public:
  injection_queue() = default;
  injection_queue(const injection_queue&) = delete;
  injection_queue& operator=(const injection_queue&) = delete;

  /// Any thread. Allocates only when moodycamel grows a block.
  void push(T value) {
    queue_.enqueue(value);
    // release: a worker that reads the count (acquire) and sees it non-zero
    // will then find the item with try_pop.
    count_.fetch_add(1, std::memory_order_release);
  }

  /// Any thread.
  std::optional<T> try_pop() {
    T value;
    if (!queue_.try_dequeue(value)) return std::nullopt;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return value;
  }

  /// Any thread; a snapshot. Never negative; may lag pushes by a moment.
  std::size_t size_approx() const noexcept {
    auto n = count_.load(std::memory_order_acquire);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  bool empty_approx() const noexcept { return size_approx() == 0; }

 private:
  moodycamel::ConcurrentQueue<T> queue_;
  std::atomic<std::ptrdiff_t> count_{0};
};

}  // namespace volley::queues
