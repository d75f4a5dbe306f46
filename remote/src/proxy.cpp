// Outbound: a proxy's message becomes a frame.
//
// A proxy is an ordinary local actor, so the messages sent to it are queued
// in its mailbox in each sender's order and handled one at a time; on_any
// serialises each one on the worker and hands the frame to the transport
// (a lock-free enqueue, never a syscall on the common path). One proxy per
// remote path and one connection per remote system keep the per-pair order
// all the way to the remote mailbox.
//
// The envelope is the engine's: we read the payload through its type-erased
// info, take the pending request out of an ask (so that dropping the
// payload does not answer it), and destroy the payload with drop(). The
// engine retires the envelope's memory and sender afterwards.
#include "node_core.hpp"

#include <volley/remote/handshake.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace volley::remote::detail {

using volley::detail::cell_base;
using volley::detail::envelope;

namespace {

/// A correlation id nobody can guess: 64 bits from OpenSSL's CSPRNG (through
/// random_incarnation, which never returns 0), drawn 64 at a time per thread
/// so that an ask pays for a RAND_bytes call once in 64.
std::uint64_t unguessable_id() {
  constexpr std::size_t batch = 64;
  thread_local std::array<std::uint64_t, batch> ids{};
  thread_local std::size_t next = batch;
  if (next == batch) {
    for (auto& id : ids) id = random_incarnation();
    next = 0;
  }
  return ids[next++];
}

}  // namespace

proxy::proxy(std::shared_ptr<link> l, std::string p, std::string shown)
    : link_(std::move(l)), path_(std::move(p)) {
  cell_base* self = volley::detail::constructing_cell();
  // Not again on a restart: the cell is published by then, and readers of
  // path() take the string without a lock.
  if (self != nullptr && self->extras().display_path.empty())
    self->extras().display_path = std::move(shown);
}

void proxy::on_any(envelope* e, cell_base* c, context&) {
  proxy& self = volley::detail::actor_of<proxy>(c);
  self.link_->core->forward(self, e);
}

void node_core::expose(proxy& px, const std::string& sender) {
  link& l = *px.link_;
  // Relaxed: the set itself is guarded by l.mu; the generation only tells a
  // proxy that its copy may name paths the set has dropped. (A send racing a
  // prune may skip one re-add; pruning drops only paths with no live actor.)
  std::uint64_t generation = l.exposed_generation.load(std::memory_order_relaxed);
  if (generation != px.exposed_generation_) {
    px.exposed_.clear();
    px.exposed_generation_ = generation;
  }
  if (px.exposed_.count(sender)) return;
  // The peer learns this sender's ref, so it may send to it (replies).
  std::vector<std::string> candidates;
  {
    volley::detail::lock_guard lock(l.mu);
    l.exposed.insert(sender);
    if (l.exposed.size() >= l.exposed_prune_at) {
      candidates.assign(l.exposed.begin(), l.exposed.end());
      l.exposed_prune_at = 2 * l.exposed.size();  // no second pruner while this one runs
    }
  }
  px.exposed_.insert(sender);
  if (candidates.empty()) return;
  // Looked up outside the link's lock: select takes the engine's locks.
  std::vector<std::string> gone;
  try {
    for (auto& path : candidates) {
      any_ref ref = sys_.select(path);
      if (!ref || ref.is_stopped()) gone.push_back(std::move(path));
    }
  } catch (const std::exception&) {
    // The actor system is going away: keep the set as it is.
  }
  volley::detail::lock_guard lock(l.mu);
  for (const auto& path : gone) l.exposed.erase(path);
  l.exposed_prune_at = std::max<std::size_t>(4096, 2 * l.exposed.size());
  l.exposed_generation.fetch_add(1, std::memory_order_relaxed);
}

void node_core::forward(proxy& px, envelope* e) {
  link& l = *px.link_;
  const std::string& path = px.path_;
  const volley::detail::message_info* info = e->info;
  void* request = info->take_request != nullptr ? info->take_request(e) : nullptr;
  // The local path, also for a proxy forwarding as a sender: the peer answers
  // through this node, which owns that proxy (its path() names a remote actor).
  std::string sender = e->sender != nullptr ? e->sender->local_path() : std::string();
  if (!sender.empty()) expose(px, sender);

  // Every way out below destroys the payload exactly once (drop) and answers
  // a taken request exactly once (complete_request, here or by the reply).
  auto refuse = [&](errc code, const std::string& why) {
    ++send_failures;
    info->drop(e, dead_letter_reason::remote_failure);
    if (request != nullptr) {
      error err{code, why};
      info->complete_request(request, nullptr, &err);
    }
    publish_dead_letter(sender, l.describe(path), std::string(info->name),
                        dead_letter_reason::remote_failure);
  };

  const message_entry* entry = types_.find(info->id);
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

  // Reused per worker: serialising a message allocates nothing once warm.
  thread_local std::vector<std::byte> payload;
  payload.clear();
  try {
    entry->wire.serialize(entry->wire, info->payload(e), payload);
  } catch (const std::exception& ex) {
    refuse(errc::handler_failed, "serializer of " + entry->wire.name + " threw: " + ex.what());
    return;
  }
  info->drop(e, dead_letter_reason::recipient_stopped);  // only destroys: the bytes are out

  // Read once: the ask is registered under the connection the frame goes to.
  connection_id route = l.route.load(std::memory_order_relaxed);
  frame f;
  f.kind = request != nullptr ? frame_kind::ask_request : frame_kind::message;
  f.target_path = path;
  f.sender_path = sender;
  f.type_marker = entry->wire.marker;
  f.payload = payload;
  std::uint64_t correlation = 0;
  if (request != nullptr) {
    // Registered before the send: the reply may come back before send() returns.
    pending_ask p{request, info, route, std::chrono::steady_clock::now()};
    do {
      correlation = unguessable_id();
    } while (!add_pending(correlation, p));  // a collision among pending asks: 2^-64 odds
    f.correlation_id = correlation;
  }
  send_result r = send(route, f);
  if (r == send_result::queued) {
    messages_sent.add();
    return;
  }
  ++send_failures;
  std::string why = "not sent to " + l.describe(path) + ": " + std::string(to_string(r));
  pending_ask p;
  if (request != nullptr && take_pending(correlation, p)) {
    // Stopped or gone: the node is going away. Full or refused: the message
    // itself was not sent, which the asker learns as a broken promise.
    bool gone = r == send_result::stopped || r == send_result::unknown_connection;
    fail(p, gone ? errc::node_down : errc::broken_promise, why);
  }
  publish_dead_letter(std::move(sender), l.describe(path), entry->wire.name,
                      dead_letter_reason::remote_failure);
}

}  // namespace volley::remote::detail
