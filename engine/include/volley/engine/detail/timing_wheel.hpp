// A hierarchical timing wheel: the one structure behind every timer of an
// actor system (keyed single and periodic timers, FSM state timeouts).
//
// What it is for: holding up to millions of pending timers with O(1) start
// and cancel, and telling the thread that drives it how long it may sleep.
// One wheel serves a whole actor system; a timer thread (or a worker) calls
// advance() when next_deadline() comes due, so no timer needs a thread and
// an idle system (no timers) sleeps without polling.
//
// When not to use it: it is not thread-safe. The caller serialises every
// call (in the timer service only the driving thread touches it, under the
// driver's lock; other threads hand timers over through a lock-free queue,
// timer_handoff.hpp); callbacks run inside
// advance() on the caller's thread, under that serialisation, so they may
// schedule and cancel on the same wheel but must not block, and must not
// throw (advance() holds fired-but-not-yet-called timers on its stack).
//
// -- How it works --------------------------------------------------------------
//
// Time is counted in ticks (1 ms unless told otherwise). The wheel keeps
// `elapsed_`, the last tick it has processed: every timer with a deadline
// <= elapsed_ has fired. A pending timer (deadline d > elapsed_) lives in
// exactly one slot of one level. Level L has 64 slots of 64^L ticks each,
// and the level is picked from the highest bit in which d and elapsed_
// differ: level = msb(d ^ elapsed_) / 6. So a level-L timer shares all bits
// above 6(L+1) with elapsed_, its slot index is bits [6L, 6L+6) of d, and
// that index is above elapsed_'s own index at that level. Consequences:
//   - every occupied slot of a lower level comes before every occupied slot
//     of a higher one, so the earliest slot is the first occupied slot of the
//     lowest non-empty level: one countr_zero on that level's 64-bit
//     occupancy bitmap;
//   - when elapsed_ reaches the start of a level-L slot (L > 0) its timers
//     are "cascaded": re-placed relative to the new elapsed_, which puts each
//     one on a lower level (or fires it if its deadline is exactly now). A
//     timer is moved at most once per level, so advance costs O(levels) per
//     timer plus O(levels) per non-empty slot visited.
// Deadlines too far ahead for the top level (d ^ elapsed_ >= 2^36) wait in
// an overflow list. It is re-examined when elapsed_ crosses into the 2^36-
// tick epoch (a wrap of the top level) of the earliest overflow deadline;
// the wheel keeps a lower bound of that deadline (exact until a cancel) so
// neither the driver nor advance() stops at every wrap on the way. At 1 ms
// ticks an epoch is 795 days: in practice the list holds only "never"
// deadlines.
// Timers scheduled at or before elapsed_ go to a due list that the next
// advance() fires first, so a timer started "now" or in the past is not lost.
//
// Firing order: across ticks, in deadline order. Within one tick, order is
// unspecified (cascading reorders). Due-list timers (scheduled late) fire
// first, in scheduling order. During a callback now() reports the tick being
// fired, so a periodic timer that reschedules at deadline() + period keeps
// its phase, and fires again within the same advance() when that is due.
//
// next_deadline() is a lower bound that is exact for level-0 timers: for a
// timer on a higher level it returns the start of its slot, where advance()
// cascades it down. So a far timer costs the driving thread at most one
// early wake-up per level (5), never a late one.
//
// -- Costs ----------------------------------------------------------------------
// From bench/micro/timing_wheel_bench.cpp, g++ 12 -O2, on a shared 2-vCPU
// AMD EPYC at 2.6 GHz under load (so CPU time, medians of 7 runs):
//   start + cancel, node in cache (0 or 1M other timers):   5 ns
//   restart (cancel + start) of a random one of 1M pending
//     timers: node and list neighbours come from DRAM:     57 ns
//   start + fire (schedule now+1, advance one tick):       11 ns
//   schedule 1M timers into an empty wheel:                3.3 ns per timer
//   fire 1M timers, random deadlines over 2^20 ticks
//     (~17 min at 1 ms, 3 cascades for most):              210-240 ns per timer
// The operations are O(1); what costs is memory: a doubly-linked node
// touches its neighbours, and each cascade revisits a cold node. Firing is
// rare next to starting and cancelling (most timeouts are cancelled), so the
// hot path is the 5 ns one.
// Memory: 40 bytes per timer_node (in the caller's object, never allocated
// here) plus 6 KiB of list heads per wheel.
#pragma once

#include <array>
#include <bit>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <optional>

namespace volley::detail {

class timing_wheel;

/// The doubly-linked, circular list link shared by timers and the wheel's
/// list heads (a head links to itself when its list is empty).
class timer_link {
 protected:
  friend class timing_wheel;
  timer_link* prev_ = nullptr;
  timer_link* next_ = nullptr;  // null <=> not in a list
};

/// Intrusive link for one timer. Embed it in (or derive from it) the object
/// that owns the timer; scheduling links the node and never allocates.
///
/// A node is in at most one wheel at a time, and must be cancelled (or have
/// fired) before it is destroyed or rescheduled elsewhere.
class timer_node : private timer_link {
 public:
  /// Called by timing_wheel::advance(now) when the timer fires; unlinked
  /// by then, so the function may reschedule or destroy the node.
  /// Recover the owner with static_cast when the owner derives from the node.
  using fire_fn = void (*)(timer_node*);

  timer_node() = default;
  explicit timer_node(fire_fn on_fire) noexcept : fire_(on_fire) {}
  timer_node(const timer_node&) = delete;
  timer_node& operator=(const timer_node&) = delete;
  ~timer_node() { assert(!linked() && "destroying a pending timer; cancel it first"); }

  /// True while the timer is pending in a wheel (scheduled, not fired or cancelled).
  [[nodiscard]] bool linked() const noexcept { return next_ != nullptr; }
  /// The tick the timer was last scheduled for.
  [[nodiscard]] std::uint64_t deadline() const noexcept { return deadline_; }
  /// The callback advance(now) invokes; may be null when advance is given one.
  [[nodiscard]] fire_fn fire() const noexcept { return fire_; }
  void set_fire(fire_fn on_fire) noexcept { fire_ = on_fire; }

 private:
  friend class timing_wheel;

  std::uint64_t deadline_ = 0;
  fire_fn fire_ = nullptr;
  std::uint16_t list_ = 0;  // index into timing_wheel::heads_ while linked
};

/// Hierarchical timing wheel of 6 levels x 64 slots. Not thread-safe: the
/// caller serialises all calls. See the file comment for the algorithm.
class timing_wheel {
 public:
  // 64 slots per level so one level's occupancy is one std::uint64_t and the
  // next occupied slot is one countr_zero.
  static constexpr unsigned slot_bits = 6;
  static constexpr unsigned slots = 1u << slot_bits;
  // 6 levels span 2^36 ticks: 795 days at 1 ms, so real timers (seconds to
  // weeks) never reach the overflow list, while the wheel stays 6 KiB. Each
  // extra level would cost one more cascade for the farthest timers only.
  static constexpr unsigned levels = 6;
  static constexpr unsigned span_bits = slot_bits * levels;
  static constexpr std::uint64_t span = std::uint64_t{1} << span_bits;

  /// 1 ms: timers are actor timeouts and periodic ticks, where a millisecond
  /// of lateness is noise, and coarser ticks put more timers in one slot.
  static constexpr std::chrono::nanoseconds default_tick = std::chrono::milliseconds(1);

  /// `tick` is the duration of one tick; `start` is the tick the wheel is at.
  explicit timing_wheel(std::chrono::nanoseconds tick = default_tick,
                        std::uint64_t start = 0) noexcept
      : tick_(tick), elapsed_(start) {
    assert(tick.count() > 0);
    for (auto& head : heads_) head.prev_ = head.next_ = &head;
  }
  timing_wheel(const timing_wheel&) = delete;
  timing_wheel& operator=(const timing_wheel&) = delete;
  /// Pending nodes are left linked to a dead wheel: cancel them first.
  ~timing_wheel() { assert(size_ == 0 && "destroying a wheel with pending timers"); }

  // -- time conversion -----------------------------------------------------------

  [[nodiscard]] std::chrono::nanoseconds tick_duration() const noexcept { return tick_; }
  /// The tick containing `t` (time since the caller's origin), rounded down:
  /// what to pass to advance().
  [[nodiscard]] std::uint64_t tick_at(std::chrono::nanoseconds t) const noexcept {
    return tick_at(t, tick_);
  }
  /// The first tick that starts at or after `t`, rounded up: a deadline for
  /// schedule() so that a timer never fires before `t`.
  [[nodiscard]] std::uint64_t deadline_at(std::chrono::nanoseconds t) const noexcept {
    return deadline_at(t, tick_);
  }
  /// The same for ticks of `tick`, without a wheel: for threads that compute
  /// a deadline while another thread owns the wheel (timer_service).
  [[nodiscard]] static std::uint64_t tick_at(std::chrono::nanoseconds t,
                                             std::chrono::nanoseconds tick) noexcept {
    return t.count() <= 0 ? 0 : static_cast<std::uint64_t>(t / tick);
  }
  [[nodiscard]] static std::uint64_t deadline_at(std::chrono::nanoseconds t,
                                                 std::chrono::nanoseconds tick) noexcept {
    if (t.count() <= 0) return 0;
    return static_cast<std::uint64_t>((t.count() - 1) / tick.count()) + 1;
  }

  // -- timers --------------------------------------------------------------------

  /// Schedules `node` (not linked) to fire at `deadline`. A deadline at or
  /// before now() fires on the next advance(). O(1), no allocation.
  void schedule(timer_node& node, std::uint64_t deadline) noexcept {
    assert(!node.linked());
    node.deadline_ = deadline;
    ++size_;
    if (deadline <= elapsed_) {
      link(node, due_list);
    } else {
      place_future(node);
    }
  }

  /// Unlinks `node` if it is pending; a no-op for a node that already fired,
  /// was cancelled, or never was scheduled. Returns whether it was pending.
  bool cancel(timer_node& node) noexcept {
    if (!node.linked()) return false;
    unlink(node);
    --size_;
    return true;
  }

  /// Moves time to `now` (ignored if not after now()) and fires every timer
  /// with deadline <= `now` exactly once by calling `on_expire(timer_node&)`,
  /// which must not throw; the node is unlinked before the call.
  /// Returns how many fired. Timers scheduled by callbacks at or before the
  /// tick being fired wait for the next advance(), so a callback cannot keep
  /// one call spinning.
  template <class OnExpire>
  std::size_t advance(std::uint64_t now, OnExpire&& on_expire) {
    std::size_t fired = 0;
    // Take the due list aside first: callbacks may add to it again.
    // Their list_ still says due_list, which unlink() treats like any list
    // without a bitmap bit, so callbacks may cancel them there.
    timer_link late;
    late.prev_ = late.next_ = &late;
    if (!empty(due_list)) splice_all(heads_[due_list], late);
    while (late.next_ != &late) {
      timer_node& n = node_of(late.next_);
      unlink_raw(n);
      --size_;
      ++fired;
      on_expire(n);
    }

    while (true) {
      auto next = next_slot();
      if (next && next->start <= now) {
        elapsed_ = next->start;
        fired += drain(next->list, on_expire);
        continue;
      }
      if (!empty(overflow_list) && overflow_wake() <= now) {
        fired += reexamine_overflow(now, on_expire);
        continue;
      }
      break;
    }
    if (now > elapsed_) elapsed_ = now;
    return fired;
  }

  /// Unlinks every pending node for which `pred(node)` is true and passes it
  /// to `on_remove(node)` (unlinked by then, like a firing; it must not
  /// throw, nor schedule or cancel on this wheel). Returns how many. O(pending
  /// + lists): for sweeping out timers cancelled without an unlink (the timer
  /// service cancels with an atomic flag, from other threads).
  template <class Pred, class OnRemove>
  std::size_t remove_if(Pred&& pred, OnRemove&& on_remove) {
    std::size_t removed = 0;
    for (std::uint16_t list = 0; list < list_count; ++list) {
      timer_link& head = heads_[list];
      for (timer_link* l = head.next_; l != &head;) {
        timer_node& n = node_of(l);
        l = l->next_;
        if (!pred(n)) continue;
        unlink(n);
        --size_;
        ++removed;
        on_remove(n);
      }
    }
    return removed;
  }

  /// advance() calling each node's own fire function.
  std::size_t advance(std::uint64_t now) {
    return advance(now, [](timer_node& n) {
      assert(n.fire_ != nullptr);
      n.fire_(&n);
    });
  }

  /// The earliest tick at which advance() has work, or nullopt when no timer
  /// is pending (sleep until woken). Never later than the earliest deadline;
  /// may be earlier for far timers (see the file comment). now() when
  /// overdue timers wait.
  [[nodiscard]] std::optional<std::uint64_t> next_deadline() const noexcept {
    if (!empty(due_list)) return elapsed_;
    if (auto next = next_slot()) return next->start;
    if (!empty(overflow_list)) return overflow_wake();
    return std::nullopt;
  }

  /// The last tick processed; deadlines at or before it are due.
  [[nodiscard]] std::uint64_t now() const noexcept { return elapsed_; }
  /// Pending timers.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

 private:
  // heads_ layout: level * slots + slot for the wheel, then two extra lists.
  static constexpr std::uint16_t due_list = levels * slots;
  static constexpr std::uint16_t overflow_list = due_list + 1;
  static constexpr std::uint16_t list_count = overflow_list + 1;

  struct slot_ref {
    std::uint64_t start;  // first tick the slot covers
    std::uint16_t list;
  };

  [[nodiscard]] bool empty(std::uint16_t list) const noexcept {
    return heads_[list].next_ == &heads_[list];
  }

  // Where the overflow list must be looked at again: the start of the epoch
  // holding the earliest overflow deadline. Only meaningful while the list
  // is non-empty, which puts that epoch after elapsed_'s own; so the wheel,
  // all of whose timers lie in elapsed_'s epoch, is empty by then.
  [[nodiscard]] std::uint64_t overflow_wake() const noexcept { return overflow_min_ & ~(span - 1); }

  // Places a node whose deadline is after elapsed_.
  void place_future(timer_node& node) noexcept {
    std::uint64_t diff = (node.deadline_ ^ elapsed_) | (slots - 1);
    // The highest bit in which the deadline differs from now (the mask
    // makes diff non-zero), in units of a level's bits.
    unsigned level = static_cast<unsigned>(std::bit_width(diff) - 1) / slot_bits;
    if (level >= levels) {
      if (empty(overflow_list) || node.deadline_ < overflow_min_) overflow_min_ = node.deadline_;
      link(node, overflow_list);
      return;
    }
    unsigned slot = static_cast<unsigned>(node.deadline_ >> (level * slot_bits)) & (slots - 1);
    occupied_[level] |= std::uint64_t{1} << slot;
    link(node, static_cast<std::uint16_t>(level * slots + slot));
  }

  [[nodiscard]] std::optional<slot_ref> next_slot() const noexcept {
    for (unsigned level = 0; level < levels; ++level) {
      if (occupied_[level] == 0) continue;
      unsigned shift = level * slot_bits;
      // By the placement rule no occupied slot lies at or before elapsed_'s
      // own, so the lowest set bit is the next slot; no rotation needed.
      assert((occupied_[level] & ((std::uint64_t{2} << ((elapsed_ >> shift) & (slots - 1))) - 1)) ==
             0);
      unsigned slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
      std::uint64_t block = elapsed_ & ~((std::uint64_t{1} << (shift + slot_bits)) - 1);
      return slot_ref{block + (std::uint64_t{slot} << shift),
                      static_cast<std::uint16_t>(level * slots + slot)};
    }
    return std::nullopt;
  }

  // Empties one slot whose start is elapsed_: fires what is due, moves the
  // rest down. One node at a time, so callbacks may cancel any node, even
  // one still waiting in this slot. Nothing new can land in this slot: a
  // node scheduled now either is due (due list) or goes to a lower level.
  template <class OnExpire>
  std::size_t drain(std::uint16_t list, OnExpire& on_expire) {
    std::size_t fired = 0;
    timer_link& head = heads_[list];
    while (head.next_ != &head) {
      timer_node& n = node_of(head.next_);
      unlink(n);
      fired += fire_or_place(n, on_expire);
    }
    return fired;
  }

  // A node just taken off its list: fired if it is due (1), else placed
  // again, lower down or in the overflow list (0).
  template <class OnExpire>
  std::size_t fire_or_place(timer_node& n, OnExpire& on_expire) {
    if (n.deadline_ > elapsed_) {
      place_future(n);
      return 0;
    }
    --size_;
    on_expire(n);
    return 1;
  }

  // Called with an empty wheel (see overflow_wake()). Jumps straight to the
  // epoch of the earliest overflow deadline (or of now, if earlier: the
  // bound is stale after a cancel), so a long jump costs one pass over the
  // list, not one per epoch.
  template <class OnExpire>
  std::size_t reexamine_overflow(std::uint64_t now, OnExpire& on_expire) {
    timer_link& head = heads_[overflow_list];
    std::uint64_t earliest = now;
    for (timer_link* l = head.next_; l != &head; l = l->next_) {
      if (node_of(l).deadline_ < earliest) earliest = node_of(l).deadline_;
    }
    // Every overflow deadline lies beyond elapsed_'s epoch, and so does now
    // (>= overflow_wake()): time only moves forward here.
    elapsed_ = earliest & ~(span - 1);
    timer_link pending;
    pending.prev_ = pending.next_ = &pending;
    splice_all(head, pending);
    std::size_t fired = 0;
    while (pending.next_ != &pending) {
      timer_node& n = node_of(pending.next_);
      unlink_raw(n);
      fired += fire_or_place(n, on_expire);
    }
    return fired;
  }

  // Only timers are ever linked after a head, so the downcast is sound.
  static timer_node& node_of(timer_link* link) noexcept { return static_cast<timer_node&>(*link); }

  void link(timer_node& node, std::uint16_t list) noexcept {
    timer_link& head = heads_[list];
    node.list_ = list;
    node.next_ = &head;
    node.prev_ = head.prev_;
    head.prev_->next_ = &node;
    head.prev_ = &node;
  }

  void unlink_raw(timer_node& node) noexcept {
    node.prev_->next_ = node.next_;
    node.next_->prev_ = node.prev_;
    node.prev_ = node.next_ = nullptr;
  }

  void unlink(timer_node& node) noexcept {
    std::uint16_t list = node.list_;
    unlink_raw(node);
    if (list < due_list && empty(list)) {
      occupied_[list / slots] &= ~(std::uint64_t{1} << (list % slots));
    }
  }

  // Moves every node of `from` to the (empty) list `to`, in order.
  static void splice_all(timer_link& from, timer_link& to) noexcept {
    to.next_ = from.next_;
    to.prev_ = from.prev_;
    to.next_->prev_ = &to;
    to.prev_->next_ = &to;
    from.prev_ = from.next_ = &from;
  }

  std::chrono::nanoseconds tick_;
  std::uint64_t elapsed_;
  std::size_t size_ = 0;
  std::uint64_t overflow_min_ = 0;  // <= every overflow deadline while the list is non-empty
  std::array<std::uint64_t, levels> occupied_{};
  std::array<timer_link, list_count> heads_;
};

}  // namespace volley::detail
