// volley/engine/detail/timer.hpp — the pieces behind an actor's keyed timers.
//
// A timer is a node in the system's timing wheel (timer_service.cpp) that,
// when due, builds an envelope and delivers it to its actor. The actor keeps
// a table key -> (generation, node) in its cell extras; a timer message
// carries the generation it was made for, and its thunk looks the generation
// up before calling the handler. So after cancel(key) — or a restart of the
// key — a message of the old timer that is already queued is not handled:
// it becomes a dead letter with reason timer_cancelled (Akka's guarantee).
//
// Ownership: a node is counted by the actor's table (until cancel, stop, or
// the single timer's message is handled) and by the timer service (from
// timer_schedule until the timer thread drops it: fired, or found
// cancelled). The node holds a count on the actor's cell until it fires, or
// until a cancel that finds it armed gives that count back at once.
//
// The state word (timer_service.cpp has the protocol):
//   idle -> armed          timer_schedule, before the hand-off push
//   armed -> firing        the timer thread, when the deadline comes (CAS)
//   firing -> fired        a single timer, after delivery
//   firing -> armed        a periodic one, relinked for its next deadline (CAS)
//   any -> cancelled       timer_cancel (exchange); the timer thread drops
//                          a cancelled node wherever it next meets it
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/detail/timing_wheel.hpp>
#include <volley/queues/mpsc_node.hpp>

namespace volley::detail {

enum class timer_state : std::uint8_t { idle, armed, firing, fired, cancelled };

/// Memory for timer nodes (timer_pool.cpp): slots recycled in batches
/// between the thread that frees them (the timer thread) and the threads
/// that allocate them, so that neither meets the allocator in the steady
/// state. `n` is the node's size, the same at both calls.
void* timer_allocate(std::size_t n);
void timer_deallocate(void* p, std::size_t n) noexcept;

/// A timer: linked into the timer thread's wheel (timer_node) after a trip
/// through the hand-off queue (mpsc_node; timer_handoff.hpp).
struct timer_base : timer_node, queues::mpsc_node {
  std::atomic<std::uint32_t> refs{2};  // the table's and the service's
  std::atomic<timer_state> state{timer_state::idle};
  /// The tick it is due at: written by timer_schedule before the push,
  /// read by the timer thread after the pop (the queue orders the two).
  std::uint64_t due_tick = 0;
  cell_base* target = nullptr;  // counted; nullptr for callback timers
  system_core* core = nullptr;  // the service it lives in
  std::uint64_t gen = 0;
  std::chrono::nanoseconds period{0};  // zero: a single timer
  /// Build the message envelope for one firing (timer thread), or nullptr
  /// for a timer that calls `callback` instead (ask timeouts).
  envelope* (*make)(timer_base*) = nullptr;
  void (*callback)(timer_base*) = nullptr;
  void (*destroy)(timer_base*) noexcept = nullptr;
  /// Called by the cancel that stops the timer from firing (it was armed),
  /// on the cancelling thread: gives back at once what only a firing would
  /// use (an ask timeout's count on its request, a keyed timer's message or
  /// factory), so that it is freed by the thread that finished with it
  /// rather than by the timer thread, and not kept until the thread meets
  /// the node.
  void (*on_cancelled)(timer_base*) noexcept = nullptr;
  /// Called when the service stops with the timer still armed (it is
  /// dropped unfired), after the service claimed it (armed -> firing), on
  /// the stopping thread: an ask timeout completes its request with an
  /// error there, so that nobody waits for a reply that can no longer come.
  void (*on_dropped)(timer_base*) noexcept = nullptr;

  // Every timer node comes from the timer pool. Sized delete: each
  // `destroy` deletes the node as its own (final) type. Over-aligned node
  // types bypass the pool.
  static void* operator new(std::size_t n) { return timer_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { timer_deallocate(p, n); }
  static void* operator new(std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
  static void operator delete(void* p, std::size_t, std::align_val_t a) noexcept {
    ::operator delete(p, a);  // unsized: clang 14 declares no sized global delete by default
  }

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (target != nullptr) target->release();
      destroy(this);
    }
  }
};

/// One row of an actor's timer table (consumer-owned: only the actor's own
/// handlers touch it).
struct timer_entry {
  std::string key;
  std::uint64_t gen;
  timer_base* node;
};

struct timer_table {
  std::vector<timer_entry> entries;  // few per actor: a linear scan beats hashing
  std::uint64_t next_gen = 1;
};

template <class M>
struct timer_envelope final : envelope {
  M msg;
  std::uint64_t gen;
  bool single;
  template <class U>
  timer_envelope(U&& m, std::uint64_t g, bool s) : msg(std::forward<U>(m)), gen(g), single(s) {}
};

template <class M>
void drop_timer_payload(envelope* e, dead_letter_reason) noexcept {
  static_cast<timer_envelope<M>*>(e)->msg.~M();
}

template <class M>
envelope* relocate_timer_message(envelope* e) {
  auto* from = static_cast<timer_envelope<M>*>(e);
  void* p = envelope_alloc(sizeof(timer_envelope<M>));
  // Generation 0: already checked against the timer table when it was first
  // handled (and stashed); a kept timer message is an ordinary message now.
  auto* to = ::new (p) timer_envelope<M>(std::move(from->msg), 0, from->single);
  to->invoke = from->invoke;
  to->info = from->info;
  to->sender = std::exchange(from->sender, nullptr);
  return to;
}

template <class M>
const void* timer_payload_of(const envelope* e) {
  return &static_cast<const timer_envelope<M>*>(e)->msg;
}

template <class M>
inline constexpr message_info timer_info_of{type_id<M>(),
                                            type_name<M>(),
                                            &drop_timer_payload<M>,
                                            sizeof(timer_envelope<M>),
                                            false,
                                            &relocate_timer_message<M>,
                                            &timer_payload_of<M>,
                                            nullptr,
                                            nullptr,
                                            nullptr,
                                            is_control_v<M>};

// -- the service (timer_service.cpp) ----------------------------------------------------

/// Arm `t` (idle), due `delay` from now on the system's clock. No lock: a
/// push onto the timer thread's hand-off queue (timer_handoff.hpp).
void timer_schedule(system_core* core, timer_base* t, std::chrono::nanoseconds delay);
/// Cancel `t`: it will not fire (unless it is firing right now). One atomic
/// exchange, no lock; the timer thread drops its own count later. The
/// caller must hold a count on `t`.
void timer_cancel(system_core* core, timer_base* t) noexcept;
/// Cancel every timer of an actor (on stop and restart).
void cancel_all_timers(cell_base* c) noexcept;
/// A timer message whose generation is no longer in the table.
void drop_stale_timer_message(cell_base* c, envelope* e) noexcept;
/// Consumer side: the table, made on first use.
timer_table& timers_of(cell_base* c);
/// Consumer side: remove the entry with generation `gen`; false if absent.
bool take_timer_entry(cell_base* c, std::uint64_t gen, bool single) noexcept;

}  // namespace volley::detail
