// engine/src/lifo_slot.hpp — a worker's next-to-run slot, and its theft.
//
// What it is for
// --------------
// The actor a worker woke last (a ping-pong partner) runs next on the same
// worker, from this one-item slot, while the message it was sent is still in
// the core's cache (Go's runnext, Tokio's LIFO slot). Only the owning worker
// fills and takes it. Other workers may take its occupant only when it has
// gone stale: the owner is stuck inside one long handler (a producer sending
// millions of messages from one activation) and would otherwise keep the
// woken actor off every other core until the handler ends.
//
// Protocol
// --------
//   * fill (owner): exchange; a displaced occupant goes to the owner's deque.
//   * take (owner): a plain load first (the common empty case costs no RMW),
//     then an exchange, because a thief may race us for the occupant.
//   * activation_started (owner): counts activations; owner-only writes, so a
//     load and a store, not an RMW.
//   * offer / take_back (another worker, handing a cell back to the worker
//     it last ran on): a CAS from empty to the cell, and one from the cell
//     back to empty; the owner's take and the thieves' CASes treat an
//     offered cell as any other occupant.
//   * steal_if_stale (thief): stale = the same occupant at this look as at
//     the thief's previous look, and no activation started in between. The
//     occupant alone is not enough: a ping-pong pair alternates its two
//     actors in the slot, and one of them could look unchanged between two
//     looks; the activation count cannot. The take is a CAS from the
//     occupant seen, so it fails if the owner (or another thief) took it.
// Exactly one of the owner's exchange and the other workers' CASes wins each
// occupant: all of them are RMWs on the one word, totally ordered.
//
// Memory orders: fill and take/steal are acq_rel on the slot word, so
// whoever takes a cell sees it as the worker that put it there left it
// (release by the filler, acquire by the taker). The emptiness look and the
// staleness snapshot are relaxed: they are hints, and a wrong hint costs a
// failed CAS or a nap's delay, never a lost or doubled cell.
//
// Checked by tests/checker/lifo_slot_checker_test.cpp: the real class with
// model atomics, an owner and two thieves under every schedule within a
// preemption bound (no occupant lost or run twice; a stale occupant is
// taken), and a known-bad theft (load + store instead of CAS) it must catch.
#pragma once

#include <atomic>
#include <cstdint>

namespace volley::detail {

struct lifo_slot_test_access;

template <class T, template <class> class Atom = std::atomic>
class basic_lifo_slot {
 public:
  /// What a thief remembers of one victim's slot between two looks.
  struct sighting {
    T* occupant = nullptr;
    std::uint32_t activations = 0;
  };

  // -- the owning worker ----------------------------------------------------

  /// Puts `t` in the slot; returns the occupant it displaced, or nullptr.
  T* fill(T* t) noexcept { return slot_.exchange(t, std::memory_order_acq_rel); }

  /// A hint: the slot held something just now (relaxed: see the file comment).
  bool occupied() const noexcept { return slot_.load(std::memory_order_relaxed) != nullptr; }

  /// Empties the slot; returns the occupant, or nullptr if a thief was first.
  T* take() noexcept { return slot_.exchange(nullptr, std::memory_order_acq_rel); }

  /// The owner starts an activation: a thief that sees the count move knows
  /// the worker is not stuck.
  void activation_started() noexcept {
    // relaxed: thieves compare two snapshots of it; a plain store on x86.
    activations_.store(activations_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // -- other workers --------------------------------------------------------

  /// Activations the owner has started (relaxed: a hint for the steal
  /// gate, which tells a stalled worker from one getting through its work).
  std::uint32_t activations() const noexcept {
    return activations_.load(std::memory_order_relaxed);
  }

  /// Hands `t` to the owner (the scheduler's hand-back rule): puts it in the
  /// slot only if the slot is empty, so no occupant is displaced by a thread
  /// that cannot push to the owner's deque. False: the slot was taken.
  bool offer(T* t) noexcept {
    T* empty = nullptr;
    return slot_.compare_exchange_strong(empty, t, std::memory_order_acq_rel);
  }

  /// Takes back what this thread offered, if nobody took it meanwhile.
  bool take_back(T* t) noexcept {
    return slot_.compare_exchange_strong(t, nullptr, std::memory_order_acq_rel);
  }

  /// Takes the occupant if it is stale since `last` (this thief's previous
  /// look at this slot), and records this look in `last`. Two words read per
  /// look; one CAS only when stale.
  T* steal_if_stale(sighting& last) noexcept {
    T* now = slot_.load(std::memory_order_relaxed);
    std::uint32_t ran = activations_.load(std::memory_order_relaxed);
    bool stale = now != nullptr && now == last.occupant && ran == last.activations;
    last = sighting{now, ran};
    if (stale && slot_.compare_exchange_strong(now, nullptr, std::memory_order_acq_rel)) {
      last.occupant = nullptr;
      return now;
    }
    return nullptr;
  }

 private:
  friend struct lifo_slot_test_access;  // the checker's known-bad theft

  Atom<T*> slot_{nullptr};
  Atom<std::uint32_t> activations_{0};
};

template <class T>
using lifo_slot = basic_lifo_slot<T>;

}  // namespace volley::detail
