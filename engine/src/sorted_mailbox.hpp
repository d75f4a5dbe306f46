// engine/src/sorted_mailbox.hpp — the worker's side of a priority or control-aware mailbox.
//
// Protocol
// --------
// Senders push onto the cell's ordinary intrusive_mpsc (its mark is still the
// actor's scheduling state); nothing here is touched by another thread. The
// cell's worker, instead of popping one message, drains everything visible
// into per-priority FIFO buckets and takes the front of the most urgent one
// (take_sorted). Draining before every take is what makes a late urgent
// message overtake the waiting ones; when nothing new came it costs the one
// acquire load that an empty pop costs.
//
// Ownership. The queue keeps the node it popped last as its stub (see
// intrusive_mpsc) and retires it one pop later. A drained envelope therefore
// sits in a bucket while still being the queue's stub, and:
//   * when the queue retires it and it was already taken, it is freed then;
//   * when the queue retires it and it still waits in a bucket, the bucket
//     owns it from then on, and it is freed after it is handled;
//   * when it is taken while still the stub, the caller must not free it:
//     the queue hands it back on its next pop or at mark_empty(released),
//     exactly as for the default mailbox.
// `stub` and `stub_taken` track the one envelope in the middle state.
// Memory orders: none of its own; the pops' acquire loads of `next` (see
// intrusive_mpsc) make each payload visible before a priority function reads it.
#pragma once

#include <cstddef>
#include <vector>

#include <volley/engine/detail/cell.hpp>
#include <volley/engine/mailbox.hpp>

namespace volley::detail {

struct sorted_mailbox {
  struct bucket {
    int priority;
    std::vector<envelope*> items;  ///< FIFO: taken from `next` up, cleared when empty
    std::size_t next = 0;
  };

  sorted_mailbox(mailbox::kind k, priority_fn fn) : what(k), priority(fn) {}
  sorted_mailbox(const sorted_mailbox&) = delete;
  sorted_mailbox& operator=(const sorted_mailbox&) = delete;
  ~sorted_mailbox();

  mailbox::kind what;
  priority_fn priority;
  std::vector<bucket> buckets;  ///< most urgent (lowest number) first; kept when empty
  std::size_t waiting = 0;      ///< envelopes in all buckets
  std::size_t last = 0;         ///< the bucket appended to last: a run of one type hits it
  envelope* stub = nullptr;     ///< the envelope the queue holds as its stub, if ours
  bool stub_taken = true;       ///< ...and whether it has left its bucket
};

/// Worker only: move what arrived into the buckets, then take the most
/// urgent waiting envelope (nullptr: none). `owned` says whether the caller
/// frees it after handling (false: it is still the queue's stub).
envelope* take_sorted(cell_base* c, bool& owned) noexcept;

}  // namespace volley::detail
