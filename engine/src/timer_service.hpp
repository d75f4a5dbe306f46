// engine/src/timer_service.hpp — the one timing wheel of an actor system.
//
// A thread per system drives the wheel: it sleeps (condition variable, on
// the system's clock) until the wheel's next deadline, or for ever when no
// timer is pending, so an idle system does not poll. Starting a timer locks
// the wheel, links the node (O(1)) and wakes the thread only when the new
// deadline is earlier than the one it sleeps until. Firing builds the
// timer's envelope and delivers it to the actor; a periodic timer is linked
// again at its next deadline (deadline + period, so it keeps its phase).
//
// The wheel's lock is not on the message hot path: it is taken by timer
// starts and cancels and by the timer thread, never by a tell. The timer
// thread holds it only to advance the wheel and to relink periodic timers:
// due timers are collected under it and delivered after it is released
// (the message factory, the delivery, an ask's continuation), so a starter
// on a worker never waits for a delivery, and a continuation may start or
// cancel timers itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <volley/engine/clock.hpp>
#include <volley/engine/detail/timer.hpp>
#include <volley/engine/detail/timing_wheel.hpp>

namespace volley::detail {

class timer_service {
 public:
  /// `threaded` = false: no thread; the owner calls poll() (deterministic mode).
  timer_service(std::shared_ptr<volley::clock> clock, bool threaded);
  ~timer_service();
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;

  void schedule(timer_base* t, std::chrono::nanoseconds delay);
  void cancel(timer_base* t) noexcept;
  /// Fire what is due now, on the calling thread (unthreaded mode).
  void poll();
  /// Stop the thread; pending timers are cancelled (their counts dropped).
  void stop();
  volley::clock& clock() noexcept { return *clock_; }

 private:
  void run();
  std::uint64_t now_tick() const;
  /// Under mu_: advance the wheel to now, moving due timers into `due`.
  void collect_due(std::vector<timer_base*>& due);
  /// Called with `lock` held: releases it, delivers `due`, retakes it and
  /// relinks the periodic ones. Leaves `due` empty.
  void fire(std::vector<timer_base*>& due, std::unique_lock<std::mutex>& lock);

  std::shared_ptr<volley::clock> clock_;
  volley::clock::time_point origin_;
  std::mutex mu_;
  std::condition_variable cv_;
  timing_wheel wheel_;
  std::uint64_t sleeping_until_ = UINT64_MAX;  // guarded by mu_
  bool running_ = true;
  // fire() calls under way (guarded by mu_); a manual clock's advance waits
  // for them so that it returns only once every due timer is delivered.
  std::size_t delivering_ = 0;
  std::condition_variable delivered_;
  volley::clock::subscription sub_ = 0;
  std::thread thread_;
};

}  // namespace volley::detail
