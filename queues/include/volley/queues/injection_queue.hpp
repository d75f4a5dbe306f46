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
// an approximate count, and two things the scheduler needs from it:
//
//  * An empty pop costs O(1). moodycamel's try_dequeue looks at every
//    sub-queue ever made — one per thread that ever pushed — before it says
//    "empty": 3.5 ns with 1 past producer, 180 ns with 32, 1.2 µs with 128,
//    8 µs with 512 (the 2-core VM of results/). An idle worker polls this
//    queue on every search spin, so try_pop reads the count first and
//    returns at once when it is zero. No wake-up is lost by that: push
//    counts its item before the pusher's notify() (seq_cst fence, then the
//    sleeper counters), and a worker about to park reads the same count
//    after its own fence (scheduler.hpp), so one of them sees the other.
//
//  * Bounded overtaking. moodycamel keeps FIFO per producer only, and its
//    plain try_dequeue takes from the fullest of the first three non-empty
//    sub-queues: an item of a quiet producer waited behind 615k later items
//    of a busy one. A worker instead pops with its own `consumer` (a
//    moodycamel consumer token): consumers stay on one sub-queue for at most
//    256 items, then all of them rotate to the next producer. An item is
//    therefore overtaken by at most about 256 × (producers with items) ×
//    (consumers) later ones. injection_queue_fairness_test: a quiet
//    producer's item behind 100 000 of a busy one's came out after 0 of
//    them with a consumer, after 99 999 without. Under load
//    (volley-micro-queues injection_overtake: 4 busy producers keeping
//    200k items queued, 1 quiet one, 2 consumers, exact count of later
//    items popped first): at most 512 with consumers, 543k without (and
//    one quiet item still queued after 2 s).
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
// pop); not profiled. A worker's local deque that overflows moves half of
// itself here with one push_bulk (one sub-queue reservation, one count RMW).
// Empty pop after 512 threads pushed (volley-micro-queues
// injection_empty_pop, this 2-core VM while other builds ran, so wall time
// is inflated ~19x): 0.34 ns CPU / 6.6 ns wall, the same at 1, 32 and 128
// past producers, with or without a consumer; moodycamel's own
// try_dequeue, which try_pop was before: 1.9 ns CPU at 1, 78 ns at 32,
// 524 ns at 128, 3.8 µs at 512.
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
  /// A consumer's position among the producers' sub-queues (one per
  /// consuming thread, never shared; see "Bounded overtaking" above).
  class consumer {
   public:
    explicit consumer(injection_queue& q) : token_(q.queue_) {}

   private:
    friend class injection_queue;
    moodycamel::ConsumerToken token_;
  };

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

  /// Any thread: `n` items in one operation (the order among them is kept).
  void push_bulk(const T* items, std::size_t n) {
    if (n == 0) return;
    queue_.enqueue_bulk(items, n);
    count_.fetch_add(static_cast<std::ptrdiff_t>(n), std::memory_order_release);
  }

  /// Any thread. O(1) when the queue is empty.
  std::optional<T> try_pop() {
    if (count_.load(std::memory_order_acquire) <= 0) return std::nullopt;
    T value;
    if (!queue_.try_dequeue(value)) return std::nullopt;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return value;
  }

  /// The thread that owns `c`. O(1) when the queue is empty; producers are
  /// taken in turn, so no producer's items wait behind another's for long.
  std::optional<T> try_pop(consumer& c) {
    if (count_.load(std::memory_order_acquire) <= 0) return std::nullopt;
    T value;
    if (!queue_.try_dequeue(c.token_, value)) return std::nullopt;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return value;
  }

  /// The thread that owns `c`: up to `max` items into `out`, oldest first,
  /// with one sub-queue reservation and one count update for all of them
  /// (try_pop pays both per item). Returns how many; 0 at O(1) when empty.
  /// The scheduler moves a batch to a worker's local deque this way
  /// (worker_pool::pop_injection).
  std::size_t try_pop_bulk(consumer& c, T* out, std::size_t max) {
    if (count_.load(std::memory_order_acquire) <= 0) return 0;
    std::size_t n = queue_.try_dequeue_bulk(c.token_, out, max);
    if (n != 0) count_.fetch_sub(static_cast<std::ptrdiff_t>(n), std::memory_order_relaxed);
    return n;
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
