// engine/src/steal_gate.hpp — when a thief may take another worker's queued cells.
//
// What it is for
// ---------------
// A worker that runs out of work steals half of another worker's deque
// (scheduler.cpp, steal()). That is right for surplus work and wrong for a
// conversation: the cells in a busy worker's deque are usually the partners
// of the actor it is running (a mall and its chameneos, an arbitrator and
// its philosophers, a dictionary and its clients), and stealing them splits
// the conversation across cores, so that every later message crosses them
// (scheduler.hpp, "What a second worker costs"). One steal_gate per (thief,
// victim) pair decides, from what the thief reads of the victim at each
// look, whether this look may steal. Two rules, either one suffices:
//
//   * the oldest cell has waited: the same top index at two looks at least
//     `oldest_wait_before_steal` apart. A worker getting through its deque
//     takes its oldest cell every few picks, so its top moves; a stuck or
//     preempted worker's does not.
//   * the victim is backlogged: of its last `backlog_window` (or more)
//     activations, at least half ended with the actor still holding work
//     (requeued to its deque). Then its deque holds actors with work of
//     their own (fork-join's 60 actors with deep mailboxes), not partners
//     waiting for a reply, and it takes more than a few picks to reach them:
//     the first look steals. Without this rule a busy owner that rotates
//     through such a deque moves its top every ~8 picks, so the top rule
//     never fired, and the second worker took only injected work (fork-join
//     throughput lost 16%: 21.5 → 18.1 M msg/s, reports/s4).
//
// The look is four relaxed loads of words the victim writes (its deque's
// top and bottom, its activation and requeue counts); the counts are read
// only when the deque is non-empty. A wrong answer delays a steal or lets
// one through early; it never loses a cell (the steal itself is the deque's
// CAS). Tested by tests/engine/steal_gate_test.cpp; the locality it exists
// for by dispatch_test ("a hub and its clients stay on one worker").
#pragma once

#include <chrono>
#include <cstdint>

namespace volley::detail {

// A thief steals from a victim's deque once its oldest cell has sat there
// this long (the same top index at two looks this far apart). A worker that
// is getting through its deque takes its oldest cell every `fifo_interval`
// picks (scheduler.cpp) — a few hundred ns each, a few µs in all — and
// those cells are usually a conversation with the actor it is running.
// 50 µs: longer than a hub's activation of `throughput` messages (64 ×
// ~100-200 ns), so the hub's queue is not taken for stuck while the hub
// drains its mailbox; about one futex wake-to-run (~38 µs), so work that
// waited less than that would not have been run sooner by waking a sleeper
// either. Measured (VOLLEY_SCHED_STATS build, 2 workers, VM load 8-12, one
// run each; steals without the gate → 10 µs → 100 µs → 1 ms): dining 17.8k
// → 169 → 127 → 106, dictionary 113k → 2.1k → 1.8k → 1.1k; CPU per message
// did not differ between 10 µs and 100 µs, and 1 ms would delay real
// surplus by up to a whole nap for no gain. A searcher's own spin also lasts
// `spin_before_park` (50 µs), so a top first seen in this search is rarely
// stolen before it parks: in practice the top rule fires across searches
// and naps, and surplus is taken by the backlog rule.
inline constexpr std::chrono::nanoseconds oldest_wait_before_steal{50'000};

// The backlog rule judges the victim's last this-many activations (or more:
// the window closes at the first look after that many). Short enough to
// follow a change of workload within a few µs of the victim's time; long
// enough that one hub whose mailbox exceeds the budget (chameneos' mall
// with 100 clients, requeued once per ~65 activations) never makes half of
// a window: it takes 4 requeues in 8, i.e. at least 4 actors with work left.
inline constexpr std::uint32_t backlog_window = 8;

/// What a thief reads of one victim at one look.
struct victim_look {
  std::int64_t size = 0;          ///< cells in its deque
  std::int64_t top = 0;           ///< index of its oldest cell
  std::uint32_t activations = 0;  ///< activations it has started (wraps)
  std::uint32_t requeues = 0;     ///< activations that ended with work left (wraps)
};

/// One thief's memory of one victim, and the rule above. Owned and used by
/// the thief only: no synchronisation.
class steal_gate {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// A look at the victim at time `at`: may the thief steal now? `look`'s
  /// counts are used only when `look.size > 0`.
  bool may_steal(const victim_look& look, time_point at,
                 std::chrono::nanoseconds wait = oldest_wait_before_steal) noexcept {
    if (look.size <= 0) {
      top_ = -1;  // the next cell to arrive starts its wait afresh
      return false;
    }
    judge_backlog(look);
    if (backlogged_) return true;
    if (look.top != top_) {
      top_ = look.top;
      since_ = at;
      return false;
    }
    return at - since_ >= wait;
  }

  /// Whether the last closed window found the victim backlogged.
  bool backlogged() const noexcept { return backlogged_; }

 private:
  void judge_backlog(const victim_look& look) noexcept {
    if (!window_open_) {
      window_open_ = true;
      window_ = look;
      return;
    }
    // Unsigned differences: the counts wrap, the windows are short.
    const std::uint32_t ran = look.activations - window_.activations;
    if (ran < backlog_window) return;
    const std::uint32_t requeued = look.requeues - window_.requeues;
    backlogged_ = 2 * std::uint64_t{requeued} >= ran;
    window_ = look;
  }

  std::int64_t top_ = -1;  ///< the victim's top at the look that started the wait
  time_point since_{};
  victim_look window_{};  ///< the counts when the current window opened
  bool window_open_ = false;
  bool backlogged_ = false;
};

}  // namespace volley::detail
