// Exhaustive small-schedule checks of direct writes (remote/src/
// transport_direct.cpp): the real write side (remote/src/write_side.hpp:
// offer, claim, take, torn, try_write) and the real inbox (handoff_mpsc),
// with model atomics, under every schedule (within a preemption bound) of
// the loop, 1-2 senders and a closer, over a model socket that may refuse a
// direct write or take only part of it (the model's choice, explored like a
// schedule). direct_write_model.hpp describes the world and lists what is
// checked in every schedule:
//   * one writer at a time, whole frames, nothing after a torn frame;
//   * per-sender order, also across a refusal;
//   * after close no write begins (nor reaches another incarnation's socket);
//   * every frame in exactly one bucket: written, fate unknown (a torn write
//     among them), or dead-lettered; the queued count ends at 0;
//   * a torn connection closes, and the loop knows it was torn.
//
// Known-bad variants, each must be caught:
//   (a) the loop writes without claiming the side first;
//   (b) a sender that does not read the link after its claim: one that
//       trusts the offer (reads no count), and one that reads the count and
//       epoch before the claim;
//   (c) a close that does not wait out a sender in its syscall;
//   (d) the loop offering the side while a sendmsg is in flight;
//   (e) a torn write that leaves the socket up (no shutdown);
//   (f) a torn write that gives the side back before its shutdown;
//   (g) a torn write that gives the side back as `idle` after its shutdown
//       (nothing follows it on the stream, but the loop cannot tell the end
//       of stream it then reads from the peer's close);
//   (h) a refusal reported as a write (the frame is dropped);
//   (i) a refused frame queued after the sender's next frame;
//   (j) a take() (an association's merge) that forgets a tear it found, as
//       write_side::take() did: the connection then closed as the peer's
//       close, not as a torn write.
//
// Memory model: the explorer runs sequentially consistent executions; the
// side's orders are release/acquire pairs, argued in write_side.hpp.
#include <functional>
#include <memory>

#include <catch2/catch.hpp>

#include "direct_write_model.hpp"

namespace {

using namespace direct_write_model;

std::function<void(execution&)> direct(config c) {
  return [=](execution& x) {
    auto w = std::make_shared<world>(c);
    x.spawn([w] { w->loop(); });
    for (int s = 0; s < c.senders; ++s) x.spawn([w, s] { w->sender(s); });
    if (c.close != closing::none) x.spawn([w] { w->close_asked.store(1); });
    x.at_end([w] { w->final_check(); });
  };
}

config two_senders(variant v = variant::correct, faults f = faults::none) {
  return {2, max_frames, closing::none, v, f};
}
config sender_and_close(closing how, variant v = variant::correct, faults f = faults::none) {
  return {1, max_frames, how, v, f};
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

// -- a socket that refuses a direct write, or takes part of it -----------------

TEST_CASE("checker direct writes: a refused frame goes to the loop, arrives once and in order",
          "[checker][direct_write]") {
  check_clean("direct: loop + 2 senders, a write refused", bound(1),
              direct(two_senders(variant::correct, faults::refusal)), 1000);
}

TEST_CASE("checker direct writes: nothing follows a torn frame, and its connection closes",
          "[checker][direct_write]") {
  check_clean("direct: loop + 2 senders, a write torn", bound(1),
              direct(two_senders(variant::correct, faults::tear)), 1000);
}

TEST_CASE("checker direct writes: a refusal or a tear racing a close, each frame counted once",
          "[checker][direct_write]") {
  check_clean("direct: loop + sender + close, a write refused or torn", bound(2),
              direct(sender_and_close(closing::close, variant::correct, faults::any)), 1000);
}

// A refusal across a new incarnation is not explored: the frame goes to the
// queue as one whose epoch check failed, which the case without faults covers.
TEST_CASE("checker direct writes: a tear on either incarnation ends only that stream",
          "[checker][direct_write]") {
  check_clean("direct: loop + sender + new incarnation, a write torn", bound(2),
              direct(sender_and_close(closing::new_incarnation, variant::correct, faults::tear)),
              1000);
}

TEST_CASE("checker direct writes: a torn write that leaves the socket up is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: torn, no shutdown (known-bad e)", bound(1),
               direct(two_senders(variant::torn_without_shutdown, faults::tear)),
               "a torn connection was not closed");
}

TEST_CASE(
    "checker direct writes: a torn write that gives the side back before its shutdown is "
    "caught",
    "[checker][direct_write][known_bad]") {
  check_caught("direct: torn, side back before the shutdown (known-bad f)", bound(1),
               direct(two_senders(variant::torn_gives_back_first, faults::tear)),
               "a byte followed a torn frame");
}

TEST_CASE("checker direct writes: a torn write that gives the side back as idle is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: torn, side back as idle (known-bad g)", bound(1),
               direct(two_senders(variant::torn_gives_back_idle, faults::tear)),
               "without the loop knowing it was torn");
}

TEST_CASE("checker direct writes: a refusal reported as a write is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: refusal reported written (known-bad h)", bound(1),
               direct(two_senders(variant::refusal_reports_written, faults::refusal)),
               "not accounted for once");
}

TEST_CASE("checker direct writes: a refused frame queued behind the sender's next is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: refused frame queued late (known-bad i)", bound(1),
               direct(two_senders(variant::refusal_queued_late, faults::refusal)),
               "came out of order");
}

TEST_CASE("checker direct writes: a tear just before a merge closes as a torn write",
          "[checker][direct_write]") {
  check_clean("direct: loop + sender + merge, a write torn", bound(1),
              direct(sender_and_close(closing::merge, variant::correct, faults::tear)), 1000);
}

TEST_CASE("checker direct writes: a merge that forgets a tear is caught",
          "[checker][direct_write][known_bad]") {
  check_caught("direct: merge forgets the tear (known-bad j)", bound(1),
               direct(sender_and_close(closing::merge, variant::take_forgets_tear, faults::tear)),
               "without the loop knowing it was torn");
}
