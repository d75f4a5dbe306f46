// engine/src/timer_service.hpp — the timers of an actor system: one timing
// wheel, owned by one thread, fed by the workers without a lock.
//
// The protocol
// ------------
// Arming (any thread, usually a worker in ctx.ask or an FSM transition):
// write the timer's due tick, set its state `armed`, push it onto the
// hand-off queue (detail/timer_handoff.hpp: one exchange), and notify the
// timer thread only if it sleeps towards a later deadline. No lock, no
// system call in the common case.
//
// Cancelling (any thread holding a count on the timer): one exchange of the
// timer's state to `cancelled`. If it was `armed`, it will never fire, and
// the canceller gives back the timer's count on its actor's cell at once
// (so a stopped actor's cell is not kept for its timers' deadlines). The
// node itself stays where it is — in the queue or in the wheel — until the
// timer thread meets it and drops the service's count: when it drains the
// queue (most ask timeouts are cancelled before that, and never reach the
// wheel), when the deadline comes, or in a sweep of the wheel.
//
// Stopping: stop() drops what is still pending. An armed timer is claimed
// first (armed -> firing) and told through timer_base::on_dropped: an ask
// timeout completes its request with errc::broken_promise, so that a
// request whose timeout was its last way out never leaves a get() waiting.
//
// The timer thread, in turns: take mu_; pop every handed-over timer into the
// wheel (dropping cancelled ones); advance the wheel to now, claiming each
// due timer armed -> firing (a CAS: a cancel that comes first wins); sweep
// the wheel when it has doubled since the last sweep; release mu_. Then
// deliver the due timers with no lock held (the message factory is user
// code, delivery may wake a worker, an ask timeout runs the asker's
// continuation), take mu_ again to relink the periodic ones (firing ->
// armed, unless cancelled meanwhile), and drop counts after releasing it (a
// last count may destroy a cell). Then it sleeps on cv_ until the wheel's
// next deadline, or for ever when the wheel is empty: it never polls.
//
// Locks: mu_ is the driver's lock. It guards the wheel and the consumer side
// of the hand-off queue, so that a manual clock's jump (which drives the
// wheel on the advancing thread) and the timer thread take turns; no arming
// or cancelling thread ever takes it (except a late arm after stop()).
// sleep_mu_ guards nothing but the sleep: the timer thread holds it from its
// last look at the queue into its wait, and a producer that must wake it
// takes it around the notify, so the notify cannot fall in between. (The
// last look itself takes mu_ inside sleep_mu_, the only nesting.)
//
// Garbage: a cancelled timer costs its node (a 192 B slot of the timer
// pool, timer_pool.cpp; its payload — a keyed timer's message, an ask's
// request — is released by the cancel itself, timer_base::on_cancelled)
// until the thread meets it. Two rules bound that:
// every `arms_per_forced_wake`-th arm of a thread wakes the timer thread to
// drain the queue, and the wheel is swept once it holds twice the timers it
// held after the last sweep.
//
// Costs (bench/micro/timer_service_bench.cpp, bench preset, 2 workers, on
// the shared 2-vCPU Xeon VM under a load of ~4-7; three repetitions run
// interleaved: the mutex version (cea0081), the hand-off without the timer
// pool (4be3c30), and this one; medians, "mutex / hand-off / + pool"):
//   ctx.ask round trip, 1 asker, p50 / p99 / p99.9 (us):
//     0 live timers    0.357 / 0.397 / 2.1   0.337 / 0.817 / 5.7   0.331 / 0.458 / 5.1
//     1M live timers   0.355 / 0.396 / 2.1   0.330 / 0.594 / 4.3   0.326 / 0.388 / 10
//   16 askers on 2 workers, p99 (us): 0 live 46.5 / 21.8 / 21.2,
//     1M live 71.4 / 25.6 / 25.0 (the 16-asker runs spread ~2x)
//   start + cancel of a keyed timer, CPU ns per op (the thread's CPU time,
//     load ~12): 1 worker 117 -> 93, 2 workers at once 180 -> 158
// The hand-off's p99 regression was the allocator: the timer thread freed
// the nodes the workers allocated, and jemalloc refilled a worker's thread
// cache from the arena once per ~100 asks (stats.arenas bins: 1,667 fills
// in 166,622 requests). The timer pool (timer_pool.cpp) hands freed nodes
// back in batches of 512: with 1M live timers the 1-asker p99 is at the
// mutex version's; with none it is still ~15% above it (0.458 vs 0.397).
// What is left: while the timer thread is starved of CPU (or busy taking in
// a burst of arms) it returns no nodes and the worker falls back to malloc;
// and one FUTEX_WAKE syscall on the arming worker per 4096 arms (the forced
// wake-up below, 0.025% of asks; at 1024 it was the p99.9). No worker waits
// for another or for the timer thread; the mutex version also woke the
// timer thread on every ask when the wheel held nothing else (each cancel
// emptied it).
// Later (5 interleaved runs against 52ae0d9, load ~8-10; 1 asker, 0 / 1M
// live, p50 / p99 / p99.9 us): 0.343 / 0.473 / 8.9 and 0.343 / 0.573 / 13.6
// before; with the ask's continuation inline (ask_from_actor.hpp: three
// allocations per ask down to one, the larger share of an ask over a tell)
// and forced wakes every 4096 arms, 0.289 / 0.384 / 2.9 and
// 0.298 / 0.415 / 2.5. A tell round trip in the same runs: 0.138 / 0.266.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <volley/engine/clock.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/detail/timer.hpp>
#include <volley/engine/detail/timer_handoff.hpp>
#include <volley/engine/detail/timing_wheel.hpp>

namespace volley::detail {

class timer_service {
 public:
  /// `threaded` = false: no thread; the owner calls poll() (deterministic mode).
  timer_service(std::shared_ptr<volley::clock> clock, bool threaded);
  ~timer_service();
  timer_service(const timer_service&) = delete;
  timer_service& operator=(const timer_service&) = delete;

  /// Arm `t` (state idle), due `delay` from now. Lock-free (see above).
  void schedule(timer_base* t, std::chrono::nanoseconds delay) noexcept;
  /// Cancel `t` (the caller holds a count on it). One atomic exchange.
  /// True if this call stopped it from firing (it was armed); false if it
  /// is firing or has fired, or was cancelled before.
  static bool cancel(timer_base* t) noexcept;
  /// Fire what is due now, on the calling thread (unthreaded mode).
  void poll() VOLLEY_EXCLUDES(mu_);
  /// Stop the thread; pending timers are dropped (their counts released),
  /// an armed one told first through timer_base::on_dropped.
  void stop() VOLLEY_EXCLUDES(mu_, sleep_mu_);
  volley::clock& clock() noexcept { return *clock_; }

  // Every 4096th arm of one thread wakes the timer thread (if it sleeps) to
  // drain the queue: that bounds the cancelled timers waiting there to 4096
  // per arming thread (768 KiB of pool slots), for one wake-up per 4096
  // arms: the arming thread's FUTEX_WAKE system call, ~13 µs on the
  // reference machine (futex.cpp; the ~38 µs wake-to-run is the timer
  // thread's, not the worker's), ~3 ns an arm. It is the ask's p99.9: at
  // 1024 one ask in ~1000 paid it. Measured against 1024 (1-asker ask
  // round trip, 5 interleaved runs, medians): p99.9 5.0 -> 2.9 µs at 0 live
  // timers (spread 2.6-17.5 -> 2.4-3.0), 5.3 -> 2.5 µs at 1M live; p99
  // within noise (0.375 / 0.384 µs, 0.363 / 0.415). Public for the tests'
  // bounds.
  static constexpr std::uint32_t arms_per_forced_wake = 4096;

 private:
  // The wheel is not swept below this many timers: a sweep visits the 390
  // lists whatever they hold, so tiny sweeps would be mostly overhead.
  static constexpr std::size_t min_sweep = 4096;

  void run() VOLLEY_EXCLUDES(mu_, sleep_mu_);
  /// One turn: drain, collect, deliver, relink. True if any timer fired.
  bool turn(std::vector<timer_base*>& due, std::vector<timer_base*>& dropped) VOLLEY_EXCLUDES(mu_);
  /// A manual clock's jump: fire what it made due before advance() returns.
  void on_clock_jump() VOLLEY_EXCLUDES(mu_, sleep_mu_);
  void drain_handoff(std::vector<timer_base*>& dropped) VOLLEY_REQUIRES(mu_);
  void collect_due(std::vector<timer_base*>& due, std::vector<timer_base*>& dropped)
      VOLLEY_REQUIRES(mu_);
  void sweep_if_due(std::vector<timer_base*>& dropped) VOLLEY_REQUIRES(mu_);
  void relink_periodic(std::vector<timer_base*>& fired, std::vector<timer_base*>& dropped)
      VOLLEY_REQUIRES(mu_);
  /// After stop(): take every node out of the queue and the wheel, release them.
  void drop_everything() VOLLEY_EXCLUDES(mu_);
  void wake_thread() VOLLEY_EXCLUDES(sleep_mu_);
  /// The timer thread, holding sleep_mu_: publish the deadline it sleeps
  /// towards and take a last look at the queue (timer_handoff::prepare_sleep).
  bool prepare_sleep(std::uint64_t until) VOLLEY_REQUIRES(sleep_mu_) VOLLEY_EXCLUDES(mu_);
  std::uint64_t now_tick() const;

  std::shared_ptr<volley::clock> clock_;
  volley::clock::time_point origin_;
  const std::chrono::nanoseconds tick_ = timing_wheel::default_tick;

  // Producers push without a lock; the consumer side (pop, maybe_pending,
  // prepare_sleep) is used under mu_ or by the timer thread alone.
  timer_handoff handoff_;
  std::atomic<bool> running_{true};  // seq_cst: see schedule() and stop()

  detail::mutex mu_;
  timing_wheel wheel_ VOLLEY_GUARDED_BY(mu_){timing_wheel::default_tick};
  std::size_t sweep_at_ VOLLEY_GUARDED_BY(mu_) = min_sweep;
  // The earliest deadline of the timers last dropped (cancelled) straight
  // from the queue, while it is still ahead: where an idle thread sleeps
  // towards instead of for ever (see run()).
  std::uint64_t linger_until_ VOLLEY_GUARDED_BY(mu_) = 0;
  // Turns delivering outside mu_ right now; a manual clock's jump waits for
  // them so that advance() returns only once every due timer is delivered.
  std::size_t delivering_ VOLLEY_GUARDED_BY(mu_) = 0;
  std::condition_variable delivered_;  // with mu_

  detail::mutex sleep_mu_;
  std::condition_variable cv_;  // with sleep_mu_: the timer thread's sleep

  volley::clock::subscription sub_ = 0;
  std::thread thread_;
};

}  // namespace volley::detail
