// Outbound: a message to a proxy becomes a frame, on the sender's thread.
//
// A proxy is a local actor whose cell takes user messages directly
// (cell_base::deliver_directly): a tell or ask to it runs on_direct on the
// sending thread, which serialises the message and pushes the frame onto
// the transport's queue (a lock-free enqueue, never a syscall on the common
// path). Until session 5 the message went into the proxy's mailbox and the
// proxy's worker serialised it: one more engine hand-off per message (the
// envelope's exchange into the mailbox, an activation, often a wake-up),
// ~30% of a node hop's CPU (transport_loop.cpp's essay).
//
// Order: each sender's frames enter the transport's per-connection MPSC
// queue in the order it sent them, and the queue keeps each producer's
// order, so per-sender order reaches the remote mailbox as before. Frames of
// different senders interleave as their pushes do (as their mailbox pushes
// did). Once the proxy begins to stop, messages take its mailbox and are
// dead-lettered there (recipient stopped), as for any actor; a send racing
// the stop may still go out, as it could when the mailbox was ahead of it.
//
// A tell through an any_ref (the common case: select and ctx.sender() give
// any_refs) makes no envelope at all: the engine offers the caller's own
// object to on_tell (cell_base::tell_directly) before it would allocate
// one, and the frame is encoded from that object straight into the staged
// outbound item; the object stays the caller's. Until session 12 every tell
// was first moved into an engine envelope that forward then freed (~76
// instructions a message on the sending thread, callgrind, plus the
// allocator's cache misses). Asks, typed-ref tells, forwards, and messages
// that reach the proxy's mailbox still come in an envelope (on_direct,
// on_any): we read the payload through its type-erased info, take the
// pending request out of an ask (so that dropping the payload does not
// answer it), and destroy the payload with drop(). The engine retires the
// envelope's memory and sender afterwards. Both take send_message, so the
// accounting is one: a message is counted sent once queued, or dead-lettered
// (remote_failure) with its reason when refused.
#include "node_core.hpp"

#include <volley/remote/handshake.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace volley::remote::detail {

using volley::detail::cell_base;
using volley::detail::envelope;

namespace {

/// A correlation id nobody can guess: 64 bits from OpenSSL's CSPRNG, never 0,
/// drawn 64 at a time per thread in one RAND_bytes call. One call, not one
/// per id: OpenSSL 3 checks for a fork (a getpid syscall) on every call, so
/// 64 calls cost an ask one syscall on average (strace, remote_bench busy-
/// poll ask: getpid 1.06 per round trip on the asking thread, now ~0).
std::uint64_t unguessable_id() {
  constexpr std::size_t batch = 64;
  thread_local std::array<std::uint64_t, batch> ids{};
  thread_local std::size_t next = batch;
  if (next == batch) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(ids.data()), static_cast<int>(sizeof ids)) != 1)
      throw std::runtime_error("volley::remote: OpenSSL RAND_bytes failed");
    for (auto& id : ids)
      if (id == 0) id = random_incarnation();  // never 0, as before
    next = 0;
  }
  return ids[next++];
}

}  // namespace

proxy::proxy(std::shared_ptr<link> l, std::string p, std::string shown)
    : route_(std::make_shared<proxy_route>(std::move(l), std::move(p))) {
  cell_base* self = volley::detail::constructing_cell();
  // Not again on a restart: the cell is published by then, and readers of
  // path() take the string without a lock; senders keep the first route.
  if (self != nullptr && self->extras().display_path.empty()) {
    self->extras().display_path = std::move(shown);
    self->deliver_directly(&proxy::on_direct, route_, &proxy::on_tell);
  }
}

void proxy::on_any(envelope* e, cell_base* c, context&) {
  const proxy_route& r = *volley::detail::actor_of<proxy>(c).route_;
  r.link_->core->forward(r, e);
}

bool proxy::on_direct(cell_base*, envelope* e, void* route) noexcept {
  // noexcept: forward answers every failure it expects (a serializer that
  // throws, a full queue) with a dead letter; only an allocation failure
  // can escape it, and ends the process as it would in the engine's own
  // send path.
  const auto& r = *static_cast<const proxy_route*>(route);
  r.link_->core->forward(r, e);
  return true;
}

bool proxy::on_tell(cell_base*, const volley::detail::message_info* info, const void* payload,
                    cell_base* sender, void* route) noexcept {
  // noexcept as on_direct. The engine made no envelope: the frame is
  // encoded from the caller's object, which stays the caller's.
  const auto& r = *static_cast<const proxy_route*>(route);
  r.link_->core->forward_tell(r, info, payload, sender);
  return true;
}

namespace {

/// What this thread has noted in links' `exposed` sets, so that a sender
/// already there takes no lock: a direct-mapped table of (sender cell's
/// serial, link::serial, the link's exposed_generation). Both serials are
/// never reused in the process, so an entry cannot be mistaken for another
/// sender (a dead cell's memory is reused, its path may be taken by a
/// successor: neither gets its serial). A collision or a stale generation
/// only costs a lock and a lookup in the set. Until session 6 this was a
/// set of path strings per link: a hash of the sender's path per message,
/// and the path built per message (cell_base::local_path, an allocation
/// once it passed 15 chars).
struct exposed_mark {
  std::uint64_t sender = 0;  ///< cell_path::serial; 0: empty
  std::uint64_t link = 0;
  std::uint64_t generation = 0;
  /// The sender's path passed valid_path (a cell's path never changes).
  bool valid = false;
};

/// 256 x 32 B = 8 KiB per sending thread: room for the senders one thread
/// runs at once (a worker's actors) over a few links.
constexpr std::size_t exposed_marks = 256;

exposed_mark& mark_for(std::uint64_t sender, std::uint64_t link) noexcept {
  thread_local std::array<exposed_mark, exposed_marks> marks{};
  // Fibonacci hashing of the pair: serials are small consecutive numbers.
  std::uint64_t h = (sender * 0x9e3779b97f4a7c15ull) ^ (link * 0xc2b2ae3d27d4eb4full);
  return marks[(h >> 32) % exposed_marks];
}

}  // namespace

bool node_core::expose(link& l, const volley::detail::cell_path& sender) {
  // Relaxed: the set itself is guarded by l.mu; the generation only tells a
  // sender that its mark may name a path the set has dropped. (A send racing
  // a prune may skip one re-add; pruning drops only paths with no live actor.)
  std::uint64_t generation = l.exposed_generation.load(std::memory_order_relaxed);
  exposed_mark& mark = mark_for(sender.serial, l.serial);
  if (mark.sender == sender.serial && mark.link == l.serial && mark.generation == generation)
    return mark.valid;
  bool valid = valid_path(sender.qualified, cfg_.transport.limits.max_path_length);
  // The peer learns this sender's ref, so it may send to it (replies): this
  // incarnation's, which a successor at the same path does not inherit.
  std::vector<std::string> candidates;
  {
    volley::detail::lock_guard lock(l.mu);
    l.exposed.insert(sender.qualified);
    if (l.exposed.size() >= l.exposed_prune_at) {
      candidates.assign(l.exposed.begin(), l.exposed.end());
      l.exposed_prune_at = 2 * l.exposed.size();  // no second pruner while this one runs
    }
  }
  mark = {sender.serial, l.serial, generation, valid};
  if (candidates.empty()) return valid;
  // Looked up outside the link's lock: select takes the engine's locks.
  std::vector<std::string> gone;
  try {
    for (auto& path : candidates) {
      any_ref ref = select_incarnation(sys_, path);
      if (!ref || ref.is_stopped()) gone.push_back(std::move(path));
    }
  } catch (const std::exception&) {
    // The actor system is going away: keep the set as it is.
  }
  volley::detail::lock_guard lock(l.mu);
  for (const auto& path : gone) l.exposed.erase(path);
  l.exposed_prune_at = std::max(link::exposed_prune_floor, 2 * l.exposed.size());
  l.exposed_generation.fetch_add(1, std::memory_order_relaxed);
  return valid;
}

void node_core::forward(const proxy_route& route, envelope* e) {
  const volley::detail::message_info* info = e->info;
  void* request = info->take_request != nullptr ? info->take_request(e) : nullptr;
  // The envelope counts its sender until the engine retires it, after this.
  send_message(route, info, info->payload(e), e->sender, request, e);
}

void node_core::send_message(const proxy_route& route, const volley::detail::message_info* info,
                             const void* payload, cell_base* sender_cell, void* request,
                             envelope* e) {
  link& l = *route.link_;
  const std::string& path = route.path_;
  // The local path and the cell's serial ("/user/a#12", incarnation.hpp),
  // also for a proxy forwarding as a sender: the peer answers through this
  // node, which owns that proxy (its path() names a remote actor). Kept with
  // the sender cell, which lives until we are done (the envelope counts it,
  // or its handler is telling).
  std::string_view sender;
  // The target path passed valid_path in proxy_for (the route is made
  // there, with these limits); the sender's, in expose. A sender whose path
  // did not pass leaves both to send(), which refuses the frame.
  path_check paths = path_check::done_by_sender;
  if (sender_cell != nullptr) {
    const volley::detail::cell_path& p = sender_cell->stable_path();
    if (!expose(l, p)) paths = path_check::each_frame;
    sender = p.qualified;
  }
  // Destroys the envelope's payload (a direct tell's object is the caller's).
  // Every way out below destroys it exactly once and answers a taken request
  // exactly once (complete_request, in refuse_message, or by the reply).
  auto drop = [&](dead_letter_reason reason) {
    if (e != nullptr) info->drop(e, reason);
  };
  auto refuse = [&](errc code, std::string why) {
    refuse_message(route, info, sender, request, e, code, std::move(why));
  };

  const message_entry* entry = route.last_entry.load(std::memory_order_relaxed);
  if (entry == nullptr || entry->id != info->id) {
    entry = types_.find(info->id);
    if (entry != nullptr) route.last_entry.store(entry, std::memory_order_relaxed);
  }
  if (entry == nullptr) {
    refuse(errc::unhandled, "message type " + std::string(info->name) +
                                " is not registered for remoting (message_types::add)");
    return;
  }
  if (request != nullptr && entry->ask_for(info->reply_id) == nullptr) {
    refuse(errc::unhandled, "ask of " + std::string(info->name) +
                                " with this reply type is not registered for remoting "
                                "(message_types::add_ask<M, R>)");
    return;
  }

  // A trivially copyable message's bytes are its payload (type_registry::
  // add<T>(marker, name) serialises it as a memcpy of sizeof(T)): the frame
  // takes them from the payload (the envelope's, or the caller's object),
  // which lives until this returns, so there is no serializer call and no
  // copy into a buffer first. An envelope's payload is destroyed (drop) once
  // the frame is encoded. Other types are serialised into a buffer reused
  // per thread (no allocation once warm), and dropped at once.
  std::span<const std::byte> bytes;
  const bool in_place = entry->wire.trivially_copyable;
  if (in_place) {
    bytes = {static_cast<const std::byte*>(payload), entry->wire.size};
  } else {
    thread_local std::vector<std::byte> serialized;
    serialized.clear();
    try {
      entry->wire.serialize(entry->wire, payload, serialized);
    } catch (const std::exception& ex) {
      refuse(errc::handler_failed, "serializer of " + entry->wire.name + " threw: " + ex.what());
      return;
    }
    drop(dead_letter_reason::recipient_stopped);  // only destroys: the bytes are out
    bytes = serialized;
  }

  // Read once: the ask is registered under the connection the frame goes to.
  connection_id conn = l.route.load(std::memory_order_relaxed);
  frame f;
  f.kind = request != nullptr ? frame_kind::ask_request : frame_kind::message;
  f.target_path = path;
  f.sender_path = sender;
  f.type_marker = entry->wire.marker;
  f.payload = bytes;
  std::uint64_t correlation = 0;
  if (request != nullptr) {
    // Registered before the send: the reply may come back before send() returns.
    pending_ask p{request, info, conn, std::chrono::steady_clock::now()};
    do {
      correlation = unguessable_id();
    } while (!add_pending(correlation, p));  // a collision among pending asks: 2^-64 odds
    f.correlation_id = correlation;
  }
  send_result r = send(conn, f, paths);
  if (in_place) drop(dead_letter_reason::recipient_stopped);  // encoded or refused: done
  if (r == send_result::queued) [[likely]] {
    messages_sent.add();
    return;
  }
  report_not_sent(route, r, sender, entry->wire.name, request != nullptr, correlation);
}

// The two ways out that fail, out of line: inlined, their strings' code
// made every send save and restore more registers and set up a larger frame.

void node_core::refuse_message(const proxy_route& route, const volley::detail::message_info* info,
                               std::string_view sender, void* request, envelope* e, errc code,
                               std::string why) {
  ++send_failures;
  if (e != nullptr) info->drop(e, dead_letter_reason::remote_failure);
  if (request != nullptr) {
    error err{code, std::move(why)};
    info->complete_request(request, nullptr, &err);
  }
  publish_dead_letter(std::string(sender), route.link_->describe(route.path_),
                      std::string(info->name), dead_letter_reason::remote_failure);
}

void node_core::report_not_sent(const proxy_route& route, send_result r, std::string_view sender,
                                const std::string& type, bool ask, std::uint64_t correlation) {
  ++send_failures;
  link& l = *route.link_;
  std::string why = "not sent to " + l.describe(route.path_) + ": " + std::string(to_string(r));
  pending_ask p;
  if (ask && take_pending(correlation, p)) {
    // Stopped or gone: the node is going away. Full or refused: the message
    // itself was not sent, which the asker learns as a broken promise.
    bool gone = r == send_result::stopped || r == send_result::unknown_connection;
    fail(p, gone ? errc::node_down : errc::broken_promise, why);
  }
  publish_dead_letter(std::string(sender), l.describe(route.path_), type,
                      dead_letter_reason::remote_failure);
}

}  // namespace volley::remote::detail
