#pragma once
// Runs one workload binary as a child process with a wall-clock limit.
//
// The runner never runs a workload in its own process: a workload that
// hangs (CAF's fork-join creation from inside an actor never finishes) or
// crashes must cost one run, not the whole suite. The child gets its own
// process group so that a timeout kills whatever it started as well.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace volley::bench {

struct child_result {
  int exit_code = -1;        ///< exit status, or -1 if killed by a signal
  int signal = 0;            ///< the signal that ended it, 0 if it exited
  bool timed_out = false;    ///< killed by us after the limit
  bool interrupted = false;  ///< killed by us because interrupt_signal() was set
  double wall_s = 0;
  double user_s = 0;     ///< the child's CPU time in user mode (wait4's rusage, all threads)
  double sys_s = 0;      ///< ... and in the kernel
  long max_rss_kib = 0;  ///< its peak resident set
  /// Context switches of all its threads (wait4's rusage): voluntary ones
  /// are waits (a worker parking, a blocking read); involuntary ones are
  /// preemptions, where another thread (its own or another process's) was
  /// given the CPU. They say whether a slow run was waiting or displaced.
  long voluntary_switches = 0;
  long involuntary_switches = 0;
  /// With `sample_threads`: the CPU time in seconds of each of its threads,
  /// summed by thread name (volley's workers are volley-w0, volley-w1,
  /// ...), from /proc/<pid>/task/*/schedstat as of the last sample, taken
  /// every 20 ms while it ran. Workers that exit at shutdown are missing
  /// from later samples, so the figures stop at most 20 ms before the
  /// workload's end. They say how a run spread over its workers: a
  /// ping-pong pair on one worker or on two.
  std::map<std::string, double> thread_cpu_s;
  std::string out;  ///< all of stdout
  std::string err;  ///< all of stderr
};

/// Runs `argv` (argv[0] is the program: a path, or a name looked up in PATH), waits at most
/// `limit`, and collects its output. Throws std::system_error if it cannot be started.
/// With `sample_threads`, also samples its threads' CPU time (thread_cpu_s); the
/// runner's wake-ups every 20 ms cost the machine about 0.1% of a CPU.
child_result run_child(const std::vector<std::string>& argv, std::chrono::duration<double> limit,
                       bool sample_threads = false);

/// The CPU time of each thread of process `pid`, in seconds, summed by
/// thread name (/proc/<pid>/task/*/comm and schedstat); empty if the
/// process is gone or the kernel keeps no schedstat.
std::map<std::string, double> thread_cpu_times(int pid);

/// Replaces `kept` with `sample` unless the sample's total is smaller: a
/// later sample that lost threads (they exited) says less than an earlier
/// one that had them.
void keep_later_sample(std::map<std::string, double>& kept, std::map<std::string, double> sample);

/// Asks every run_child in progress (and every later one) to kill its child's process
/// group and return with `interrupted` set, within about a second. Async-signal-safe:
/// the runner's SIGINT/SIGTERM handler calls it, so that an interrupted suite still
/// writes the runs it has.
void request_interrupt(int signal) noexcept;

/// The signal passed to request_interrupt, or 0.
int interrupt_signal() noexcept;

/// The last `max_lines` lines of `text` (for failure reports).
std::string tail_lines(const std::string& text, std::size_t max_lines);

}  // namespace volley::bench
