// remote/src/write_side.hpp — who may write to a connection's socket: the
// loop, or for one frame a sending thread (direct writes, transport_direct.cpp).
//
// A three-state word on the link:
//
//   loop    the loop owns the socket: always while anything is queued or in
//           flight on the connection, before it is established, with TLS,
//           and for good once it closes;
//   idle    nobody writes; a sender may claim it;
//   sender  a sender is writing one frame (one ioctl and one send()).
//
//   loop                                  a sender
//   offer:   fd = c.fd         (relaxed)  looks_idle()        (relaxed: a hint)
//            loop -> idle      (release)  idle -> sender      (acq_rel CAS)
//   claim:   idle -> loop      (acq_rel)  clear()? (the link: nothing queued,
//            (fails on sender: later)              the epoch it stamped)
//            ... sendmsg ...              fd = fd  (relaxed) ... send(fd) ...
//   take:    claim until it holds         sender -> idle      (release)
//            (close, a merge)             (a torn frame: sender -> loop)
//
// Invariants, and the known-bad variant that breaks each
// (tests/checker/direct_write_checker_test.cpp catches every one):
//   1. One writer in the socket at a time. The loop writes only holding the
//      word (claim before each sendmsg), a sender only holding it; and the
//      loop offers only with nothing in flight (a sendmsg in flight is the
//      kernel writing on the loop's behalf: offered then, a sender's bytes
//      land inside the loop's frame). Broken by: the loop writing without
//      its claim; the loop offering with a heartbeat in flight.
//   2. A sender's frame follows every frame it, or a thread it synchronised
//      with, sent earlier on the link. Those frames were reserved in the
//      link's queued count before the sender's send began, and the loop
//      releases them only once written; the sender writes only when it reads
//      the count as 0 after its claim. Broken by: a sender that trusts the
//      offer and reads no count (its earlier frame still in the loop's inbox
//      goes after it). A count read before the claim orders queued frames as
//      well (they are reserved before it either way: with the epoch still
//      read after the claim, the checker found no failure in 2,000,000
//      schedules of two senders at bound 3, nor in all 351,008 of a new
//      incarnation), but the epoch must be read after the claim:
//   3. A frame reaches only the incarnation it was stamped for. The loop
//      bumps the epoch before it offers the side of a new incarnation, and
//      the sender compares it after the claim, whose acquire reads that
//      offer. Broken by: a sender that checks the link before its claim (it
//      writes an old incarnation's frame into the new connection).
//   4. After close no write begins: close() takes the side for good, waiting
//      out a sender's one syscall, before the loop closes the fd, whose
//      number the kernel may hand to the next socket opened. A sender reads
//      the fd after its claim. Broken by: a close that stores `loop` without
//      waiting (the sender holding the side writes into whatever the number
//      now names).
//   5. Every frame is counted once, and a refused one keeps its place: a
//      sender that does not write (the side busy, the link not clear, or a
//      refusal: SIOCOUTQ failing or reporting unsent bytes, send() taking
//      nothing) gives the side back and the frame to the loop's queue, where
//      it is counted as any other; reserved there before the sender's next
//      send, it holds that send back as invariant 2 says. Broken by: a
//      refusal reported as a write (the frame is lost, counted nowhere); a
//      refused frame queued after the sender's next one (which reads the
//      count as 0 and goes first).
//   6. Nothing follows a torn frame on its stream, and the loop knows why
//      the stream ended. A send() that took part of the frame loses the
//      stream: the sender counts the frame of unknown fate and shuts the
//      socket down *before* it gives the side back, so every later write on
//      that socket fails (EPIPE: a send and a shutdown both take the
//      socket's lock), the loop's and any sender's; and it gives the side
//      back as `loop`, a state no claim() or offer() leaves behind an offer,
//      so take_torn() tells the loop that the end of stream or the failed
//      write it meets next is its own doing (waiting out a sender first: the
//      shutdown comes before the give-back, so the end of stream can be read
//      while the sender still holds the side): it closes the connection as an
//      i/o error, not as the peer's close. Broken by: a torn write without the
//      shutdown (the loop's next sendmsg lands after the half frame); one
//      that gives the side back before its shutdown (a write slips in
//      between); one that gives it back as `idle` after its shutdown
//      (nothing follows, but the loop takes the end for the peer's close);
//      a take() (an association's merge) that forgets the tear it found
//      (the loop then takes the end for the peer's close as well).
//
// Memory orders: the offer's release publishes the fd and the epoch bump
// (and the completed sendmsg before it); the sender's claim acquires them.
// The sender's give-back (release) orders its send() before the loop's next
// claim (acquire), which is what makes the loop's next sendmsg follow it.
// The checker runs sequentially consistent executions; these pairs are the
// whole of the weaker-model argument (no fence, no store-load pattern).
#pragma once

#include <sched.h>

#include <atomic>
#include <cstdint>

namespace volley::remote::detail {

struct write_side_test_access;  // tests/checker: the known-bad variants

/// What a sender's try_write() did.
enum class direct_write {
  not_taken,  ///< the side was not free, the link not clear, or the socket refused: queue it
  written,    ///< the frame is in the socket
  torn,       ///< part of it is: the stream is lost, the side stays the loop's (invariant 6)
};

/// `Sync` gives `atomic<T>` and `wait()` (the loop's pause while a sender
/// finishes its syscall). write_sync below is the product's; the checker
/// has its own.
template <class Sync>
class basic_write_side {
 public:
  // -- the loop ----------------------------------------------------------------

  /// Lets senders write to `fd`. The caller's part: the connection is
  /// established and plaintext, nothing is queued or in flight on it, and
  /// the epoch is already the current incarnation's.
  void offer(int fd) noexcept {
    if (offered_) return;
    fd_.store(fd, std::memory_order_relaxed);
    torn_ = false;
    writer_.store(idle, std::memory_order_release);  // publishes fd and epoch
    offered_ = true;
  }
  /// Whether offer() left the side to senders and claim() has not taken it back.
  bool offered() const noexcept { return offered_; }
  /// Takes the side back before the loop writes. False while a sender holds
  /// it: try again after its write.
  bool claim() noexcept {
    if (!offered_) return true;
    std::uint32_t expected = idle;
    // acq_rel: acquire pairs with a sender's give-back, so its write is
    // done; a torn write left `loop`, which is ours as well.
    if (!writer_.compare_exchange_strong(expected, loop, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      if (expected != loop) return false;
      torn_ = true;  // only a torn write hands an offered side back as `loop`
    }
    offered_ = false;
    return true;
  }
  /// Takes it for good (close, a merge): a sender holds it for one ioctl and
  /// one non-blocking send. A tear it finds stays noted for take_torn(): a
  /// merge takes the side and the connection goes on until the loop meets
  /// the end of stream that the tearing sender's shutdown caused.
  void take() noexcept {
    while (!claim()) Sync::wait();
  }
  /// take(), for the loop that meets the end of its stream or a failed
  /// write: whether a sender's write since the offer was torn, which is then
  /// the cause (that sender shut the socket down). It waits out a sender
  /// first: one that tears shuts the socket down before it gives the side
  /// back, so its end of stream can be read while it still holds the side.
  bool take_torn() noexcept {
    while (!claim()) Sync::wait();
    bool was = torn_;
    torn_ = false;
    return was;
  }

  // -- a sender ----------------------------------------------------------------

  /// A hint, before the frame is encoded: false means do not bother.
  bool looks_idle() const noexcept { return writer_.load(std::memory_order_relaxed) == idle; }

  /// Claims the side; then, if `clear()` (read after the claim: nothing
  /// queued on the link, the epoch unchanged), calls `write(fd)`, which
  /// returns what it wrote, and shuts the socket down before it returns
  /// `torn`. Gives the side back: as `loop` if the frame was torn.
  template <class Clear, class Write>
  direct_write try_write(Clear&& clear, Write&& write) {
    std::uint32_t expected = idle;
    // acq_rel: acquire pairs with the loop's offer (release), so its last
    // write and the fd and epoch it published are visible; release makes this
    // thread's earlier reservations visible to a loop that claims after us.
    if (!writer_.compare_exchange_strong(expected, sender, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
      return direct_write::not_taken;
    if (!clear()) {
      writer_.store(idle, std::memory_order_release);
      return direct_write::not_taken;
    }
    direct_write r = write(fd_.load(std::memory_order_relaxed));
    if (r == direct_write::torn) {
      // `write` has shut the socket down: nothing follows the torn frame.
      // `loop`, not `idle`: take_torn() tells the loop, which closes the connection.
      writer_.store(loop, std::memory_order_release);
      return r;
    }
    writer_.store(idle, std::memory_order_release);
    return r;
  }

 private:
  friend struct write_side_test_access;

  static constexpr std::uint32_t loop = 0;
  static constexpr std::uint32_t idle = 1;
  static constexpr std::uint32_t sender = 2;

  typename Sync::template atomic<std::uint32_t> writer_{loop};
  /// The socket, published by the loop before it offers the side.
  typename Sync::template atomic<int> fd_{-1};
  bool offered_ = false;  // the loop's own: the word is idle or a sender's
  bool torn_ = false;     // the loop's own: a claim found a torn write's `loop`
};

/// The product's Sync.
struct write_sync {
  template <class T>
  using atomic = std::atomic<T>;
  static void wait() noexcept { sched_yield(); }
};

using write_side = basic_write_side<write_sync>;

}  // namespace volley::remote::detail
