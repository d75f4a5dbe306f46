// The time source of an actor system's timers.
//
// What it is for: the timer service asks a clock what time it is and how to
// sleep until the next timer. A system runs on steady_clock (real time);
// the test kit gives it a manual_clock instead, where time moves only when
// the test calls advance(), so timer and FSM-timeout tests are exact and
// never sleep.
//
// How a timer thread uses it (the wait must be the same lock's wait, so an
// advance() between "check the time" and "sleep" is never missed):
//
//   auto sub = clock.subscribe([&] { std::lock_guard l(mu); cv.notify_one(); });
//   std::unique_lock l(mu);
//   while (running) {
//     wheel.advance(tick_of(clock.now()));
//     if (auto next = wheel.next_deadline()) clock.wait_until(l, cv, time_of(*next));
//     else cv.wait(l);                      // idle: no timers, no polling
//   }
//
// Not the message hot path: a virtual call per query is fine here.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include <volley/engine/detail/thread_safety.hpp>

namespace volley {

/// A monotonic time source that a timer service can read and sleep on.
/// All members are thread-safe.
class clock {
 public:
  using duration = std::chrono::nanoseconds;
  /// Same type for every clock, so timer code is written once; a
  /// manual_clock's time points are steady_clock points it made up.
  using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;
  using listener = std::function<void()>;
  /// Identifies a subscription; 0 is never issued.
  using subscription = std::uint64_t;

  virtual ~clock() = default;

  /// The current time; never decreases.
  [[nodiscard]] virtual time_point now() const noexcept = 0;

  /// Blocks on `cv` (with `lock` held on entry and exit) until `deadline`
  /// by this clock, a notification or a spurious wake-up; the caller
  /// re-checks its condition, as with any condition variable.
  virtual void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          time_point deadline) const = 0;

  /// Calls `fn` each time this clock's time jumps (manual_clock::advance).
  /// Real time flows without jumps, so steady_clock never calls it.
  virtual subscription subscribe(listener fn) = 0;
  /// After this returns `fn` is not running and will not be called again.
  /// Do not call it from the listener itself, nor while holding a lock the
  /// listener takes.
  virtual void unsubscribe(subscription id) = 0;
};

/// Real monotonic time (std::chrono::steady_clock).
class steady_clock final : public clock {
 public:
  [[nodiscard]] time_point now() const noexcept override {
    return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
  }
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  time_point deadline) const override {
    cv.wait_until(lock, deadline);
  }
  subscription subscribe(listener) override { return 0; }
  void unsubscribe(subscription) override {}
};

/// Time that moves only when advance() is called: for tests of timers,
/// FSM timeouts and anything else that would otherwise have to sleep.
class manual_clock final : public clock {
 public:
  /// Starts at `start` (by default an arbitrary fixed point, not real time).
  explicit manual_clock(time_point start = time_point{std::chrono::hours(1)}) noexcept
      : now_(start.time_since_epoch().count()) {}

  [[nodiscard]] time_point now() const noexcept override {
    // acquire: pairs with the release in advance(), so a reader that sees the
    // new time also sees what the advancing thread did before advancing.
    return time_point{duration{now_.load(std::memory_order_acquire)}};
  }

  /// Waits only for a notification: sleeping on real time is pointless when
  /// time stands still; the subscriber of advance() notifies `cv`.
  void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  time_point deadline) const override {
    if (now() < deadline) cv.wait(lock);
  }

  /// Moves time forward by `d` (negative counts as zero), then calls every
  /// listener on this thread before returning.
  ///
  /// What that guarantees to an actor system built on this clock: when
  /// advance() returns, every timer that the new time made due has fired on
  /// this thread — its message is queued in its actor's mailbox (and an ask
  /// that timed out is completed). So a message sent after advance()
  /// returns (a tell, an ask) is handled after the timer's message: "advance,
  /// then ask" sees the timer's effect, and an fsm's state timeout is
  /// handled before the next message the test sends. It does not wait for
  /// the actors to *handle* those messages. On the deterministic dispatcher
  /// (config::deterministic_seed) timers fire in run_until_idle()/step()
  /// instead, on the test's thread.
  void advance(duration d) {
    if (d.count() > 0) now_.fetch_add(d.count(), std::memory_order_release);
    detail::lock_guard lock(listeners_mutex_);
    for (auto& [id, fn] : listeners_) fn();
  }

  subscription subscribe(listener fn) override {
    detail::lock_guard lock(listeners_mutex_);
    listeners_.emplace_back(++last_id_, std::move(fn));
    return last_id_;
  }

  void unsubscribe(subscription id) override {
    // Holding the mutex that advance() calls listeners under is what makes
    // "not running after return" true.
    detail::lock_guard lock(listeners_mutex_);
    std::erase_if(listeners_, [id](const auto& entry) { return entry.first == id; });
  }

 private:
  std::atomic<duration::rep> now_;
  detail::mutex listeners_mutex_;
  std::vector<std::pair<subscription, listener>> listeners_ VOLLEY_GUARDED_BY(listeners_mutex_);
  subscription last_id_ VOLLEY_GUARDED_BY(listeners_mutex_) = 0;
};

}  // namespace volley
