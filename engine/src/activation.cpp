// engine/src/activation.cpp — one turn of an actor on a worker.
//
// An activation runs pre_start the first time, drains the system lane, then
// handles up to `budget` user messages, looking at the system lane again
// after each one (one load of a line that only changes when a system
// message arrives). It ends in one of two ways:
//   * both lanes are empty and mark_empty() succeeds: the cell is idle, and
//     the next push or signal schedules it again (activation_end::idle);
//   * the budget is spent, or mark_empty() failed while a producer is
//     between its exchange and its link: the caller requeues the cell
//     (activation_end::more), so a preempted producer never makes a worker
//     spin.
// (A cell that parks, suspended or failed, ends as idle too.) Before any of
// these gives the cell up, what a layer above batched on this thread for the
// actor is pushed out (activation_flush.hpp): once the cell is requeued,
// parked or marked empty, another thread may run the actor, and its later
// remote tells must not overtake the ones it left staged here.
// Messages of a cell that is stopping or dead are dead-lettered here, by the
// only thread allowed to pop them.
#include <exception>
#include <utility>

#include <volley/engine/context.hpp>
#include <volley/engine/detail/activation_flush.hpp>
#include <volley/engine/detail/cell.hpp>

#include "cpu_relax.hpp"
#include "scheduler.hpp"
#include "sorted_mailbox.hpp"
#include "system_core.hpp"

namespace volley::detail {

namespace {

// ~1 µs of pause instructions on the reference machine: longer than the gap
// between two tells of a tight sending loop, far shorter than a wake-up. On
// the 2-core Intel Xeon VM (results id intel-xeon-2c) one PAUSE takes
// 45-65 ns (a timed loop of 1M), so there it is 3-4 µs.
constexpr int linger_spins = 64;

/// flush_at_activation_end's slot. Trivially constructed and destroyed, so
/// the check at an activation's end is one thread-pointer load.
constinit thread_local activation_flush pending_flush = nullptr;

/// Runs the flush a layer above asked for, if any: called where an
/// activation gives its cell up, before the cell may reach another thread.
inline void flush_pending() noexcept {
  if (activation_flush f = pending_flush; f != nullptr) [[unlikely]] {
    pending_flush = nullptr;
    f();
  }
}

envelope* pop(queues::intrusive_mpsc& lane) noexcept {
  queues::mpsc_node* retired;
  queues::mpsc_node* n = lane.pop(retired);
  if (retired != nullptr) retire(static_cast<envelope*>(retired));
  return static_cast<envelope*>(n);
}

// pop(), for the user lane of an activation: also asks for the line of the
// message after this one, so that its miss overlaps this one's handler
// instead of following it. A mailbox that has queued up (bank transaction:
// the teller sends every transfer at once, and each ask and continuation
// then waits behind its actor's transfers) holds envelopes written long
// ago, so every pop missed the cache, one after the other: perf on 1
// worker put 37% of the run on the first instruction of the handlers,
// waiting for their envelope. The link is in the line the handler reads
// anyway (the envelope's first), and it is stable: only the consumer moves
// past it, and a producer writes only the last node's link, which is null
// here. A read prefetch: the line is read (and freed) by this worker, and
// the last node's may still be written by a producer.
envelope* pop_and_look_ahead(queues::intrusive_mpsc& lane) noexcept {
  envelope* e = pop(lane);
  if (e != nullptr) {
    // acquire, as pop's: pairs with the link's release store in push().
    if (queues::mpsc_node* next = e->next.load(std::memory_order_acquire)) {
      __builtin_prefetch(next);
    }
  }
  return e;
}

// A handled (or dead-lettered) envelope stays in its lane as the queue's
// stub until the next pop or until the lane hands it back when the actor
// goes idle; neither comes for an actor that parks waiting on a coroutine
// and gets no more mail. So its sender reference is dropped now, not when
// the node is retired: otherwise two actors whose last messages came from
// each other would keep each other's cells, and through them the system
// core, alive for ever after both have stopped.
void drop_sender(envelope* e) noexcept {
  if (e->sender != nullptr) std::exchange(e->sender, nullptr)->release();
}

void drain_system_lane(cell_base* c, context& ctx) {
  while (envelope* e = pop(c->system_lane_)) {
    ctx.set_current(e);
    try {
      e->invoke(e, c, ctx);
    } catch (...) {
      on_failure(c, ctx, std::current_exception(), "a system message");
    }
    drop_sender(e);
    if (c->stop_requested_) {  // ctx.stop() from a coroutine resumed by this message
      c->stop_requested_ = false;
      begin_stop(c, ctx, stop_reason::stopped);
    }
  }
  ctx.set_current(nullptr);
  // The lane keeps its last message as its stub; hand it back now unless a
  // push came meanwhile, so an idle actor holds no system envelope either.
  queues::mpsc_node* released;
  if (c->system_lane_.reclaim_stub(released)) retire(static_cast<envelope*>(released));
}

}  // namespace

void flush_at_activation_end(activation_flush flush) noexcept {
  pending_flush = flush;
}

activation_end run_activation(cell_base* c, unsigned budget, const worker* w) {
  context ctx(c);
  // A dead cell is only scheduled by someone who took a count for us.
  ctx.holds_ref() = cell_lifecycle::activation_holds_ref(*c);
  bool may_linger = w != nullptr;
  for (;;) {
    // pre_start first, even before a stop that came ahead of the first
    // activation: post_stop must never undo a start that did not happen.
    if (!c->started_) start_if_needed(c, ctx);
    if (c->system_lane_.has_next()) drain_system_lane(c, ctx);
    if (budget == 0) {
      flush_pending();              // before the caller requeues the cell
      return activation_end::more;  // our count, if any, goes with the cell
    }

    if ((c->suspended_ || c->failed_) && c->worker_state_ == lifecycle::alive) {
      // A handler coroutine waits for a reply, or the actor failed and waits
      // for its supervisor: user messages wait meanwhile.
      // Give the cell up with its mailbox as it is; a push or the resume
      // (system lane) schedules it again, maybe on another thread.
      flush_pending();
      if (c->mailbox_.park()) {
        cell_lifecycle::went_idle(*c, ctx.holds_ref());
        return activation_end::idle;
      }
      continue;  // a signal came first: drain the system lane, then park
    }

    // Unstashed messages first. They are ours (not the mailbox's stub), so
    // they are retired as soon as they are handled. A priority or
    // control-aware mailbox sorts what it drains (sorted_mailbox.hpp); the
    // default mailbox pays only the test of sorted_, on this line anyway.
    const bool front = c->has_front_;
    bool owned = front;
    envelope* e = front        ? take_front(c)
                  : c->sorted_ ? take_sorted(c, owned)
                               : pop_and_look_ahead(c->mailbox_);
    if (e != nullptr) {
      --budget;
      if (c->worker_bounded_ && !front)
        c->extras_if_any()->queued.fetch_sub(1, std::memory_order_relaxed);
      if (c->worker_state_ != lifecycle::alive) {
        dead_letter_after_stop(c, e);
      } else {
        ctx.set_current(e);
        try {
          e->invoke(e, c, ctx);  // the one indirect call per message
        } catch (...) {
          on_failure(c, ctx, std::current_exception(), e->info->name);
        }
        ctx.set_current(nullptr);
        ctx.clear_stashed();
        if (c->stop_requested_) {
          c->stop_requested_ = false;
          begin_stop(c, ctx, stop_reason::stopped);
        }
      }
      drop_sender(e);
      if (owned) retire(e);
      continue;
    }

    if (c->system_lane_.has_next()) continue;
    // Judged now, not when the activation began: a ping-pong partner woken
    // by the message we just handled sits in the LIFO slot by now.
    if (may_linger && c->worker_state_ == lifecycle::alive && !w->lifo.occupied() &&
        w->local.empty_approx() && w->pool->injection_empty()) {
      // Nothing else is waiting on this worker: watch the mailbox a moment
      // before giving the actor up. A sender streaming messages (counting,
      // fan-in) is usually a few dozen ns from its next push; giving up
      // would cost it a reschedule (injection queue + wake-up check) and us
      // a steal, per gap. Bounded, and only when the worker is otherwise
      // idle, so it never delays another actor.
      // Not on a stopped actor (its mail is only dead letters now), nor
      // while the injection queue holds work: fork-join creation (every
      // actor handles one message, then stops) spent 73% of its cycles
      // here (perf), ~64 pauses per created actor, while the main thread's
      // next spawns waited in the injection queue.
      may_linger = false;
      bool arrived = false;
      for (int i = 0; i < linger_spins && !arrived; ++i) {
        cpu_relax();
        arrived = c->mailbox_.has_next() || c->system_lane_.has_next();
      }
      if (arrived) continue;
    }
    // Also covers the `more` below: nothing runs between here and there.
    flush_pending();
    queues::mpsc_node* released;
    if (c->sorted_ ? mark_idle_sorted(c, released) : c->mailbox_.mark_empty(released)) {
      // Idle. From here on another worker may own the cell: touch nothing
      // but our own count, and the envelope the mailbox kept as its stub,
      // which it has handed back (an idle actor holds no envelope).
      cell_lifecycle::went_idle(*c, ctx.holds_ref(), released);
      return activation_end::idle;
    }
    // A signal (consumed by mark_empty) or a push beat us.
    if (c->system_lane_.has_next() || c->mailbox_.has_next()) continue;
    return activation_end::more;  // a push is half done; come back later
  }
}

}  // namespace volley::detail
