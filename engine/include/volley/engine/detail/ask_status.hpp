// volley/engine/detail/ask_status.hpp — the state word of one ask (ask.hpp).
//
// An ask is completed at most once, by whichever comes first: the reply, the
// timeout timer, or a dead letter. Its reader is either a thread blocked in
// get() (a futex wait on the word) or a continuation registered by then().
// The two words here are all the synchronisation there is; ask_state holds
// the value and the callback, and calls these in the order below.
//
// Protocol
// --------
//   claimed_:  false -> true by the first completer (exchange). Only the
//              winner writes the value; abandon() claims it too, so a reply
//              to a dropped future is reported undeliverable.
//   status_:   pending -> waiting       (a reader is about to sleep: CAS)
//              pending|waiting -> has_callback (then(): CAS)
//              any -> done              (the winner, after writing the value:
//                                        exchange; it wakes the sleeper if it
//                                        replaced `waiting`, runs the callback
//                                        if it replaced `has_callback`)
//   Exactly one side sees the other: the completer's exchange and the
//   reader's CAS are RMWs on one word, so either the CAS fails on `done`
//   (the reader takes the value at once) or the exchange returns the
//   reader's mark (the completer wakes it or runs its callback).
//   `waiting` may also be left behind by a get(timeout) that gave up; a
//   later then() replaces it (a CAS from `pending` alone would fail on it
//   and read a value that is not there).
//
// Orders: the exchange to `done` is acq_rel: release publishes the value to
// the reader's acquire (a load that sees `done`, or a failed CAS), acquire
// makes a registered callback visible to the completer. The claim is acq_rel
// so that a loser also sees the winner's claim before it reports.
//
// `Atom` is std::atomic except in the exhaustive checker: tests/checker/
// ask_status_checker_test.cpp runs this protocol alone under every
// interleaving, and ask_state_checker_test.cpp runs it inside ask.hpp's
// ask_state (through its `Sync` parameter) with the value, the futex, the
// count and the timeout timer around it.
#pragma once

#include <atomic>
#include <cstdint>

namespace volley::detail {

template <template <class> class Atom = std::atomic>
class basic_ask_status {
 public:
  enum : std::uint32_t { pending = 0, waiting = 1, done = 2, has_callback = 3 };

  /// A completer: true for the first one (it then writes the value and calls
  /// publish()); false for every later one and after abandon().
  bool claim() noexcept { return !claimed_.exchange(true, std::memory_order_acq_rel); }

  /// The reader went away without reading: later completions fail.
  void abandon() noexcept { claimed_.exchange(true, std::memory_order_acq_rel); }

  /// A snapshot: completed (answered, timed out) or abandoned.
  bool claimed() const noexcept { return claimed_.load(std::memory_order_acquire); }

  /// The winner, after writing the value. Returns the old status: `waiting`
  /// = wake the futex sleeper, `has_callback` = run the callback now.
  std::uint32_t publish() noexcept { return status_.exchange(done, std::memory_order_acq_rel); }

  /// acquire: pairs with publish(), so the value is visible.
  bool is_done() const noexcept { return status_.load(std::memory_order_acquire) == done; }

  /// A reader about to sleep on word(): announce it, unless done already.
  void announce_wait() noexcept {
    std::uint32_t expected = pending;
    status_.compare_exchange_strong(expected, waiting, std::memory_order_acq_rel,
                                    std::memory_order_acquire);
  }

  /// then(): true if the callback is registered (the winner will run it);
  /// false if the ask is done already (the caller runs it now).
  bool register_callback() noexcept {
    std::uint32_t expected = status_.load(std::memory_order_acquire);
    while (expected != done) {
      if (status_.compare_exchange_weak(expected, has_callback, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }

  /// The word a reader sleeps on (futex_wait_until while it is `waiting`).
  Atom<std::uint32_t>& word() noexcept { return status_; }

 private:
  Atom<std::uint32_t> status_{pending};
  Atom<bool> claimed_{false};
};

using ask_status = basic_ask_status<>;

}  // namespace volley::detail
