// volley/engine/mailbox.hpp — choosing an actor's mailbox: default, priority, control-aware.
//
//     // Lower numbers first; equal numbers keep their sending order.
//     int by_urgency(const volley::message_view& m) {
//       if (m.is<alarm>()) return 0;
//       if (const job* j = m.get_if<job>()) return j->urgent ? 1 : 2;
//       return 3;
//     }
//     sys.spawn<worker>(volley::props{.mailbox = volley::priority_mailbox(&by_urgency)});
//
//     struct pause : volley::control_message {};   // or: static constexpr bool control = true;
//     sys.spawn<worker>(volley::props{.mailbox = volley::control_aware_mailbox()});
//
// When to use which
// -----------------
// * The default mailbox is FIFO per sender and costs nothing extra. Use it
//   unless the order of handling must differ from the order of arrival.
// * A priority mailbox (Akka's UnboundedStablePriorityMailbox) hands over
//   the waiting message with the lowest priority number first, FIFO among
//   equal numbers. The priority comes from a plain function of the message
//   (its type, and its value if you like); a type it does not know is the
//   function's business (return a default). A priority function that
//   throws refuses its message: it becomes a dead letter with reason
//   `unhandled` (an ask of it fails with errc::unhandled), and a line naming
//   the actor, the message type and the exception goes to stderr; the
//   actor goes on with its other messages.
// * A control-aware mailbox (Akka's ControlAwareMailbox) hands over messages
//   of control types (see is_control_message_v) before all others, FIFO
//   among themselves and among the others. It needs no function.
//
// What "priority" means here
// --------------------------
// Senders push onto the same lock-free queue as for the default mailbox; a
// send costs the same. The actor's worker, each time it is about to pick a
// message, first moves everything that has arrived since into per-priority
// FIFO buckets, then takes the front of the most urgent non-empty bucket.
// So a message is handled before every less urgent message that had arrived
// when it was picked; a more urgent one arriving later overtakes all those
// still waiting, but never interrupts the handler running. Among senders,
// "arrived" is the order of their pushes (two senders racing have no order
// but the queue's). System messages (stop, watch, supervision) keep their
// own lane and go before any user message, as with the default mailbox.
// Messages set aside by ctx.stash() and put back by unstash_all() are
// handled before the mailbox, in their stashed order, as always.
//
// Costs (bench/micro/mailbox_bench.cpp, volley-micro-actor-api; figures in
// its header): the sender's side is unchanged; the worker pays one priority
// call and a bucket append per message, and no allocation once its buckets
// have grown. On a loaded 2-core VM, three runs gave 4.5 / 6.4 / 6.7 M
// tells/s to one actor with a priority mailbox, 4.7 / 3.0 / 6.8 M
// control-aware and 3.3 / 5.5 / 5.5 M FIFO: no difference beyond that
// machine's noise. The default mailbox pays one predictable test of a flag
// the worker reads anyway. A bucket is kept per distinct priority ever seen
// (empty ones too, so that steady traffic allocates nothing): a message of
// the same priority as the one before it finds its bucket at once, any
// other by a binary search, and taking skips the empty buckets in front
// once. So many distinct priorities cost log2 of their number per change of
// priority, and one bucket's memory each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include <volley/engine/detail/envelope.hpp>
#include <volley/engine/fwd.hpp>
#include <volley/engine/type_info.hpp>

namespace volley {

/// Derive a message type from this (or give it `static constexpr bool
/// control = true;`) to have control-aware mailboxes hand it over first.
struct control_message {
  static constexpr bool control = true;
};

/// True for the message types a control-aware mailbox hands over first.
template <class M>
inline constexpr bool is_control_message_v = detail::is_control_v<M>;

/// A read-only look at a waiting message, for a priority function.
class message_view {
 public:
  explicit message_view(const detail::envelope* e) noexcept : e_(e) {}

  /// Is the message an M (a tell or an ask of M)?
  template <class M>
  bool is() const noexcept {
    return e_->info->id == type_id<M>();
  }
  /// The message if it is an M, else nullptr.
  template <class M>
  const M* get_if() const noexcept {
    if (!is<M>() || e_->info->payload == nullptr) return nullptr;
    return static_cast<const M*>(e_->info->payload(e_));
  }
  type_id_t type() const noexcept { return e_->info->id; }
  std::string_view type_name() const noexcept { return e_->info->name; }
  bool is_control() const noexcept { return e_->info->control; }

 private:
  const detail::envelope* e_;
};

/// A priority function: lower numbers are handled first.
using priority_fn = int (*)(const message_view&);

namespace detail {
/// The work queue that the routees of a balancing pool share (router.hpp;
/// sorted_mailbox.cpp).
struct shared_work;
}  // namespace detail

/// Which mailbox an actor gets (props::mailbox).
struct mailbox {
  enum class kind : std::uint8_t { fifo, priority, control_aware, balancing };
  kind what = kind::fifo;
  priority_fn priority = nullptr;
  /// balancing: the queue shared with the other routees of the pool
  /// (spawn_pool with routing::balancing sets it; not for direct use).
  std::shared_ptr<detail::shared_work> work{};
};

/// Messages in the order of their priority (lower first), FIFO among equal ones.
inline mailbox priority_mailbox(priority_fn fn) noexcept {
  return mailbox{mailbox::kind::priority, fn};
}

/// Control messages (is_control_message_v) first, FIFO within each class.
inline mailbox control_aware_mailbox() noexcept {
  return mailbox{mailbox::kind::control_aware, nullptr};
}

namespace detail {
/// Give a freshly constructed, not yet published cell a sorting mailbox
/// (sorted_mailbox.cpp). Throws std::invalid_argument for a priority
/// mailbox without a function.
void install_mailbox(cell_base* c, const mailbox& m);

/// Balancing pools (sorted_mailbox.cpp): a new shared queue; queue `e` and
/// wake one idle routee of `routees[0..n)` (n > 0), scanning from `start`;
/// a routee spawned with the queue's mailbox takes part once it joins.
std::shared_ptr<shared_work> make_shared_work();
void offer_work(shared_work& w, envelope* e, cell_base* const* routees, std::size_t n,
                std::size_t start);
void join_work(shared_work& w, cell_base* routee);
}  // namespace detail

}  // namespace volley
