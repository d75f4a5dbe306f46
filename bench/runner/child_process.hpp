#pragma once
// Runs one workload binary as a child process with a wall-clock limit.
//
// The runner never runs a workload in its own process: a workload that
// hangs (CAF's fork-join creation from inside an actor never finishes) or
// crashes must cost one run, not the whole suite. The child gets its own
// process group so that a timeout kills whatever it started as well.

#include <chrono>
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
  std::string out;  ///< all of stdout
  std::string err;  ///< all of stderr
};

/// Runs `argv` (argv[0] is the program: a path, or a name looked up in PATH), waits at most
/// `limit`, and collects its output. Throws std::system_error if it cannot be started.
child_result run_child(const std::vector<std::string>& argv, std::chrono::duration<double> limit);

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
