// Inbound: frames from other nodes become local tells, asks and replies.
//
// Everything here runs on the transport's loop thread and must not block or
// throw into the transport: sends to local actors are enqueues, a reply to a
// remote ask is sent from whichever thread completes the local ask (a
// reply_channel), and each frame's handling is wrapped so that a throwing
// deserializer or continuation only costs that frame.
//
// Error text of ask_failure frames: "<errc name>: <message>", so the asker
// gets the same volley::errc the remote ask ended with (PROTOCOL.md §5 only
// says UTF-8 text; this is volley's convention inside it).
#include "node_core.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>

namespace volley::remote::detail {

namespace {

constexpr errc all_errc[] = {errc::timeout,        errc::recipient_stopped, errc::unhandled,
                             errc::handler_failed, errc::would_deadlock,    errc::broken_promise,
                             errc::node_down};

error parse_failure(std::string_view text) {
  for (errc code : all_errc) {
    std::string prefix = std::string(to_string(code)) + ": ";
    if (text.substr(0, prefix.size()) == prefix) {
      return {code, std::string(text.substr(prefix.size()))};
    }
  }
  return {errc::handler_failed, std::string(text)};
}

/// Sends the reply of a local ask back to the asking node.
class remote_reply final : public reply_channel {
 public:
  remote_reply(std::weak_ptr<node_core> core, connection_id conn, std::uint64_t correlation,
               std::uint64_t reply_marker)
      : core_(std::move(core)), conn_(conn), correlation_(correlation), marker_(reply_marker) {}

  void complete(const void* value, const error* err) noexcept override {
    auto core = core_.lock();
    if (!core) return;  // the node is gone; so is the connection
    if (value == nullptr) {
      core->send_failure(conn_, correlation_, *err);
      return;
    }
    const message_entry* entry = core->types().find_marker(marker_);
    thread_local std::vector<std::byte> payload;
    payload.clear();
    try {
      entry->wire.serialize(entry->wire, value, payload);
    } catch (const std::exception& ex) {
      core->send_failure(
          conn_, correlation_,
          {errc::handler_failed, "serializer of " + entry->wire.name + " threw: " + ex.what()});
      return;
    }
    frame f;
    f.kind = frame_kind::ask_reply;
    f.type_marker = marker_;
    f.correlation_id = correlation_;
    f.payload = payload;
    if (core->send(conn_, f) != send_result::queued) {
      core->log(log_level::warning, "a reply to a remote ask could not be sent");
    }
  }

 private:
  std::weak_ptr<node_core> core_;
  connection_id conn_;
  std::uint64_t correlation_;
  std::uint64_t marker_;
};

std::string describe_sender(const peer_info& peer, const frame& f) {
  if (f.sender_path.empty()) return "remote://" + peer.name;
  return "remote://" + (f.sender_node.empty() ? peer.name : std::string(f.sender_node)) +
         std::string(f.sender_path);
}

std::string describe_marker(const message_types& types, std::uint64_t marker) {
  const message_entry* e = types.find_marker(marker);
  return e ? e->wire.name : "unknown type marker " + std::to_string(marker);
}

}  // namespace

void node_core::send_failure(connection_id conn, std::uint64_t correlation, const error& err) {
  std::string text = std::string(to_string(err.code)) + ": " + err.message;
  frame f;
  f.kind = frame_kind::ask_failure;
  f.correlation_id = correlation;
  f.payload = std::as_bytes(std::span(text.data(), text.size()));
  send(conn, f);  // lost with the connection: the asker fails with node_down
}

void node_core::on_up(const peer_info& peer, std::uint64_t previous_incarnation) {
  end_streaks();  // another handler call: no frame vouches for the next
  flush_batches();
  proxies_epoch.fetch_add(1, std::memory_order_relaxed);  // a reconnect: new proxies
  auto l = link_for(peer);
  superseded_.erase(peer.id);
  std::uint64_t known;
  {
    volley::detail::lock_guard lock(l->mu);
    known = l->incarnation;
  }
  if (known != 0 && known != peer.incarnation) {
    // This link reconnected to a new incarnation: what it holds was made for
    // the old one (proxies selected, asks sent while it was down).
    superseded_incarnations.fetch_add(1, std::memory_order_relaxed);
    lose(*l, "node " + peer.name +
                 " restarted (new incarnation): refs and asks of the old one "
                 "are void");
  }
  if (previous_incarnation != 0 && previous_incarnation != peer.incarnation) {
    log(log_level::info, "node " + peer.name + " restarted (new incarnation)");
    supersede(peer, l);
  }
  std::vector<std::pair<std::string, std::string>> watches;
  {
    volley::detail::lock_guard lock(l->mu);
    l->up = true;
    l->peer_name = peer.name;
    l->incarnation = peer.incarnation;
    // Proxies made while the connection was down: their watch frames were
    // lost with it, so they are sent again (the daemon ignores duplicates).
    for (auto& [path, ref] : l->proxies) watches.emplace_back(path, ref.cell()->local_path());
    l->up_changed.notify_all();
  }
  for (auto& [target, watcher] : watches) {
    frame f;
    f.kind = frame_kind::watch;
    f.target_path = target;
    f.sender_path = watcher;
    send(peer.id, f);
  }
}

void node_core::supersede(const peer_info& peer, const std::shared_ptr<link>& fresh) {
  // Every other link still tied to an older incarnation of this name: its
  // node is gone even if its connection has not noticed yet.
  std::vector<std::shared_ptr<link>> old;
  {
    volley::detail::lock_guard lock(links_mu_);
    for (auto& [id, l] : links_) {
      if (l == fresh || superseded_.count(id) ||
          std::find(old.begin(), old.end(), l) != old.end())  // merged: under two ids
        continue;
      volley::detail::lock_guard link_lock(l->mu);
      if (l->up && l->peer_name == peer.name && l->incarnation != peer.incarnation) {
        superseded_.insert(id);
        old.push_back(l);
      }
    }
  }
  for (auto& l : old) {
    superseded_incarnations.fetch_add(1, std::memory_order_relaxed);
    log(log_level::warning, "connection " + std::to_string(l->conn) + " to node " + peer.name +
                                " belongs to an older incarnation: dropped");
    lose(*l, "node " + peer.name + " has a new incarnation: the old one is gone");
    // An inbound connection never comes back: close it. An outbound one is
    // reset: it reconnects at once, to whichever incarnation answers at its
    // address, and what was queued for the old one is not sent to a new one.
    connection_id route = l->route.load(std::memory_order_relaxed);
    with_transport([&](transport& t) {
      if (l->outbound && route == l->conn) {
        t.reset(route);
      } else {
        t.disconnect(route);
      }
    });
  }
}

namespace {
/// Whether two paths are the same bytes: a path of 8 bytes or more is
/// compared a word at a time, its last word overlapping the one before,
/// inline. A frame's target is compared twice per message (the access
/// list, the last resolved path), and the two calls to memcmp for a
/// 14-byte path were 3% of the one-way profile (B's loop).
bool same_path(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  std::size_t n = a.size();
  if (n < 8) return a == b;
  auto word = [](std::string_view s, std::size_t at) {
    return detail::load_u64(reinterpret_cast<const std::byte*>(s.data() + at));  // wire.hpp
  };
  std::uint64_t diff = word(a, n - 8) ^ word(b, n - 8);
  for (std::size_t i = 0; i + 8 < n; i += 8) diff |= word(a, i) ^ word(b, i);
  return diff == 0;
}
}  // namespace

bool node_core::may_reach(const peer_info& peer, std::string_view path) {
  // A stream of frames to one allowed actor compares its path once instead
  // of walking the list (its "/*" tests were calls to memcmp: ~2% of the
  // one-way profile, B's loop). The list never changes, so a path it
  // allowed once it allows for good.
  if (!last_allowed_.empty() && same_path(path, last_allowed_)) return true;
  for (const auto& allowed : cfg_.access.allowed_paths) {
    bool ok = false;
    if (allowed.size() >= 2 && allowed.ends_with("/*")) {
      std::string_view prefix(allowed.data(), allowed.size() - 1);  // keeps the '/'
      ok = path.size() > prefix.size() && path.starts_with(prefix);
    } else {
      ok = same_path(path, allowed);
    }
    if (ok) {
      last_allowed_.assign(path);
      return true;
    }
  }
  auto l = find_link(peer.id);
  if (!l) return false;
  volley::detail::lock_guard lock(l->mu);
  return l->exposed.contains(path);
}

void node_core::refuse_access(const peer_info& peer, const frame& f, const std::string& what,
                              bool stop) {
  (stop ? refused_stops : refused_messages).fetch_add(1, std::memory_order_relaxed);
  ++receive_failures;
  std::uint64_t held = 0;
  if ((stop ? refused_stop_log_ : refused_path_log_).admit(held)) {
    log(log_level::warning,
        "refused " + what + " from node " + peer.name + " to " + std::string(f.target_path) +
            (stop ? " (node_config::access.allow_remote_stop / allow_system_messages)"
                  : " (not in node_config::access.allowed_paths)") +
            (held ? "; " + std::to_string(held) + " more refusals of this kind since the last line"
                  : ""));
  }
}

void node_core::on_down(const peer_info& peer, close_reason reason, std::string_view detail) {
  end_streaks();  // another handler call: no frame vouches for the next
  flush_batches();
  proxies_epoch.fetch_add(1, std::memory_order_relaxed);
  superseded_.erase(peer.id);
  auto l = find_link(peer.id);
  if (!l) return;
  lose(*l, "connection to node " + peer.name + " lost: " + std::string(to_string(reason)) +
               (detail.empty() ? "" : ": " + std::string(detail)));
  unmerge(*l);           // links that gave way to this connection go back to their own
  if (!peer.outbound) {  // an inbound connection id never comes back
    volley::detail::lock_guard lock(links_mu_);
    links_.erase(peer.id);
  }
  if (!l->outbound) {  // nor does a link born with one (an outbound-born link reconnects)
    volley::detail::lock_guard lock(l->mu);
    l->closed = true;
  }
}

void node_core::on_undelivered(connection_id id, const frame& f, close_reason reason) {
  end_streaks();  // another handler call: no frame vouches for the next
  flush_batches();
  std::string why = "not delivered: connection " + std::string(to_string(reason));
  pending_ask p;
  switch (f.kind) {
    case frame_kind::ask_request:
      if (take_pending(f.correlation_id, p)) fail(p, errc::node_down, why);
      ++send_failures;
      break;
    case frame_kind::message: {
      ++send_failures;
      auto l = find_link(id);
      publish_dead_letter(
          std::string(f.sender_path), l ? l->describe(f.target_path) : std::string(f.target_path),
          describe_marker(types_, f.type_marker),
          reason == close_reason::node_restarted ? dead_letter_reason::node_restarted
                                                 : dead_letter_reason::remote_failure);
      break;
    }
    default:
      break;  // replies, watches: the other side learns of the loss by itself
  }
}

namespace {
/// What resolve() and sender_of() lend when there is nothing to lend.
const any_ref no_ref;
/// Paths and proxies are few; a flood of distinct ones resets a cache.
constexpr std::size_t max_cached = 4096;
}  // namespace

inline bool node_core::deliver_batched(const peer_info& peer, const frame& f,
                                       const message_entry& entry, const any_ref& target,
                                       volley::detail::invoke_fn fn, bool same_sender) {
  // Inline, with batch() and the test for a frame without a sender: the
  // three calls and their prologues were ~20 of the ~40 instructions this
  // added to a run's frame (callgrind, remote_bench one-way, B's loop).
  const any_ref& from = f.sender_path.empty() ? no_ref : sender_of(peer, f, same_sender);
  volley::detail::envelope* e =
      entry.envelope_local(entry.wire, fn, f.payload, from ? from.cell() : nullptr);
  if (e == nullptr) return false;
  batch(target, e);
  count_received();
  return true;
}

inline void node_core::batch(const any_ref& target, volley::detail::envelope* e) {
  // A stream to one actor appends to the newest chain, here, without the
  // scan's prologue (37 -> 19 instructions per message, callgrind,
  // remote_bench one-way, B's loop).
  if (!batches_.empty() && batches_.back().target.cell() == target.cell()) {
    batches_.back().append(e);
    return;
  }
  batch_elsewhere(target, e);
}

inline void node_core::receive(const peer_info& peer, const frame& f, bool like_previous) {
  // A tell that continues the last run (tell_run) is delivered here, before
  // the plain path's prologue and switch and without deliver_tell's call:
  // on_frame, deliver_tell and its same_path call took 118 instructions per
  // message of B's loop, on_frame and continue_run take 83 (callgrind,
  // remote_bench one-way).
  // The hint counts only if the frame before it went through the run; the
  // streak ends here and is earned again by this frame's success alone.
  bool same_target = like_previous && last_tell_.streak;
  bool same_sender = same_target && sender_streak_;
  end_streaks();
  if (f.kind == frame_kind::message && !(f.flags & flag_target_id) && superseded_.empty()) {
    try {
      if (continue_run(peer, f, same_target, same_sender)) {
        last_tell_.streak = true;
        return;
      }
    } catch (const std::exception&) {
      // The plain path below decodes it again and reports the failure.
    }
  }
  on_other_frame(peer, f);
}

void node_core::on_frame(const peer_info& peer, const frame& f) {
  receive(peer, f, false);
}

void node_core::on_frame_like_previous(const peer_info& peer, const frame& f) {
  receive(peer, f, true);
}

inline bool node_core::continue_run(const peer_info& peer, const frame& f, bool same_target,
                                    bool same_sender) {
  // A stream of tells to one allowed actor: one path compare and one
  // liveness load, then the envelope. The plain path (deliver_tell) makes
  // two compares of the target path, the access and type checks and three
  // calls more per frame: ~3% of the one-way profile (B's loop, the thread
  // that bounds the rate). Inside one receive buffer the path compare is
  // left out too when the transport says the target bytes are those of the
  // frame before, which this run delivered (same_target).
  const tell_run& run = last_tell_;
  if (run.entry == nullptr || run.conn != peer.id || run.marker != f.type_marker ||
      (!same_target && !same_path(run.target->first, f.target_path)) ||
      run.target->second.is_stopped())
    return false;
  return deliver_batched(peer, f, *run.entry, run.target->second, run.handler, same_sender);
}

void node_core::on_other_frame(const peer_info& peer, const frame& f) {
  if (f.kind != frame_kind::message) flush_batches();
  try {
    if (!superseded_.empty() && superseded_.count(peer.id)) {
      ++receive_failures;  // its node restarted: nothing this connection says counts
      return;
    }
    if (f.flags & flag_target_id) {  // interned ids: not assigned by this version
      ++receive_failures;
      log(log_level::warning, "frame from " + peer.name + " with an interned target id: dropped");
      if (f.kind == frame_kind::ask_request) {
        send_failure(peer.id, f.correlation_id,
                     {errc::unhandled, "interned ids are not supported"});
      }
      return;
    }
    switch (f.kind) {
      case frame_kind::message:
        deliver_tell(peer, f);
        break;
      case frame_kind::ask_request:
        deliver_ask(peer, f);
        break;
      case frame_kind::ask_reply:
        complete_reply(peer, f);
        break;
      case frame_kind::ask_failure:
        complete_failure(peer, f);
        break;
      case frame_kind::watch:
        if (!may_reach(peer, f.target_path)) {
          // Answered as for a missing actor, so a peer cannot probe for paths.
          refuse_access(peer, f, "a watch", false);
          frame gone;
          gone.kind = frame_kind::terminated;
          gone.target_path = f.sender_path;
          gone.sender_path = f.target_path;
          send(peer.id, gone);
          break;
        }
        daemon_.tell(
            watch_request{peer.id, std::string(f.target_path), std::string(f.sender_path)});
        break;
      case frame_kind::unwatch:
        daemon_.tell(
            unwatch_request{peer.id, std::string(f.target_path), std::string(f.sender_path)});
        break;
      case frame_kind::terminated:
        on_terminated_frame(peer, f);
        break;
      default:
        break;  // the transport keeps control frames to itself
    }
  } catch (const std::exception& ex) {
    ++receive_failures;
    log(log_level::error, "frame from " + peer.name + " (" + std::string(to_string(f.kind)) +
                              ") failed: " + ex.what());
  }
}

const any_ref& node_core::resolve(std::string_view path) {
  // Looking a path up takes a lock per level; a stream of messages to the
  // same actor takes it once, and compares the path with the last one
  // instead of hashing it (a receive buffer's frames mostly go to one
  // actor). A stopped actor's entry is looked up again (its name may have
  // been taken by a new actor). The ref is lent, not copied: a copy cost
  // two reference-count round trips on the target's line per frame.
  if (last_resolved_ != nullptr && same_path(last_resolved_->first, path) &&
      !last_resolved_->second.is_stopped())
    return last_resolved_->second;
  last_tell_ = {};  // last_resolved_ changes below
  auto it = path_cache_.find(path);
  if (it == path_cache_.end() || it->second.is_stopped()) {
    // A sender's path names its incarnation: a successor is not it.
    any_ref ref = select_incarnation(sys_, path);
    last_resolved_ = nullptr;  // the cache changes below
    if (!ref) {
      if (it != path_cache_.end()) path_cache_.erase(it);
      return no_ref;
    }
    if (it == path_cache_.end()) {
      if (path_cache_.size() >= max_cached) path_cache_.clear();
      it = path_cache_.emplace(std::string(path), std::move(ref)).first;
    } else {
      it->second = std::move(ref);
    }
  }
  last_resolved_ = &*it;
  return it->second;
}

const any_ref& node_core::sender_of(const peer_info& peer, const frame& f, bool same_sender) {
  if (f.sender_path.empty()) return no_ref;
  // A sender on a third node cannot be reached over this connection.
  if (!f.sender_node.empty() && f.sender_node != peer.name) return no_ref;
  // Relaxed: see lose(); this thread bumps it itself in on_up/on_down/on_merged.
  if (std::uint64_t epoch = proxies_epoch.load(std::memory_order_relaxed); epoch != sender_epoch_) {
    sender_cache_.clear();
    last_sender_ = nullptr;
    sender_epoch_ = epoch;
  }
  // A proxy that is stopping is asked for again: proxy_for() makes a new
  // one once the old has left the link's map (on_terminated_frame, lose).
  auto alive = [](const any_ref& p) {
    return p.cell()->state() == volley::detail::lifecycle::alive;
  };
  // A frame whose sender bytes are those of the frame before, whose sender
  // this found as last_sender_ (same_sender), skips the path compare: from
  // an actor, it was 33 instructions of a message's ~400 in B's loop
  // (callgrind, remote_bench one-way --actor-sender).
  if (last_sender_ != nullptr && last_sender_conn_ == peer.id &&
      (same_sender || same_path(last_sender_->first, f.sender_path)) &&
      alive(last_sender_->second)) {
    sender_streak_ = true;
    return last_sender_->second;
  }
  ref_by_path& senders = sender_cache_[peer.id];
  auto it = senders.find(f.sender_path);
  if (it == senders.end() || !alive(it->second)) {
    auto l = find_link(peer.id);
    if (!l) return no_ref;
    any_ref proxy;
    try {
      proxy = proxy_for(l, f.sender_path);
    } catch (const std::exception&) {
      return no_ref;  // shutting down: the message goes without a sender
    }
    if (it != senders.end()) {
      it->second = std::move(proxy);
    } else {
      if (senders.size() >= max_cached) {
        senders.clear();
        last_sender_ = nullptr;
      }
      it = senders.emplace(std::string(f.sender_path), std::move(proxy)).first;
    }
  }
  last_sender_ = &*it;
  last_sender_conn_ = peer.id;
  sender_streak_ = true;
  return it->second;
}

void node_core::clear_caches() noexcept {
  last_resolved_ = nullptr;
  last_tell_ = {};
  last_sender_ = nullptr;
  path_cache_.clear();
  sender_cache_.clear();
}

namespace {
/// What remote_access says of a message type: a stop, another system message, or neither.
enum class message_class { user, stop, system };
message_class classify(const message_entry& e) {
  if (e.id == volley::type_id<volley::poison_pill>()) return message_class::stop;
  if (e.id == volley::type_id<volley::terminated>()) return message_class::system;
  return message_class::user;
}
}  // namespace

bool node_core::admit(const peer_info& peer, const frame& f, const message_entry* entry,
                      const char* what) {
  if (!may_reach(peer, f.target_path)) {
    refuse_access(peer, f, what, false);
    return false;
  }
  if (entry == nullptr) return true;
  message_class c = classify(*entry);
  if ((c == message_class::stop && !cfg_.access.allow_remote_stop) ||
      (c == message_class::system && !cfg_.access.allow_system_messages)) {
    refuse_access(peer, f, std::string(what) + " of " + entry->wire.name, true);
    return false;
  }
  return true;
}

void node_core::deliver_tell(const peer_info& peer, const frame& f) {
  // Runs were tried in on_frame: this is the plain path.
  const message_entry* entry = entry_for(f.type_marker);
  if (!admit(peer, f, entry, "a message")) {
    publish_dead_letter(describe_sender(peer, f), std::string(f.target_path),
                        describe_marker(types_, f.type_marker), dead_letter_reason::remote_failure);
    return;
  }
  if (entry == nullptr) {
    ++receive_failures;
    log(log_level::warning, "message from " + peer.name + " to " + std::string(f.target_path) +
                                " has unknown type marker " + std::to_string(f.type_marker) +
                                ": dead letter");
    publish_dead_letter(describe_sender(peer, f), std::string(f.target_path),
                        describe_marker(types_, f.type_marker), dead_letter_reason::remote_failure);
    return;
  }
  const any_ref& target = resolve(f.target_path);
  if (!target) {
    ++receive_failures;
    publish_dead_letter(describe_sender(peer, f), std::string(f.target_path), entry->wire.name,
                        dead_letter_reason::recipient_stopped);
    return;
  }
  bool valid = true;
  if (volley::detail::invoke_fn fn = entry->handler_of(target.cell())) {
    if (deliver_batched(peer, f, *entry, target, fn)) {
      // Admitted by the allowed list, not by the link's exposed set (which
      // prunes): a run may skip the check.
      if (!last_allowed_.empty() && same_path(f.target_path, last_allowed_) &&
          classify(*entry) == message_class::user && last_resolved_ != nullptr &&
          &last_resolved_->second == &target)
        last_tell_ = {peer.id, f.type_marker, entry, last_resolved_, fn, true};
      return;
    }
    valid = false;  // the payload is not a valid message of its type
  } else {
    flush_batches();  // the plain path below: behind what is batched
  }
  const any_ref& from = sender_of(peer, f);
  std::optional<context> from_ctx;
  if (from) from_ctx.emplace(from.cell());  // a context only names the sender here
  if (!valid ||
      !entry->tell_local(entry->wire, target, f.payload, from_ctx ? &*from_ctx : nullptr)) {
    ++receive_failures;
    log(log_level::warning, "message from " + peer.name + ": payload is not a valid " +
                                entry->wire.name + ": dead letter");
    publish_dead_letter(describe_sender(peer, f), std::string(f.target_path), entry->wire.name,
                        dead_letter_reason::remote_failure);
    return;
  }
  count_received();
}

void node_core::batch_elsewhere(const any_ref& target, volley::detail::envelope* e) {
  // A turn's tells go to few actors: a scan from the newest finds them. Past
  // this many the chains are handed over early, which only costs batching.
  constexpr std::size_t max_targets = 64;
  volley::detail::cell_base* c = target.cell();
  for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {
    if (it->target.cell() == c) {
      it->append(e);
      return;
    }
  }
  if (batches_.size() >= max_targets) flush_batches();
  batches_.push_back({target, e, e});
}

void node_core::flush_batches() noexcept {
  for (auto& p : batches_) p.target.cell()->deliver_chain(p.first, p.last);
  batches_.clear();
}

void node_core::on_batch_end() {
  end_streaks();  // another handler call: no frame vouches for the next
  // Inline handlers (node_config::inline_handlers): the chains of this turn
  // go to their actors under a capture, so an actor that was idle stays
  // with this thread (it cleared the mark) and runs below; the replies and
  // tells its handler sends to remote refs are in the inbox before the loop
  // drains it, and leave in this turn's sendmsg. Per actor at most
  // inline_budget messages; what is left goes to a worker, in order behind
  // them (the worker continues the same mailbox).
  constexpr unsigned inline_budget = 16;  // with max_kept 16: <= 256 handler calls a turn
  if (inline_handlers_) {
    {
      volley::detail::inline_turns::capture capture(inline_turns_);
      flush_batches();
    }
    inline_turns_.run(inline_budget);
  } else {
    flush_batches();
  }
}

void node_core::deliver_ask(const peer_info& peer, const frame& f) {
  auto refuse = [&](errc code, const std::string& why) {
    ++receive_failures;
    send_failure(peer.id, f.correlation_id, {code, why});
  };
  const message_entry* entry = types_.find_marker(f.type_marker);
  if (!admit(peer, f, entry, "an ask")) {
    // The same answer as for a missing actor: a peer cannot probe for paths.
    send_failure(peer.id, f.correlation_id,
                 {errc::recipient_stopped,
                  "no actor at " + std::string(f.target_path) + " on node " + cfg_.name});
    return;
  }
  if (entry == nullptr) {
    log(log_level::warning,
        "ask from " + peer.name + " has unknown type marker " + std::to_string(f.type_marker));
    publish_dead_letter(describe_sender(peer, f), std::string(f.target_path),
                        describe_marker(types_, f.type_marker), dead_letter_reason::remote_failure);
    refuse(errc::unhandled,
           "node " + cfg_.name + " does not know type marker " + std::to_string(f.type_marker));
    return;
  }
  const any_ref& target = resolve(f.target_path);
  if (!target) {
    refuse(errc::recipient_stopped,
           "no actor at " + std::string(f.target_path) + " on node " + cfg_.name);
    return;
  }
  // The reply type is the one the target's handler returns; a target without
  // a handler for the type (a proxy that forwards it, or one that will
  // refuse it) gets the only registered pair, if there is exactly one.
  const message_entry::ask_pair* pair = nullptr;
  const volley::detail::cell_ops* ops = target.cell()->ops();
  const volley::detail::dynamic_handler* handler = nullptr;
  for (std::size_t i = 0; i < ops->handler_count; ++i) {
    if (ops->handlers[i].id == entry->id) handler = &ops->handlers[i];
  }
  if (handler != nullptr) {
    if (handler->invoke_ask != nullptr) pair = entry->ask_for(handler->reply_id);
  } else if (entry->asks.size() == 1) {
    pair = &entry->asks.front();
  }
  if (pair == nullptr) {
    refuse(errc::unhandled, "node " + cfg_.name + ": " + std::string(f.target_path) +
                                " cannot answer an ask of " + entry->wire.name +
                                " with a registered reply type (message_types::add_ask)");
    return;
  }
  auto reply = std::make_shared<remote_reply>(weak_from_this(), peer.id, f.correlation_id,
                                              pair->reply_marker);
  // An ask made to an idle actor is kept for this turn's end (on_batch_end
  // runs it), behind any tells of the turn that were flushed before it.
  std::optional<volley::detail::inline_turns::capture> capture;
  if (inline_handlers_) capture.emplace(inline_turns_);
  if (!pair->ask_local(entry->wire, target, f.payload, std::move(reply))) {
    log(log_level::warning,
        "ask from " + peer.name + ": payload is not a valid " + entry->wire.name);
    refuse(errc::unhandled, "payload is not a valid " + entry->wire.name);
    return;
  }
  count_received();
}

bool node_core::match_reply(const peer_info& peer, const frame& f, pending_ask& p) {
  switch (take_reply(peer, f, p)) {
    case reply_match::taken:
      return true;
    case reply_match::unknown:  // forgotten (horizon) or answered already
      publish_dead_letter("remote://" + peer.name, "", describe_marker(types_, f.type_marker),
                          dead_letter_reason::reply_undeliverable);
      return false;
    case reply_match::other_connection: {
      // Only the connection the ask went out on may answer it.
      foreign_replies.fetch_add(1, std::memory_order_relaxed);
      ++receive_failures;
      std::uint64_t held = 0;
      if (foreign_reply_log_.admit(held)) {
        log(log_level::warning,
            "refused a reply from node " + peer.name + " (connection " + std::to_string(peer.id) +
                ") to an ask made on another connection" +
                (held ? "; " + std::to_string(held) + " more since the last line" : ""));
      }
      return false;
    }
  }
  return false;
}

void node_core::complete_reply(const peer_info& peer, const frame& f) {
  pending_ask p;
  if (!match_reply(peer, f, p)) return;
  const message_entry* entry = types_.find_marker(f.type_marker);
  if (entry == nullptr || entry->id != p.info->reply_id) {
    fail(p, errc::handler_failed,
         "reply from node " + peer.name + " is a " + describe_marker(types_, f.type_marker) +
             ", not the type asked for");
    return;
  }
  // The reply is rebuilt in place and moved from by complete_request.
  const type_entry& w = entry->wire;
  constexpr std::size_t inline_size = 256;  // most replies; larger ones go to the heap
  alignas(std::max_align_t) std::byte inline_storage[inline_size];
  bool on_heap = w.size > inline_size || w.align > alignof(std::max_align_t);
  void* storage = on_heap ? ::operator new(w.size, std::align_val_t(w.align)) : inline_storage;
  struct release_storage {
    void* p;
    const type_entry& w;
    bool heap;
    bool built = false;
    ~release_storage() {
      if (built) w.destroy(p);
      if (heap) ::operator delete(p, std::align_val_t(w.align));
    }
  } guard{storage, w, on_heap};
  if (!w.deserialize_into(w, f.payload, storage)) {
    fail(p, errc::handler_failed, "reply from node " + peer.name + " is not a valid " + w.name);
    return;
  }
  guard.built = true;
  p.info->complete_request(p.request, storage, nullptr);
}

void node_core::complete_failure(const peer_info& peer, const frame& f) {
  pending_ask p;
  if (!match_reply(peer, f, p)) return;
  std::string_view text(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
  error err = parse_failure(text);
  try {
    p.info->complete_request(p.request, nullptr, &err);
  } catch (...) {
    // A continuation threw; the request is answered and released regardless.
  }
}

void node_core::on_terminated_frame(const peer_info& peer, const frame& f) {
  auto l = find_link(peer.id);
  if (!l) return;
  any_ref gone;
  std::vector<std::shared_ptr<link>> absorbed;
  {
    volley::detail::lock_guard lock(l->mu);
    auto it = l->proxies.find(std::string(f.sender_path));
    // Only the proxy that asked: a newer proxy of the same path watches the
    // actor now there, which may be a new one.
    if (it != l->proxies.end() && it->second.cell()->local_path() == f.target_path) {
      gone = std::move(it->second);
      l->proxies.erase(it);
    }
    absorbed = l->absorbed;
  }
  // A proxy of a link merged into this one (the path had a proxy on both).
  for (auto& a : absorbed) {
    if (gone) break;
    volley::detail::lock_guard lock(a->mu);
    auto it = a->proxies.find(std::string(f.sender_path));
    if (it != a->proxies.end() && it->second.cell()->local_path() == f.target_path) {
      gone = std::move(it->second);
      a->proxies.erase(it);
    }
  }
  if (gone) {
    proxies_epoch.fetch_add(1, std::memory_order_relaxed);  // the sender cache may hold it
    gone.stop();
  }
}

}  // namespace volley::remote::detail
