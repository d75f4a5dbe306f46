// Exhaustive small-schedule checks of direct writes (remote/src/
// transport_direct.cpp): the real write side (remote/src/write_side.hpp:
// offer, claim, take, try_write) and the real inbox (handoff_mpsc), with
// model atomics, under every schedule (within a preemption bound) of
//   * the loop: comes up and offers the side; a heartbeat comes due (a
//     control frame, not in the link's queued count); each turn it pops the
//     inbox, claims before each sendmsg of what it holds, lets an in-flight
//     sendmsg's bytes land and completes it (releasing the queued count),
//     and offers the side again when nothing is queued or in flight; on a
//     close it takes the side for good, closes the fd once nothing is in
//     flight, and, for a new incarnation, bumps the epoch and offers again
//     on the same fd number;
//   * 1-2 senders: stamp the epoch, look, claim, read the queued count and
//     the epoch, write, give back; or reserve in the queued count and push
//     the frame to the loop's inbox. The second sender starts after the
//     first one's first send returned (it synchronised with it);
//   * a closer: asks the loop to close at any moment.
// The socket is an append-only byte log (a frame is two bytes, each its own
// step), behind a model fd table: fd 3 names the connection's socket, then
// nothing (closed: the number may be reused), then the new incarnation's.
// Checked in every schedule:
//   * no two writers inside the socket at once, and whole frames in the log;
//   * per-sender order: a sender's frames reach the log in the order sent,
//     and a frame sent after synchronising with another sender's frame
//     follows it;
//   * after close no write begins (nor reaches another incarnation's socket);
//   * every frame is accounted for exactly once: in the log, or counted
//     undelivered by the loop; the queued count ends at 0.
//
// Known-bad variants, each must be caught:
//   (a) the loop writes without claiming the side first;
//   (b) a sender that does not read the link after its claim: one that
//       trusts the offer (reads no count), and one that reads the count and
//       epoch before the claim;
//   (c) a close that does not wait out a sender in its syscall;
//   (d) the loop offering the side while a sendmsg is in flight.
//
// Memory model: the explorer runs sequentially consistent executions; the
// side's orders are release/acquire pairs, argued in write_side.hpp.
#include "write_side.hpp"

#include <volley/queues/handoff_mpsc.hpp>

#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "expect_clean.hpp"

namespace {

using namespace volley::checker;  // the explorer, its checks, model_atomic

struct model_sync {
  template <class T>
  using atomic = model_atomic<T>;
  static void wait() noexcept { spin_wait(); }
};

}  // namespace

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
};

}  // namespace volley::remote::detail

namespace {

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
  loop_skips_claim,      // (a)
  sender_trusts_offer,   // (b) reads no count after the claim
  sender_checks_first,   // (b) reads the link before the claim
  close_without_wait,    // (c)
  offer_while_in_flight  // (d)
};
enum class closing { none, close, new_incarnation };

struct config {
  int senders = 1;
  int frames = max_frames;  // of the first sender; a second sends one
  closing close = closing::none;
  variant v = variant::correct;
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
  model_atomic<int> inside{0};  // writers inside the socket
  model_atomic<int> log_len{0};
  log_byte log[4 * (max_senders * max_frames + 1)];
  model_atomic<int> returned[max_senders];  // sends that have returned
  model_atomic<int> senders_done{0};
  model_atomic<int> close_asked{0};

  // -- the loop's own ------------------------------------------------------------
  std::vector<item*> out;        // popped, not yet written
  std::vector<frame_ref> batch;  // the sendmsg in flight
  bool in_flight = false;
  bool heartbeat_due = true;  // comes due right after the connection is up
  bool is_closing = false;    // close() ran; the fd is not closed yet
  bool closed_for_good = false;
  std::uint32_t stale_below = 0;  // items stamped below it meant an old incarnation
  int undelivered[max_senders][max_frames] = {};

  explicit world(const config& c) : cfg(c) {
    for (int s = 0; s < max_senders; ++s)
      for (int i = 0; i < max_frames; ++i) {
        items[s][i].sender = s;
        items[s][i].seq = i;
      }
  }

  int frames_of(int s) const { return s == 0 ? cfg.frames : 1; }

  // -- the socket ------------------------------------------------------------------

  /// One writer's write(fd, frames): each byte its own step.
  void write_frames(int fd, const std::vector<frame_ref>& frames) {
    int names = fd_names.load();
    check(fd == the_fd && names != 0, "a write began after close");
    for (const auto& f : frames)
      check(f.epoch == 0 || f.epoch == socket_epoch[names],
            "a frame reached an incarnation it was not sent to");
    check(inside.fetch_add(1) == 0, "two writers inside the socket");
    for (const auto& f : frames)
      for (int part = 0; part < 2; ++part) {
        int at = log_len.fetch_add(1);
        log[at] = {names, f.sender, f.seq, part};
        check(fd_names.load() == names, "a write went on after close");
      }
    inside.fetch_sub(1);
  }

  // -- a sender ------------------------------------------------------------------

  void send(int s, int i) {
    std::uint32_t ep = epoch.load();  // send(): the epoch when it took the frame
    auto clear = [&] {
      if (cfg.v == variant::sender_trusts_offer) return true;
      return queued.load() == 0 && epoch.load() == ep;
    };
    auto write = [&](int fd) {
      write_frames(fd, {{s, i, ep}});
      return direct_write::written;
    };
    direct_write r = direct_write::not_taken;
    if (side.looks_idle()) {
      r = cfg.v == variant::sender_checks_first ? bad::try_write_checking_first(side, clear, write)
                                                : side.try_write(clear, write);
    }
    if (r != direct_write::not_taken) return;
    queued.fetch_add(1);  // reserve, then push: the loop's way
    items[s][i].epoch = ep;
    inbox.push(&items[s][i]);
  }

  void sender(int s) {
    if (s == 1)  // an actor's next turn, on another thread: after the first send
      while (returned[0].load() == 0) spin_wait();
    for (int i = 0; i < frames_of(s); ++i) {
      send(s, i);
      returned[s].store(i + 1);
    }
    senders_done.fetch_add(1);
  }

  // -- the loop ------------------------------------------------------------------

  void drop(item* it) {  // counted undelivered: its reservation goes
    ++undelivered[it->sender][it->seq];
    queued.fetch_sub(1);
  }

  void close() {  // close(): the side for good, then what is queued
    if (cfg.v == variant::close_without_wait) {
      bad::take_without_waiting(side);
    } else {
      side.take();
    }
    is_closing = true;
    for (item* it : out) drop(it);
    out.clear();
    heartbeat_due = false;
  }

  void close_fd() {  // finalize_closed: nothing in flight any more
    fd_names.store(0);
    is_closing = false;
    if (cfg.close != closing::new_incarnation) {
      closed_for_good = true;
      return;
    }
    // become_up with a new incarnation: the epoch first, then the offer
    // (the turn's end), on a new socket that got the same fd number.
    stale_below = epoch.fetch_add(1) + 1;
    fd_names.store(2);
  }

  void complete_sendmsg() {  // the kernel writes the batch; its completion
    write_frames(the_fd, batch);
    int user = 0;
    for (const auto& f : batch) user += f.sender != heartbeat;
    if (user > 0) queued.fetch_sub(user);
    batch.clear();
    in_flight = false;
  }

  bool pop_inbox() {
    bool any = false;
    while (node* n = inbox.pop()) {
      auto* it = static_cast<item*>(n);
      any = true;
      if (is_closing || closed_for_good || it->epoch < stale_below) {
        drop(it);
      } else {
        out.push_back(it);
      }
    }
    return any;
  }

  bool flush() {  // flush_dirty: claim, then prepare and submit one sendmsg
    if (in_flight || is_closing || closed_for_good || (!heartbeat_due && out.empty())) return false;
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
    if (!is_closing && !closed_for_good && !heartbeat_due && out.empty() && quiet)
      side.offer(the_fd);
  }

  /// One turn; whether it did anything.
  bool turn() {
    bool did = false;
    if (cfg.close != closing::none && !is_closing && !closed_for_good && stale_below == 0 &&
        close_asked.load() != 0) {
      close();
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
    bool close_done = cfg.close == closing::none || closed_for_good || stale_below != 0;
    return senders_done.load() == cfg.senders && close_done && !inbox.maybe_nonempty() &&
           out.empty() && !in_flight && !heartbeat_due;
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
    int written[max_senders][max_frames] = {};
    int position[max_senders][max_frames] = {};
    for (int at = 0; at + 1 < n; at += 2) {
      const log_byte& a = log[at];
      const log_byte& b = log[at + 1];
      if (a.part != 0 || b.part != 1 || a.sender != b.sender || a.seq != b.seq ||
          a.socket != b.socket) {
        check(false, "bytes of two frames interleaved in the log");
        return;
      }
      if (a.sender == heartbeat) continue;
      ++written[a.sender][a.seq];
      position[a.sender][a.seq] = at;
    }
    check(n % 2 == 0, "a frame was torn");
    for (int s = 0; s < cfg.senders; ++s)
      for (int i = 0; i < frames_of(s); ++i)
        check(written[s][i] + undelivered[s][i] == 1, "a frame was not accounted for once");
    for (int i = 1; i < cfg.frames; ++i)
      if (written[0][i - 1] != 0 && written[0][i] != 0)
        check(position[0][i - 1] < position[0][i], "a sender's frames came out of order");
    if (cfg.senders > 1 && written[0][0] != 0 && written[1][0] != 0)
      check(position[0][0] < position[1][0],
            "a frame sent after synchronising with another's came out of order");
    check(queued.peek() == 0, "the queued count did not return to 0");
  }
};

std::function<void(execution&)> direct(config c) {
  return [=](execution& x) {
    auto w = std::make_shared<world>(c);
    x.spawn([w] { w->loop(); });
    for (int s = 0; s < c.senders; ++s) x.spawn([w, s] { w->sender(s); });
    if (c.close != closing::none) x.spawn([w] { w->close_asked.store(1); });
    x.at_end([w] { w->final_check(); });
  };
}

config two_senders(variant v = variant::correct) {
  return {2, max_frames, closing::none, v};
}
config sender_and_close(closing how, variant v = variant::correct) {
  return {1, max_frames, how, v};
}

}  // namespace

TEST_CASE("checker direct writes: one writer at a time, each sender's frames in order",
          "[checker][direct_write]") {
  check_clean("direct: loop + 2 senders", bound(2), direct(two_senders()), 1000);
}

TEST_CASE("checker direct writes: after close no write begins, every frame counted once",
          "[checker][direct_write]") {
  check_clean("direct: loop + sender + close", bound(2), direct(sender_and_close(closing::close)),
              1000);
}

TEST_CASE("checker direct writes: no frame reaches an incarnation it was not sent to",
          "[checker][direct_write]") {
  check_clean("direct: loop + sender + new incarnation", bound(2),
              direct(sender_and_close(closing::new_incarnation)), 1000);
}

TEST_CASE("checker direct writes: a loop that writes without its claim is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: loop skips its claim (known-bad a)", bound(2),
               direct(two_senders(variant::loop_skips_claim)), "two writers inside the socket");
}

TEST_CASE("checker direct writes: a sender that reads no count after its claim is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: sender trusts the offer (known-bad b)", bound(2),
               direct(two_senders(variant::sender_trusts_offer)), "out of order");
}

TEST_CASE("checker direct writes: a sender that reads the link before its claim is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: sender checks before its claim (known-bad b)", bound(2),
               direct(sender_and_close(closing::new_incarnation, variant::sender_checks_first)),
               "an incarnation it was not sent to");
}

TEST_CASE("checker direct writes: a close that does not wait out a sender is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: close without waiting (known-bad c)", bound(2),
               direct(sender_and_close(closing::close, variant::close_without_wait)),
               "after close");
}

TEST_CASE("checker direct writes: an offer with a sendmsg in flight is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: offer while in flight (known-bad d)", bound(2),
               direct(two_senders(variant::offer_while_in_flight)),
               "two writers inside the socket");
}
