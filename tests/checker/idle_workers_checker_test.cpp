// Exhaustive small-schedule checks of engine/src/idle_workers.hpp, the
// workers' sleep/wake protocol: the real basic_idle_workers, instantiated
// with model atomics, a model mutex and a model futex, driven by worker
// loops shaped like worker_pool::run() (look locally, search once, park),
// and a producer that pushes and notifies as schedule() does; the worker that
// handles the last item stops the pool (stop_and_join()).
//
// The model futex: wait(word, expected) returns once the word no longer
// holds `expected` (the real futex may also return spuriously; the protocol
// loops on the word either way), so a store to the word is the wake. Naps
// never end here (idle_workers_model.hpp). The queues are a
// linearisable count (moodycamel and the deques are black boxes here).
//
// Property: no lost wake-up. If an item is pushed while every worker goes to
// sleep and nobody wakes one, no worker runs again, nobody stops the pool,
// and the run fails as a livelock (max_steps). Checked too: every item
// is handled exactly once, and when all is done nobody counts as searching or
// sleeping.
//
// Known-bad variant kept below and caught: a park that registers as a
// sleeper and goes to sleep without looking at the queues again (the
// re-check after the fence).
//
// Memory model: the explorer runs sequentially consistent executions, in
// which the two seq_cst fences (register_sleeper / notify, and the last
// searcher's) are no-ops; so this test checks the protocol's logic, that
// some look sees the other side's write in every interleaving. That the
// fences make those looks see the writes beyond sequential consistency is
// checked by spin on idle_workers_fences.pml (store buffers; each fence
// removed in turn loses a wake-up).
#include "idle_workers.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"
#include "idle_workers_model.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic

// Naps never end (idle_workers_model.hpp): the protocol alone must wake.
using idle_type = volley::detail::basic_idle_workers<model_idle_sync<false>>;

enum class park_variant { real, without_recheck };

struct item {};

struct pool_model {
  pool_model(unsigned workers, int items, park_variant v)
      : idle(workers), total(items), variant(v) {}

  idle_type idle;
  model_atomic<int> queued{0};  // the run queues, as one linearisable count
  model_atomic<bool> stopping{false};
  int total;
  int handled = 0;
  park_variant variant;

  bool work_visible() { return queued.load() > 0; }

  bool pop() {
    int n = queued.load();
    while (n > 0) {
      if (queued.compare_exchange_strong(n, n - 1)) return true;
    }
    return false;
  }

  // schedule() from a non-worker thread: publish, then notify.
  void push() {
    queued.fetch_add(1);
    idle.notify();
  }

  item* park(unsigned i) {
    auto visible = [this] { return work_visible(); };
    auto quitting = [this] { return stopping.load(); };
    auto no_stale = [] { return static_cast<item*>(nullptr); };
    if (variant == park_variant::real) return idle.park(i, visible, quitting, no_stale);
    return volley::detail::idle_workers_test_access::park_without_recheck(idle, i, visible,
                                                                          quitting, no_stale);
  }

  // worker_pool::run(), with one search attempt instead of a timed spin.
  void run_worker(unsigned i) {
    auto visible = [this] { return work_visible(); };
    for (;;) {
      bool got = pop();
      if (!got) {
        idle.start_searching(i);
        got = pop();  // a steal, or the injection queue
        if (!got) {
          if (stopping.load() && !work_visible()) break;
          park(i);
          continue;
        }
      }
      idle.leave_searching(i, visible);
      if (++handled == total) stop();  // the activation; the last one ends the run
    }
    idle.leave_searching(i, visible);
  }

  // stop_and_join(), called by whoever handled the last item (a separate
  // stopping thread adds nothing but schedules). If an item is stranded
  // while every worker sleeps, nobody calls it: every fiber waits for ever
  // and the run fails as a livelock.
  void stop() {
    stopping.store(true);
    idle.wake_all();
  }
};

std::function<void(execution&)> pool_run(unsigned workers, int items, park_variant v) {
  return [workers, items, v](execution& x) {
    auto p = std::make_shared<pool_model>(workers, items, v);
    for (unsigned i = 0; i < workers; ++i) x.spawn([p, i] { p->run_worker(i); });
    x.spawn([p, items] {
      for (int k = 0; k < items; ++k) p->push();
    });
    x.at_end([p] {
      check(p->handled == p->total, "an item was handled twice or never");
      check(p->queued.peek() == 0, "an item is still queued");
      volley::detail::idle_workers_test_access::check_settled(p->idle);
    });
  };
}

}  // namespace

// The sizes: one worker at preemption bound 3, two at bound 1. Two workers
// at bound 2 ran 42,832 schedules (51,196 with a scheduling point at each
// fence: ~7 s quiet, 23-43 s loaded under ASan), the slowest checker case;
// at bound 1 they run 1,054, and the known-bad park below is caught in both
// sizes. Bound 1 still interleaves the two workers freely wherever one of
// them waits (a spin_wait switch is not a preemption); what it gives up is a
// schedule that preempts two running threads (the hidden [slow] case below
// keeps that search, 42,832 schedules). The fences' part of the
// protocol, with two workers and a producer, is checked by spin
// (idle_workers_fences.pml).
namespace {
struct pool_size {
  const char* name;
  unsigned workers;
  int items;
  int preemption_bound;
};
}  // namespace

TEST_CASE("checker idle_workers: no worker sleeps on a pushed item (1 and 2 workers)",
          "[checker][idle_workers]") {
  for (const pool_size& s : {pool_size{"idle_workers 1 worker + producer x 2", 1, 2, 3},
                             pool_size{"idle_workers 2 workers + producer x 1", 2, 1, 1}}) {
    check_clean(s.name, bound(s.preemption_bound, 3000),
                pool_run(s.workers, s.items, park_variant::real), 500);
  }
}

// Hidden (not run by CTest): the deeper search, for a change to the protocol.
// Run it with `idle_workers_checker_test "[slow]"`.
TEST_CASE("checker idle_workers: two workers at preemption bound 2 never all sleep on an item",
          "[checker][idle_workers][.][slow]") {
  check_clean("idle_workers 2 workers + producer x 1, bound 2", bound(2, 3000),
              pool_run(2, 1, park_variant::real), 10000);
}

TEST_CASE("checker idle_workers: a park without the re-check after registering is caught",
          "[checker][idle_workers][known_bad]") {
  for (const pool_size& s :
       {pool_size{"idle_workers park without re-check, 1 worker (known-bad)", 1, 1, 2},
        pool_size{"idle_workers park without re-check, 2 workers (known-bad)", 2, 1, 1}}) {
    check_caught(s.name, bound(s.preemption_bound, 3000),
                 pool_run(s.workers, s.items, park_variant::without_recheck), "livelock");
  }
}
