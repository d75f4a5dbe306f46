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
#include <memory>
#include <vector>

#include <volley/queues/injection_queue.hpp>

#include <volley/engine/detail/cell.hpp>
#include <volley/engine/detail/thread_safety.hpp>
#include <volley/engine/mailbox.hpp>

namespace volley::detail {

/// A balancing pool's shared queue. Senders push and then wake one idle
/// routee (offer_work); a routee takes from it when its own mailbox is
/// empty, and looks again after giving itself up (mark_idle_sorted), so that
/// a push racing with its going idle is never stranded: the sender's fence
/// after its push and the routee's fence after its mark make one of them
/// see the other (a store then a load on each side).
///
/// Routees that stop. A sender may wake a routee that stops before it runs
/// (the stop reaches its system lane after the wake-up), and a busy routee
/// may stop instead of going idle; neither takes from the shared queue any
/// more. So a routee that is no longer alive, each time it gives itself up,
/// marks itself, fences and looks at the queue like a live one; if work is
/// waiting it hands it on (hand_on): it wakes an idle live member, or, when
/// no member is left, dead-letters the queue (its own stop reason:
/// system_shutdown at shutdown, else recipient_stopped). A sender whose
/// table holds no live routee hands on the same way. `members` is the set
/// of routees that may still take work: a routee joins after its spawn and
/// leaves, once, in its first activation after it stopped being alive,
/// before it marks itself idle (so it is never freed while listed: a cell
/// is freed only after an activation that ended idle). The mutex is taken
/// only on those rare paths, never on a send to a live pool.
struct shared_work {
  queues::injection_queue<envelope*> queue;
  detail::mutex mu;
  /// Not counted (see above); a handful of routees: a linear scan.
  std::vector<cell_base*> members VOLLEY_GUARDED_BY(mu);
  shared_work() = default;
  shared_work(const shared_work&) = delete;
  shared_work& operator=(const shared_work&) = delete;
  /// Whatever is left when the last count goes (a corner: handing on
  /// dead-letters the queue once the last member leaves) is dropped: asks
  /// complete with errc::recipient_stopped. Not reported as dead letters:
  /// the system may be gone by then.
  ~shared_work();
};

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
  std::vector<bucket> buckets;        ///< most urgent (lowest number) first; kept when empty
  std::size_t waiting = 0;            ///< envelopes in all buckets
  std::size_t last = 0;               ///< the bucket appended to last: a run of one type hits it
  std::size_t first = 0;              ///< every bucket before this one is empty
  envelope* stub = nullptr;           ///< the envelope the queue holds as its stub, if ours
  bool stub_taken = true;             ///< ...and whether it has left its bucket
  std::shared_ptr<shared_work> work;  ///< balancing only; set before the cell is published
  cell_base* cell = nullptr;          ///< balancing: the owner, to leave `work->members`
  bool left_work = false;             ///< balancing, worker only: has left `work->members`
};

/// Worker only: move what arrived into the buckets, then take the most
/// urgent waiting envelope (nullptr: none). `owned` says whether the caller
/// frees it after handling (false: it is still the queue's stub).
envelope* take_sorted(cell_base* c, bool& owned) noexcept;

/// Worker only, after take_sorted found nothing: give the cell up, as
/// mailbox_.mark_empty(released) does. A balancing routee that finds shared
/// work after marking takes itself back (returns false: the caller keeps
/// the cell and requeues it).
bool mark_idle_sorted(cell_base* c, queues::mpsc_node*& released) noexcept;

}  // namespace volley::detail
