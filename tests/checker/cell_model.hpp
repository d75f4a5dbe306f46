// tests/checker/cell_model.hpp — a small cell that runs the engine's lifecycle
// steps under the explorer, shared by the cell checker tests
// (cell_lifecycle_checker_test: tells racing a stop; cell_chain_checker_test:
// a chained delivery racing a stop and a tell).
//
// What runs: the engine's own steps (volley/engine/detail/cell_lifecycle.hpp:
// release, deliver, deliver_chain, deliver_system, schedule_after_unmark, the
// activation's count, begin_stop, hold_for_activation, mark_dead, went_idle,
// hand_back_stubs), instantiated on a small cell with model atomics and the
// real mailbox lanes (basic_intrusive_mpsc<model_atomic>). Its hooks stand in
// for what the explorer cannot run: the run queue is a linearisable count,
// the dead-letter office a counter on the message, destroy() the stubs'
// hand-back and a free count. The activation's loop (engine/src/
// activation.cpp: system lane first, a budget of user messages, mark_empty)
// is written here around those steps; linger, coroutines, stash and sorted
// mailboxes are left out (they never touch the count or the state).
//
// Every handled message records its place among the handled ones, so a test
// can check the order of what one sender sent.
//
// Properties check_at_end() asserts:
//   * the cell is freed exactly once, after everything is done, and never
//     touched after it was freed (touch());
//   * every message is handled or dead-lettered, exactly once, and retired
//     (freed) exactly once.
#pragma once

#include <volley/engine/detail/cell_lifecycle.hpp>
#include <volley/queues/intrusive_mpsc.hpp>

#include <cstdint>
#include <deque>

#include "expect_clean.hpp"

namespace volley::checker::cell_model {

using volley::detail::lifecycle;
using queue = volley::queues::basic_intrusive_mpsc<model_atomic>;
using node = queue::node;

/// How the test cell departs from the engine's steps (known-bad variants
/// live in the tests; `real` runs the engine's code unchanged).
enum class variant {
  real,
  no_ref_for_dead_cell,      // deliver/deliver_system schedule a dead cell without a count
  no_ref_in_finalize,        // finalize keeps no count for the rest of the activation
  chain_last_only,           // deliver_chain pushes only the chain's last envelope
  chain_schedule_unchecked,  // deliver_chain checks for death only before its push
  chain_reversed             // deliver_chain delivers last to first, one by one
};

struct envelope : node {
  explicit envelope(bool stop) : is_stop(stop) {}
  bool is_stop;
  int handled = 0;
  int dead_lettered = 0;
  int retired = 0;
  int handled_order = -1;  // when it was handled (0, 1, ...), if it was
};

struct test_cell;

/// What the steps reach outside the cell (cell_lifecycle.hpp's `Hooks`).
struct hooks {
  static void retire(node* n);
  static void dead_letter(test_cell& c, envelope* e);
  static bool admit(test_cell&, envelope*) { return true; }  // unbounded mailbox
  static void schedule(test_cell& c);
  static void destroy(test_cell& c);
};

using steps = volley::detail::basic_cell_lifecycle<hooks>;

struct test_cell {
  /// `owners`: the counts held at the start (the parent's link and one per
  /// thread that sends and then drops its ref).
  test_cell(variant v, std::uint32_t owners) : refs_(owners), how(v) {}

  // -- what cell_lifecycle.hpp works on (cell_base's members) ----------------
  model_atomic<std::uint32_t> refs_;
  model_atomic<lifecycle> state_{lifecycle::alive};
  lifecycle worker_state_ = lifecycle::alive;
  std::uint8_t stop_reason_ = 0;
  bool bounded_ = false;  // true: deliver_chain takes its one-by-one path
  bool direct_ = false;
  queue mailbox_{true};  // user lane; its mark = idle
  queue system_lane_{false};

  // -- the test's world -------------------------------------------------------
  variant how;
  model_atomic<int> runnable{0};  // the run queue, for this one cell
  model_atomic<int> others_done{0};
  int frees = 0;
  int handled_count = 0;           // messages handled so far
  std::deque<envelope> envelopes;  // owns every message (stable addresses)

  envelope* message(int i) { return &envelopes[static_cast<std::size_t>(i)]; }

  void touch() { check(frees == 0, "a cell was used after it was freed"); }

  void release() {
    touch();
    steps::release(*this);
  }

  void deliver(envelope* e) {
    touch();
    if (how == variant::no_ref_for_dead_cell) {
      // Known-bad: steps::deliver with a schedule that takes no count for a
      // dead cell's activation.
      if (state_.load() == lifecycle::dead) {
        hooks::dead_letter(*this, e);
        hooks::retire(e);
        return;
      }
      if (mailbox_.push(e)) hooks::schedule(*this);
      return;
    }
    steps::deliver(*this, e);
  }

  /// `first` ... `last`, linked through next by the caller.
  void deliver_chain(envelope* first, envelope* last) {
    touch();
    if (how == variant::chain_last_only) {
      if (mailbox_.push_chain(last, last)) steps::schedule_after_unmark(*this);
      return;
    }
    if (how == variant::chain_reversed) {
      deliver(last);
      deliver(first);
      return;
    }
    if (how == variant::chain_schedule_unchecked) {
      // Known-bad: the dead test before the push stands in for the one after
      // it, so a cell that dies in between is scheduled without a count.
      if (state_.load() == lifecycle::dead) {
        steps::deliver_chain(*this, first, last);
        return;
      }
      if (mailbox_.push_chain(first, last)) hooks::schedule(*this);
      return;
    }
    steps::deliver_chain(*this, first, last);
  }

  void deliver_system(envelope* e) {
    touch();
    if (how == variant::no_ref_for_dead_cell) {
      system_lane_.push(e);  // known-bad, as deliver() above
      if (mailbox_.signal()) hooks::schedule(*this);
      return;
    }
    steps::deliver_system(*this, e);
  }

  // begin_stop() + finalize() of a childless actor (engine/src/cell.cpp),
  // inside its activation.
  void handle_stop(bool& holds_ref) {
    if (!steps::begin_stop(*this, 1)) return;
    if (how != variant::no_ref_in_finalize) steps::hold_for_activation(*this, holds_ref);
    steps::mark_dead(*this);
    release();  // the parent's link
  }

  node* pop(queue& lane) {
    node* retired = nullptr;
    node* n = lane.pop(retired);
    if (retired != nullptr) hooks::retire(retired);
    return n;
  }

  // run_activation() (engine/src/activation.cpp): true if the cell still
  // holds work (requeue it).
  bool run_activation(unsigned budget) {
    touch();
    bool holds_ref = steps::activation_holds_ref(*this);
    for (;;) {
      touch();
      if (system_lane_.has_next()) {
        while (node* n = pop(system_lane_)) {
          auto* e = static_cast<envelope*>(n);
          check(e->is_stop, "a user message came out of the system lane");
          handle_stop(holds_ref);
          ++e->handled;
        }
        node* released = nullptr;
        if (system_lane_.reclaim_stub(released)) hooks::retire(released);
      }
      if (budget == 0) return true;  // our count, if any, goes with the cell
      if (node* n = pop(mailbox_)) {
        auto* e = static_cast<envelope*>(n);
        --budget;
        if (worker_state_ != lifecycle::alive) {
          hooks::dead_letter(*this, e);
        } else {
          ++e->handled;
          e->handled_order = handled_count++;
        }
        continue;
      }
      if (system_lane_.has_next()) continue;
      node* released = nullptr;
      if (mailbox_.mark_empty(released)) {
        steps::went_idle(*this, holds_ref, released);
        return false;
      }
      if (system_lane_.has_next() || mailbox_.has_next()) continue;
      return true;  // a push is half done; come back later
    }
  }

  bool take_runnable() {
    int n = runnable.load();
    while (n > 0) {
      if (runnable.compare_exchange_strong(n, n - 1)) return true;
    }
    return false;
  }

  /// The worker: runs activations until the `others` sending threads are
  /// done and nothing is runnable.
  void run_worker(int others, unsigned budget) {
    for (;;) {
      if (take_runnable()) {
        if (run_activation(budget)) {
          // Requeued. Let the others run first: a producer preempted between
          // its exchange and its link would otherwise wait behind a worker
          // that retries for ever (real workers run in parallel).
          spin_wait();
          runnable.fetch_add(1);
        }
        continue;
      }
      if (others_done.load() == others && runnable.load() == 0) return;
      spin_wait();
    }
  }

  /// A sending thread's last step: drop its ref, say it is done.
  void sender_done() {
    release();  // the ref goes while its messages may be in flight
    others_done.fetch_add(1);
  }

  void check_at_end() {
    check(frees == 1, "the cell was never freed (a count leaked) or freed twice");
    for (const envelope& e : envelopes) {
      check(e.handled + e.dead_lettered == 1, "a message was lost, or handled twice");
      check(e.retired == 1, "an envelope was never retired (leaked)");
    }
  }
};

inline void hooks::retire(node* n) {
  auto* e = static_cast<envelope*>(n);
  check(e->retired == 0, "an envelope was retired twice");
  check(e->is_stop || e->handled + e->dead_lettered == 1,
        "an envelope was retired before it was handled or dead-lettered");
  ++e->retired;
}

inline void hooks::dead_letter(test_cell&, envelope* e) {
  ++e->dead_lettered;
}

inline void hooks::schedule(test_cell& c) {
  c.touch();
  c.runnable.fetch_add(1);
}

// cell_base::destroy(): the lanes' stubs, then the memory (counted).
inline void hooks::destroy(test_cell& c) {
  c.touch();
  ++c.frees;
  steps::hand_back_stubs(c);
}

}  // namespace volley::checker::cell_model
