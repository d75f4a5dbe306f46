// bench/micro/queues_bench.cpp — throughput of volley's queues against
// moodycamel::ConcurrentQueue and a std::mutex + std::deque baseline.
//
// Transfer benchmarks: one benchmark iteration moves a batch of items from
// N producer threads (started for the iteration) to one consumer (the
// benchmark thread). Wall time covers the whole transfer, so items/s is what
// the consumer actually received per second. With one producer the two
// threads are run twice: pinned to CPUs 1 and 0 (when there are two), as in
// the reference measurement of a raw Vyukov queue, and floating; with
// several producers they float.
//
// Deque benchmarks: the owner's push+pop pair (one thread), and a thief
// stealing (one at a time or half at a time) from an owner that keeps
// pushing.
//
// Injection queue: an empty pop after N threads have pushed once each (what
// an idle worker pays per search spin), and how far one quiet producer's
// items are overtaken by busy producers' later items.
//
//   volley-micro-queues --benchmark_filter=transfer/intrusive
#include <volley/queues/bounded_mpsc.hpp>
#include <volley/queues/injection_queue.hpp>
#include <volley/queues/intrusive_mpsc.hpp>
#include <volley/queues/work_stealing_deque.hpp>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <concurrentqueue/concurrentqueue.h>

namespace q = volley::queues;

namespace {

// Items per benchmark iteration: large enough that starting the producer
// threads (~50 us) is under 0.5% of an iteration at 20 M items/s.
constexpr std::uint64_t batch = 1 << 20;

// Spin briefly, then yield: on a 2-core machine with more threads than
// cores a pure spin would burn the time slice the other side needs.
inline void relax(unsigned& spins) {
  if (++spins < 128) return;
  spins = 0;
  std::this_thread::yield();
}

bool pin_to(unsigned cpu) {
  if (std::thread::hardware_concurrency() < 2) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// Restores the benchmark thread's CPU mask when a pinned run ends.
class affinity_guard {
 public:
  affinity_guard() { pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_); }
  ~affinity_guard() { pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_); }

 private:
  cpu_set_t saved_;
};

// -- queue adapters: push(producer, value), pop(value) ------------------------

struct mutex_deque {
  explicit mutex_deque(unsigned) {}
  std::mutex m;
  std::deque<std::uint64_t> d;
  void push(unsigned, std::uint64_t v) {
    std::lock_guard lock(m);
    d.push_back(v);
  }
  bool pop(std::uint64_t& v) {
    std::lock_guard lock(m);
    if (d.empty()) return false;
    v = d.front();
    d.pop_front();
    return true;
  }
};

struct moodycamel_queue {
  explicit moodycamel_queue(unsigned) {}
  moodycamel::ConcurrentQueue<std::uint64_t> q;
  void push(unsigned, std::uint64_t v) { q.enqueue(v); }
  bool pop(std::uint64_t& v) { return q.try_dequeue(v); }
};

struct injection {
  explicit injection(unsigned) {}
  q::injection_queue<std::uint64_t> q;
  void push(unsigned, std::uint64_t v) { q.push(v); }
  bool pop(std::uint64_t& v) {
    auto x = q.try_pop();
    if (!x) return false;
    v = *x;
    return true;
  }
};

struct bounded {
  // 1024 slots: a typical bounded mailbox size; at this size producers
  // rarely find the ring full unless the consumer is descheduled.
  explicit bounded(unsigned) : q(1024) {}
  q::bounded_mpsc<std::uint64_t> q;
  void push(unsigned, std::uint64_t v) {
    unsigned spins = 0;
    while (!q.try_push(v)) relax(spins);
  }
  bool pop(std::uint64_t& v) {
    auto x = q.try_pop();
    if (!x) return false;
    v = *x;
    return true;
  }
};

// A message as the engine allocates it: one new per send, freed by the
// consumer one pop later (the retired node). 16 bytes.
struct fresh_node : q::mpsc_node {
  std::uint64_t value;
};

struct intrusive_fresh {
  explicit intrusive_fresh(unsigned) {}
  q::intrusive_mpsc q{false};
  void push(unsigned, std::uint64_t v) {
    auto* n = new fresh_node;
    n->value = v;
    q.push(n);
  }
  bool pop(std::uint64_t& v) {
    q::mpsc_node* retired = nullptr;
    q::mpsc_node* n = q.pop(retired);
    if (!n) return false;
    v = static_cast<fresh_node*>(n)->value;
    delete static_cast<fresh_node*>(retired);
    return true;
  }
  ~intrusive_fresh() { delete static_cast<fresh_node*>(q.release_stub()); }
};

// Nodes from a per-producer ring that the consumer hands back (a cache-hot
// free list, as a pooled allocator gives). One cache line per node.
struct alignas(64) pooled_node : q::mpsc_node {
  std::atomic<bool> in_use{false};
  std::uint64_t value = 0;
};

struct intrusive_recycled {
  // 1024 nodes per producer (64 KiB): enough slack that a producer rarely
  // waits for the consumer to hand a node back, small enough to stay in L2.
  static constexpr std::size_t pool_size = 1024;
  explicit intrusive_recycled(unsigned producers) : pools(producers), next(producers, 0) {
    for (auto& p : pools) p = std::make_unique<pooled_node[]>(pool_size);
  }
  q::intrusive_mpsc q{false};
  std::vector<std::unique_ptr<pooled_node[]>> pools;
  std::vector<std::size_t> next;  // each producer touches only its own entry

  void push(unsigned producer, std::uint64_t v) {
    pooled_node& n = pools[producer][next[producer]++ % pool_size];
    unsigned spins = 0;
    // acquire: pairs with the consumer's release, so its last read of the
    // node is done before we overwrite it.
    while (n.in_use.load(std::memory_order_acquire)) relax(spins);
    n.in_use.store(true, std::memory_order_relaxed);
    n.value = v;
    q.push(&n);
  }
  bool pop(std::uint64_t& v) {
    q::mpsc_node* retired = nullptr;
    q::mpsc_node* n = q.pop(retired);
    if (!n) return false;
    v = static_cast<pooled_node*>(n)->value;
    if (retired) static_cast<pooled_node*>(retired)->in_use.store(false, std::memory_order_release);
    return true;
  }
};

// -- transfer benchmark ---------------------------------------------------------

template <class Queue>
void transfer(benchmark::State& state) {
  const auto producers = static_cast<unsigned>(state.range(0));
  const std::uint64_t per_producer = batch / producers;
  const std::uint64_t total = per_producer * producers;
  affinity_guard restore;
  const bool pinned = state.range(1) != 0 && producers == 1 && pin_to(0);

  for (auto _ : state) {
    auto queue = std::make_unique<Queue>(producers);
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < producers; ++p) {
      threads.emplace_back([&queue, p, per_producer, pinned] {
        if (pinned) pin_to(1);
        for (std::uint64_t i = 0; i < per_producer; ++i) queue->push(p, i);
      });
    }
    std::uint64_t received = 0, sum = 0, v = 0;
    unsigned spins = 0;
    while (received < total) {
      if (queue->pop(v)) {
        sum += v;
        ++received;
      } else {
        relax(spins);
      }
    }
    benchmark::DoNotOptimize(sum);
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * total));
}

// 1:1 pinned (the clean figure on an idle machine) and floating (the fair
// one when other work shares the CPUs), then 2:1 and 4:1 floating.
void transfer_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"producers", "pinned"})
      ->Args({1, 1})
      ->Args({1, 0})
      ->Args({2, 0})
      ->Args({4, 0})
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(transfer, intrusive_fresh)
    ->Name("transfer/intrusive_mpsc_fresh")
    ->Apply(transfer_args);
BENCHMARK_TEMPLATE(transfer, intrusive_recycled)
    ->Name("transfer/intrusive_mpsc_recycled")
    ->Apply(transfer_args);
BENCHMARK_TEMPLATE(transfer, bounded)->Name("transfer/bounded_mpsc_1024")->Apply(transfer_args);
BENCHMARK_TEMPLATE(transfer, injection)->Name("transfer/injection_queue")->Apply(transfer_args);
BENCHMARK_TEMPLATE(transfer, moodycamel_queue)->Name("transfer/moodycamel")->Apply(transfer_args);
BENCHMARK_TEMPLATE(transfer, mutex_deque)->Name("transfer/mutex_deque")->Apply(transfer_args);

// -- work-stealing deque ----------------------------------------------------------

using deque = q::work_stealing_deque<std::uint64_t>;

// The owner's fast path: one push and one pop, no other thread.
void deque_owner_push_pop(benchmark::State& state) {
  deque d(256);
  std::uint64_t i = 0;
  for (auto _ : state) {
    d.push(i++);
    benchmark::DoNotOptimize(d.pop());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(deque_owner_push_pop)->UseRealTime();

// Same with the deque kept half full, so pop never meets the last-item CAS.
void deque_owner_push_pop_deep(benchmark::State& state) {
  deque d(256);
  for (std::uint64_t i = 0; i < 128; ++i) d.push(i);
  std::uint64_t i = 0;
  for (auto _ : state) {
    d.push(i++);
    benchmark::DoNotOptimize(d.pop());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(deque_owner_push_pop_deep)->UseRealTime();

// A thief takes `batch` items from an owner that pushes them as fast as the
// deque has room (pinned to separate CPUs). range(0) = 1: steal one at a
// time; 0: steal_half into the thief's own deque, then pop it.
void deque_steal(benchmark::State& state) {
  const bool one_by_one = state.range(0) == 1;
  affinity_guard restore;
  const bool pinned = pin_to(0);
  for (auto _ : state) {
    deque victim(256), mine(256);
    std::thread owner([&] {
      if (pinned) pin_to(1);
      unsigned spins = 0;
      for (std::uint64_t i = 0; i < batch;) {
        if (victim.push(i)) {
          ++i;
        } else {
          relax(spins);
        }
      }
    });
    std::uint64_t got = 0, sum = 0, v = 0;
    unsigned spins = 0;
    while (got < batch) {
      if (one_by_one) {
        if (victim.steal(v) == deque::steal_result::success) {
          sum += v;
          ++got;
          continue;
        }
      } else if (auto first = victim.steal_half(mine)) {
        sum += *first;
        ++got;
        while (auto x = mine.pop()) {
          sum += *x;
          ++got;
        }
        continue;
      }
      relax(spins);
    }
    benchmark::DoNotOptimize(sum);
    owner.join();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
}
BENCHMARK(deque_steal)
    ->ArgName("one_by_one")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// -- injection queue: empty pop with many past producers, and overtaking ------------

// moodycamel keeps one sub-queue per thread that ever pushed, for good. A
// worker polls the injection queue on every search spin, mostly finding it
// empty, so what an empty pop costs after `producers` threads have pushed
// once each is what an idle worker pays per spin. range(0): past producers;
// the variants: volley's try_pop, its try_pop with a consumer token (what
// the workers use), and moodycamel's own try_dequeue for comparison.
template <class Queue>
void register_past_producers(Queue& queue, unsigned producers) {
  // All alive at once: moodycamel keys a sub-queue by thread id, and a
  // thread started after another was joined may reuse its id (and then its
  // sub-queue), which would register one producer instead of N.
  std::atomic<unsigned> pushed{0};
  std::vector<std::thread> threads;
  threads.reserve(producers);
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&queue, &pushed, p, producers] {
      queue.push(p);
      pushed.fetch_add(1);
      while (pushed.load() < producers) std::this_thread::yield();
    });
  }
  for (auto& t : threads) t.join();
  while (queue.try_pop()) {
  }
}

struct raw_moodycamel_pop {
  moodycamel::ConcurrentQueue<std::uint64_t> q;
  void push(std::uint64_t v) { q.enqueue(v); }
  bool try_pop() {
    std::uint64_t v;
    return q.try_dequeue(v);
  }
};

void injection_empty_pop(benchmark::State& state) {
  q::injection_queue<std::uint64_t> queue;
  register_past_producers(queue, static_cast<unsigned>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(queue.try_pop());
}
BENCHMARK(injection_empty_pop)->ArgName("past_producers")->Arg(1)->Arg(32)->Arg(128)->Arg(512);

void injection_empty_pop_token(benchmark::State& state) {
  q::injection_queue<std::uint64_t> queue;
  register_past_producers(queue, static_cast<unsigned>(state.range(0)));
  q::injection_queue<std::uint64_t>::consumer me(queue);
  for (auto _ : state) benchmark::DoNotOptimize(queue.try_pop(me));
}
BENCHMARK(injection_empty_pop_token)
    ->ArgName("past_producers")
    ->Arg(1)
    ->Arg(32)
    ->Arg(128)
    ->Arg(512);

void moodycamel_empty_pop(benchmark::State& state) {
  raw_moodycamel_pop queue;
  register_past_producers(queue, static_cast<unsigned>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(queue.try_pop());
}
BENCHMARK(moodycamel_empty_pop)->ArgName("past_producers")->Arg(1)->Arg(32)->Arg(128)->Arg(512);

// How far one producer's item can be overtaken in the injection queue: four
// busy producers and one quiet one (an item every 64 µs) push items stamped
// with a global sequence number; two consumers pop, logging each item at its
// global pop index. Afterwards, for each quiet item, the number of items
// with a *higher* sequence number popped before it (a Fenwick tree over the
// log) is how many later items overtook it; `max_overtaken` is the largest.
// range(0) = 1: consumers use tokens (the workers' way); 0: plain try_pop
// (moodycamel's fullest-first pick). At most 2 s or `log_cap` pops.
void injection_overtake(benchmark::State& state) {
  const bool tokens = state.range(0) == 1;
  constexpr unsigned busy = 4;
  constexpr unsigned consumers = 2;
  constexpr std::uint64_t quiet_items = 200;
  constexpr std::uint64_t quiet_bit = std::uint64_t{1} << 63;
  constexpr std::uint64_t log_cap = std::uint64_t{1} << 23;  // 64 MiB of log
  std::uint64_t worst = 0;
  std::uint64_t popped = 0;
  for (auto _ : state) {
    q::injection_queue<std::uint64_t> queue;
    std::vector<std::uint64_t> log(log_cap);
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> pops{0};
    std::atomic<bool> quiet_done{false};
    std::atomic<std::uint64_t> quiet_seen{0};
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < busy; ++p) {
      threads.emplace_back([&] {
        // Keep the queue deep (bounded, so memory stays flat).
        while (!quiet_done.load(std::memory_order_relaxed)) {
          if (queue.size_approx() < 200'000) {
            queue.push(seq.fetch_add(1, std::memory_order_relaxed));
          } else {
            std::this_thread::yield();
          }
        }
      });
    }
    threads.emplace_back([&] {
      for (std::uint64_t i = 0; i < quiet_items && !quiet_done.load(); ++i) {
        queue.push(seq.fetch_add(1, std::memory_order_relaxed) | quiet_bit);
        std::this_thread::sleep_for(std::chrono::microseconds(64));
      }
    });
    for (unsigned c = 0; c < consumers; ++c) {
      threads.emplace_back([&] {
        q::injection_queue<std::uint64_t>::consumer me(queue);
        // A starved quiet item may never come out: give up after 2 s (the
        // counter quiet_popped then says how many did).
        auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        for (std::uint64_t n = 0; quiet_seen.load(std::memory_order_relaxed) < quiet_items; ++n) {
          if ((n & 1023) == 0 && std::chrono::steady_clock::now() > give_up) break;
          auto v = tokens ? queue.try_pop(me) : queue.try_pop();
          if (!v) continue;
          std::uint64_t at = pops.fetch_add(1, std::memory_order_relaxed);
          if (at >= log_cap) break;
          log[at] = *v;
          if (*v & quiet_bit) quiet_seen.fetch_add(1, std::memory_order_relaxed);
        }
        quiet_done = true;
      });
    }
    for (auto& t : threads) t.join();
    // Later items popped before each quiet one, from the log in pop order.
    const std::uint64_t logged = std::min(pops.load(), log_cap);
    std::vector<std::uint32_t> fenwick(seq.load() + 1, 0);  // counts of popped sequence numbers
    auto add = [&](std::uint64_t i) {
      for (++i; i < fenwick.size(); i += i & (~i + 1)) ++fenwick[i];
    };
    auto at_most = [&](std::uint64_t i) {  // popped so far with sequence <= i
      std::uint64_t n = 0;
      for (++i; i > 0; i -= i & (~i + 1)) n += fenwick[i];
      return n;
    };
    for (std::uint64_t k = 0; k < logged; ++k) {
      std::uint64_t v = log[k] & ~quiet_bit;
      if (log[k] & quiet_bit) worst = std::max(worst, k - at_most(v));
      add(v);
    }
    popped = quiet_seen.load();
  }
  state.counters["max_overtaken"] = static_cast<double>(worst);
  state.counters["quiet_popped"] = static_cast<double>(popped);
  state.counters["quiet_pushed"] = static_cast<double>(quiet_items);
}
BENCHMARK(injection_overtake)
    ->ArgName("tokens")
    ->Arg(1)
    ->Arg(0)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
