// remote/src/reply_spin.hpp — when a transport loop that just handed frames
// to the node spins for the answer instead of sleeping.
//
// A request that the loop hands to a worker (an ask, a tell that will be
// answered) usually comes back as a push onto the loop's inbox a few µs to a
// few tens of µs later. If the loop is asleep in io_uring_enter by then, the
// pusher writes the loop's eventfd and the loop pays a wake-up: on the
// reference VM ~40 µs for an idle vCPU, half a raw blocking round trip
// (which is two such wake-ups). So after a turn that gave the node user
// frames the loop may look at its inbox for a bounded window
// (transport_settings::reply_spin) before it sleeps, as the engine's
// workers spin before parking.
//
// Adaptive, so that a node whose peers only send one-way traffic, or whose
// handlers answer late, does not burn the window after every turn: the spin
// is tried only while it pays. Two windows in a row that end with nothing
// pushed switch it off; it comes back on when a sleep that followed a
// hand-off was ended by an inbox push within the window (the spin would
// have caught it), or when an answer is drained in a turn before any spin
// (a fast worker, an inline handler: that settles the hand-off, no miss).
// An idle loop hands nothing off, so it never spins.
//
// On by default (50 µs, transport_settings::reply_spin): on the quiet
// 2-core VM it took the ask RTT p50 from 65.0 to 18.4 µs and actor to actor
// from 45.5 to 10.9 µs, with less CPU per round trip (99 -> 39 µs: a
// wake-up costs more than the looks), in the suite run
// results/intel-xeon-2c/2026-11-29T17-54-28Z.json. On a 2-core VM whose
// cores other processes keep busy it caught the answer in ~9 µs almost
// every time and still cost 3-6 µs of p50 and ~3 CPU-µs per round trip,
// since each look after the first 2 µs yields the core to whatever else is
// runnable (transport_loop.cpp's essay has the figures): set it to 0 there.
//
// Loop thread only: no atomics.
#pragma once

#include <chrono>

namespace volley::remote::detail {

class reply_spin {
 public:
  using duration = std::chrono::steady_clock::duration;

  /// `window` 0 turns spinning off.
  explicit reply_spin(duration window) noexcept : window_(window) {}

  duration window() const noexcept { return window_; }

  /// This turn gave the node user frames (not heartbeats or handshakes): an
  /// answer may be on its way.
  void handed_off() noexcept { pending_ = true; }

  /// The inbox held work in a turn after the hand-off: the answer came
  /// before any spin (a worker fast enough, or an inline handler). A spin
  /// after this would wait for nothing and count a false miss.
  void answered() noexcept {
    if (pending_) misses_ = 0;
    pending_ = false;
  }

  /// Whether the loop should spin before its next sleep.
  bool should_spin() const noexcept {
    return pending_ && window_ > duration::zero() && misses_ < max_misses;
  }

  /// The spin ended: `won` when a push arrived inside the window.
  void spun(bool won) noexcept {
    pending_ = false;
    misses_ = won ? 0 : misses_ + 1;
  }

  /// The loop slept for `slept` after a turn; `woken_by_push` when its inbox
  /// held work on waking. A hand-off answered within the window while the
  /// spin was off turns it back on.
  void slept(duration slept, bool woken_by_push) noexcept {
    if (pending_ && woken_by_push && slept <= window_) misses_ = 0;
    pending_ = false;
  }

 private:
  /// One miss may be a handler that took long once; two in a row say the
  /// answers come later than the window (or not at all: one-way traffic).
  static constexpr unsigned max_misses = 2;

  duration window_;
  unsigned misses_ = 0;
  bool pending_ = false;
};

}  // namespace volley::remote::detail
