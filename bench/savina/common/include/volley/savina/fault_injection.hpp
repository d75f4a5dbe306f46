#pragma once
/// Faults a workload run can be asked to suffer, so that a test can show its
/// answer check fails when a message is lost or duplicated.
///
///     volley-savina --workload ping-pong --inject-fault dup --deadline 20 ...
///
/// Each workload marks one send as the fault site: it sends
/// `copies_of_marked_message()` copies instead of one. That is 1 in every
/// normal run; with `--inject-fault drop` the first call returns 0, with
/// `dup` 2, and every later call 1. The workload's checks (exact counts on
/// both sides, sequence numbers, checksums) must then fail: in the main
/// thread by throwing check_failed, inside an actor by `wrong_answer()`.
/// A lost message in a chain (ping-pong, thread ring) leaves the workload
/// waiting forever; `--deadline` turns that into a wrong answer too.

#include <string>
#include <string_view>

namespace volley::savina {

enum class fault { none, drop, dup };

/// Parses "none", "drop" or "dup"; false for anything else.
bool parse_fault(std::string_view text, fault& out);

/// Arms `f` for the next copies_of_marked_message() call (workload_main does
/// this before the workload starts).
void inject_fault(fault f);

/// How many copies of the marked message to send: 1, or once 0/2 as above.
/// Thread-safe; one relaxed load when no fault is armed.
int copies_of_marked_message();

/// Reports a wrong answer found inside an actor ("WRONG RESULT: what" on
/// stderr) and ends the process with exit status 2 at once: the measurement
/// is void, and the workload may never reach its completion otherwise.
[[noreturn]] void wrong_answer(const std::string& what);

/// Starts a watchdog: if the process still runs `seconds` from now it reports
/// "no answer after N s (a message was lost?)" as a wrong answer (exit 2).
/// seconds <= 0 does nothing.
void arm_deadline(double seconds);

}  // namespace volley::savina
