#pragma once
/// The sleeping barber's waiting room on a virtual clock: who is turned
/// away, who is told to wait and when the barber naps, decided from the
/// draws alone, so every runtime does the same work per haircut.
///
/// Savina's barber races two real loops: the factory's arrivals against the
/// barber's haircuts, both `busy_wait` steps. Whoever's messaging is cheaper
/// relative to that CPU work gets a different number of customers bounced
/// off a full room (measured at 10,000 haircuts, 7-8 runs each: volley
/// 0.47-0.76 M messages, CAF 0.08-0.24 M, Erlang 0.08-0.27 M), so
/// the figure compared timing, not runtimes. Here every customer carries its
/// arrival step (the sum of the factory's busy-wait draws before it), the
/// room draws each haircut's length when it seats a customer (splitmix64,
/// seed 2, in seating order) and keeps the barber's virtual timetable:
///
/// - a first arrival at step t finds the room as the timetable has it at t:
///   full when `capacity` seated customers have not started by t; then it is
///   turned away, goes back to the factory and comes in again, and takes the
///   next seat that frees (turned-away customers in the order they were
///   turned away, ahead of later arrivals);
/// - a customer seated at t whose haircut starts after t is told to wait;
/// - the barber naps before a haircut that starts after the last one ended.
///
/// The messages still flow as in Savina (enter, full, returned, enter again,
/// cut, start, done, next, served, wait, nap); only the decisions are taken
/// from the timetable. The real queue hands haircuts out in seating order,
/// one at a time: a customer seated while he was still on his way back waits
/// for his second `enter` before his cut. The barber busy-waits the length
/// the room drew, the factory its arrival draws, as before.
///
/// Used by the volley and CAF rooms and by `expected_barber_work()`; the
/// Erlang twin (bench/peers/erlang/src/savina_sleeping_barber.erl) keeps the
/// same timetable, and bench_barber_same_work_test checks that the three
/// runtimes report the same counts.

#include <volley/savina/measurement.hpp>
#include <volley/savina/parameters.hpp>
#include <volley/savina/pseudo_random.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace volley::savina {

/// The room's timetable and its queue of haircuts to hand out.
class barber_shop {
 public:
  /// What became of a first arrival.
  enum class entry { turned_away, seated, seated_to_wait };

  /// One haircut to hand to the barber, in seating order.
  struct haircut {
    std::int64_t customer = 0;
    std::int64_t steps = 0;   // busy_wait steps of the cut
    bool nap_before = false;  // the barber was idle before it
  };

  /// `customers` first arrivals will come, numbered 0 .. customers - 1.
  barber_shop(std::int64_t capacity, std::int64_t customers, std::int64_t haircut_rate);

  /// Customer `id` comes in for the first time at arrival step `at` (not
  /// below the previous first arrival's). After the last one, every
  /// customer still outside takes the next seat that frees.
  entry arrive(std::int64_t id, std::int64_t at);

  /// Turned-away customer `id` is back at the door. A customer who was not
  /// turned away, or comes back twice, is a wrong answer.
  void come_back(std::int64_t id);

  /// The barber finished his haircut.
  void barber_done() { barber_free_ = true; }

  /// The next haircut, when the barber is free and the first customer in
  /// seating order is in the room; the barber is busy until barber_done().
  std::optional<haircut> next_haircut();

  std::int64_t turned_away() const { return turned_away_; }
  std::int64_t told_to_wait() const { return told_to_wait_; }
  std::int64_t naps() const { return naps_; }
  std::int64_t haircut_steps() const { return haircut_steps_; }

 private:
  void seat(std::int64_t id, std::int64_t at);
  // Starts every seated haircut due by step `now`; each seat that frees goes
  // to the first customer outside.
  void advance_to(std::int64_t now);

  std::int64_t capacity_;
  std::int64_t customers_;
  std::int64_t haircut_rate_;
  pseudo_random random_{2};
  // -- the virtual timetable --
  std::deque<std::int64_t> seated_starts_;  // start step of each seated customer
  std::deque<std::int64_t> outside_;        // turned away, in that order
  std::int64_t barber_free_at_ = -1;        // end step of the last haircut given out
  std::int64_t first_arrivals_ = 0;
  std::int64_t last_arrival_at_ = 0;
  // -- the real queue --
  std::deque<haircut> to_hand_out_;
  std::vector<char> away_;  // per customer: turned away, not yet back
  bool barber_free_ = true;
  // -- counts --
  std::int64_t turned_away_ = 0;
  std::int64_t told_to_wait_ = 0;
  std::int64_t naps_ = 0;
  std::int64_t haircut_steps_ = 0;
};

/// What a run of the workload must do, replayed sequentially: the same
/// figures every runtime reports in its result line's "details".
struct barber_work {
  std::int64_t turned_away = 0;
  std::int64_t told_to_wait = 0;
  std::int64_t naps = 0;
  std::int64_t arrival_steps = 0;
  std::int64_t haircut_steps = 0;
  /// 6 per haircut (enter, cut, start, done, next, served), 3 per customer
  /// turned away (full, returned, enter), plus every wait and nap.
  std::int64_t messages(std::int64_t haircuts) const {
    return 6 * haircuts + 3 * turned_away + told_to_wait + naps;
  }
  bool operator==(const barber_work&) const = default;
};

/// The factory's arrival draw after customer i (splitmix64 seed 1): the
/// busy_wait steps until the next arrival.
inline std::int64_t arrival_gap(pseudo_random& factory_random, std::int64_t arrival_rate) {
  return static_cast<std::int64_t>(factory_random.below(static_cast<std::uint64_t>(arrival_rate))) +
         10;
}

/// The workload's sizes, as its parameters name them.
struct barber_sizes {
  std::int64_t haircuts = 0;
  std::int64_t waiting_room = 0;
  std::int64_t arrival_rate = 0;
  std::int64_t haircut_rate = 0;
};

/// The sizes from a run's parameters (parameter_problem() has checked them).
barber_sizes barber_sizes_of(const parameters& p);

barber_work expected_barber_work(const barber_sizes& sizes);

/// What the actors of one run counted, each figure on the side that
/// handles it: `work.naps` is what the barber received, `naps_decided` what
/// the room sent; turned_away and told_to_wait the room's, returns the
/// factory's, arrival and haircut steps what the factory and the barber
/// busy-waited.
struct barber_report {
  std::int64_t haircuts = 0;
  std::int64_t entries = 0;
  std::int64_t returns = 0;
  std::int64_t naps_decided = 0;
  barber_work work;
};

/// The counters the actors of one run keep, each written by one actor and
/// read after the run; report() gathers them for check_barber_run().
struct barber_counts {
  std::atomic<std::int64_t> haircuts{0};  // barber
  std::atomic<std::int64_t> barber_naps{0};
  std::atomic<std::int64_t> haircut_steps{0};
  std::atomic<std::int64_t> entries{0};  // room
  std::atomic<std::int64_t> turned_away{0};
  std::atomic<std::int64_t> told_to_wait{0};
  std::atomic<std::int64_t> room_naps{0};
  std::atomic<std::int64_t> returns{0};  // factory
  std::atomic<std::int64_t> arrival_steps{0};
  std::atomic<std::int64_t> work{0};  // busy-wait results: used, so the loops stay

  /// The room's figures, copied from its timetable.
  void record_room(const barber_shop& shop) {
    turned_away.store(shop.turned_away(), std::memory_order_relaxed);
    told_to_wait.store(shop.told_to_wait(), std::memory_order_relaxed);
    room_naps.store(shop.naps(), std::memory_order_relaxed);
  }
  barber_report report() const;
};

/// The checks after a run, the same on volley and CAF: N haircuts, one
/// entry per customer and per return, as many returns as customers turned
/// away, every nap received, and the work equal to expected_barber_work().
/// Throws check_failed on a difference; fills `m`'s messages, items
/// (haircuts) and details (turned_away, told_to_wait, barber_naps,
/// arrival_steps, haircut_steps).
void check_barber_run(const barber_sizes& sizes, const barber_report& report, measurement& m);

}  // namespace volley::savina
