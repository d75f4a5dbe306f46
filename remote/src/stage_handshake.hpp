// remote/src/stage_handshake.hpp — who may touch a staged chain: its
// sending thread (the owner) or a sweeper, never both.
//
// A send_stage (transport_impl.hpp) holds frames its owner has linked but
// not pushed. The owner touches the chain in every send; a sweeper (the
// loop after a pause, disconnect() and reset(), stop()) takes it now and
// then. The owner's side must cost next to nothing, so this is Dekker's
// handshake with an asymmetric fence:
//
//   owner (enter)                      sweeper (sweep)
//   busy = true        (relaxed)       takeover.exchange(true)  (claim)
//   compiler fence                     fence_all_threads()  (membarrier)
//   while (takeover) wait              busy?  no: the chain is the sweeper's
//   ... the chain ...                         yes: leave it, try later
//   busy = false       (release)       takeover = false     (release)
//
// The membarrier runs a full fence on every thread that is running at that
// moment: if the owner's busy store came before that point it is visible to
// the sweeper's load after the membarrier; if it comes after, the owner's
// later load of takeover sees the claim. So at most one of them goes on. A
// thread that is not running has no store buffered. Release on busy and
// takeover, acquire on their loads and on the claim, hand the chain's plain
// fields from one holder to the next.
//
// Several sweepers may run at once (the loop, and a disconnect on another
// thread): a claim is an exchange, so one sweeper at a time holds a stage;
// a sweeper that loses the claim counts the stage as not taken, as it does a
// busy owner, and tries again later.
//
// Checked: tests/checker/staged_send_checker_test.cpp runs this template
// with model atomics under every schedule of an owner, the loop and a
// disconnect (sequentially consistent executions, where the fences are
// no-ops); stage_handshake_fences.pml checks, with store buffers, that the
// handshake needs the sweeper's fence and the owner's compiler fence
// against the membarrier (each removed is caught).
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace volley::remote::detail {

struct stage_handshake_test_access;  // tests/checker: the known-bad variants

/// `Sync` gives `atomic<T>`, `owner_fence()` (the owner's light half:
/// a compiler fence), `fence_all_threads()` (the sweeper's heavy half:
/// membarrier) and `wait()` (the owner's pause while a sweeper holds the
/// chain). transport_impl.hpp's stage_sync is the product's; the checker has
/// its own.
template <class Sync>
class basic_stage_handshake {
 public:
  // -- the owner ---------------------------------------------------------------

  /// Before touching the chain: waits while a sweeper holds it.
  void enter() noexcept {
    busy_.store(true, std::memory_order_relaxed);
    Sync::owner_fence();
    // Acquire: pairs with release(), so a sweeper's writes to the chain
    // (emptied, detached) are visible here.
    while (takeover_.load(std::memory_order_acquire)) Sync::wait();
  }
  /// After: release, so what the owner did is visible to the next sweeper.
  void leave() noexcept { busy_.store(false, std::memory_order_release); }

  // -- a sweeper ---------------------------------------------------------------

  /// Takes each chain of `stages` (a vector of pointer-likes to objects
  /// with a `handshake` member, reordered here: the claimed ones first) whose
  /// owner is not in a send and that no other sweeper holds, calling
  /// `take(stage)` for it; one fence for them all. Returns whether every
  /// stage was taken (false: try again later).
  template <class Stages, class Take>
  static bool sweep(Stages& stages, Take&& take) {
    bool all = true;
    std::size_t claimed = 0;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      // Acquire: the previous holder's chain writes (its release below).
      if (stages[i]->handshake.takeover_.exchange(true, std::memory_order_acquire)) {
        all = false;  // another sweeper holds it
      } else {
        std::swap(stages[claimed++], stages[i]);
      }
    }
    if (claimed == 0) return all;
    Sync::fence_all_threads();  // the heavy half of the handshake
    for (std::size_t i = 0; i < claimed; ++i) {
      basic_stage_handshake& h = stages[i]->handshake;
      // Acquire: pairs with leave(), so the owner's chain writes are visible.
      if (h.busy_.load(std::memory_order_acquire)) {
        all = false;  // mid-send: it pushes or stages on; try again later
      } else {
        take(*stages[i]);
      }
      h.takeover_.store(false, std::memory_order_release);
    }
    return all;
  }

 private:
  friend struct stage_handshake_test_access;

  typename Sync::template atomic<bool> busy_{false};      // owner: in a send
  typename Sync::template atomic<bool> takeover_{false};  // a sweeper holds the chain
};

}  // namespace volley::remote::detail
