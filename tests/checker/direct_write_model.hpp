// tests/checker/direct_write_model.hpp — the world direct_write_checker_test
// runs: the real write side (remote/src/write_side.hpp) and the real inbox
// (handoff_mpsc) with model atomics, beside a model of the transport loop,
// of the sending threads and of a socket. The test file lists the cases and
// what each shows; this file says what is modelled and what is checked.
//
// The socket is an append-only byte log (a frame is two bytes, each its own
// step) behind a model fd table: fd 3 names the connection's socket, then
// nothing (closed: the number may be reused), then the new incarnation's.
// A send is atomic against shutdown (both take the socket's lock): it finds
// the socket shut and takes nothing (EPIPE), or writes its bytes.
//
// What a direct write meets is the model's choice (choose()), within a
// budget of faults per run: the socket takes the frame whole; or the
// sender is refused before it writes (SIOCOUTQ fails or reports unsent
// bytes, or send() takes nothing: EAGAIN); or send() takes one byte of the
// two (a short write, ENOBUFS mid-frame): torn. transport_direct.cpp's
// answer to each: a refusal gives the side back and the frame to the
// loop's queue; a torn write counts the frame of unknown fate, shuts the
// socket down and leaves the side `loop`.
//
// The loop: comes up and offers the side; a heartbeat comes due (a control
// frame, not in the link's queued count); each turn it reads the socket
// (an end of stream: the peer's close, or our own shutdown after a torn
// write, which write_side::take_torn() tells apart), pops the inbox, claims
// before each sendmsg of what it holds, lets an in-flight sendmsg's bytes
// land and completes it (written, or, on EPIPE, which writes nothing,
// dead-lettered, and the connection closes), and offers the side again when nothing is queued or
// in flight; on a close it takes the side for good, dead-letters what it
// holds, closes the fd once nothing is in flight, and, for a new
// incarnation, bumps the epoch and offers again on the same fd number.
//
// 1-2 senders: stamp the epoch, look, claim, read the queued count and the
// epoch, write, give back; or reserve in the queued count and push the
// frame to the loop's inbox. The second sender starts after the first
// one's first send returned (it synchronised with it). A closer asks the
// loop to close at any moment, or (closing::merge) to take the side for
// good as an association's merge does, the connection going on.
//
// Checked in every schedule (check() as it happens, final_check() at the end):
//   * no two writers inside the socket at once; a frame's bytes adjacent on
//     its stream, and nothing after a torn frame's byte on that stream;
//   * per-sender order: a sender's frames reach the log in the order sent,
//     and a frame sent after synchronising with another sender's frame
//     follows it;
//   * after close no write begins (nor reaches another incarnation's socket);
//   * every frame ends in exactly one bucket: written (whole in the log, once),
//     fate unknown (a torn write), or dead-lettered by the loop (none of
//     its bytes in the log: still queued, or in a sendmsg that failed); a torn frame
//     is counted of unknown fate; the queued count ends at 0;
//   * a torn connection closes, and the loop knows why (not "the peer
//     closed"); one that stayed up wrote every frame.
#pragma once

#include "write_side.hpp"

#include <volley/queues/handoff_mpsc.hpp>

#include <optional>
#include <vector>

#include "expect_clean.hpp"

namespace direct_write_model {

using namespace volley::checker;  // the explorer, its checks, model_atomic

struct model_sync {
  template <class T>
  using atomic = model_atomic<T>;
  static void wait() noexcept { spin_wait(); }
};

}  // namespace direct_write_model

namespace volley::remote::detail {

// Known-bad variants of the write side, kept so the checker has to catch them.
struct write_side_test_access {
  /// (b) The link read before the claim, not after it.
  template <class W, class Clear, class Write>
  static direct_write try_write_checking_first(W& w, Clear&& clear, Write&& write) {
    if (!clear()) return direct_write::not_taken;
    std::uint32_t expected = W::idle;
    if (!w.writer_.compare_exchange_strong(expected, W::sender)) return direct_write::not_taken;
    direct_write r = write(w.fd_.load());
    w.writer_.store(r == direct_write::torn ? W::loop : W::idle);
    return r;
  }
  /// (c) A close that takes the side with a store: a sender mid-write goes on.
  template <class W>
  static void take_without_waiting(W& w) {
    w.writer_.store(W::loop);
    w.offered_ = false;
  }
  /// (j) A take() that forgets the tear its claim found (as take() did
  /// before: a tear just before a merge then closed as the peer's close).
  template <class W>
  static void take_forgetting_tear(W& w) {
    w.take();
    w.torn_ = false;
  }
  /// (f), (g) A torn write that gives the side back as `loop` (f) or `idle`
  /// (g), then calls `after` (the shutdown, where the variant does it there).
  template <class W, class Clear, class Write, class After>
  static direct_write try_write_torn_then(W& w, bool as_idle, Clear&& clear, Write&& write,
                                          After&& after) {
    std::uint32_t expected = W::idle;
    if (!w.writer_.compare_exchange_strong(expected, W::sender)) return direct_write::not_taken;
    if (!clear()) {
      w.writer_.store(W::idle);
      return direct_write::not_taken;
    }
    direct_write r = write(w.fd_.load());
    w.writer_.store(r == direct_write::torn && !as_idle ? W::loop : W::idle);
    if (r == direct_write::torn) after();
    return r;
  }
};

}  // namespace volley::remote::detail

namespace direct_write_model {

using write_side = volley::remote::detail::basic_write_side<model_sync>;
using volley::remote::detail::direct_write;
using bad = volley::remote::detail::write_side_test_access;
using queue = volley::queues::basic_handoff_mpsc<model_atomic>;
using node = queue::node;

constexpr int max_senders = 2;
constexpr int max_frames = 2;  // per sender
constexpr int the_fd = 3;      // the connection's fd number, reused after close
constexpr int heartbeat = -1;  // the sender field of the loop's control frame

enum class variant {
  correct,
  loop_skips_claim,         // (a)
  sender_trusts_offer,      // (b) reads no count after the claim
  sender_checks_first,      // (b) reads the link before the claim
  close_without_wait,       // (c)
  offer_while_in_flight,    // (d)
  torn_without_shutdown,    // (e) the socket stays up after a torn write
  torn_gives_back_first,    // (f) the side back (idle), then the shutdown
  torn_gives_back_idle,     // (g) the shutdown, then the side back as idle
  refusal_reports_written,  // (h) a refused frame reported written: dropped
  refusal_queued_late,      // (i) a refused frame queued after the sender's next
  take_forgets_tear         // (j) a merge's take() forgets a tear it found
};
/// What the closer thread asks for: nothing, a close, a new incarnation, or
/// an association's merge (fold_queue: the loop takes the side for good and
/// the connection goes on, carrying the loser's frames).
enum class closing { none, close, new_incarnation, merge };
/// What a direct write may meet, besides a socket that takes it whole.
enum class faults { none, refusal, tear, any };

struct config {
  int senders = 1;
  int frames = max_frames;  // of the first sender; a second sends one
  closing close = closing::none;
  variant v = variant::correct;
  faults f = faults::none;
  int fault_budget = 1;  // faults per run
};

struct item : node {  // a frame handed to the loop's inbox
  int sender = 0;
  int seq = 0;
  std::uint32_t epoch = 0;
};

struct frame_ref {
  int sender;
  int seq;
  std::uint32_t epoch;  // 0: a control frame, for any incarnation
};

/// One byte in the log: which socket, which frame, which half.
struct log_byte {
  int socket;
  int sender;
  int seq;
  int part;
};

/// How the loop closed a socket.
enum class closed_as { open, asked, peer_closed, io_error, torn_write };

struct world {
  config cfg;

  // -- shared state: the link and the socket -----------------------------------
  write_side side;
  model_atomic<int> queued{0};           // link_shared::queued, in frames
  model_atomic<std::uint32_t> epoch{1};  // link_shared::epoch
  queue inbox;
  item items[max_senders][max_frames];
  // The fd table's entry for the_fd: 1 = the first connection's socket,
  // 2 = the new incarnation's, 0 = closed (another file may get the number).
  model_atomic<int> fd_names{1};
  std::uint32_t socket_epoch[3] = {0, 1, 2};
  model_atomic<int> shut[3];    // socket k shut down (by a torn write's sender)
  model_atomic<int> inside{0};  // writers inside the socket
  model_atomic<int> log_len{0};
  static constexpr int log_capacity = 4 * (max_senders * max_frames + 1);
  log_byte log[log_capacity];
  bool torn[3] = {};                        // bookkeeping: socket k's stream ends inside a frame
  model_atomic<int> returned[max_senders];  // sends that have returned
  model_atomic<int> senders_done{0};
  model_atomic<int> close_asked{0};
  int faults_left = 0;  // changed only inside a run, deterministically

  // -- where each frame ended (bookkeeping, by whoever decided it) --------------
  int written[max_senders][max_frames] = {};  // counted written whole
  int fate_unknown[max_senders][max_frames] = {};
  int undelivered[max_senders][max_frames] = {};

  // -- a sender's own ------------------------------------------------------------
  bool refused[max_senders] = {};  // its last direct write was refused
  struct held_frame {
    int seq;
    std::uint32_t epoch;
  };
  std::optional<held_frame> held[max_senders];  // (i): a refused frame kept back

  // -- the loop's own ------------------------------------------------------------
  std::vector<item*> out;        // popped, not yet written
  std::vector<frame_ref> batch;  // the sendmsg in flight
  bool in_flight = false;
  bool heartbeat_due = true;  // comes due right after the connection is up
  bool is_closing = false;    // close() ran; the fd is not closed yet
  bool closed_for_good = false;
  bool close_taken = false;  // the closer's request was acted on
  bool reincarnated = false;
  int socket_now = 1;             // which socket the connection has
  std::uint32_t stale_below = 0;  // items stamped below it meant an old incarnation
  closed_as how_closed[3] = {};

  explicit world(const config& c) : cfg(c), faults_left(c.fault_budget) {
    for (int s = 0; s < max_senders; ++s)
      for (int i = 0; i < max_frames; ++i) {
        items[s][i].sender = s;
        items[s][i].seq = i;
      }
  }

  int frames_of(int s) const { return s == 0 ? cfg.frames : 1; }
  bool may_tear() const { return cfg.f == faults::tear || cfg.f == faults::any; }

  // -- the socket ------------------------------------------------------------------

  /// write(fd, frames) of at most `limit` bytes, each byte its own step;
  /// returns the bytes taken: none into a shut socket (EPIPE).
  int socket_write(int fd, const std::vector<frame_ref>& frames, int limit) {
    int names = fd_names.load();
    check(fd == the_fd && names != 0, "a write began after close");
    if (names == 0) return 0;
    for (const auto& f : frames)
      check(f.epoch == 0 || f.epoch == socket_epoch[names],
            "a frame reached an incarnation it was not sent to");
    if (shut[names].load() != 0) return 0;
    check(inside.fetch_add(1) == 0, "two writers inside the socket");
    int n = 0;
    for (const auto& f : frames)
      for (int part = 0; part < 2 && n < limit; ++part, ++n) {
        int at = log_len.fetch_add(1);
        check(!torn[names], "a byte followed a torn frame on its stream");
        check(at < log_capacity, "more bytes than frames to write");
        if (at < log_capacity) log[at] = {names, f.sender, f.seq, part};
        check(fd_names.load() == names, "a write went on after close");
      }
    if (n % 2 != 0) torn[names] = true;
    inside.fetch_sub(1);
    return n;
  }

  /// shutdown(fd, SHUT_RDWR) by a torn write's sender.
  void shut_down(int fd) {
    int names = fd_names.load();
    if (fd == the_fd && names != 0) shut[names].store(1);
  }

  // -- a sender ------------------------------------------------------------------

  enum class takes { whole, refused, torn };

  /// What the socket does with this direct write: the model's choice.
  takes socket_takes() {
    if (cfg.f == faults::none || faults_left == 0) return takes::whole;
    int c = choose(cfg.f == faults::any ? 3 : 2);
    if (c == 0) return takes::whole;
    --faults_left;
    if (cfg.f == faults::refusal) return takes::refused;
    if (cfg.f == faults::tear) return takes::torn;
    return c == 1 ? takes::refused : takes::torn;
  }

  /// transport_direct.cpp's write(fd): the SIOCOUTQ look, send(), and what
  /// each outcome does.
  direct_write write_direct(int s, int i, std::uint32_t ep, int fd) {
    takes t = socket_takes();
    if (t == takes::refused) {
      refused[s] = true;
      if (cfg.v == variant::refusal_reports_written) return direct_write::written;
      return direct_write::not_taken;
    }
    int n = socket_write(fd, {{s, i, ep}}, t == takes::torn ? 1 : 2);
    if (n == 0) return direct_write::not_taken;  // EPIPE, EAGAIN: the loop's, like a refusal
    if (n == 1) {
      ++fate_unknown[s][i];
      bool shuts_here =
          cfg.v != variant::torn_without_shutdown && cfg.v != variant::torn_gives_back_first;
      if (shuts_here) shut_down(fd);
      return direct_write::torn;
    }
    ++written[s][i];
    return direct_write::written;
  }

  void enqueue(int s, int i, std::uint32_t ep) {
    queued.fetch_add(1);  // reserve, then push: the loop's way
    items[s][i].epoch = ep;
    inbox.push(&items[s][i]);
  }

  void send(int s, int i) {
    std::uint32_t ep = epoch.load();  // send(): the epoch when it took the frame
    auto clear = [&] {
      if (cfg.v == variant::sender_trusts_offer) return true;
      return queued.load() == 0 && epoch.load() == ep;
    };
    auto write = [&](int fd) { return write_direct(s, i, ep, fd); };
    direct_write r = direct_write::not_taken;
    refused[s] = false;
    if (side.looks_idle()) {
      switch (cfg.v) {
        case variant::sender_checks_first:
          r = bad::try_write_checking_first(side, clear, write);
          break;
        case variant::torn_gives_back_first:
          r = bad::try_write_torn_then(side, false, clear, write, [&] { shut_down(the_fd); });
          break;
        case variant::torn_gives_back_idle:
          r = bad::try_write_torn_then(side, true, clear, write, [] {});
          break;
        default:
          r = side.try_write(clear, write);
      }
    }
    if (r != direct_write::not_taken) return;
    if (cfg.v == variant::refusal_queued_late && refused[s]) {
      held[s] = held_frame{i, ep};  // queued after the next frame's send
      return;
    }
    enqueue(s, i, ep);
  }

  void sender(int s) {
    if (s == 1)  // an actor's next turn, on another thread: after the first send
      while (returned[0].load() == 0) spin_wait();
    for (int i = 0; i < frames_of(s); ++i) {
      std::optional<held_frame> before = held[s];
      held[s].reset();
      send(s, i);
      if (before) enqueue(s, before->seq, before->epoch);
      returned[s].store(i + 1);
    }
    if (held[s]) enqueue(s, held[s]->seq, held[s]->epoch);
    senders_done.fetch_add(1);
  }

  // -- the loop ------------------------------------------------------------------

  bool open() const { return !is_closing && !closed_for_good; }

  void drop(item* it) {  // counted undelivered: its reservation goes
    ++undelivered[it->sender][it->seq];
    queued.fetch_sub(1);
  }

  void close(closed_as why) {  // close(): the side for good, then what is queued
    if (cfg.v == variant::close_without_wait) {
      bad::take_without_waiting(side);
    } else {
      side.take();
    }
    is_closing = true;
    how_closed[socket_now] = why;
    for (item* it : out) drop(it);
    out.clear();
    heartbeat_due = false;
  }

  void close_fd() {  // finalize_closed: nothing in flight any more
    fd_names.store(0);
    is_closing = false;
    if (cfg.close != closing::new_incarnation || reincarnated) {
      closed_for_good = true;
      return;
    }
    // become_up with a new incarnation: the epoch first, then the offer
    // (the turn's end), on a new socket that got the same fd number.
    reincarnated = true;
    stale_below = epoch.fetch_add(1) + 1;
    socket_now = 2;
    fd_names.store(2);
  }

  void complete_sendmsg() {  // the kernel writes the batch; its completion
    int want = 2 * static_cast<int>(batch.size());
    int took = socket_write(the_fd, batch, want);
    bool whole = took == want;
    int user = 0;
    for (const auto& f : batch) {
      if (f.sender == heartbeat) continue;
      ++user;
      if (whole) {
        ++written[f.sender][f.seq];
      } else if (took == 0) {
        ++undelivered[f.sender][f.seq];  // on_send: a failed sendmsg wrote none of it
      } else {
        ++fate_unknown[f.sender][f.seq];
      }
    }
    if (user > 0) queued.fetch_sub(user);
    batch.clear();
    in_flight = false;
    if (!whole && open()) close(side.take_torn() ? closed_as::torn_write : closed_as::io_error);
  }

  bool pop_inbox() {
    bool any = false;
    while (node* n = inbox.pop()) {
      auto* it = static_cast<item*>(n);
      any = true;
      if (!open() || it->epoch < stale_below) {
        drop(it);
      } else {
        out.push_back(it);
      }
    }
    return any;
  }

  bool flush() {  // flush_dirty: claim, then prepare and submit one sendmsg
    if (in_flight || !open() || (!heartbeat_due && out.empty())) return false;
    if (cfg.v != variant::loop_skips_claim && !side.claim()) return false;  // after the sender
    if (heartbeat_due) batch.push_back({heartbeat, 0, 0});
    for (item* it : out) batch.push_back({it->sender, it->seq, it->epoch});
    out.clear();
    heartbeat_due = false;
    in_flight = true;
    return true;
  }

  void maybe_offer() {  // offer_write_side's conditions
    bool quiet = !in_flight || cfg.v == variant::offer_while_in_flight;
    if (open() && !heartbeat_due && out.empty() && quiet) side.offer(the_fd);
  }

  /// on_recv's end of stream: the peer's close, or our own shutdown after
  /// a torn write. Read only where a write may tear (nothing else shuts).
  bool socket_ended() { return may_tear() && open() && shut[socket_now].load() != 0; }

  /// One turn; whether it did anything.
  bool turn() {
    bool did = false;
    if (cfg.close != closing::none && !close_taken && open() && close_asked.load() != 0) {
      close_taken = true;
      if (cfg.close != closing::merge) {
        close(closed_as::asked);
      } else if (cfg.v == variant::take_forgets_tear) {
        bad::take_forgetting_tear(side);
      } else {
        side.take();
      }
      did = true;
    }
    if (socket_ended()) {
      close(side.take_torn() ? closed_as::torn_write : closed_as::peer_closed);
      did = true;
    }
    if (in_flight) {
      complete_sendmsg();
      did = true;
    }
    if (is_closing && !in_flight) {
      close_fd();
      did = true;
    }
    did |= pop_inbox();
    did |= flush();
    maybe_offer();
    return did;
  }

  bool finished() {
    bool close_done = cfg.close == closing::none || close_taken || closed_for_good || reincarnated;
    return senders_done.load() == cfg.senders && close_done && !is_closing &&
           !inbox.maybe_nonempty() && out.empty() && !in_flight && !heartbeat_due &&
           !socket_ended();
  }

  void loop() {
    maybe_offer();  // become_up: nothing queued yet; the heartbeat is not due yet
    heartbeat_due = true;
    while (!finished())
      if (!turn()) spin_wait();
  }

  // -- the end -----------------------------------------------------------------

  void final_check() {
    int n = log_len.peek();
    if (n > log_capacity) return;  // reported as it happened
    int whole[max_senders][max_frames] = {};
    int position[max_senders][max_frames] = {};
    bool torn_frame[max_senders][max_frames] = {};
    for (int socket = 1; socket <= 2; ++socket) {
      std::vector<int> at;  // this socket's stream, in order
      for (int k = 0; k < n; ++k)
        if (log[k].socket == socket) at.push_back(k);
      for (std::size_t j = 0; j < at.size(); j += 2) {
        const log_byte& a = log[at[j]];
        if (a.part != 0) {
          check(false, "bytes of two frames interleaved in the log");
          return;
        }
        if (j + 1 == at.size()) {  // the stream ends inside this frame
          if (a.sender != heartbeat) torn_frame[a.sender][a.seq] = true;
          break;
        }
        const log_byte& b = log[at[j + 1]];
        if (b.part != 1 || a.sender != b.sender || a.seq != b.seq) {
          check(false, "bytes of two frames interleaved in the log");
          return;
        }
        if (a.sender == heartbeat) continue;
        ++whole[a.sender][a.seq];
        position[a.sender][a.seq] = at[j];
      }
    }
    bool any_torn = torn[1] || torn[2];
    bool stayed_up = (cfg.close == closing::none || cfg.close == closing::merge) && !any_torn;
    for (int s = 0; s < cfg.senders; ++s)
      for (int i = 0; i < frames_of(s); ++i) {
        check(written[s][i] + fate_unknown[s][i] + undelivered[s][i] == 1,
              "a frame was not accounted for once");
        check(whole[s][i] <= 1, "a frame reached the socket twice");
        if (written[s][i] != 0) check(whole[s][i] == 1, "a frame counted written is not whole");
        if (undelivered[s][i] != 0)
          check(whole[s][i] == 0 && !torn_frame[s][i], "a frame counted undelivered was written");
        if (torn_frame[s][i]) check(fate_unknown[s][i] == 1, "a torn frame not of unknown fate");
        if (stayed_up) check(written[s][i] == 1, "a frame was not written on a connection up");
      }
    for (int i = 1; i < cfg.frames; ++i)
      if (whole[0][i - 1] != 0 && whole[0][i] != 0)
        check(position[0][i - 1] < position[0][i], "a sender's frames came out of order");
    if (cfg.senders > 1 && whole[0][0] != 0 && whole[1][0] != 0)
      check(position[0][0] < position[1][0],
            "a frame sent after synchronising with another's came out of order");
    for (int socket = 1; socket <= 2; ++socket) {
      if (!torn[socket]) continue;
      check(how_closed[socket] != closed_as::open, "a torn connection was not closed");
      check(
          how_closed[socket] != closed_as::peer_closed && how_closed[socket] != closed_as::io_error,
          "a torn connection closed without the loop knowing it was torn");
    }
    check(queued.peek() == 0, "the queued count did not return to 0");
  }
};

}  // namespace direct_write_model
