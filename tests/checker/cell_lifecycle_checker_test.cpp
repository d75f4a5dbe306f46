// Exhaustive small-schedule checks of the cell's reference count and
// lifecycle: a tell racing a stop, the last ref dropped while a message is
// in flight, the dead-lettering of what is left in the mailbox, and the
// stubs handed back when the actor goes idle and when the cell is freed.
//
// What runs: the engine's own steps (volley/engine/detail/cell_lifecycle.hpp:
// release, deliver, deliver_system, schedule_after_unmark, the activation's
// count, begin_stop, hold_for_activation, mark_dead, went_idle,
// hand_back_stubs), instantiated on a small cell with model atomics and the
// real mailbox lanes (basic_intrusive_mpsc<model_atomic>). Its hooks stand in
// for what the explorer cannot run: the run queue is a linearisable count,
// the dead-letter office a counter on the message, destroy() the stubs'
// hand-back and a free count. The activation's loop (engine/src/
// activation.cpp: system lane first, a budget of user messages, mark_empty)
// is written here around those steps; linger, coroutines, stash and sorted
// mailboxes are left out (they never touch the count or the state).
//
// Threads: a sender holding a ref tells one or two messages and drops its
// ref; a stopper holding a ref sends a stop and drops its ref; a worker runs
// the cell's activations. The parent's link is the third count, dropped by
// finalize.
//
// Properties checked in every schedule:
//   * the cell is freed exactly once, after everything is done, and never
//     touched after it was freed;
//   * every message is handled or dead-lettered, exactly once, and retired
//     (freed) exactly once;
//   * an idle cell holds no message (mark_empty handed back its stub).
//
// Known-bad variants kept below (test switches, not in the product) and
// caught: scheduling a dead cell without the count its activation needs (a
// late tell schedules an activation that outlives the last ref), and
// finalize() without the count that keeps the cell alive for the rest of its
// last activation.
//
// Memory model: sequentially consistent executions only (see
// model_scheduler.hpp); the orders are argued in cell_lifecycle.hpp, the
// mark hand-off in intrusive_mpsc_checker_test.cpp.
#include <volley/engine/detail/cell_lifecycle.hpp>
#include <volley/queues/intrusive_mpsc.hpp>

#include <cstdint>
#include <deque>
#include <memory>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using volley::detail::lifecycle;
using queue = volley::queues::basic_intrusive_mpsc<model_atomic>;
using node = queue::node;

enum class variant { real, no_ref_for_dead_cell, no_ref_in_finalize };

struct envelope : node {
  explicit envelope(bool stop) : is_stop(stop) {}
  bool is_stop;
  int handled = 0;
  int dead_lettered = 0;
  int retired = 0;
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
  explicit test_cell(variant v) : how(v) {}

  // -- what cell_lifecycle.hpp works on (cell_base's members) ----------------
  model_atomic<std::uint32_t> refs_{3};  // the parent's link, the sender's ref, the stopper's ref
  model_atomic<lifecycle> state_{lifecycle::alive};
  lifecycle worker_state_ = lifecycle::alive;
  std::uint8_t stop_reason_ = 0;
  queue mailbox_{true};  // user lane; its mark = idle
  queue system_lane_{false};

  // -- the test's world -------------------------------------------------------
  variant how;
  model_atomic<int> runnable{0};  // the run queue, for this one cell
  model_atomic<int> others_done{0};
  int frees = 0;
  std::deque<envelope> envelopes;  // owns every message (stable addresses)

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

  void check_at_end() {
    check(frees == 1, "the cell was never freed (a count leaked) or freed twice");
    for (const envelope& e : envelopes) {
      check(e.handled + e.dead_lettered == 1, "a message was lost, or handled twice");
      check(e.retired == 1, "an envelope was never retired (leaked)");
    }
  }
};

void hooks::retire(node* n) {
  auto* e = static_cast<envelope*>(n);
  check(e->retired == 0, "an envelope was retired twice");
  check(e->is_stop || e->handled + e->dead_lettered == 1,
        "an envelope was retired before it was handled or dead-lettered");
  ++e->retired;
}

void hooks::dead_letter(test_cell&, envelope* e) {
  ++e->dead_lettered;
}

void hooks::schedule(test_cell& c) {
  c.touch();
  c.runnable.fetch_add(1);
}

// cell_base::destroy(): the lanes' stubs, then the memory (counted).
void hooks::destroy(test_cell& c) {
  c.touch();
  ++c.frees;
  steps::hand_back_stubs(c);
}

// `tells` user messages from the sender; `budget` messages per activation.
std::function<void(execution&)> tell_vs_stop(variant v, int tells, unsigned budget) {
  return [v, tells, budget](execution& x) {
    auto c = std::make_shared<test_cell>(v);
    for (int i = 0; i < tells; ++i) c->envelopes.emplace_back(false);
    c->envelopes.emplace_back(true);
    x.spawn([c, budget] { c->run_worker(2, budget); });
    x.spawn([c, tells] {
      for (int i = 0; i < tells; ++i) c->deliver(&c->envelopes[static_cast<std::size_t>(i)]);
      c->release();  // the sender's ref goes while its messages may be in flight
      c->others_done.fetch_add(1);
    });
    x.spawn([c, tells] {
      c->deliver_system(&c->envelopes[static_cast<std::size_t>(tells)]);
      c->release();
      c->others_done.fetch_add(1);
    });
    x.at_end([c] { c->check_at_end(); });
  };
}

}  // namespace

TEST_CASE("checker cell: tells racing a stop are handled or dead-lettered once; freed once",
          "[checker][cell]") {
  struct size {
    const char* name;
    int tells;
    unsigned budget;
  };
  // Budget 1: the second tell is handled in a requeued activation.
  for (const size& s : {size{"cell 1 tell + stop + worker (budget 8)", 1, 8},
                        size{"cell 2 tells + stop + worker (budget 1)", 2, 1}}) {
    check_clean(s.name, bound(2), tell_vs_stop(variant::real, s.tells, s.budget), 1000);
  }
}

TEST_CASE("checker cell: scheduling a dead cell without its own count is caught",
          "[checker][cell][known_bad]") {
  check_caught("cell no count for a dead cell's activation (known-bad)", bound(2),
               tell_vs_stop(variant::no_ref_for_dead_cell, 1, 8), "freed");
}

TEST_CASE("checker cell: finalize without a count for the rest of the activation is caught",
          "[checker][cell][known_bad]") {
  // The parent's link was the last count: destroy() runs inside the
  // activation, frees the stub, and the activation frees it again.
  check_caught("cell no count across the last activation (known-bad)", bound(2),
               tell_vs_stop(variant::no_ref_in_finalize, 1, 8), "retired twice");
}
