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

void proxy::on_any(envelope* e, cell_base* c, context&) {
  proxy& self = volley::detail::actor_of<proxy>(c);
  self.link_->core->forward(self, e);
}

void node_core::forward(proxy& px, envelope* e) {
  link& l = *px.link_;
  const std::string& path = px.path_;
  const volley::detail::message_info* info = e->info;
  void* request = info->take_request != nullptr ? info->take_request(e) : nullptr;
  std::string sender = e->sender != nullptr ? e->sender->path() : std::string();
  if (!sender.empty() && !px.exposed_.count(sender)) {
    // The peer learns this sender's ref, so it may send to it (replies).
    {
      std::lock_guard lock(l.mu);
      l.exposed.insert(sender);
    }
    px.exposed_.insert(sender);
  }

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

  frame f;
  f.kind = request != nullptr ? frame_kind::ask_request : frame_kind::message;
  f.target_path = path;
  f.sender_path = sender;
  f.type_marker = entry->wire.marker;
  f.payload = payload;
  std::uint64_t correlation = 0;
  if (request != nullptr) {
    // Registered before the send: the reply may come back before send() returns.
    pending_ask p{request, info, l.conn, std::chrono::steady_clock::now()};
    do {
      correlation = unguessable_id();
    } while (!add_pending(correlation, p));  // a collision among pending asks: 2^-64 odds
    f.correlation_id = correlation;
  }
  send_result r = send(l.conn, f);
  if (r == send_result::queued) {
    ++messages_sent;
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
