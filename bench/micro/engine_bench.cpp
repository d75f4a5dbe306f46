// bench/micro/engine_bench.cpp — the engine's hot paths, measured with Google Benchmark.
//
//   tell_1to1      one thread tells one actor; items/s = messages handled
//   tell_Nto1      N threads tell one actor at once
//   ping_pong      two actors bounce a message (items/s = messages)
//   spawn          actors spawned per second from a plain thread
//   idle_actor     bytes of resident memory per idle actor (1M actors)
//
// Each benchmark builds its own system with the default configuration (one
// worker per core), so figures are comparable with the Savina workloads.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include <jemalloc/jemalloc.h>

#include <volley/volley.hpp>

namespace {

struct inc {};
struct read_total {};

struct idle {
  void on(const inc&) {}
};

// Bytes the allocator has handed out and not taken back (jemalloc's own
// count). Resident memory would understate a second run in the same
// process: memory freed by an earlier benchmark stays resident and is
// reused without growing RSS.
long allocated_bytes() {
  // Flush this thread's cache first: jemalloc merges a thread cache's
  // counts into its statistics only then.
  mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
  std::uint64_t epoch = 1;
  std::size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
  std::size_t allocated = 0;
  len = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return -1;
  return static_cast<long>(allocated);
}

void idle_actor(benchmark::State& state) {
  const long n = state.range(0);
  double per_actor = 0;
  for (auto _ : state) {
    volley::system sys;
    std::vector<volley::actor_ref<idle>> refs(n);  // allocated before the first sample
    long before = allocated_bytes();
    for (long i = 0; i < n; ++i) refs[i] = sys.spawn<idle>();
    long after = allocated_bytes();
    // Cells come from the envelope pool, which takes its blocks from
    // jemalloc; this benchmark is registered first, so that no freed cell of
    // another benchmark is recycled here. The delta is the cells, their
    // registration with the parent and the pool's overhead: what an idle
    // actor costs.
    per_actor = static_cast<double>(after - before) / static_cast<double>(n);
  }
  state.counters["bytes_per_actor"] = per_actor;
}
BENCHMARK(idle_actor)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);

struct counter {
  long n = 0;
  void on(const inc&) { ++n; }
  long on(const read_total&) { return n; }
};

void tell_1to1(benchmark::State& state) {
  volley::system sys;
  auto c = sys.spawn<counter>();
  const long batch = state.range(0);
  long expected = 0;
  for (auto _ : state) {
    for (long i = 0; i < batch; ++i) c.tell(inc{});
    expected += batch;
    if (c.ask(read_total{}).get().value() != expected) state.SkipWithError("lost messages");
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(tell_1to1)->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);

void tell_Nto1(benchmark::State& state) {
  volley::system sys;
  auto c = sys.spawn<counter>();
  const int senders = static_cast<int>(state.range(0));
  const long per_sender = 100000;
  long expected = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
      threads.emplace_back([&] {
        for (long i = 0; i < per_sender; ++i) c.tell(inc{});
      });
    }
    for (auto& t : threads) t.join();
    expected += senders * per_sender;
    if (c.ask(read_total{}).get().value() != expected) state.SkipWithError("lost messages");
  }
  state.SetItemsProcessed(state.iterations() * senders * per_sender);
}
BENCHMARK(tell_Nto1)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

struct ball {
  long left;
};
struct player {
  player(volley::actor_ref<player> p, std::atomic<long>* d) : peer(std::move(p)), done(d) {}
  volley::actor_ref<player> peer;
  std::atomic<long>* done;
  void on(const volley::actor_ref<player>& p) { peer = p; }
  void on(const ball& b) {
    if (b.left == 0) {
      done->store(1, std::memory_order_release);
      return;
    }
    peer.tell(ball{b.left - 1});
  }
};

void ping_pong(benchmark::State& state) {
  volley::system sys;
  std::atomic<long> done{0};
  auto a = sys.spawn<player>(volley::actor_ref<player>{}, &done);
  auto b = sys.spawn<player>(a, &done);
  a.tell(b);
  const long rounds = state.range(0);
  for (auto _ : state) {
    done.store(0);
    a.tell(ball{rounds});
    while (done.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  }
  state.SetItemsProcessed(state.iterations() * rounds);
}
BENCHMARK(ping_pong)->Arg(1000000)->UseRealTime()->Unit(benchmark::kMillisecond);

void spawn(benchmark::State& state) {
  const long n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    {
      volley::system sys;
      std::vector<volley::actor_ref<idle>> refs;
      refs.reserve(n);
      state.ResumeTiming();
      for (long i = 0; i < n; ++i) refs.push_back(sys.spawn<idle>());
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(spawn)->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
