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
// look, whether this look may steal: once the victim's oldest cell has
// waited — the same top index at two looks at least
// `oldest_wait_before_steal` apart. A worker getting through its deque
// takes its oldest cell every few picks, so its top moves; a stuck or
// preempted worker's does not.
//
// A second rule was tried and taken out: steal at the first look from a
// victim whose recent activations mostly ended with work left (a
// "backlogged" owner, as fork-join's 60 actors with deep mailboxes make
// it). It did not bring fork-join throughput back (quiet A/B, 4 runs each,
// 2 workers: 17.5-18.9 M msg/s without it, 17.9-19.2 M with it), and it
// moved compute-bound actors between cores: matrix multiplication cost 40%
// more CPU per block with it (570-620k against 410-420k CPU-ns, two
// interleaved A/Bs of 4 runs; the suite run
// results/intel-xeon-2c/2026-11-29T09-24-22Z.json, which had it, shows
// volley at 0.67x CAF there).
//
// A thief that looks rarely (once per nap) also takes a backlog: a queue
// whose top moves, but so slowly that its oldest cell waits long by the
// rate the owner drains it (the drain-rate rule below), if the owner's
// activations are long: a conversation's queue on a worker that was off its
// CPU for part of the interval drains slowly by the clock too.
//
// Bank transaction's idle second worker (issue 9) is not the gate's: looked
// for, and left as it is. On 2 workers one worker parks for 180-250 ms of
// a 0.7-0.9 s run (stats build, load ~3), but in a single stretch at the
// end, and steals are 0-6 per run. In that stretch the teller runs alone,
// draining ~700k of its 750k confirmations: when the last confirmation
// was sent, 675-735k were still in its mailbox (the bench file timed by
// hand, ~20 runs; 690k on 1 worker), and it drains them in 125-220 ms,
// 200-300 ns each, its mailbox being far out of cache by then. Neither
// the gate's stalled wait (VOLLEY_STALLED_NS=0) nor the hand-back rule
// (VOLLEY_HAND_BACK=0) moved the park. The teller is starved by its own
// worker's LIFO order: its activation ends with work left, requeue() puts
// it at the deque's bottom, and the accounts' wake chain (each ask wakes
// an account into the LIFO slot, displacing the last onto the deque)
// buries it at once. Of its ~11.7k activations, ~1.4k came from the FIFO
// tick while the transfers ran and ~10.3k from plain pops after them.
// Tried in the stats build, not kept: a per-worker spot for a requeued
// cell, picked before the LIFO slot (unsafe as written: no thief sees
// the spot). The teller kept up (at most 700 confirmations left when
// the last was sent), the end's park went (60-95 ms parked per run, down
// from ~200) and cell moves halved. Yet bank did not speed up. In an
// interleaved A/B on 2 workers (same binary, env toggle, bench build,
// load 3.0-3.8), 9 pairs gave 4.98 against 5.30 M msg/s by medians,
// with a median pair ratio of 1.01. An earlier 9 pairs gave 1.15. The
// transfers took longer by what the tail lost. So the work lost to bank's
// second worker lies in the requeue of a backlogged cell and in what
// each message costs, not in the gate.
//
// Re-measured with the backlog printed (bank_transaction.cpp built with
// VOLLEY_BANK_STATS=1; stats build, 2 workers, load ~2.5): the start
// handler ends at 44-65 ms with 2-10k confirmations unhandled, the last
// one is sent at 266-288 ms of a 433-439 ms run with 690-725k unhandled,
// and the teller drains those alone in the last ~150 ms, ~210 ns each:
// what any message of this workload costs (1 worker: 760 ms for 3 M
// messages), as each waits behind its actor's transfers and is out of
// cache when handled. Keeping up does not make the teller's work cheaper:
// a slot for requeued cells, served every other pick and admitting the
// teller alone, held the backlog at 1 on 1 worker, and 10 interleaved
// pairs cost the same CPU (medians 0.790 and 0.785 CPU-s, load 6-7). On 2
// workers it left 55-448k unhandled even when served at every pick (7
// runs; without it 692-722k in 6 of 7, 1 in one), probably because a
// drained teller is woken into a LIFO slot and can be displaced into the
// deque, where no requeue rule sees it (not counted). Admitting whichever
// cell is requeued first, the teller held the slot only part of the time:
// 130-590k unhandled (5 runs). No such slot is kept. The bound: busy time
// on 2 workers is about 1 worker's (2 x wall - parked: ~690 against ~760
// ms), so 2 workers can at best about double 1 worker's rate: the sweep on
// the suite's machine (results/amd-epyc-2c/2026-11-30T16-03-24Z.json) has
// 1 worker at 4.42 M msg/s by median (4.01-5.00 M), so 8.84 M by median
// and 8.02 M for the slowest repetition, against issue 9's 9.0 M for
// volley's slowest (3 x Erlang's fastest). Bank's 3x needs each message to
// cost less, not only the lone drain spread over both workers.
// On the Zen 5 VM with a quiet host (2026-12-02, the suite's probes around
// then read ~83 ns; bench build with VOLLEY_BANK_STATS=1, 3 runs each):
// 1 worker, the last confirmation is sent at 390-392 ms of 486-499 with
// 643-687k unhandled; 2 workers, at 176-190 ms of 279-293 with 693-710k,
// ~150 ns each in the lone drain. There the peers gained more from the
// fast round trip than volley did: the sweep
// (results/amd-epyc-f26m2-2c/2026-12-02T07-18-43Z.json) has 1 worker at
// 6.00 M msg/s and 2 at 10.1 M by median, so about 12 M at best, and
// Erlang's fastest in the suite beside it (2026-12-02T07-03-27Z.json) is
// 3.51 M: 10.5 M for volley's slowest, within reach only of a perfect
// split.
//
// The look is two relaxed loads of words the victim writes (its deque's
// top and bottom). A wrong answer delays a steal or lets one through early;
// it never loses a cell (the steal itself is the deque's CAS). Tested by
// tests/engine/steal_gate_test.cpp; the locality it exists for by
// dispatch_test ("a hub and its clients stay on one worker").
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
// stolen before it parks: in practice the rule fires across searches and
// naps.
inline constexpr std::chrono::nanoseconds oldest_wait_before_steal{50'000};

// A victim that has started no activation since its top began to wait is
// not getting through other work: its thread is off its CPU (the kernel or
// the hypervisor gave it to another thread for a time slice) or stuck in one
// handler. Its top must then wait this long. Stealing from a preempted
// worker split the conversation it was running, and the split outlasted
// the preemption: actors that wait for each other across two workers run
// only while both workers have a CPU. A handler that is really stuck (a
// producer flooding from one activation) loses its queue a few naps later
// than a preempted one would; a victim that runs long activations (matrix
// multiplication's blocks) starts one every few hundred µs, so its waiting
// top is stolen after the short wait as before.
// 20 ms, up from 5 ms (which was reasoned, not tuned): on the 2-core VM with
// other builds running, a worker's thread is off its CPU for more than 5 ms
// often enough that the concurrent dictionary on 2 workers lost 150-460
// steals' worth of splits per run at the 5 ms wait (stats build, nice -15,
// load 6-8: 0.05-0.08 steals and 0.75-1.16 moves per 1000 messages) against
// 5-14 steals (0.000-0.002, 0.005-0.03 moves) at 20 ms with the drain-rate
// rule off (the floor below now keeps it off such victims); without that,
// 50 ms alone stole about as often as 20 ms alone (0.004-0.006 against
// 0.005-0.007 steals per 1000 messages). Counting (whose flooding producer
// is the stuck handler the LIFO theft is for, the same wait) ran 7.4-8.9 M
// msg/s at 20 ms against 7.4-8.2 M at 5 ms (3 interleaved runs each).
inline constexpr std::chrono::nanoseconds stalled_wait_before_steal{20'000'000};

// The drain-rate rule: a thief also steals when, by the rate the victim's
// top has moved since a look at least `oldest_wait_before_steal` ago, its
// queue takes this long to get through (size x elapsed / cells taken from
// the top). A napping thief looks once per nap (1 ms), and a worker getting
// through a backlog of long activations moves its top every few hundred
// µs, so the rule above, which needs the same top at two looks, never saw
// such a backlog wait from a nap (dispatch_test's grinders: 0 of 160,000
// messages on the second worker in one run of four). The two kinds of
// queue sit far apart: a conversation's queue of cells with activations
// of ~0.1-0.3 µs drains in tens of µs (chameneos' 100 actors, 8 picks per
// top move: ~80 µs at most), a backlog of 25 µs activations (the grinders,
// fork-join's deep mailboxes) in over a millisecond. 250 µs (five times
// the wait, as a rate measured over one interval is an estimate) lies
// between them.
inline constexpr std::chrono::nanoseconds backlog_drain_before_steal{250'000};

// The drain-rate rule is for backlogs of long activations: it fires only if
// the victim's activations over the interval took this long on average
// (the interval's length over the activations it started). A rate measured
// over an interval in which the victim was off its CPU for a while looks
// like a backlog too: the concurrent dictionary's 20 clients on a worker
// that lost its CPU for most of a nap moved their top by ~60 where ~600 was
// usual, and the rule took half of them (stats build, 2 workers, nice -15,
// load ~6: with the stalled wait at 50 ms the rule alone made 25-40 steals
// per run, and no steal was left without it). A conversation's
// activations are ~0.1-0.3 µs, so such a victim must have been off its CPU
// for over 94% of the interval to pass this floor; a backlog's are long
// (the grinders' ~20 µs and more, fork-join's deep mailboxes): 5 µs lies
// between them.
inline constexpr std::chrono::nanoseconds backlog_min_activation{5'000};

/// What a thief reads of one victim at one look.
struct victim_look {
  std::int64_t size = 0;  ///< cells in its deque
  std::int64_t top = 0;   ///< index of its oldest cell
  /// Activations its worker has started (lifo_slot's count): whether it
  /// has run anything since the top began to wait.
  std::uint32_t activations = 0;
};

/// One thief's memory of one victim, and the rule above. Owned and used by
/// the thief only: no synchronisation.
class steal_gate {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  /// A look at the victim at time `at`: may the thief steal now?
  bool may_steal(const victim_look& look, time_point at,
                 std::chrono::nanoseconds wait = oldest_wait_before_steal,
                 std::chrono::nanoseconds backlog = backlog_drain_before_steal,
                 std::chrono::nanoseconds stalled = stalled_wait_before_steal,
                 std::chrono::nanoseconds min_activation = backlog_min_activation) noexcept {
    if (look.size <= 0) {
      top_ = -1;  // the next cell to arrive starts its wait afresh
      rate_top_ = -1;
      return false;
    }
    bool steal = false;
    if (look.top != top_) {
      top_ = look.top;
      since_ = at;
      since_activations_ = look.activations;
    } else {
      // A victim that has run nothing since the wait began is stalled
      // (preempted, or stuck in one handler): the longer wait.
      steal = at - since_ >= (look.activations == since_activations_ ? stalled : wait);
    }
    // The drain-rate rule, over an interval of at least `wait`, for a
    // victim whose activations were long (unsigned: the count wraps).
    if (rate_top_ < 0 || look.top < rate_top_) {
      rate_top_ = look.top;
      rate_since_ = at;
      rate_activations_ = look.activations;
    } else if (at - rate_since_ >= wait) {
      const std::int64_t taken = look.top - rate_top_;
      const auto elapsed = at - rate_since_;
      const auto drain = elapsed * look.size;
      const std::uint32_t ran = look.activations - rate_activations_;
      const bool long_activations = elapsed >= min_activation * ran;
      if (taken > 0 && long_activations && drain >= backlog * taken) steal = true;
      rate_top_ = look.top;
      rate_since_ = at;
      rate_activations_ = look.activations;
    }
    return steal;
  }

 private:
  std::int64_t top_ = -1;  ///< the victim's top at the look that started the wait
  time_point since_{};
  std::uint32_t since_activations_ = 0;  ///< the victim's activations when the wait began
  std::int64_t rate_top_ = -1;           ///< the victim's top when the drain interval began
  time_point rate_since_{};
  std::uint32_t rate_activations_ = 0;  ///< the victim's activations when that interval began
};

}  // namespace volley::detail
