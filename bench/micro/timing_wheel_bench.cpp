// Costs of volley::detail::timing_wheel, the structure behind every actor
// timer: start+cancel (the common keyed-timer life: a timeout that is
// cancelled because the reply came), start+fire, and firing a million.
// The figures quoted in timing_wheel.hpp come from this file.
#include "volley/engine/detail/timing_wheel.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

using volley::detail::timer_node;
using volley::detail::timing_wheel;

namespace {

// Delays spread like actor timeouts: mostly sub-second to minutes, so the
// timers land on levels 0 to 3.
std::vector<std::uint64_t> make_delays(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> out(n);
  for (auto& d : out) d = 1 + rng() % (1u << (6 + rng() % 17));
  return out;
}

void fill(timing_wheel& wheel, timer_node* nodes, std::size_t n) {
  auto delays = make_delays(n, 7);
  for (std::size_t i = 0; i < n; ++i) wheel.schedule(nodes[i], wheel.now() + delays[i]);
}

void drain(timing_wheel& wheel, timer_node* nodes, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) wheel.cancel(nodes[i]);
}

// One node started and cancelled over and over, with range(0) other timers
// pending. The node and its slot stay in cache: the figure is the
// instruction cost of start+cancel.
void bm_start_cancel(benchmark::State& state) {
  const auto background = static_cast<std::size_t>(state.range(0));
  auto others = std::make_unique<timer_node[]>(background + 1);
  timing_wheel wheel;
  fill(wheel, others.get(), background);
  auto delays = make_delays(1024, 1);
  timer_node node;
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.schedule(node, wheel.now() + delays[i++ & 1023]);
    benchmark::DoNotOptimize(wheel.cancel(node));
  }
  state.SetItemsProcessed(state.iterations());
  drain(wheel, others.get(), background);
}
BENCHMARK(bm_start_cancel)->Arg(0)->Arg(1'000'000);

// Start+cancel on a different node each time, out of range(0) actors' worth
// of nodes, all but one pending: the intrusive list touches a neighbour
// node, which is a cache miss once the timers no longer fit in cache.
void bm_start_cancel_many_nodes(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto nodes = std::make_unique<timer_node[]>(n);
  timing_wheel wheel;
  fill(wheel, nodes.get(), n);
  auto delays = make_delays(n, 3);
  std::vector<std::uint32_t> order(n);
  std::mt19937 rng(5);
  for (auto& o : order) o = static_cast<std::uint32_t>(rng() % n);
  std::size_t i = 0;
  for (auto _ : state) {
    timer_node& node = nodes[order[i]];
    wheel.cancel(node);  // restart a keyed timer: cancel the old, start anew
    wheel.schedule(node, wheel.now() + delays[i]);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  drain(wheel, nodes.get(), n);
}
BENCHMARK(bm_start_cancel_many_nodes)->Arg(1'000)->Arg(1'000'000);

// Start a timer one tick ahead and advance one tick so it fires.
void bm_start_fire(benchmark::State& state) {
  timing_wheel wheel;
  timer_node node;
  std::uint64_t fired = 0;
  for (auto _ : state) {
    wheel.schedule(node, wheel.now() + 1);
    fired += wheel.advance(wheel.now() + 1, [](timer_node&) {});
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_start_fire);

// Fire 1M timers with random deadlines over 2^20 ticks (~17 min at 1 ms),
// advancing one tick at a time as a timer thread under load would.
// Per item = per timer, cascades included.
void bm_advance_1m(benchmark::State& state) {
  constexpr std::size_t n = 1'000'000;
  constexpr std::uint64_t horizon = 1u << 20;
  const bool tick_by_tick = state.range(0) != 0;
  auto nodes = std::make_unique<timer_node[]>(n);
  std::mt19937_64 rng(11);
  std::vector<std::uint64_t> deadlines(n);
  for (auto& d : deadlines) d = 1 + rng() % horizon;
  std::size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    timing_wheel wheel;
    for (std::size_t i = 0; i < n; ++i) wheel.schedule(nodes[i], deadlines[i]);
    state.ResumeTiming();
    if (tick_by_tick) {
      for (std::uint64_t t = 1; t <= horizon; ++t) fired += wheel.advance(t, [](timer_node&) {});
    } else {
      fired += wheel.advance(horizon, [](timer_node&) {});
    }
  }
  if (fired != n * state.iterations()) state.SkipWithError("not every timer fired");
  state.SetItemsProcessed(static_cast<std::int64_t>(n * state.iterations()));
}
BENCHMARK(bm_advance_1m)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Scheduling 1M timers into an empty wheel (what a burst of actor starts costs).
void bm_schedule_1m(benchmark::State& state) {
  constexpr std::size_t n = 1'000'000;
  auto nodes = std::make_unique<timer_node[]>(n);
  auto delays = make_delays(n, 13);
  for (auto _ : state) {
    timing_wheel wheel;
    for (std::size_t i = 0; i < n; ++i) wheel.schedule(nodes[i], delays[i]);
    state.PauseTiming();
    drain(wheel, nodes.get(), n);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n * state.iterations()));
}
BENCHMARK(bm_schedule_1m)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
