// volley/engine/dead_letter_reason.hpp — why a message was not handled.
#pragma once

namespace volley {

/// Every message sent to an actor is handled, replied to, or dead-lettered
/// with one of these reasons.
enum class dead_letter_reason {
  recipient_stopped,    ///< sent to (or still queued at) an actor that has stopped
                        ///< on its own (stop, poison pill, failure, its parent)
  unhandled,            ///< the actor has no handler for the type (any_ref sends)
  mailbox_full,         ///< a bounded mailbox refused it
  stashed_on_stop,      ///< it was stashed when the actor stopped
  timer_cancelled,      ///< a timer message already queued when its timer was cancelled
  reply_undeliverable,  ///< an ask reply whose asker has gone
  system_shutdown,      ///< left over when the actor system shut down (queued at, or
                        ///< sent later to, an actor that stopped because of shutdown())
  remote_failure,       ///< could not be sent to or handled at a remote node
  node_restarted,       ///< queued for a remote node that came back as a new incarnation
};

constexpr const char* to_string(dead_letter_reason r) noexcept {
  switch (r) {
    case dead_letter_reason::recipient_stopped:
      return "recipient stopped";
    case dead_letter_reason::unhandled:
      return "unhandled message type";
    case dead_letter_reason::mailbox_full:
      return "mailbox full";
    case dead_letter_reason::stashed_on_stop:
      return "stashed when the actor stopped";
    case dead_letter_reason::timer_cancelled:
      return "timer cancelled";
    case dead_letter_reason::reply_undeliverable:
      return "reply undeliverable";
    case dead_letter_reason::system_shutdown:
      return "system shut down";
    case dead_letter_reason::remote_failure:
      return "remote failure";
    case dead_letter_reason::node_restarted:
      return "remote node restarted";
  }
  return "unknown";
}

inline constexpr int dead_letter_reason_count = 9;

}  // namespace volley
