// volley/engine/detail/timer_handoff.hpp — how a worker hands a timer to the
// timer thread without a lock, and wakes it only when it must.
//
// What it is for
// --------------
// Every ctx.ask arms a timeout, and every FSM transition with a state timeout
// re-arms one; almost all of them are cancelled a few µs later when the reply
// or the next message comes. The timing wheel (timing_wheel.hpp) is not
// thread-safe, and guarding it with one mutex made every worker take that
// mutex twice per ask. Here arming is a push onto an intrusive MPSC queue
// (queues/handoff_mpsc.hpp) that only the timer thread drains into its
// wheel, and cancelling is one atomic exchange on the timer's own state word
// (timer.hpp): the timer thread drops a cancelled timer when it next meets it
// (draining the queue, firing, or sweeping). Neither side takes a lock.
//
// Wake-up protocol
// ----------------
// The timer thread sleeps on a condition variable until the wheel's next
// deadline. Before it sleeps it publishes that deadline in `sleeping_until_`
// and then looks at the queue once more; a producer pushes and then reads
// `sleeping_until_`. A producer whose deadline is earlier claims the wake-up
// by lowering `sleeping_until_` to its own deadline (CAS) and, only if that
// succeeded, notifies the thread (timer_service takes the sleep mutex for
// that, so the notify cannot fall between the thread's last look and its
// wait). While the thread is awake `sleeping_until_` is 0: nobody wakes it,
// because it drains the queue again before it sleeps. So a timer armed while
// the thread sleeps towards an earlier deadline — the common case, a 1 s ask
// timeout behind older ones — costs one exchange (the push) and one load.
//
// This is the store-buffering pattern: the thread's store of
// `sleeping_until_` and load of the queue's tail, the producer's exchange of
// the tail and load of `sleeping_until_`, all four seq_cst, so at least one
// side sees the other: either the thread finds the node before it sleeps, or
// the producer finds the thread asleep towards a later deadline and wakes it.
// (The same argument as the transport's inbox, handoff_mpsc.hpp; on x86 the
// seq_cst loads are plain loads and the exchange is the push's own.)
// tests/checker/timer_handoff_checker_test.cpp runs this class under every
// interleaving of the timer thread and two producers, with a known-bad
// variant (the producer looks before it pushes) that it must catch.
//
// `wake_anyway`: a producer may ask for a wake-up whatever its deadline
// (timer_service does every `arms_per_forced_wake` arms of one thread), so
// that a thread sleeping towards a far deadline still drains the queue now
// and then and drops cancelled timers instead of letting them pile up.
//
// `Atom` is std::atomic except in the checker.
#pragma once

#include <atomic>
#include <cstdint>

#include <volley/queues/cache_line.hpp>
#include <volley/queues/handoff_mpsc.hpp>

namespace volley::detail {

template <template <class> class Atom = std::atomic>
class basic_timer_handoff {
 public:
  using node = queues::basic_mpsc_node<Atom>;
  /// `sleeping_until_` while the thread is awake (no producer wakes it).
  static constexpr std::uint64_t awake = 0;
  /// `sleeping_until_` while the thread waits with no deadline at all.
  static constexpr std::uint64_t forever = UINT64_MAX;

  // -- producers (any thread) ----------------------------------------------------

  /// Hands `n` (due at tick `deadline`) to the timer thread. Returns true if
  /// the caller must notify the thread: it sleeps towards a later deadline
  /// (or `wake_anyway` and it sleeps at all), and this call claimed the
  /// wake-up (later producers with later deadlines see the lowered value).
  [[nodiscard]] bool push(node* n, std::uint64_t deadline, bool wake_anyway = false) noexcept {
    queue_.push(n);  // seq_cst exchange of the tail: one half of the handshake
    std::uint64_t until = sleeping_until_.load(std::memory_order_seq_cst);
    // A want of 0 (wake_anyway, or a timer due at tick 0) lowers the word to
    // `awake`: the thread is woken, and later producers see it awake.
    std::uint64_t want = wake_anyway ? awake : deadline;
    while (until != awake && want < until) {
      if (sleeping_until_.compare_exchange_weak(until, want, std::memory_order_seq_cst)) {
        return true;
      }
    }
    return false;
  }

  // -- the timer thread (one at a time: timer_service serialises them) -----------

  /// The next handed-over node, or nullptr when the queue is empty (or a
  /// push is half done; maybe_pending() then says true).
  node* pop() noexcept { return queue_.pop(); }

  /// Whether a pop might find something (including a half-done push).
  [[nodiscard]] bool maybe_pending() const noexcept { return queue_.maybe_nonempty(); }

  /// The thread is awake: producers do not wake it until it sleeps again.
  void wake_up() noexcept { sleeping_until_.store(awake, std::memory_order_seq_cst); }

  /// The thread is about to sleep until tick `until` (`forever`: no
  /// deadline). Returns false if the queue may hold something: then the
  /// thread is awake again and must drain before it tries to sleep.
  [[nodiscard]] bool prepare_sleep(std::uint64_t until) noexcept {
    sleeping_until_.store(until, std::memory_order_seq_cst);
    if (!queue_.maybe_nonempty()) return true;  // seq_cst load of the tail
    sleeping_until_.store(awake, std::memory_order_seq_cst);
    return false;
  }

  /// What the thread sleeps towards now; a producer may have lowered it
  /// since prepare_sleep() (then it has been or is being notified).
  [[nodiscard]] std::uint64_t sleeping_until() const noexcept {
    return sleeping_until_.load(std::memory_order_seq_cst);
  }

 private:
  queues::basic_handoff_mpsc<Atom> queue_;
  alignas(queues::cache_line_size) Atom<std::uint64_t> sleeping_until_{awake};
};

using timer_handoff = basic_timer_handoff<>;

}  // namespace volley::detail
