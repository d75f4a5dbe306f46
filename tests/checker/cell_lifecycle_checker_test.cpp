// Exhaustive small-schedule checks of the cell's reference count and
// lifecycle: a tell racing a stop, the last ref dropped while a message is
// in flight, the dead-lettering of what is left in the mailbox, and the
// stub handed back by mark_empty when the actor goes idle.
//
// What runs: the real mailbox lanes (basic_intrusive_mpsc with model
// atomics) and a model of the cell around them: the reference count, the
// lifecycle word and the steps of engine/src/cell.cpp (deliver,
// deliver_system, schedule_after_unmark, finalize, release/destroy) and
// engine/src/activation.cpp (run_activation), each written next to the
// function it mirrors. cell_base itself is not templated: its layout is
// pinned by static_asserts (two cache lines) and its methods reach the
// system core, the pools and the dead-letter office, none of which the
// explorer can run. So this test checks the protocol, with the real queues;
// a change to the protocol in cell.cpp or activation.cpp has to be made
// here too.
//
// Threads: a sender holding a ref tells two messages and drops its ref; a
// stopper holding a ref sends a stop and drops its ref; a worker runs the
// cell's activations (the run queue is a linearisable count). The parent's
// link is the third count, dropped by finalize.
//
// Properties checked in every schedule:
//   * the cell is freed exactly once, after everything is done, and never
//     touched after it was freed;
//   * every message is handled or dead-lettered, exactly once, and retired
//     (freed) exactly once;
//   * an idle cell holds no message (mark_empty handed back its stub).
//
// Known-bad variants kept below and caught: schedule_after_unmark() without
// the count it takes for a dead cell (a late tell schedules an activation
// that outlives the last ref), and finalize() without the count that keeps
// the cell alive for the rest of its last activation.
//
// Memory model: sequentially consistent executions only (see
// model_scheduler.hpp). The real code's orders: release() is acq_rel (the
// last owner sees every other owner's writes before it frees); the state
// word is release/acquire; the mark hand-off is the queue's (see
// intrusive_mpsc_checker_test.cpp).
#include <volley/queues/intrusive_mpsc.hpp>

#include <cstdint>
#include <deque>
#include <memory>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"
#include "model_atomic.hpp"
#include "model_scheduler.hpp"

namespace {

using volley::checker::check;
using volley::checker::execution;
using volley::checker::expect_caught;
using volley::checker::expect_clean;
using volley::checker::model_atomic;
using volley::checker::options;
using volley::checker::report;
using volley::checker::run_and_print;
using volley::checker::spin_wait;
using queue = volley::queues::basic_intrusive_mpsc<model_atomic>;
using node = queue::node;

enum class lifecycle : int { alive, stopping, dead };
enum class variant { real, no_ref_for_dead_cell, no_ref_in_finalize };

struct envelope : node {
  explicit envelope(bool stop) : is_stop(stop) {}
  bool is_stop;
  int handled = 0;
  int dead_lettered = 0;
  int retired = 0;
};

struct cell_model {
  explicit cell_model(variant v) : how(v) {}

  variant how;
  queue mailbox{true};  // user lane; its mark = idle
  queue system_lane{false};
  model_atomic<std::uint32_t> refs{3};  // the parent's link, the sender's ref, the stopper's ref
  model_atomic<int> state{static_cast<int>(lifecycle::alive)};
  model_atomic<int> runnable{0};  // the run queue, for this one cell
  model_atomic<int> others_done{0};
  int frees = 0;
  std::deque<envelope> envelopes;  // owns every message (stable addresses)

  lifecycle load_state() { return static_cast<lifecycle>(state.load()); }

  void touch() { check(frees == 0, "a cell was used after it was freed"); }

  // retire(): frees an envelope.
  void retire(node* n) {
    auto* e = static_cast<envelope*>(n);
    check(e->retired == 0, "an envelope was retired twice");
    check(e->is_stop || e->handled + e->dead_lettered == 1,
          "an envelope was retired before it was handled or dead-lettered");
    ++e->retired;
  }

  // cell_base::destroy(): dead, idle and drained by now.
  void destroy() {
    touch();
    ++frees;
    if (node* n = mailbox.release_stub()) retire(n);
    if (node* n = system_lane.release_stub()) retire(n);
  }

  // cell_base::release()
  void release() {
    touch();
    if (refs.fetch_sub(1) == 1) destroy();
  }

  // cell_base::schedule_after_unmark(): a dead cell is not kept alive by its
  // parent any more; the activation we cause needs its own count.
  void schedule_after_unmark() {
    touch();
    if (how == variant::real && load_state() == lifecycle::dead) refs.fetch_add(1);
    runnable.fetch_add(1);
  }

  // cell_base::deliver()
  void deliver(envelope* e) {
    touch();
    if (load_state() == lifecycle::dead) {
      ++e->dead_lettered;  // dead_letter_after_stop
      retire(e);
      return;
    }
    if (mailbox.push(e)) schedule_after_unmark();
  }

  // cell_base::deliver_system()
  void deliver_system(envelope* e) {
    touch();
    system_lane.push(e);
    if (mailbox.signal()) schedule_after_unmark();
  }

  // begin_stop() + finalize() of a childless actor, inside its activation.
  void handle_stop(bool& holds_ref) {
    if (load_state() != lifecycle::alive) return;
    state.store(static_cast<int>(lifecycle::stopping));
    // finalize: keep the cell alive for the rest of this activation; the
    // parent's link, dropped below, may be the last count.
    if (!holds_ref && how != variant::no_ref_in_finalize) {
      refs.fetch_add(1);
      holds_ref = true;
    }
    state.store(static_cast<int>(lifecycle::dead));
    release();  // the parent's link
  }

  node* pop(queue& lane) {
    node* retired = nullptr;
    node* n = lane.pop(retired);
    if (retired != nullptr) retire(retired);
    return n;
  }

  // run_activation(): true if the cell still holds work (requeue it).
  bool run_activation(unsigned budget) {
    touch();
    bool holds_ref = load_state() == lifecycle::dead;
    for (;;) {
      touch();
      if (system_lane.has_next()) {
        while (node* n = pop(system_lane)) {
          auto* e = static_cast<envelope*>(n);
          check(e->is_stop, "a user message came out of the system lane");
          handle_stop(holds_ref);
          ++e->handled;
        }
        node* released = nullptr;
        if (system_lane.reclaim_stub(released)) retire(released);
      }
      if (budget == 0) return true;  // our count, if any, goes with the cell
      if (node* n = pop(mailbox)) {
        auto* e = static_cast<envelope*>(n);
        --budget;
        if (load_state() != lifecycle::alive) {
          ++e->dead_lettered;
        } else {
          ++e->handled;
        }
        continue;
      }
      if (system_lane.has_next()) continue;
      node* released = nullptr;
      if (mailbox.mark_empty(released)) {
        // Idle: another worker may own the cell now.
        if (released != nullptr) retire(released);
        if (holds_ref) release();
        return false;
      }
      if (system_lane.has_next() || mailbox.has_next()) continue;
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

// `tells` user messages from the sender; `budget` messages per activation.
std::function<void(execution&)> tell_vs_stop(variant v, int tells, unsigned budget) {
  return [v, tells, budget](execution& x) {
    auto c = std::make_shared<cell_model>(v);
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

TEST_CASE("checker cell: a tell racing a stop is handled or dead-lettered once; freed once",
          "[checker][cell]") {
  options opts;
  opts.preemption_bound = 2;
  report r = run_and_print("cell 1 tell + stop + worker (budget 8)", opts,
                           tell_vs_stop(variant::real, 1, 8));
  expect_clean(r, 1000);
}

TEST_CASE("checker cell: two tells, budget 1 (requeues) racing a stop; freed once",
          "[checker][cell]") {
  options opts;
  opts.preemption_bound = 2;
  report r = run_and_print("cell 2 tells + stop + worker (budget 1)", opts,
                           tell_vs_stop(variant::real, 2, 1));
  expect_clean(r, 1000);
}

TEST_CASE("checker cell: scheduling a dead cell without its own count is caught",
          "[checker][cell][known_bad]") {
  options opts;
  opts.preemption_bound = 2;
  report r = run_and_print("cell no count for a dead cell's activation (known-bad)", opts,
                           tell_vs_stop(variant::no_ref_for_dead_cell, 1, 8));
  expect_caught(r, "freed");
}

TEST_CASE("checker cell: finalize without a count for the rest of the activation is caught",
          "[checker][cell][known_bad]") {
  options opts;
  opts.preemption_bound = 2;
  report r = run_and_print("cell no count across the last activation (known-bad)", opts,
                           tell_vs_stop(variant::no_ref_in_finalize, 1, 8));
  // The parent's link was the last count: destroy() runs inside the
  // activation, frees the stub, and the activation frees it again.
  expect_caught(r, "retired twice");
}
