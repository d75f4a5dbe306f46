#pragma once
/// What one workload run reports, and how a workload says its answer is wrong.
///
/// A workload implementation (volley or CAF) returns a `measurement`; the
/// shared `workload_main` turns it into the JSON line the runner reads. A
/// workload that computes a wrong result throws `check_failed`, which
/// `workload_main` reports on stderr with exit status 2.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace volley::savina {

/// Thrown by a workload whose result is wrong.
class check_failed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws check_failed with `what` unless `condition` holds.
inline void check(bool condition, const std::string& what) {
  if (!condition) throw check_failed(what);
}

/// Figures of one run. `items` is what the workload's unit counts (messages
/// for "msg/s", actors for "actors/s", ...); throughput = items / elapsed_s.
struct measurement {
  double elapsed_s = 0;
  std::uint64_t messages = 0;
  std::uint64_t items = 0;
  /// Per-message latencies, only for latency workloads; summarised as
  /// percentiles in the JSON line, never printed whole.
  std::vector<std::int64_t> latencies_ns;
  /// What the run did beyond `messages`, where that can differ between
  /// runs or runtimes (the sleeping barber's customers turned away, naps,
  /// busy-wait steps): the JSON line's "details" object.
  std::vector<std::pair<std::string, std::int64_t>> details;
};

/// Wall-clock time of the measured part of a workload.
class stopwatch {
 public:
  stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Nanoseconds on the steady clock, for timestamps carried in messages.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Latency percentiles in nanoseconds (nearest-rank).
struct latency_summary {
  std::int64_t p50 = 0, p99 = 0, p999 = 0, max = 0;
  std::uint64_t count = 0;
};

/// Summarises `samples` (reordered in place). Empty input gives zeros.
latency_summary summarise_latencies(std::vector<std::int64_t>& samples);

}  // namespace volley::savina
