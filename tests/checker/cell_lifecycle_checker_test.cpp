// Exhaustive small-schedule checks of the cell's reference count and
// lifecycle: a tell racing a stop, the last ref dropped while a message is
// in flight, the dead-lettering of what is left in the mailbox, and the
// stubs handed back when the actor goes idle and when the cell is freed.
//
// What runs: the engine's own lifecycle steps on the small cell of
// cell_model.hpp (model atomics, the real mailbox lanes, the activation's
// loop written around the steps).
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
#include <cstdint>
#include <memory>

#include <catch2/catch.hpp>

#include "cell_model.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic
using namespace volley::checker::cell_model;

// `tells` user messages from the sender; `budget` messages per activation.
std::function<void(execution&)> tell_vs_stop(variant v, int tells, unsigned budget) {
  return [v, tells, budget](execution& x) {
    auto c = std::make_shared<test_cell>(v, 3);  // the parent's link, the sender, the stopper
    for (int i = 0; i < tells; ++i) c->envelopes.emplace_back(false);
    c->envelopes.emplace_back(true);
    x.spawn([c, budget] { c->run_worker(2, budget); });
    x.spawn([c, tells] {
      for (int i = 0; i < tells; ++i) c->deliver(c->message(i));
      c->sender_done();
    });
    x.spawn([c, tells] {
      c->deliver_system(c->message(tells));
      c->sender_done();
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
