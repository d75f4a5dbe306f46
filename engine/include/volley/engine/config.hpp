// volley/engine/config.hpp — how an actor system is set up.
//
// Every field has a default that suits a latency-sensitive service on a
// dedicated machine. system's constructor validates the whole configuration
// and throws std::invalid_argument with a message that says what to change.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <volley/engine/clock.hpp>

namespace volley {

/// A named extra worker pool (a dispatcher) that actors can be spawned on.
struct pool_config {
  unsigned workers = 1;
  /// Extra pools run unpinned (they share cores with the default pool);
  /// true is refused with std::invalid_argument rather than ignored.
  bool pin = false;
};

struct config {
  /// Workers of the default pool; 0 = one per core (or per CPU of VOLLEY_CPUS).
  unsigned workers = 0;

  /// Pin each default-pool worker to its PU (hwloc). Refused pinning is
  /// reported once and the system runs unpinned.
  bool pin = true;

  /// CPU list for the default pool ("0-3,8"); nullopt = the VOLLEY_CPUS
  /// environment variable, or every core when that is unset.
  std::optional<std::string> cpus;

  /// Messages an actor may handle per activation before its worker moves on.
  /// Larger batches amortise the scheduling decision; smaller ones bound how
  /// long other actors on the same worker wait. 64 is where ping-pong and
  /// counting stopped improving on the 2-core reference machine while
  /// fork-join fairness was unaffected.
  unsigned throughput = 64;

  /// How long an idle worker keeps looking for work before it parks on a
  /// futex. A parked worker runs ~38 µs after its FUTEX_WAKE (wake-to-run,
  /// across cores on the reference machine), so a worker that parks between
  /// two bursts a few µs apart turns every burst into a syscall; 50 µs of
  /// spinning covers those gaps while still letting an idle system drop to
  /// ~0 CPU almost at once.
  std::chrono::microseconds spin_before_park{50};

  /// Dead letters logged individually before the log switches to a periodic
  /// summary (the count is always exact; only the log is rate-limited).
  /// 0 turns the log off: no lines, no summaries, none at shutdown either.
  unsigned dead_letter_log_first = 10;
  /// At most one summary line per interval; 0 or more (negative throws).
  std::chrono::milliseconds dead_letter_summary_interval{1000};

  /// Named extra pools, chosen at spawn with props::dispatcher. The names
  /// "default" and "pinned" are reserved.
  std::map<std::string, pool_config> pools;

  /// The time source of timers and FSM timeouts; nullptr = real time. Tests
  /// pass a volley::manual_clock so that time moves only when they say so.
  std::shared_ptr<volley::clock> clock;

  /// The test kit's deterministic dispatcher. When set, the system starts no
  /// threads at all: every actor (whatever its dispatcher) runs on the
  /// thread that calls system::run_until_idle() / step(), one message at a
  /// time, and this seed chooses which ready actor goes next. Timers fire
  /// from there too (use a manual_clock). The same seed and the same
  /// sends from the test give the same interleaving, exactly.
  std::optional<std::uint64_t> deterministic_seed;
};

}  // namespace volley
