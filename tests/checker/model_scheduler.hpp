// tests/checker/model_scheduler.hpp — an exhaustive interleaving explorer.
//
// What it is for
// --------------
// Runs two or three small threads of the *real* lock-free code under every
// interleaving of their atomic operations (CHESS / loom style), so a race
// that random stress on 2 cores hits once in a billion runs is hit on
// purpose. The code under test is instantiated with `model_atomic` (see
// model_atomic.hpp) in place of std::atomic, through the `Atom` template
// parameter of the queues; every operation on a model atomic is a
// scheduling point.
//
// How it works
// ------------
// The threads are cooperative fibers on the calling OS thread (switched by
// a few instructions of our own on x86-64, by ucontext elsewhere).
// Before each model-atomic operation the running fiber switches back to the
// explorer, which picks who runs the next operation. An execution is a
// sequence of such choices. The explorer runs the test body from scratch,
// records the choices of the run, and then backtracks depth-first: it
// replays the longest prefix that still has an untried alternative, takes
// that alternative, and lets the rest run with the default choice ("keep
// running the current fiber"). When no choice point has an alternative left,
// every schedule has been run.
//
// Preemption bound: switching away from a fiber that could continue is a
// preemption; a switch after a fiber finishes is free. With a bound of k only
// schedules with at most k preemptions are explored (Musuvathi and Qadeer,
// "Iterative context bounding", PLDI 2007: most concurrency bugs need two or
// three). The bound keeps the space small enough for a few seconds under
// ASan; -1 explores every schedule.
//
// Memory model: operations run one at a time in the order chosen, so the
// explorer checks every *sequentially consistent* execution. Weaker
// behaviours (a relaxed load reading a stale value, a fence that matters)
// are out of its reach; each checker test says how those are covered.
//
// Threads must not spin waiting for each other: a spin loop never ends in a
// schedule that does not run the thread it waits for. A run that takes more
// than `max_steps` operations is reported as a failure (livelock) and
// abandoned where it stands (objects on the fibers' stacks are not destroyed).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace volley::checker {

struct options {
  /// Most preemptions per schedule; -1 = unbounded.
  int preemption_bound = 2;
  /// Stop after this many schedules (the report then says `exhausted ==
  /// false`); a guard against a test that grew too large, not a sampling knob.
  std::size_t max_schedules = 2'000'000;
  /// Most model-atomic operations in one run before it counts as a livelock.
  std::size_t max_steps = 20'000;
  /// Stop at the first failing schedule (the known-bad variants want that).
  bool stop_at_first_failure = true;
};

struct report {
  std::size_t schedules = 0;  ///< runs of the test body
  bool exhausted = false;     ///< every schedule within the bound was run
  std::size_t failures = 0;   ///< schedules in which a check failed
  std::string first_failure;  ///< what failed, and the schedule that did it
};

/// Handed to the test body once per run: it builds fresh state, spawns the
/// threads (they start only after the body returns) and may add a final check.
struct explorer;

class execution {
 public:
  explicit execution(explorer& x) : x_(x) {}  ///< made by explore()

  /// A fiber that runs `body`. At most 8 per run.
  void spawn(std::function<void()> body);
  /// Runs after every fiber finished (not a scheduling point: atomics inside
  /// it run straight through).
  void at_end(std::function<void()> check);

 private:
  explorer& x_;
};

/// Runs `body` under every schedule (within the bound) and reports.
report explore(const options& opts, const std::function<void(execution&)>& body);

/// Inside a run: record a failure of `what` unless `ok` (the run continues).
/// Outside a run it does nothing.
void check(bool ok, const char* what);

/// Called by model atomics before each operation: lets the explorer switch
/// fibers. Outside a run (building state, the final check) it returns at once.
void yield_point() noexcept;

/// Inside a run: the calling fiber is about to retry (spin, or requeue and
/// come back later). It is not scheduled again until an operation of another
/// fiber has changed a model atomic's value, or until no other fiber can
/// run; so a retry loop that waits for a preempted thread stays finite.
/// Only a change wakes it: two fibers that spin on loads (two workers asleep
/// on their futex words) would otherwise wake each other for ever and starve
/// the fiber they wait for. (A retry that can never succeed runs into
/// max_steps and fails the run.)
void spin_wait() noexcept;

/// Inside a run: a value in [0, n) chosen by the explorer the way it chooses
/// the next fiber, so every value is explored (0 in the first schedule).
/// For what the environment decides, not a thread: how many bytes a socket
/// takes, whether an ioctl fails. Not a preemption: a data choice costs no
/// part of the bound. At most 8 values; outside a run it returns 0.
int choose(int n) noexcept;

/// Called by model atomics when an operation changed the stored value: the
/// fibers waiting in spin_wait() may run again.
void value_changed() noexcept;

/// A one-line summary for the test log: "<name>: N schedules (exhausted), ...".
std::string describe(const char* name, const report& r);

/// explore(), then print describe() on stdout: every checker test reports
/// how many schedules it explored.
report run_and_print(const char* name, const options& opts,
                     const std::function<void(execution&)>& body);

}  // namespace volley::checker
