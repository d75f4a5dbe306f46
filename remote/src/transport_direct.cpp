// Direct writes: a thread that sends an ask, or the reply to one, writes the
// frame to the socket itself when the connection's write side is idle,
// instead of handing it to the loop (transport_settings::direct_writes).
//
// Why: a plain thread's ask went asker -> A's loop (an inbox push, and an
// eventfd write when the loop slept) -> socket; a worker's reply went worker
// -> B's loop -> socket. Each of those hand-offs is a wake-up when the loop
// sleeps (~3 us on the reference VM when wake-ups are cheap, ~40 us when a
// halted vCPU must be woken), and one loop turn of latency when it spins.
// Written by the sender, the request reaches B's socket with no other
// thread in between, as raw TCP's does. Tells never take this path: they
// are batched (transport_stage.cpp), and a syscall per tell would undo it.
// A busy-polling node writes only its plain threads' asks this way (its
// workers' asks and replies still go to the loop): its loop takes a pushed
// frame within a turn with no wake-up, but on a machine with no core to
// spare that turn waits for the loop to get a core back from the asker and
// the answering loop it yields to. The asker that writes its ask then waits
// for the reply awake (node.cpp: poll_for_reply), so the answering loop's
// wake-up, which its send causes, lands on a core that is not idle.
// Nor the loop itself (a reply from a handler it runs inline, or one whose
// local ask was answered before deliver_ask attached its callback): the
// frame goes through the inbox into the same turn's sendmsg, which the turn
// submits anyway (strace, remote_bench --only=rtt_busy_poll_inline: B's
// loop 4.04 -> 3.02 syscalls per round trip, the ioctl and the send gone).
//
// Measured (remote_bench 1000 3000 all --no-tls --only=..., bench preset,
// 7 interleaved rounds against f059159, load 12-14, medians): the default
// ask (reply spin 50 us) p50 27.66 -> 18.91 us, 8.04 -> 5.99 context
// switches and 29.0 -> 20.6 CPU-us per round trip; without the spin 24.19
// -> 18.57 us; with inline handlers 13.30 -> 11.23 us, 4.05 -> 3.58
// switches. Raw blocking TCP in the same runs: 5.56 us, 2.0 switches. With
// busy_poll on A it was worse (12.95 -> 14.14 us, 4.0 -> 6.0 switches: the
// asker's syscalls woke B's loop onto the asker's own core), hence an
// exception for busy-polling nodes, until the asker there stopped sleeping
// on the futex 20 µs into its wait (session 13, AMD EPYC 2-core VM, remote_bench
// 1000 100000 all --no-tls --only=rtt_busy_poll_inline,raw_rtt_busy_poll, 7
// interleaved rounds, load ~4.1, medians): busy-poll ask with inline
// handlers p50 27.47 us (the old asker) -> 24.16 (awake asker, the loop
// writes) -> 21.10 (awake asker writing its ask), per-round ratio against
// the old 0.997 / 0.797; per run against raw busy-poll of the same run
// 2.23x -> 1.96x -> 1.56x; CPU per round trip 62.6 -> 50.8 -> 44.7 us.
//
// Who writes: link_shared::writer, a three-state word (loop / idle /
// sender) whose protocol, invariants and memory orders are in
// write_side.hpp, checked under every schedule by
// tests/checker/direct_write_checker_test.cpp. Here: the loop offers the
// side (offer_write_side) only when the connection is established,
// plaintext, not lingering, has nothing queued (user or control) and no
// sendmsg in flight, and no other connection's frames are forwarded to it
// (an association's merge, whose order the loop's queue keeps); it takes it
// back before each sendmsg (flush_dirty) and for good at close() and at a
// merge (fold_queue), waiting out a sender's write.
//
// Order per sender: a sender writes directly only when link_shared::queued
// is 0, read after the claim. Every frame this thread sent earlier on the
// link, and every frame sent by a thread it synchronised with since (an
// actor's previous turn on another worker), was reserved in `queued` before
// this read (the reservation happens-before it), and is only released by
// the loop once written (or dropped). So reading 0 means those frames are
// in the socket already: the loop wrote them under its own claim, and that
// claim's sendmsg completed before the offer that our CAS read (the release
// sequence on `writer`). A staged chain holds its reservation, so staged
// tells also keep an ask from overtaking them. Frames of threads that did
// not synchronise with this one are unordered with it anyway.
//
// A new incarnation: become_up bumps the epoch before it offers the side, so
// a sender that read the old epoch sees the new one after its claim and
// gives the frame to the loop, which reports it undelivered as before.
//
// Torn frames: the write is non-blocking (send() never blocks), so it could
// in principle write part of a frame, and the rest could not follow before
// another frame. It is attempted only for a frame of at most
// direct_write_max bytes into a socket whose send queue is empty
// (SIOCOUTQ 0: nothing unsent or unacknowledged), which TCP takes whole into
// one buffer or not at all. Should a write still come back short, the
// stream is lost: the sender counts the frame of unknown fate and shuts the
// socket down before it leaves the side to the loop (write_side.hpp,
// invariant 6), so no byte follows the half frame, neither the loop's nor
// another sender's; the loop, told by write_side::take_torn(), closes the
// connection as an i/o error when it meets the end of stream or a failed
// write, without a close frame (none could be written). The peer reads a
// frame cut off by the end of stream (truncated_payload). The checker
// explores a short write and a refusal at every direct write; tests/remote/
// direct_write_test.cpp makes both on a real socket.
//
// A refusal (SIOCOUTQ failing or reporting unsent bytes, send() taking
// nothing) gives the side back; the frame goes the loop's way, reserved in
// `queued` before this thread sends again, so it keeps its place.
//
// Accounting: a frame written here is counted queued, then sent
// (direct_sent_), after the write; a write that took nothing (EAGAIN, a
// reset) gives the side back and the frame goes the usual way, where it is
// counted as any other. So queued = sent + undelivered + fate unknown still
// holds exactly.
#include "transport_impl.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>

namespace volley::remote {

namespace {

/// The largest frame a sender writes itself. An ask of a small message is
/// ~60-150 bytes. 512 is below IPv4's minimum MSS (536), so the frame is one
/// segment and one buffer: into an empty send queue it is taken whole.
constexpr std::size_t direct_write_max = 512;

}  // namespace

bool transport::impl::write_directly(const frame& f, std::size_t size, std::uint32_t epoch,
                                     detail::link_shared& l) {
  // The loop's own frame (a reply from a handler it runs inline) goes into
  // this turn's sendmsg, which the turn submits anyway: written here it
  // would cost an ioctl and a send() more per round trip.
  if (size > direct_write_max || running_loop == this || !l.writer.looks_idle()) return false;
  std::array<std::byte, direct_write_max> bytes;  // encoded before the claim: held shorter
  encode_exact(f, {bytes.data(), size});
  // Relaxed: see "Order per sender" above (the reservations to be seen
  // happen-before these loads; the claim's acquire makes the epoch visible).
  auto clear = [&l, epoch] {
    return l.queued.load(std::memory_order_relaxed) == 0 &&
           l.epoch.load(std::memory_order_relaxed) == epoch;
  };
  auto write = [&](int fd) {
    int unsent = 0;
    if (::ioctl(fd, SIOCOUTQ, &unsent) != 0 || unsent != 0) return detail::direct_write::not_taken;
    ssize_t n = ::send(fd, bytes.data(), size, MSG_DONTWAIT | MSG_NOSIGNAL);
    // Nothing taken (full, reset, closed): the loop sends it, or reports it.
    if (n <= 0) return detail::direct_write::not_taken;
    // Queued first, then sent: a stats() reader never sees sent ahead of queued.
    frames_queued_.add();
    if (static_cast<std::size_t>(n) != size) {
      // Argued impossible above; if it happens, no frame may follow the torn
      // one on this stream. The shutdown comes before try_write gives the
      // side back (as `loop`): every later write on this socket fails, and
      // the loop closes the connection (write_side.hpp, invariant 6).
      direct_fate_unknown_.fetch_add(1, std::memory_order_relaxed);
      ::shutdown(fd, SHUT_RDWR);
      return detail::direct_write::torn;
    }
    direct_sent_.fetch_add(1, std::memory_order_relaxed);
    return detail::direct_write::written;
  };
  return l.writer.try_write(clear, write) != detail::direct_write::not_taken;
}

void transport::impl::offer_write_side(connection& c) {
  if (c.shared->writer.offered() || !cfg_.direct_writes || c.tls ||
      c.state != conn_state::established || c.lingering || c.dirty || c.out.in_flight() ||
      c.out.has_user() || c.out.has_control())
    return;
  for (const auto& [from, fw] : forward_)
    if (fw.to == c.id) return;  // a merge's frames come through the queue, in order
  c.shared->writer.offer(c.fd);
}

bool transport::impl::claim_write_side(connection& c) {
  return c.shared->writer.claim();
}

void transport::impl::take_write_side(connection& c) {
  c.shared->writer.take();
}

bool transport::impl::take_write_side_torn(connection& c) {
  return c.shared->writer.take_torn();
}

}  // namespace volley::remote
