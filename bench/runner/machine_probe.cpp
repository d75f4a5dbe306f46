#include "machine_probe.hpp"

#include <volley/affinity/topology.hpp>
#include <volley/affinity/worker_plan.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <sched.h>

namespace volley::bench {

std::vector<int> probe_cpus(int workers) {
  try {
    affinity::plan_options options;
    options.workers = static_cast<unsigned>(std::max(2, workers));
    auto plan = affinity::make_plan(affinity::topology::detect(), options);
    int a = plan.workers[0].pu;
    int b = plan.workers.size() > 1 && workers > 1 ? plan.workers[1].pu : a;
    if (a >= 0 && b >= 0) return {a, b};
  } catch (const std::exception&) {
    // a bad VOLLEY_CPUS: the engine would refuse it too; probe CPUs 0 and 1.
  }
  return {0, std::thread::hardware_concurrency() > 1 ? 1 : 0};
}

namespace {

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace

std::optional<double> cache_line_round_trip_ns(int cpu_a, int cpu_b, int round_trips) {
  // One counter: thread A moves it from even to odd, thread B from odd to
  // even. Each step waits for the other thread's store, so one round trip is
  // two cache-line transfers. 64-byte alignment keeps the line to itself.
  struct alignas(64) line {
    std::atomic<std::int64_t> value{0};
  } shared;
  std::atomic<bool> pinned_b{true};
  // 40 batches: their means' median ignores a batch hit by a preemption.
  constexpr int batches = 40;
  const int per_batch = std::max(1, round_trips / batches);
  std::thread b([&] {
    if (!pin_to(cpu_b)) pinned_b = false;
    for (std::int64_t expect = 1; expect < 2LL * batches * per_batch; expect += 2) {
      // acquire/release: the counter is the only data; the orders just keep
      // the spin honest on weaker CPUs.
      while (shared.value.load(std::memory_order_acquire) != expect) {
      }
      shared.value.store(expect + 1, std::memory_order_release);
    }
  });
  bool pinned_a = false;
  std::vector<double> batch_ns;
  std::thread a([&] {
    pinned_a = pin_to(cpu_a);
    std::int64_t next = 0;
    for (int batch = 0; batch < batches; ++batch) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < per_batch; ++i) {
        shared.value.store(next + 1, std::memory_order_release);
        while (shared.value.load(std::memory_order_acquire) != next + 2) {
        }
        next += 2;
      }
      auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                    .count();
      batch_ns.push_back(ns / per_batch);
    }
  });
  a.join();
  b.join();
  if (!pinned_a || !pinned_b) return std::nullopt;
  std::sort(batch_ns.begin(), batch_ns.end());
  return batch_ns[batch_ns.size() / 2];
}

std::vector<std::uint64_t> read_cpu_ticks() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  std::vector<std::uint64_t> ticks;
  if (label != "cpu") return ticks;
  std::string line;
  std::getline(in, line);
  std::istringstream columns(line);
  for (std::uint64_t v = 0; columns >> v;) ticks.push_back(v);
  return ticks;
}

namespace {

// /proc/stat's cpu columns up to steal: user nice system idle iowait irq
// softirq steal (guest and guest_nice are already inside user, so they are
// left out of the total).
enum tick_column : std::size_t { idle = 3, iowait = 4, steal = 7, tick_columns = 8 };

// Ticks spent in each of those columns between two readings; nothing when a
// reading is short or no tick passed.
std::optional<std::array<std::uint64_t, tick_columns>> tick_deltas(
    const std::vector<std::uint64_t>& before, const std::vector<std::uint64_t>& after) {
  if (before.size() < tick_columns || after.size() < tick_columns) return std::nullopt;
  std::array<std::uint64_t, tick_columns> d{};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < tick_columns; ++i) total += d[i] = after[i] - before[i];
  if (total == 0) return std::nullopt;
  return d;
}

double share(const std::array<std::uint64_t, tick_columns>& d, std::uint64_t part) {
  std::uint64_t total = 0;
  for (auto t : d) total += t;
  return static_cast<double>(part) / static_cast<double>(total);
}

}  // namespace

std::optional<double> steal_fraction(const std::vector<std::uint64_t>& before,
                                     const std::vector<std::uint64_t>& after) {
  auto d = tick_deltas(before, after);
  if (!d) return std::nullopt;
  return share(*d, (*d)[steal]);
}

std::optional<double> busy_fraction(const std::vector<std::uint64_t>& before,
                                    const std::vector<std::uint64_t>& after) {
  // Busy: user, nice, system, irq, softirq; not idle, iowait or steal.
  auto d = tick_deltas(before, after);
  if (!d) return std::nullopt;
  std::uint64_t busy = 0;
  for (std::size_t i = 0; i < tick_columns; ++i)
    if (i != idle && i != iowait && i != steal) busy += (*d)[i];
  return share(*d, busy);
}

std::optional<double> compute_step_ns(int cpu, int steps) {
  // 40 batches, as in the round trip: the median ignores a preempted one.
  constexpr int batches = 40;
  const int per_batch = std::max(1, steps / batches);
  std::vector<double> batch_ns;
  bool pinned = false;
  std::uint64_t sink = 0;
  std::thread t([&] {
    pinned = pin_to(cpu);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int batch = 0; batch < batches; ++batch) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < per_batch; ++i) {
        // Each step needs the last: the chain's latency, not the core's
        // width, sets the time, so the figure is the same for every build.
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        x ^= x >> 29;
      }
      auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                    .count();
      batch_ns.push_back(ns / per_batch);
    }
    sink = x;
  });
  t.join();
  // The chain's result is used, so the compiler keeps the loop.
  if (!pinned || sink == 0) return std::nullopt;
  std::sort(batch_ns.begin(), batch_ns.end());
  return batch_ns[batch_ns.size() / 2];
}

std::optional<double> cpu_mhz(const std::vector<int>& cpus) {
  double sum = 0;
  int seen = 0;
  for (int cpu : cpus) {
    std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                     "/cpufreq/scaling_cur_freq");
    double khz = 0;
    if (in >> khz && khz > 0) sum += khz / 1000, ++seen;
  }
  if (seen > 0) return sum / seen;
  // No cpufreq (common on VMs): /proc/cpuinfo's "cpu MHz" of those processors.
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  int processor = -1;
  while (std::getline(info, line)) {
    if (line.rfind("processor", 0) == 0) {
      processor = std::stoi(line.substr(line.find(':') + 1));
    } else if (line.rfind("cpu MHz", 0) == 0 &&
               std::find(cpus.begin(), cpus.end(), processor) != cpus.end()) {
      sum += std::stod(line.substr(line.find(':') + 1));
      ++seen;
    }
  }
  if (seen > 0) return sum / seen;
  return std::nullopt;
}

nlohmann::json probe_now(const std::vector<int>& cpus) {
  nlohmann::json out = {{"round_trip_ns", nullptr}, {"mhz", nullptr}, {"compute_ns", nullptr}};
  if (cpus.size() >= 2)
    if (auto rt = cache_line_round_trip_ns(cpus[0], cpus[1])) out["round_trip_ns"] = *rt;
  if (auto mhz = cpu_mhz(cpus)) out["mhz"] = *mhz;
  if (!cpus.empty())
    if (auto step = compute_step_ns(cpus[0])) out["compute_ns"] = *step;
  return out;
}

}  // namespace volley::bench
