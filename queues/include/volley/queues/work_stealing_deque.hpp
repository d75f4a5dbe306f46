// volley/queues/work_stealing_deque.hpp — a worker's local run queue.
//
// What it is for
// --------------
// Each scheduler worker owns one deque of runnable items (actor cells). The
// owner pushes and pops at the bottom without contention (LIFO keeps the
// freshest, cache-hot work local); idle workers steal from the top (the
// oldest work, least likely to be in the owner's cache). Chase & Lev's
// deque, with the C11 memory orders proven correct by Lê, Pop, Cohen and
// Zappa Nardelli ("Correct and Efficient Work-Stealing for Weak Memory
// Models", PPoPP 2013).
//
// Fixed capacity, no resizing: push reports full and the scheduler moves the
// item to the global injection queue instead (a full local queue means the
// worker has more work than it can run soon, so sharing it is right). The
// slots hold trivially copyable values (pointers), stored in relaxed atomics
// so a racing thief's read of a slot the owner is rewriting is not a data
// race; the top CAS decides whether the thief may use what it read.
//
// Memory orders (numbers refer to the figure in Lê et al.)
// ---------------------------------------------------------
// push:  slot store (relaxed); bottom store (release) — the paper uses a
//        release fence + relaxed store; a release store is the same on x86
//        and is understood by ThreadSanitizer, which ignores fences.
// pop:   bottom = b-1 (relaxed); seq_cst fence; top load (relaxed). The
//        fence orders the bottom store before the top load against the
//        thief's fence, so owner and thief cannot both miss each other when
//        one item is left; then both race with a seq_cst CAS on top.
// steal: top load (acquire); seq_cst fence; bottom load (acquire, pairs
//        with push's release so the slot value is visible); slot load;
//        CAS top (seq_cst) to claim it.
//
// steal_half moves up to half of a victim's items, one claimed CAS at a time
// (each is a full Chase–Lev steal, so the owner's pop stays the paper's). A
// batch CAS over several items would race with the owner's uncontended pop.
//
// Costs: owner push+pop is a handful of plain instructions plus one fence;
// steal is one CAS. Measured (bench/micro/queues_bench.cpp, the 2-core VM of
// results/, one run): owner push+pop 4.3 ns (1.9 ns with the deque kept
// half full), a thief draining a busy owner one item at a time 16.8 M items/s.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

#include <volley/queues/cache_line.hpp>

namespace volley::queues {

namespace detail {
struct work_stealing_deque_test_access;  // tests/checker: a known-bad pop kept for the checker
}

/// `Atom` is std::atomic except in the exhaustive checker (tests/checker/),
/// which substitutes a model atomic; the default instantiation is the plain
/// code. (The fences stay std::atomic_thread_fence: see the checker test for
/// how the orderings beyond sequential consistency are covered.)
template <class T, template <class> class Atom = std::atomic>
class work_stealing_deque {
  static_assert(std::is_trivially_copyable_v<T>,
                "slots are atomics: store pointers or small values");

 public:
  /// A scheduler worker's local run queue (the engine's worker::
  /// local_capacity is this): more runnable items than that on one worker
  /// means it is overloaded, and sharing the overflow through the injection
  /// queue is right. Tokio's local run queue holds as many; the slots take
  /// 2 KiB for pointers.
  static constexpr std::size_t default_capacity = 256;

  /// Capacity is rounded up to a power of two.
  explicit work_stealing_deque(std::size_t capacity = default_capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1),
        slots_(std::make_unique<Atom<T>[]>(mask_ + 1)) {}

  work_stealing_deque(const work_stealing_deque&) = delete;
  work_stealing_deque& operator=(const work_stealing_deque&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Owner only. False when full.
  bool push(T value) noexcept {
    std::int64_t b = bottom_.load(std::memory_order_relaxed);
    std::int64_t t = top_.load(std::memory_order_acquire);
    if (b - t > static_cast<std::int64_t>(mask_)) return false;
    slots_[b & mask_].store(value, std::memory_order_relaxed);
    bottom_.store(b + 1, std::memory_order_release);
    return true;
  }

  /// Owner only: the most recently pushed item.
  std::optional<T> pop() noexcept {
    std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    bottom_.store(b, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_relaxed);
    if (t > b) {  // empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return std::nullopt;
    }
    T value = slots_[b & mask_].load(std::memory_order_relaxed);
    if (t == b) {  // the last item: race the thieves for it
      bool won = top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                              std::memory_order_relaxed);
      bottom_.store(b + 1, std::memory_order_relaxed);
      if (!won) return std::nullopt;
    }
    return value;
  }

  enum class steal_result { success, empty, lost_race };

  /// Any thread: take the oldest item. `lost_race` means another thief or
  /// the owner took it first; the deque may still hold items.
  steal_result steal(T& out) noexcept {
    std::int64_t t = top_.load(std::memory_order_acquire);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    std::int64_t b = bottom_.load(std::memory_order_acquire);
    if (t >= b) return steal_result::empty;
    T value = slots_[t & mask_].load(std::memory_order_relaxed);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      return steal_result::lost_race;
    }
    out = value;
    return steal_result::success;
  }

  /// Called by `into`'s owner, on another worker's deque: move up to half of
  /// this deque's items (at least one) into `into`. Returns the first stolen
  /// item to run now (not pushed into `into`), or nullopt if none was taken.
  std::optional<T> steal_half(work_stealing_deque& into) noexcept {
    std::int64_t n = size_approx();
    std::int64_t want = n - n / 2;  // half, rounded up: one item is worth taking
    // Only the caller pushes into `into` (others can only shrink it), so
    // capping by its free space makes every push below succeed and no stolen
    // item can be dropped.
    std::int64_t room = static_cast<std::int64_t>(into.capacity()) - into.size_approx() + 1;
    if (want > room) want = room;
    std::optional<T> first;
    for (std::int64_t taken = 0; taken < want;) {
      T value;
      steal_result r = steal(value);
      if (r == steal_result::empty) break;
      if (r == steal_result::lost_race) continue;
      ++taken;
      if (!first) {
        first = value;
      } else {
        [[maybe_unused]] bool pushed = into.push(value);
      }
    }
    return first;
  }

  /// Any thread; a snapshot.
  std::int64_t size_approx() const noexcept {
    std::int64_t b = bottom_.load(std::memory_order_acquire);
    std::int64_t t = top_.load(std::memory_order_acquire);
    return b > t ? b - t : 0;
  }

  bool empty_approx() const noexcept { return size_approx() == 0; }

  /// Any thread; a snapshot: the index of the oldest item. It moves only
  /// when the oldest item is taken (a steal, or the owner's pop of the last
  /// one), so a deque that is non-empty with the same top at two looks has
  /// had the same oldest item waiting all along: a scheduler can tell work
  /// that waits from work its owner is getting through.
  std::int64_t top_approx() const noexcept { return top_.load(std::memory_order_relaxed); }

 private:
  friend struct detail::work_stealing_deque_test_access;

  const std::size_t mask_;
  std::unique_ptr<Atom<T>[]> slots_;
  // Thieves hammer top_, the owner bottom_: keep them on separate lines.
  alignas(cache_line_size) Atom<std::int64_t> top_{0};
  alignas(cache_line_size) Atom<std::int64_t> bottom_{0};
};

}  // namespace volley::queues
