// volley/engine/detail/envelope.hpp — one message in flight.
//
// An envelope is exactly one allocation: the mailbox link, the handler thunk
// chosen at compile time from <Actor, Message>, a pointer to the message
// type's static description, the (optional) sender, and the message stored
// inline. Delivering it costs one indirect call (the thunk), which handles
// the message and destroys the payload in place; the memory itself goes back
// to the envelope pool when the mailbox retires the node (one pop later, see
// intrusive_mpsc).
//
// Envelopes are also the carriers of system messages (stop, watch, ...): the
// thunk is then an engine function instead of a user handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <utility>

#include <volley/engine/dead_letter_reason.hpp>
#include <volley/engine/fwd.hpp>
#include <volley/engine/type_info.hpp>
#include <volley/queues/intrusive_mpsc.hpp>

namespace volley::detail {

using invoke_fn = void (*)(envelope*, cell_base*, context&);

/// What is known of a message type without handling it: enough to report a
/// dead letter and to destroy the payload.
struct message_info {
  type_id_t id;
  std::string_view name;
  /// Destroy the payload without handling it (dead letter). For an ask it
  /// also completes the request with the error it is given.
  void (*drop)(envelope*, dead_letter_reason reason) noexcept;
  /// The envelope's block size for envelope_free; 0 for an envelope that
  /// lives inside another object's block, given back by release_host.
  std::uint32_t alloc_size;
  bool is_system;
  /// Move the payload (and what the envelope owns: sender, request) into a
  /// fresh envelope, leaving a moved-from payload that drop() may destroy.
  /// For stash: a handled envelope stays in the mailbox as its stub, so a
  /// kept message must move out. nullptr: this kind cannot be kept.
  envelope* (*relocate)(envelope*) = nullptr;

  // -- for code that handles messages without knowing their type (remoting) --
  /// The message object inside the envelope.
  const void* (*payload)(const envelope*) = nullptr;
  /// Requests (asks) only: the reply's type, taking the pending request out
  /// of the envelope, and completing a taken request with a value (an R to
  /// move from) or an error. The request is released by complete_request.
  type_id_t reply_id = nullptr;
  void* (*take_request)(envelope*) = nullptr;
  void (*complete_request)(void* request, void* value, const void* error) = nullptr;
  /// A control message (mailbox.hpp): control-aware mailboxes hand it over first.
  bool control = false;
  /// alloc_size 0 only: drop the count the envelope holds on the object it
  /// lives in (an ask's completion message, in its request's block). retire()
  /// calls it where it would free a pooled envelope, so the host outlives
  /// the mailbox's last look at the node.
  void (*release_host)(envelope*) noexcept = nullptr;
};

/// M declares `static constexpr bool control = true` (or derives from
/// volley::control_message).
template <class M>
inline constexpr bool is_control_v = [] {
  if constexpr (requires { M::control; }) {
    return static_cast<bool>(M::control);
  } else {
    return false;
  }
}();

struct envelope : queues::mpsc_node {
  invoke_fn invoke;
  const message_info* info;
  cell_base* sender;  ///< a counted reference, or nullptr
};

// -- allocation -----------------------------------------------------------------

/// Thread-cached, size-classed allocation for envelopes (envelope_pool.cpp):
/// classes of `envelope_class_bytes` up to `envelope_classes` of them (the
/// pool's classes, engine/src/block_cache.hpp; envelope_pool.cpp checks
/// that the two agree), larger blocks from the general allocator.
inline constexpr std::size_t envelope_class_bytes = 64;
inline constexpr std::size_t envelope_classes = 4;
void* envelope_alloc_class(std::size_t cls);
void envelope_free_class(void* p, std::size_t cls) noexcept;
void* envelope_alloc_large(std::size_t size);
void envelope_free_large(void* p, std::size_t size) noexcept;

/// Inline, so that where the size is known at compile time (every
/// make_envelope, a request's operator new and sized delete) the class is
/// chosen there and only the magazine's pop or push is a call: out of line,
/// each call tested the size and computed its class again, and saved a
/// register for the large path (bank transaction: four allocations per
/// transfer, ~6 instructions each).
inline void* envelope_alloc(std::size_t size) {
  if (size > envelope_class_bytes * envelope_classes) return envelope_alloc_large(size);
  return envelope_alloc_class((size - 1) / envelope_class_bytes);
}
inline void envelope_free(void* p, std::size_t size) noexcept {
  if (size > envelope_class_bytes * envelope_classes) return envelope_free_large(p, size);
  envelope_free_class(p, (size - 1) / envelope_class_bytes);
}

/// The same for cells, from a pool of their own whose blocks are carved
/// from large chunks (envelope_pool.cpp): an idle actor costs its block and
/// no allocator record. A cell's block is freed with cell_free, never
/// envelope_free.
void* cell_alloc(std::size_t size);
void cell_free(void* p, std::size_t size) noexcept;
/// The bytes a pooled cell block (from cell_alloc, at most 256 B) takes in
/// its chunk: its size class. For the idle-memory test.
std::size_t cell_block_size(const void* p) noexcept;

/// Release an envelope whose payload has been handled or dropped: drop the
/// sender reference and return the memory.
void retire(envelope* e) noexcept;

/// Drop an unhandled envelope: payload destroyed, memory returned.
void discard(envelope* e, dead_letter_reason reason) noexcept;

template <class M>
struct message_envelope final : envelope {
  M msg;
  template <class... Args>
  explicit message_envelope(Args&&... args) : msg(std::forward<Args>(args)...) {}
};

template <class M>
void drop_payload(envelope* e, dead_letter_reason) noexcept {
  static_cast<message_envelope<M>*>(e)->msg.~M();
}

template <class M>
envelope* relocate_message(envelope* e);

template <class M>
const void* payload_of(const envelope* e) {
  return &static_cast<const message_envelope<M>*>(e)->msg;
}

template <class M>
inline constexpr message_info message_info_of{type_id<M>(),
                                              type_name<M>(),
                                              &drop_payload<M>,
                                              sizeof(message_envelope<M>),
                                              false,
                                              &relocate_message<M>,
                                              &payload_of<M>,
                                              nullptr,
                                              nullptr,
                                              nullptr,
                                              is_control_v<M>};

/// Allocate and fill an envelope for M. The message is constructed in place.
template <class M, class... Args>
message_envelope<M>* make_envelope(invoke_fn invoke, const message_info* info, Args&&... args) {
  void* p = envelope_alloc(sizeof(message_envelope<M>));
  message_envelope<M>* e;
  try {
    e = ::new (p) message_envelope<M>(std::forward<Args>(args)...);
  } catch (...) {
    envelope_free(p, sizeof(message_envelope<M>));
    throw;
  }
  e->invoke = invoke;
  e->info = info;
  e->sender = nullptr;
  return e;
}

template <class M>
envelope* relocate_message(envelope* e) {
  auto* from = static_cast<message_envelope<M>*>(e);
  auto* to = make_envelope<M>(from->invoke, from->info, std::move(from->msg));
  to->sender = std::exchange(from->sender, nullptr);
  return to;
}

}  // namespace volley::detail
