#pragma once
// What the machine was doing around a run: the figures that explain why two
// runs of the same commit on the same VM can differ by 4x.
//
// On a VM the host moves vCPUs between physical cores; the cache-line round
// trip between the two CPUs the workers use then jumps (80 ns against 315 ns
// on the project's machine), and every message-passing workload follows it.
// The runner takes these probes before and after every run and the report
// groups repetitions by them:
//   - round_trip_ns: median time for one cache line to go from one CPU to the
//     other and back (two threads pinned to the CPUs the first two workers
//     use, ping-ponging a counter in one atomic);
//   - steal: the share of CPU time the hypervisor gave to someone else while
//     the run ran (/proc/stat's `steal` over all its columns);
//   - mhz: the mean current frequency of those CPUs, if the kernel says;
//   - compute_ns: the time of one step of a fixed chain of dependent integer
//     operations on the first of those CPUs (compute_cpus_ns: on each of
//     them, since 2026-12-03; the host's clock may differ per vCPU). It sees what the round trip
//     does not: the host running that vCPU slower (a lower clock the VM is
//     not told of). A compute-bound workload (trapezoid) slows with it and
//     not with the round trip. A chain waits on its own latency, so a busy
//     SMT sibling barely moves it: that is issue_ns's part.
//   - issue_ns (one per probe CPU, in probe_cpus' order): the time of one
//     step of twelve independent chains of adds and shifts. The core's issue
//     width, not a chain's latency, sets it, so it sees what compute_ns
//     cannot: a host thread on the vCPU's SMT sibling (another guest), which
//     takes half the core's issue slots and shares its L1 and L2. On the
//     project's 2-vCPU VM (2026-11-30, a quiet guest) it read 2.62 ns most of
//     the time and 2.9-5.2 ns in bursts of a second or less, per CPU, while
//     compute_ns stayed at 1.63, and a busy loop on the other vCPU moved
//     neither (the two vCPUs are not each other's siblings): the load is
//     outside the guest. spread_cause.hpp says what the report makes of it.
// Beside the probes, the runner records how busy the machine's CPUs were
// while the run ran (busy_fraction of /proc/stat), so that a run that
// shared the machine with other processes can be told from one that did not.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace volley::bench {

/// The OS CPU numbers the probe pins its threads to: those of the engine's
/// first two workers (make_plan's order) for max(2, `workers`) workers, so
/// a one-worker run is probed on the same two CPUs as a two-worker one.
/// One CPU only on a machine (or a VOLLEY_CPUS) that offers one.
std::vector<int> probe_cpus(int workers);

/// Median round trip, in ns, of a cache line between `cpu_a` and `cpu_b`
/// over `round_trips` exchanges (split into batches whose per-batch means
/// give the median). std::nullopt if the threads cannot be pinned, or when
/// `cpu_a == cpu_b` (two spinning threads on one CPU exchange the line once
/// per time slice: that measures the kernel's scheduler, and takes minutes).
std::optional<double> cache_line_round_trip_ns(int cpu_a, int cpu_b, int round_trips = 20'000);

/// The `cpu` line of /proc/stat: ticks per column; empty if unreadable.
std::vector<std::uint64_t> read_cpu_ticks();

/// Share of ticks between two readings that were steal (column 8);
/// std::nullopt if either reading is missing or no time passed.
std::optional<double> steal_fraction(const std::vector<std::uint64_t>& before,
                                     const std::vector<std::uint64_t>& after);

/// Share of ticks between two readings that some task ran (user, nice,
/// system, irq, softirq) rather than idle, iowait or steal; std::nullopt if
/// either reading is missing or no time passed. Over all CPUs, so 0.5 on
/// two CPUs is one CPU's worth.
std::optional<double> busy_fraction(const std::vector<std::uint64_t>& before,
                                    const std::vector<std::uint64_t>& after);

/// Median time, in ns, of one step of a fixed dependent chain of integer
/// multiply-adds on `cpu` over `steps` steps (split into batches whose
/// per-batch means give the median); std::nullopt if it cannot be pinned.
std::optional<double> compute_step_ns(int cpu, int steps = 400'000);

/// Median time, in ns, of one step of twelve independent add-and-shift
/// chains on `cpu` over `steps` steps (batches, as compute_step_ns); bound
/// by how many instructions the core issues per cycle, which an SMT sibling
/// shares. std::nullopt if it cannot be pinned.
std::optional<double> issue_step_ns(int cpu, int steps = 400'000);

/// Mean current frequency in MHz of `cpus` (cpufreq's scaling_cur_freq, else
/// /proc/cpuinfo's "cpu MHz"); std::nullopt when the kernel does not say.
std::optional<double> cpu_mhz(const std::vector<int>& cpus);

/// One probe as JSON: {"round_trip_ns", "mhz", "compute_ns", "compute_cpus_ns",
/// "issue_ns"} (null where unknown; compute_cpus_ns and issue_ns arrays with
/// one figure per CPU of `cpus`, null for a CPU that could not be pinned;
/// compute_ns the first CPU's, as in files from before compute_cpus_ns).
nlohmann::json probe_now(const std::vector<int>& cpus);

/// Probes taken while a run runs. The probes before and after a run miss
/// what happened in between, and on the Xeon VM of 2026-12-03 the host's
/// clock changed between them in 155 of 345 runs: such a
/// run was in no probe mode. A run_sampler wakes a thread pinned to each of
/// `cpus` every `interval` and takes a short compute step and issue step
/// there (sample_batches batches of sample_batch_steps steps, about 35 us
/// in all), so a 0.5 s run gets about five samples per CPU.
///
/// What it costs the run: the sample preempts the worker on that CPU for
/// about 35 us every 100 ms, 0.04% of its time, fewer than the 0.1% that
/// a p99.9 latency would notice; the runner's own threads, so the child's
/// CPU time (wait4) does not include them. Measured on the Xeon VM
/// (2026-12-03, 8 interleaved rounds with the runner's --sample-interval
/// 100 against 0): volley's throughput on against off 0.98 (ping-pong,
/// counting, thread ring) to 1.01 (fan-in, logistic map) by median, each
/// pair 0.76-1.33 apart; fan-in's p99.9 2.13 against 2.11 us. The short batches read the
/// compute step 0.6% slower than probe_now's 40 batches of 10,000 steps on
/// the Xeon VM (1.59 against 1.585 ns): an eighth of clock_drop_factor's
/// margin, so the two compare.
class run_sampler {
 public:
  static constexpr std::chrono::milliseconds default_interval{100};
  static constexpr int sample_batches = 6;
  static constexpr int sample_batch_steps = 1500;

  explicit run_sampler(const std::vector<int>& cpus,
                       std::chrono::milliseconds interval = default_interval);
  run_sampler(const run_sampler&) = delete;
  run_sampler& operator=(const run_sampler&) = delete;
  ~run_sampler();

  /// Stops the sampling and returns the samples: {"interval_s",
  /// "compute_cpus_ns": [[ns, ...] per CPU of `cpus`], "issue_ns": [the
  /// same]}, the i-th compute and issue figure of a CPU from one sample.
  /// A CPU that could not be pinned has none.
  nlohmann::json finish();

 private:
  void stop();

  struct cpu_samples {
    std::vector<double> compute_ns;
    std::vector<double> issue_ns;
  };
  std::chrono::milliseconds interval_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::vector<cpu_samples> samples_;  // one per CPU, written by its own thread only
  std::vector<std::thread> threads_;
};

}  // namespace volley::bench
