#include "machine_probe.hpp"

#include <volley/affinity/topology.hpp>
#include <volley/affinity/worker_plan.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <sched.h>

namespace volley::bench {

std::vector<int> probe_cpus(int workers) {
  // The first two CPUs of the engine's plan for at least two workers, also
  // for a one-worker run: it is the machine's state that the probe records,
  // and a sweep's one-worker runs are probed on the same pair as its
  // two-worker runs. (A one-worker run once probed its CPU against itself:
  // two spinning threads pinned to one CPU hand the line over only when
  // the kernel preempts one, a time slice per exchange, and 20,000
  // exchanges kept the runner in its probe for over 8 minutes at load ~8.)
  const unsigned cpus_online = std::max(1u, std::thread::hardware_concurrency());
  try {
    affinity::plan_options options;
    options.workers = static_cast<unsigned>(std::max(2, workers));
    auto plan = affinity::make_plan(affinity::topology::detect(), options);
    const int a = plan.workers[0].pu;
    const int b = plan.workers.size() > 1 ? plan.workers[1].pu : a;
    if (a >= 0 && b >= 0) return a == b ? std::vector<int>{a} : std::vector<int>{a, b};
  } catch (const std::exception&) {
    // a bad VOLLEY_CPUS: the engine would refuse it too; probe CPUs 0 and 1.
  }
  return cpus_online > 1 ? std::vector<int>{0, 1} : std::vector<int>{0};
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
  if (cpu_a == cpu_b) return std::nullopt;  // no line crosses: see probe_cpus
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

namespace {

// The median over `batches` batches of `per_batch` steps of `chain` (which
// runs the steps it is given and returns a value that depends on all of
// them) on the calling thread, in ns per step: the median ignores a batch
// that a preemption hit, as the round trip's does. std::nullopt if the
// chain's result is 0 (it never is: the chains keep a bit set), which keeps
// the compiler from dropping the loops.
template <class Chain>
std::optional<double> median_step_ns(int batches, int per_batch, Chain& chain) {
  std::vector<double> batch_ns;
  std::uint64_t sink = 0;
  for (int batch = 0; batch < batches; ++batch) {
    auto start = std::chrono::steady_clock::now();
    sink += chain(per_batch);
    auto ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    batch_ns.push_back(ns / per_batch);
  }
  if (sink == 0 || batch_ns.empty()) return std::nullopt;
  std::sort(batch_ns.begin(), batch_ns.end());
  return batch_ns[batch_ns.size() / 2];
}

// median_step_ns over 40 batches of `steps` in all, on a thread pinned to
// `cpu`; std::nullopt if it cannot be pinned.
template <class Chain>
std::optional<double> pinned_step_ns(int cpu, int steps, Chain chain) {
  constexpr int batches = 40;
  std::optional<double> out;
  std::thread t([&] {
    if (pin_to(cpu)) out = median_step_ns(batches, std::max(1, steps / batches), chain);
  });
  t.join();
  return out;
}

// A fixed dependent chain of integer multiply-adds: each step needs the
// last, so the chain's latency, not the core's width, sets the time, and
// the figure is the same for every build.
class compute_chain {
 public:
  std::uint64_t operator()(int n) {
    for (int i = 0; i < n; ++i) {
      x_ = x_ * 6364136223846793005ULL + 1442695040888963407ULL;
      x_ ^= x_ >> 29;
    }
    return x_ | 1;
  }

 private:
  std::uint64_t x_ = 0x9e3779b97f4a7c15ULL;
};

// Twelve chains of two one-cycle operations each, none waiting for
// another: 24 operations a step, which the core's integer units (four on
// the EPYC's Zen 4, six on recent Intel cores) issue as fast as they can
// take them. The empty asm keeps the chains in general registers, so the
// compiler neither vectorises nor merges them: the figure is the scalar
// issue rate, the resource a busy SMT sibling halves.
class issue_chains {
 public:
  std::uint64_t operator()(int n) {
    auto [a, b, c, d, e, f, g, h, i, j, k, l] = v_;
    for (int step = 0; step < n; ++step) {
      a += b, a ^= a << 7, b += c, b ^= b << 7, c += d, c ^= c << 7;
      d += e, d ^= d << 7, e += f, e ^= e << 7, f += g, f ^= f << 7;
      g += h, g ^= g << 7, h += i, h ^= h << 7, i += j, i ^= i << 7;
      j += k, j ^= j << 7, k += l, k ^= k << 7, l += a, l ^= l << 7;
      asm volatile(""
                   : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h),
                     "+r"(i), "+r"(j), "+r"(k), "+r"(l));
    }
    v_ = {a, b, c, d, e, f, g, h, i, j, k, l};
    return (a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ i ^ j ^ k ^ l) | 1;
  }

 private:
  std::array<std::uint64_t, 12> v_ = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
};

}  // namespace

std::optional<double> compute_step_ns(int cpu, int steps) {
  return pinned_step_ns(cpu, steps, compute_chain{});
}

std::optional<double> issue_step_ns(int cpu, int steps) {
  return pinned_step_ns(cpu, steps, issue_chains{});
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
  nlohmann::json out = {{"round_trip_ns", nullptr},
                        {"mhz", nullptr},
                        {"compute_ns", nullptr},
                        {"issue_ns", nlohmann::json::array()}};
  if (cpus.size() >= 2)
    if (auto rt = cache_line_round_trip_ns(cpus[0], cpus[1])) out["round_trip_ns"] = *rt;
  if (auto mhz = cpu_mhz(cpus)) out["mhz"] = *mhz;
  // Every CPU, not only the first: the host's sibling load and its clock
  // are per vCPU, and a workload serialised on one worker runs on either.
  // Each CPU's compute step is taken just before its issue step, so the two
  // see the same clock (spread_cause.hpp divides one by the other).
  out["compute_cpus_ns"] = nlohmann::json::array();
  for (std::size_t n = 0; n < cpus.size(); ++n) {
    auto compute = compute_step_ns(cpus[n]);
    auto issue = issue_step_ns(cpus[n]);
    if (n == 0 && compute) out["compute_ns"] = *compute;
    out["compute_cpus_ns"].push_back(compute ? nlohmann::json(*compute) : nlohmann::json());
    out["issue_ns"].push_back(issue ? nlohmann::json(*issue) : nlohmann::json());
  }
  return out;
}

run_sampler::run_sampler(const std::vector<int>& cpus, std::chrono::milliseconds interval)
    : interval_(interval), samples_(cpus.size()) {
  threads_.reserve(cpus.size());
  for (std::size_t n = 0; n < cpus.size(); ++n)
    threads_.emplace_back([this, cpu = cpus[n], &mine = samples_[n]] {
      if (!pin_to(cpu)) return;  // an unpinned step says nothing of `cpu`: no samples
      compute_chain compute;
      issue_chains issue;
      std::unique_lock lock(stop_mutex_);
      while (!stop_cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        // Compute step just before issue step, as in probe_now.
        auto c = median_step_ns(sample_batches, sample_batch_steps, compute);
        auto i = median_step_ns(sample_batches, sample_batch_steps, issue);
        if (c && i) mine.compute_ns.push_back(*c), mine.issue_ns.push_back(*i);
        lock.lock();
      }
    });
}

run_sampler::~run_sampler() {
  stop();
}

void run_sampler::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

nlohmann::json run_sampler::finish() {
  stop();
  nlohmann::json out = {{"interval_s", std::chrono::duration<double>(interval_).count()},
                        {"compute_cpus_ns", nlohmann::json::array()},
                        {"issue_ns", nlohmann::json::array()}};
  // To the picosecond: the samples' own noise is ten times that.
  auto rounded = [](const std::vector<double>& ns) {
    auto out = nlohmann::json::array();
    for (double v : ns) out.push_back(std::round(v * 1000) / 1000);
    return out;
  };
  for (const auto& cpu : samples_) {
    out["compute_cpus_ns"].push_back(rounded(cpu.compute_ns));
    out["issue_ns"].push_back(rounded(cpu.issue_ns));
  }
  return out;
}

}  // namespace volley::bench
