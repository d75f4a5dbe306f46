// bench/micro/actor_api_bench.cpp — the costs a user of volley's actor API
// pays, measured with Google Benchmark.
//
//   ask_from_thread         ref.ask(m).get() from a plain thread, one at a time
//   ask_actor_continuation  actor -> actor ctx.ask(ref, m, timeout, cont), chained
//   ask_actor_coroutine     actor -> actor co_await ctx.ask(...) in one coroutine
//   timer_start_cancel      timers().start_single + cancel inside a handler
//   spawn_stop_issue        ctx.spawn + stop of a child inside a handler
//   spawn_stop_watched      spawn, watch, stop a child; until its terminated
//                           reaches the parent, one child after the other
//   tell_direct             1000 tells from this thread to one actor, until handled
//   tell_routed/<strategy>  the same through a group router over that one actor
//                           (round-robin, consistent-hashing, broadcast): the
//                           router's own cost, beside tell_direct in the same run
//   tell_balancing          the same through a balancing pool of one routee
//                           (the shared queue's push, fence and wake-up scan)
//
// The tell rows also report cpu_ns_per_msg: the whole process's CPU time
// per message (process_cpu.hpp), the figure to compare on a loaded machine.
//
// Latency benchmarks take one steady_clock sample per round trip and report
// p50_us / p99_us / p999_us as counters; Google Benchmark's own time is the
// mean. Each benchmark builds its own system with the default configuration
// (one pinned worker per core). The suite reports; it does not judge.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include <volley/volley.hpp>

#include "percentiles.hpp"
#include "process_cpu.hpp"

namespace {

using volley::bench::clk;
using volley::bench::ns_between;
using volley::bench::report_percentiles;
using namespace std::chrono_literals;

/// Lets the benchmark thread sleep (futex) while the actors run a chain: a
/// spinning main thread would take one of the two cores from the workers.
struct finish_line {
  std::atomic<int> done{0};
  void arm() { done.store(0, std::memory_order_relaxed); }
  void cross() {
    done.store(1, std::memory_order_release);
    done.notify_one();
  }
  void wait() { done.wait(0, std::memory_order_acquire); }
};

/// What an actor-side chain writes; read by the benchmark thread only after
/// finish_line::wait().
struct chain_log {
  std::vector<std::int64_t> samples;
  bool failed = false;
  finish_line finish;
};

struct ping {
  int n;
};
struct echo {
  int on(const ping& p) { return p.n; }
};

// -- ask from a plain thread ---------------------------------------------------

void ask_from_thread(benchmark::State& state) {
  volley::system sys;
  auto e = sys.spawn<echo>();
  std::vector<std::int64_t> samples;
  samples.reserve(1 << 20);
  for (auto _ : state) {
    auto t0 = clk::now();
    volley::result<int> r = e.ask(ping{1}).get();
    samples.push_back(ns_between(t0, clk::now()));
    if (!r) state.SkipWithError("ask failed");
  }
  state.SetItemsProcessed(state.iterations());
  report_percentiles(state, samples);
}
BENCHMARK(ask_from_thread)->UseRealTime()->Unit(benchmark::kMicrosecond);

// -- actor -> actor ask --------------------------------------------------------

struct run_chain {
  long round_trips;
};

// Round trips per benchmark iteration: long enough that starting the chain
// (one tell and one futex wake-up of the benchmark thread) is noise.
constexpr long chain_length = 10000;

/// Asks `target`, and from the continuation asks again, `round_trips` times.
/// One timestamp per continuation: the gap between two is a round trip.
class continuation_asker {
 public:
  continuation_asker(volley::actor_ref<echo> target, chain_log* log)
      : target_(std::move(target)), log_(log) {}

  void on(const run_chain& r, volley::context& ctx) {
    left_ = r.round_trips;
    last_ = clk::now();
    ask_next(ctx);
  }

 private:
  void ask_next(volley::context& ctx) {
    ctx.ask(target_, ping{1}, 1s, [this](volley::result<int> r, volley::context& next_ctx) {
      auto now = clk::now();
      log_->samples.push_back(ns_between(last_, now));
      last_ = now;
      if (!r) log_->failed = true;
      if (--left_ == 0 || !r) {
        log_->finish.cross();
      } else {
        ask_next(next_ctx);
      }
    });
  }

  volley::actor_ref<echo> target_;
  chain_log* log_;
  long left_ = 0;
  clk::time_point last_;
};

/// The same chain as one coroutine handler with a loop of co_await.
class coroutine_asker {
 public:
  coroutine_asker(volley::actor_ref<echo> target, chain_log* log)
      : target_(std::move(target)), log_(log) {}

  volley::task on(run_chain r, volley::context& ctx) {
    // `ctx` dangles after the first co_await (see ask_from_actor.hpp); ask
    // needs only the actor it names, so a copy in the frame stays valid.
    volley::context own = ctx;
    auto last = clk::now();
    for (long i = 0; i < r.round_trips; ++i) {
      volley::result<int> reply = co_await own.ask(target_, ping{1}, 1s);
      auto now = clk::now();
      log_->samples.push_back(ns_between(last, now));
      last = now;
      if (!reply) {
        log_->failed = true;
        break;
      }
    }
    log_->finish.cross();
  }

 private:
  volley::actor_ref<echo> target_;
  chain_log* log_;
};

template <class Asker>
void ask_actor_chain(benchmark::State& state) {
  volley::system sys;
  chain_log log;
  log.samples.reserve(1 << 22);
  auto e = sys.spawn<echo>();
  auto asker = sys.spawn<Asker>(e, &log);
  for (auto _ : state) {
    log.finish.arm();
    asker.tell(run_chain{chain_length});
    log.finish.wait();
    if (log.failed) state.SkipWithError("an ask failed");
  }
  state.SetItemsProcessed(state.iterations() * chain_length);
  report_percentiles(state, log.samples);
}

void ask_actor_continuation(benchmark::State& state) {
  ask_actor_chain<continuation_asker>(state);
}
BENCHMARK(ask_actor_continuation)->UseRealTime()->Unit(benchmark::kMillisecond);

void ask_actor_coroutine(benchmark::State& state) {
  ask_actor_chain<coroutine_asker>(state);
}
BENCHMARK(ask_actor_coroutine)->UseRealTime()->Unit(benchmark::kMillisecond);

// -- timers --------------------------------------------------------------------

struct run_batch {
  long count;
};
struct tick {};

// Operations per message for the in-handler benchmarks: enough that the ask
// carrying the batch (µs) is far below the batch itself.
constexpr long batch_size = 1000;

/// Starts and cancels the same keyed timer, the life of a request timeout
/// whose reply came in time. Returns the nanoseconds the batch took.
struct timer_user : volley::actor<timer_user> {
  std::int64_t on(const run_batch& b) {
    auto t0 = clk::now();
    for (long i = 0; i < b.count; ++i) {
      timers().start_single("timeout", 1h, tick{});
      timers().cancel("timeout");
    }
    return ns_between(t0, clk::now());
  }
  void on(const tick&) {}
};

/// Runs batches inside an actor; the iteration time is what the handler
/// measured (the ask around it is not part of the operation).
template <class A>
void in_handler_batches(benchmark::State& state, volley::actor_ref<A> a) {
  std::int64_t total_ns = 0;
  for (auto _ : state) {
    volley::result<std::int64_t> r = a.ask(run_batch{batch_size}).get();
    if (!r) {
      state.SkipWithError("batch ask failed");
      break;
    }
    total_ns += r.value();
    state.SetIterationTime(static_cast<double>(r.value()) * 1e-9);
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  state.counters["ns_per_op"] =
      static_cast<double>(total_ns) / static_cast<double>(state.iterations() * batch_size);
}

void timer_start_cancel(benchmark::State& state) {
  volley::system sys;
  in_handler_batches(state, sys.spawn<timer_user>());
}
BENCHMARK(timer_start_cancel)->UseManualTime()->Unit(benchmark::kMicrosecond);

// -- spawn + stop of a supervised child ----------------------------------------

/// A child that counts itself out when it stops, so the benchmark thread can
/// wait for a batch's children to be gone before the next batch.
/// (Constructors, not aggregates: clang 14 has no parenthesised aggregate
/// initialisation, which spawn's argument forwarding would need.)
struct counted_child {
  explicit counted_child(std::atomic<long>* a) : alive(a) {}
  std::atomic<long>* alive;
  void on(const ping&) {}
  void post_stop() {
    if (alive->fetch_sub(1, std::memory_order_acq_rel) == 1) alive->notify_one();
  }
};

/// Spawns a child and stops it, `count` times; returns the nanoseconds the
/// handler spent (the children die afterwards, on the workers).
struct spawning_parent {
  explicit spawning_parent(std::atomic<long>* a) : alive(a) {}
  std::atomic<long>* alive;
  std::int64_t on(const run_batch& b, volley::context& ctx) {
    auto t0 = clk::now();
    for (long i = 0; i < b.count; ++i) ctx.spawn<counted_child>(alive).stop();
    return ns_between(t0, clk::now());
  }
};

void spawn_stop_issue(benchmark::State& state) {
  volley::system sys;
  std::atomic<long> alive{0};
  auto parent = sys.spawn<spawning_parent>(&alive);
  std::int64_t total_ns = 0;
  for (auto _ : state) {
    alive.store(batch_size, std::memory_order_relaxed);
    volley::result<std::int64_t> r = parent.ask(run_batch{batch_size}).get();
    if (!r) {
      state.SkipWithError("batch ask failed");
      break;
    }
    total_ns += r.value();
    state.SetIterationTime(static_cast<double>(r.value()) * 1e-9);
    // Not timed: let the batch's children finish dying, so that batches do
    // not pile up stopping children behind each other.
    for (long v = alive.load(std::memory_order_acquire); v != 0;
         v = alive.load(std::memory_order_acquire)) {
      alive.wait(v, std::memory_order_acquire);
    }
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  state.counters["ns_per_op"] =
      static_cast<double>(total_ns) / static_cast<double>(state.iterations() * batch_size);
}
BENCHMARK(spawn_stop_issue)->UseManualTime()->Unit(benchmark::kMicrosecond);

struct plain_child {
  void on(const ping&) {}
};

/// One child at a time: spawn, watch, stop, and the next spawn only once the
/// terminated has arrived. A sample is a whole cycle, as the parent sees it.
class watching_parent {
 public:
  explicit watching_parent(chain_log* log) : log_(log) {}

  void on(const run_chain& r, volley::context& ctx) {
    left_ = r.round_trips;
    last_ = clk::now();
    cycle(ctx);
  }
  void on(const volley::terminated& t, volley::context& ctx) {
    auto now = clk::now();
    log_->samples.push_back(ns_between(last_, now));
    last_ = now;
    // The cycle is only a cycle if this is the child just stopped, gone.
    if (!(t.actor == child_) || t.reason != volley::termination_reason::stopped ||
        !child_.is_stopped()) {
      log_->failed = true;
    }
    if (--left_ == 0 || log_->failed) {
      log_->finish.cross();
    } else {
      cycle(ctx);
    }
  }

 private:
  void cycle(volley::context& ctx) {
    child_ = ctx.spawn<plain_child>();
    ctx.watch(child_);
    child_.stop();
  }

  chain_log* log_;
  volley::actor_ref<plain_child> child_;
  long left_ = 0;
  clk::time_point last_;
};

// Cycles per iteration: a cycle is a few µs, so 1000 keep an iteration in
// the millisecond range without a long tail per repetition.
constexpr long spawn_cycles = 1000;

void spawn_stop_watched(benchmark::State& state) {
  volley::system sys;
  chain_log log;
  log.samples.reserve(1 << 20);
  auto parent = sys.spawn<watching_parent>(&log);
  for (auto _ : state) {
    log.finish.arm();
    parent.tell(run_chain{spawn_cycles});
    log.finish.wait();
    if (log.failed) state.SkipWithError("a terminated was not the stopped child's");
  }
  state.SetItemsProcessed(state.iterations() * spawn_cycles);
  report_percentiles(state, log.samples);
}
BENCHMARK(spawn_stop_watched)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

// -- routed tell against a direct tell ------------------------------------------

struct routed_note {
  long key;
  long routing_key() const { return key; }
};

/// Counts notes; wakes the benchmark thread when a batch is all handled.
struct note_counter {
  explicit note_counter(std::atomic<long>* left) : left_(left) {}
  void on(const routed_note&) {
    if (left_->fetch_sub(1, std::memory_order_acq_rel) == 1) left_->notify_one();
  }
  std::atomic<long>* left_;
};

/// Sends a batch through `send` and waits until every note is handled; the
/// same receiver either way, so the difference is what the sender pays.
template <class Send>
void tell_batches(benchmark::State& state, std::atomic<long>& left, Send send) {
  const std::int64_t cpu_start = volley::bench::process_cpu_ns();
  for (auto _ : state) {
    left.store(batch_size, std::memory_order_relaxed);
    for (long i = 0; i < batch_size; ++i) send(routed_note{i});
    for (long v = left.load(std::memory_order_acquire); v != 0;
         v = left.load(std::memory_order_acquire)) {
      left.wait(v, std::memory_order_acquire);
    }
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  // Every thread's CPU per message (process_cpu.hpp): less load-dependent
  // than the wall-clock rate.
  state.counters["cpu_ns_per_msg"] =
      static_cast<double>(volley::bench::process_cpu_ns() - cpu_start) /
      static_cast<double>(state.iterations() * batch_size);
}

void tell_direct(benchmark::State& state) {
  volley::system sys;
  std::atomic<long> left{0};
  auto target = sys.spawn<note_counter>(&left);
  tell_batches(state, left, [&](routed_note n) { target.tell(n); });
}
BENCHMARK(tell_direct)->UseRealTime()->Unit(benchmark::kMicrosecond);

void tell_routed(benchmark::State& state, volley::routing strategy) {
  volley::system sys;
  std::atomic<long> left{0};
  auto target = sys.spawn<note_counter>(&left);
  auto router = volley::make_group<note_counter>({target}, strategy);
  tell_batches(state, left, [&](routed_note n) { router.tell(n); });
}
BENCHMARK_CAPTURE(tell_routed, round_robin, volley::routing::round_robin)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(tell_routed, consistent_hashing, volley::routing::consistent_hashing)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
// One routee, so one envelope per tell as for the others.
BENCHMARK_CAPTURE(tell_routed, broadcast, volley::routing::broadcast)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void tell_balancing(benchmark::State& state) {
  volley::system sys;
  std::atomic<long> left{0};
  volley::pool_options o;
  o.size = 1;
  o.strategy = volley::routing::balancing;
  auto pool = volley::spawn_pool<note_counter>(sys, o, &left);
  tell_batches(state, left, [&](routed_note n) { pool.tell(n); });
}
BENCHMARK(tell_balancing)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
