// One association per node pair: how the transport resolves two (or more)
// connections between the same two nodes (PROTOCOL.md §6.6 has the rule and
// the argument; handshake.hpp the pure decision, keeps_over / arbitrate).
//
// Where it is decided. Every handshake has a *gate*: the point just before
// this side proves itself (initiator: on the challenge; acceptor: once the
// initiator's proof has verified). From there on the connection's peer name
// and incarnation are known (peer.name, peer.incarnation) and it counts as a
// contender against the other connections to that same node:
//
//  * At its gate, a connection that another live one is kept over either
//    waits (handshake state `held`: it proves nothing yet) while that one is
//    still handshaking, or is refused (reject simultaneous_connect) when that
//    one is established.
//  * When a connection establishes, every connection it is kept over is
//    retired: a held or handshaking one is refused, an established one is
//    closed. Nothing is retired for a peer that has not authenticated, so a
//    stranger claiming a node's name cannot cut that node's association.
//  * When a connection closes, the ones held for it go through their gate
//    again (and go on if nothing else is kept over them).
//
// What a loser leaves behind. Its queued user frames move behind the
// winner's (send_queue::move_queued_to), with their outbound reservations,
// and `forward_` sends whatever is still addressed to it to the winner, in
// the order it was sent. The handler hears on_merged(loser, winner) instead
// of an on_down. A loser this node initiated does not reconnect: it waits,
// folded, and reconnects only when the winner goes down. Its batch already
// in flight is written or counted fate unknown, as on any loss.
//
// What a loser still carries (PROTOCOL.md §6.6.2). When a winner comes up
// over an *established* loser, the peer may have written frames on the
// loser that have not reached us yet; it writes nothing more there once it
// has retired the loser itself, which it announces with a close frame that
// follows all of them. So the loser is drained, not cut: our close frame
// goes out, the socket is shut for writing only, and the loser is still
// read, its frames handed on, until the peer's close frame (or its end of
// stream, or close_linger without a byte read or written on it: a peer that
// never closes it; a busy loser's backlog can take seconds to read; or, at
// the latest, max_drain_lingers x close_linger after it began: a peer that
// keeps it busy, even a byte at a time, holds the winner no longer). Meanwhile the
// winner is not read (pause_recv cancels its receive), so its peer's writes
// meet TCP's window and then its own bounded queue: the wait costs this node
// no memory beyond what the receive took before the pause. Those user
// frames wait, re-encoded, in its held_inbound, and are handed on when the
// last of its losers is drained, before the winner is read again
// (resume_recv): the peer wrote them after everything on the loser, and
// per-pair order holds on the receiving side too. Both sides drain symmetrically, so nothing
// written to a loser is lost unless a drain times out or the connection fails (then, as on any
// loss, it was written and its fate is unknown).
//
// Loop thread only, like all connection state.
#include "transport_impl.hpp"

#include <algorithm>

namespace volley::remote {

namespace {

/// A drain ends at the latest this many close_lingers after it began, however
/// busy the loser stays (extend_drain). Without it a peer could keep its own
/// association's winner unread for ever by sending a byte on the loser more
/// often than every close_linger. What an honest loser still carries is
/// bounded: once the peer has retired it, it writes nothing more there, so
/// what is left is its batch in flight (<= 256 KiB, send_queue) and the two
/// socket buffers, at most tcp_wmem's + tcp_rmem's maximum (Linux's
/// defaults 4 + 6 MiB; 4 + 32 MiB on the 2-core test VM). Ten close_lingers
/// (10 s by default) read even 36 MiB at 3.6 MB/s, about a hundred times
/// slower than the receive path runs (remote_bench one-way, 6.6 M frames/s
/// of ~56 B: ~370 MB/s); past that the loser is not draining but being
/// kept busy.
constexpr int max_drain_lingers = 10;

}  // namespace

bool transport::impl::same_peer(const connection& a, const connection& b) const {
  return a.gate_order != 0 && b.gate_order != 0 && a.peer.name == b.peer.name &&
         a.peer.incarnation == b.peer.incarnation;
}

namespace {
bool contending(const connection& c) {
  return !c.merged && (c.state == conn_state::handshaking || c.state == conn_state::established);
}
contender as_contender(const connection& c) {
  return {c.outbound, c.state == conn_state::established, c.gate_order};
}
}  // namespace

gate_verdict transport::impl::gate(connection& c, const peer_identity& who) {
  c.peer.name = who.name;
  c.peer.incarnation = who.incarnation;
  if (c.gate_order == 0) c.gate_order = next_gate_order_++;  // kept when it goes through again
  node_identity us{cfg_.node_name, hs_config_.incarnation};
  node_identity peer{c.peer.name, c.peer.incarnation};
  std::vector<contender> others;
  connection_id established_winner = 0;
  for (auto& [id, owned] : conns_) {
    connection& o = *owned;
    if (&o == &c || !contending(o) || !same_peer(o, c)) continue;
    others.push_back(as_contender(o));
    if (o.state == conn_state::established &&
        keeps_over(as_contender(o), as_contender(c), us, peer))
      established_winner = o.id;
  }
  gate_verdict v = arbitrate(as_contender(c), others, us, peer);
  if (v == gate_verdict::refuse) c.kept_instead = established_winner;
  if (v == gate_verdict::hold)
    log(log_level::info, "connection " + std::to_string(c.id) + " to '" + who.name +
                             "' waits: another connection to it is kept over it");
  return v;
}

void transport::impl::fold_queue(connection& loser, connection& winner) {
  // The loser's frames go first: no sender writes past them (transport_direct.cpp).
  take_write_side(winner);
  std::size_t frames = 0, bytes = 0;
  loser.out.move_queued_to(winner.out, frames, bytes);
  // Relaxed: the counters bound a queue, they order nothing.
  loser.shared->release(frames, bytes);
  winner.shared->add(frames, bytes);
  // What was forwarded to the loser now goes to the winner.
  for (auto& [from, f] : forward_)
    if (f.to == loser.id) f.to = winner.id;
  forward_[loser.id] = {winner.id, loser.shared, std::nullopt};
  if (frames && winner.state == conn_state::established) mark_dirty(winner);
  handler_.on_merged(loser.peer, winner.peer);
}

void transport::impl::retire(connection& loser, connection& winner) {
  log(log_level::info, "connection " + std::to_string(loser.id) + " to '" + loser.peer.name +
                           "' gives way to connection " + std::to_string(winner.id) +
                           " (simultaneous connect)");
  fold_queue(loser, winner);
  loser.merged = true;
  if (loser.state == conn_state::handshaking) {
    std::vector<std::byte> out;
    loser.hs->resume(false, out);  // reject simultaneous_connect
    loser.out.push_control(out);
  }
  close(loser, close_reason::simultaneous_connect,
        "connection " + std::to_string(winner.id) + " to the same node is kept", true);
}

void transport::impl::retire_losers_of(connection& winner) {
  node_identity us{cfg_.node_name, hs_config_.incarnation};
  node_identity peer{winner.peer.name, winner.peer.incarnation};
  std::vector<connection*> losers;
  for (auto& [id, owned] : conns_) {
    connection& o = *owned;
    if (&o == &winner || !contending(o) || !same_peer(o, winner)) continue;
    if (keeps_over(as_contender(winner), as_contender(o), us, peer)) losers.push_back(&o);
  }
  for (connection* o : losers) {
    // An established loser may still carry frames the peer wrote before it
    // gave way: read them first (end_drain). Not so for one retired through
    // yield_to_kept: the peer's close or reject on it ended its stream.
    if (o->state == conn_state::established && o->fd >= 0) {
      o->draining = true;
      o->drain_for = winner.id;
      ++winner.drains_pending;
    }
    retire(*o, winner);
    if (o->draining) {
      o->drain_until = now_ + max_drain_lingers * cfg_.close_linger;
      extend_drain(*o);
    }
  }
  // Not read until its losers are: the peer's sender meets TCP's window and
  // then its own queue's bound, instead of this node buffering for it.
  if (winner.drains_pending > 0) pause_recv(winner);
}

void transport::impl::extend_drain(connection& loser) {
  loser.deadline = std::min(now_ + cfg_.close_linger, loser.drain_until);
  wake_timers_at(loser.deadline);
}

void transport::impl::drain_expired(connection& loser) {
  if (now_ < loser.drain_until) {
    // Nothing moved on it for close_linger: the peer never closed it. What
    // it still holds is lost, and it is not waited for a second time (cut()).
    loser.linger_for = std::chrono::milliseconds(0);
  } else {
    // Busy to the end of the drain's bound: the winner is read again now.
    // The loser closes as any connection that was up does: what still comes
    // on it is read for one more close_linger and counted (frames_discarded),
    // not handled, and the peer that keeps sending then gets a reset. One
    // line per drain, and a drain needs a winner coming up: bounded.
    log(log_level::warning, "connection " + std::to_string(loser.id) + " to '" + loser.peer.name +
                                "': its drain ended after " +
                                std::to_string(max_drain_lingers * cfg_.close_linger.count()) +
                                " ms with the peer still sending on it; what follows is discarded");
    loser.deadline = now_ + cfg_.close_linger;
    wake_timers_at(loser.deadline);
  }
  end_drain(loser);
}

void transport::impl::end_drain(connection& loser) {
  if (!loser.draining) return;
  loser.draining = false;
  connection* w = find(loser.drain_for);
  loser.drain_for = 0;
  // Else its write ends with the cut. The cut reads on, dropping, until the
  // peer's end of stream if the close frame came first (cut()).
  if (!loser.lingering) cut(loser);
  if (w == nullptr || w->drains_pending == 0 || --w->drains_pending > 0) return;
  // The losers' streams are over: the winner's frames held meanwhile go now,
  // in the order they came, then the winner is read again and its own
  // decoder takes over.
  std::vector<std::byte> held;
  held.swap(w->held_inbound);
  if (w->state != conn_state::established) return;
  if (!held.empty()) {
    frame_decoder replay(cfg_.limits);
    replay.feed(held, [&](const frame& f) {
      handler_.on_frame(w->peer, f);
      return w->state == conn_state::established;
    });
  }
  resume_recv(*w);
}

bool transport::impl::yield_to_kept(connection& c) {
  // The peer gave this connection up for another one between us. If we
  // hold that one (it is kept over this one here too), this one gives way
  // to it now, even before it is up: the peer will not use this one again.
  node_identity us{cfg_.node_name, hs_config_.incarnation};
  node_identity peer{c.peer.name, c.peer.incarnation};
  for (auto& [id, owned] : conns_) {
    connection& w = *owned;
    if (&w == &c || !contending(w) || !same_peer(w, c)) continue;
    if (!keeps_over(as_contender(w), as_contender(c), us, peer)) continue;
    bool was_up = c.state == conn_state::established;
    if (c.state == conn_state::handshaking) {
      // It failed already (the peer's reject): closing is all that is left.
      fold_queue(c, w);
      c.merged = true;
      close(c, close_reason::simultaneous_connect, "the peer kept another connection", false);
    } else {
      retire(c, w);
    }
    if (was_up && w.state != conn_state::established) forward_[c.id].down_owed = c.peer;
    return true;
  }
  return false;
}

void transport::impl::release_forwards_to(connection& winner, bool winner_was_up) {
  for (auto it = forward_.begin(); it != forward_.end();) {
    if (it->second.to != winner.id) {
      ++it;
      continue;
    }
    connection_id from = it->first;
    // A loser that was up gave way to a winner that never came up: the
    // association it carried is gone after all.
    if (!winner_was_up && it->second.down_owed)
      handler_.on_down(*it->second.down_owed, winner.reason, "the connection kept instead failed");
    it = forward_.erase(it);
    connection* c = find(from);
    if (c != nullptr && c->state == conn_state::folded) {
      // The association it gave way to is gone: it connects again itself.
      reset_for_reconnect(*c, now_);
    } else if (c == nullptr) {
      // An inbound loser, already gone: its id dies with the forwarding.
      volley::detail::exclusive_lock lock(links_mutex_);
      // Senders that cached this link stop using it (see send()).
      if (auto l = links_.find(from); l != links_.end())
        l->second->gone.store(true, std::memory_order_relaxed);
      links_.erase(from);
    }
  }
}

void transport::impl::regate_held(const connection& gone) {
  if (gone.gate_order == 0) return;
  for (auto& [id, owned] : conns_) {
    connection& o = *owned;
    if (&o == &gone || o.state != conn_state::handshaking || !o.hs ||
        o.hs->current() != handshake::state::held || !same_peer(o, gone))
      continue;
    gate_verdict v = gate(o, o.hs->peer());
    if (v == gate_verdict::hold) continue;
    std::vector<std::byte> out;
    handshake::state st = o.hs->resume(v == gate_verdict::proceed, out);
    if (!out.empty()) {
      o.out.push_control(out);
      mark_dirty(o);
    }
    if (st == handshake::state::established) {
      if (o.tls && !check_certificate_name(o)) continue;
      become_up(o);
    } else if (st == handshake::state::failed) {
      if (connection* w = find(o.kept_instead); w != nullptr && w != &o) {
        fold_queue(o, *w);
        o.merged = true;
      }
      close(o, close_reason::simultaneous_connect, o.hs->failure(), true);
    }
  }
}

connection* transport::impl::forwarded(connection_id id, outbound_item* item) {
  auto it = forward_.find(id);
  if (it == forward_.end()) return nullptr;
  connection* w = find(it->second.to);
  if (w == nullptr || w->state == conn_state::closing || w->state == conn_state::folded)
    return nullptr;
  // The reservation send() made on the loser's bound moves with the frame.
  it->second.from_shared->release(item->frames, item->size);
  w->shared->add(item->frames, item->size);
  return w;
}

}  // namespace volley::remote
