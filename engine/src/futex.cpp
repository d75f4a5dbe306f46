// engine/src/futex.cpp — the engine's own blocking primitive (workers'
// parks and naps, blocking asks, shutdown's wait; the timer thread sleeps on
// a condition variable instead: timer_service.cpp).
//
// Raw futex(2) rather than std::atomic::wait: we need a timeout (ask's
// get(timeout)) and want to know exactly when a syscall happens, since a
// FUTEX_WAKE system call costs the waker ~13 µs on the reference machine
// (the syscall alone; the woken thread runs ~38 µs after it across cores:
// the wake-to-run figure quoted in config.hpp and scheduler.hpp).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <ctime>

#include <volley/engine/ask.hpp>

#include "idle_workers.hpp"  // futex_calls()

namespace volley::detail {

namespace {
// The counts futex_calls() reports, on a line of their own: the calls below
// write them, and a tell makes one only when it wakes a worker.
struct alignas(cache_line_size) futex_call_counters {
  std::atomic<std::uint64_t> wakes_by_workers{0};
  std::atomic<std::uint64_t> wakes_by_others{0};
  std::atomic<std::uint64_t> waits{0};
};
futex_call_counters futex_counters;

void count_wake() noexcept {
  (on_worker_thread() ? futex_counters.wakes_by_workers : futex_counters.wakes_by_others)
      .fetch_add(1, std::memory_order_relaxed);
}

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* ts) {
  // The kernel reads the 32-bit word itself; std::atomic<uint32_t> has the
  // same size and representation (checked below).
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val,
                 ts, nullptr, 0);
}
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
}  // namespace

bool futex_wait_until(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      std::optional<std::chrono::steady_clock::time_point> deadline) noexcept {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (deadline) {
    auto left = *deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return false;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  futex_counters.waits.fetch_add(1, std::memory_order_relaxed);
  long rc = futex(&word, FUTEX_WAIT, expected, tsp);
  if (rc == -1 && errno == ETIMEDOUT) return false;
  return true;  // woken, spurious, or the word had already changed: callers re-check
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  count_wake();
  futex(&word, FUTEX_WAKE, INT_MAX, nullptr);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
  count_wake();
  futex(&word, FUTEX_WAKE, 1, nullptr);
}

futex_call_counts futex_calls() noexcept {
  return {futex_counters.wakes_by_workers.load(std::memory_order_relaxed),
          futex_counters.wakes_by_others.load(std::memory_order_relaxed),
          futex_counters.waits.load(std::memory_order_relaxed)};
}

}  // namespace volley::detail
