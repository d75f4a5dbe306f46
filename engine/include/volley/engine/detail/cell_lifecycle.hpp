// volley/engine/detail/cell_lifecycle.hpp — the steps of a cell's reference
// count and lifecycle, shared by the engine and the exhaustive checker.
//
// What it is for
// --------------
// cell.hpp states the lifetime protocol (who holds a count, when a dead cell
// is scheduled, why the last activation keeps one). The code of that protocol
// is here, as function templates over the cell type, so the checker runs the
// same code as the engine: cell_base instantiates it with std::atomic members,
// tests/checker/cell_lifecycle_checker_test a small cell with model atomics.
// cell_base itself cannot be a template (its layout is pinned to two cache
// lines, and every engine translation unit reaches into it), hence templates
// over the cell rather than a templated cell, as idle_workers.hpp and
// lifo_slot.hpp are templated over their atomics.
//
// What a cell needs
// -----------------
//   refs_          atomic<uint32_t>: the reference count (see cell.hpp)
//   state_         atomic<lifecycle>: alive -> stopping -> dead, written only
//                  inside the cell's own activation
//   worker_state_  lifecycle: the running worker's copy of state_
//   stop_reason_   uint8_t: why it stops, written before state_ leaves alive
//   mailbox_, system_lane_: basic_intrusive_mpsc lanes (mailbox_'s mark = idle)
//
// What `Hooks` provides (the parts the explorer cannot run: the system core,
// the pools, the dead-letter office, the allocators)
// ------------------------------------------------------------------------
//   static void retire(Node*)              free a message the lanes are done with
//   static void dead_letter(Cell&, Envelope*)  report a send to a dead cell
//                                          (retire() frees it afterwards)
//   static bool admit(Cell&, Envelope*)    a bounded mailbox's admission; false:
//                                          the hook disposed of the message
//   static void schedule(Cell&)            put the cell on a run queue
//   static void destroy(Cell&)             the count reached zero
// Hooks are named only inside function bodies, so a hooks type may be
// declared before the cell type it works on is complete (cell.hpp does so).
//
// Cost: these are the statements cell.cpp and activation.cpp ran before they
// moved here, inlined in the same places; no virtual call, no extra atomic.
// g++ 12 -O3, objdump before/after the move: deliver's fast path (state load,
// bounded test, XCHG, link, mark test) the same 25 instructions,
// deliver_system and schedule_after_unmark identical, cold blocks reordered.
//
// Memory orders: release() is acq_rel (the last owner sees every other
// owner's writes before it frees); state_ is stored with release and loaded
// with acquire; add_ref() is relaxed, as a new count is always made from an
// existing one (or, for a dead cell's activation, under the mark hand-off,
// whose acquire/release is the queue's). The checker explores sequentially
// consistent executions only; these orders rest on the standard
// reference-count argument (as std::shared_ptr's).
#pragma once

#include <atomic>
#include <cstdint>

namespace volley::detail {

enum class lifecycle : std::uint8_t { alive, stopping, dead };

template <class Hooks>
struct basic_cell_lifecycle {
  // -- references -------------------------------------------------------------

  template <class Cell>
  static void add_ref(Cell& c) noexcept {
    c.refs_.fetch_add(1, std::memory_order_relaxed);
  }

  /// `n` counts at once: one atomic add where n add_ref()s would be n.
  template <class Cell>
  static void add_refs(Cell& c, std::uint32_t n) noexcept {
    c.refs_.fetch_add(n, std::memory_order_relaxed);
  }

  template <class Cell>
  static void release(Cell& c) noexcept {
    // acq_rel: the last owner must see every other owner's writes before it
    // frees the cell.
    if (c.refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) Hooks::destroy(c);
  }

  /// destroy()'s first step: the nodes the lanes still hold as their stubs.
  /// The cell is dead, idle and drained by now.
  template <class Cell>
  static void hand_back_stubs(Cell& c) noexcept {
    if (auto* n = c.mailbox_.release_stub()) Hooks::retire(n);
    if (auto* n = c.system_lane_.release_stub()) Hooks::retire(n);
  }

  // -- delivery (any thread) --------------------------------------------------

  template <class Cell, class Envelope>
  static void deliver(Cell& c, Envelope* e) noexcept {
    // A cheap early answer for the common case of sending to a long-dead
    // actor. Not needed for correctness: a message that races with death is
    // still dead-lettered by the activation that the push schedules.
    if (c.state_.load(std::memory_order_acquire) == lifecycle::dead) {
      Hooks::dead_letter(c, e);
      Hooks::retire(e);
      return;
    }
    if (!Hooks::admit(c, e)) return;
    if (c.mailbox_.push(e)) schedule_after_unmark(c);
  }

  /// deliver() for user messages the caller linked through `next` (first ...
  /// last, in order): one push and at most one schedule for the chain. A cell
  /// that admits each message on its own (a bounded mailbox, a direct
  /// taker), or is dead, gets them one by one.
  template <class Cell, class Envelope>
  static void deliver_chain(Cell& c, Envelope* first, Envelope* last) noexcept {
    if (c.bounded_ || c.direct_ || c.state_.load(std::memory_order_acquire) == lifecycle::dead) {
      for (Envelope* e = first; e != nullptr;) {
        // Read before deliver(): the message may be handled and freed at once.
        auto* next =
            e == last ? nullptr : static_cast<Envelope*>(e->next.load(std::memory_order_relaxed));
        deliver(c, e);
        e = next;
      }
      return;
    }
    if (c.mailbox_.push_chain(first, last)) schedule_after_unmark(c);
  }

  template <class Cell, class Envelope>
  static void deliver_system(Cell& c, Envelope* e) noexcept {
    c.system_lane_.push(e);
    if (c.mailbox_.signal()) schedule_after_unmark(c);
  }

  /// The calling thread cleared the mark: the cell is its to schedule.
  template <class Cell>
  static void schedule_after_unmark(Cell& c) noexcept {
    // A dead cell is not kept alive by its parent any more: the activation we
    // are about to cause needs its own count (dropped when it gives the cell
    // up).
    if (c.state_.load(std::memory_order_acquire) == lifecycle::dead) add_ref(c);
    Hooks::schedule(c);
  }

  // -- the activation (the one worker running the cell) -------------------------

  /// At the start of an activation: does it hold a count of its own? A dead
  /// cell is only scheduled by someone who took one for it.
  template <class Cell>
  static bool activation_holds_ref(const Cell& c) noexcept {
    return c.state_.load(std::memory_order_acquire) == lifecycle::dead;
  }

  /// The activation gave the cell up (mark_empty or park set its mark): from
  /// here on another worker may own it. Only our own count is still ours...
  template <class Cell>
  static void went_idle(Cell& c, bool holds_ref) noexcept {
    if (holds_ref) release(c);
  }

  /// ...and the node mark_empty handed back (`released`, or nullptr): an
  /// idle cell holds no message.
  template <class Cell, class Node>
  static void went_idle(Cell& c, bool holds_ref, Node* released) noexcept {
    if (released != nullptr) Hooks::retire(released);
    went_idle(c, holds_ref);
  }

  // -- stopping (inside the cell's own activation) ------------------------------

  /// alive -> stopping; false if it was not alive (an actor stops once).
  template <class Cell>
  static bool begin_stop(Cell& c, std::uint8_t why) noexcept {
    if (c.state_.load(std::memory_order_acquire) != lifecycle::alive) return false;
    c.stop_reason_ = why;  // before the state leaves alive: dead-lettering reads it
    c.worker_state_ = lifecycle::stopping;
    c.state_.store(lifecycle::stopping, std::memory_order_release);
    return true;
  }

  /// finalize: keep the cell alive for the rest of this activation. The
  /// parent's link, dropped when the cell has died, may be the last count.
  template <class Cell>
  static void hold_for_activation(Cell& c, bool& holds_ref) noexcept {
    if (!holds_ref) {
      add_ref(c);
      holds_ref = true;
    }
  }

  /// finalize: stopping -> dead. From here on sends are dead-lettered, and
  /// whoever schedules the cell takes a count for the activation.
  template <class Cell>
  static void mark_dead(Cell& c) noexcept {
    c.worker_state_ = lifecycle::dead;
    c.state_.store(lifecycle::dead, std::memory_order_release);
  }
};

}  // namespace volley::detail
