// The connection state machine of the transport loop (transport_loop.cpp
// runs it; connection.hpp holds the per-connection state and send queue).
//
//   outbound: backoff -> connecting -> handshaking -> established -> closing
//   inbound:                           handshaking -> established -> closing
//
// connecting and handshaking share one deadline (handshake_timeout). While
// handshaking, the decoder caps frames at pre_login_max_frame_size (512 B);
// become_up lifts the cap to the configured limit for the very next frame.
// An inbound connection counts in inbound_open_ until its socket is closed
// (after a lingering close, below) and in pending_handshakes_ until it is up
// or closes (the caps in on_accept).
//
// An established connection sends a heartbeat every interval and closes when
// its phi-accrual detector passes the threshold; the silence it judges runs
// from the last frame of any kind (last_frame_at), its interval samples come
// from heartbeats only. close() is the only way into
// closing: it counts the reason, tells the handler (on_down, only if the
// connection was up), dead-letters what is still queued, and either cuts the
// socket at once or first writes (lingering) a reject/close frame, and on
// disconnect() the queued user frames. A connection that is *draining* is
// read on after that, a retired established loser until its peer's close
// (its frames handed on, transport_association.cpp); cut() then shuts down
// writing only.
//
// The lingering close (PROTOCOL.md §6.2.1). Closing a socket with unread
// input sends a reset, and a reset throws away what our kernel still holds
// (frames counted written) and lets the peer's drop what it has not read
// (a refusal: the peer logs "connection reset", not why). So a connection
// that was up, or that refuses a handshake, is not closed at the cut: its
// socket is shut for writing (our FIN follows everything written) and it is
// *discarding*: read on, its bytes dropped (a connection that was up still
// decodes them to count its user frames, frames_discarded), until the
// peer's end of stream, when the socket can be closed without a reset, or
// until the close's deadline (close_linger from close(); a refusal: 200 ms
// from its FIN), whichever comes first; sending more does not extend it.
// From close() on, what arrives is read and dropped like that, so nothing
// waits unread meanwhile. An inbound connection counts in inbound_open_ until
// its socket's end, so max_inbound_connections bounds lingering sockets too.
// At stop every connection is closed at once and linger_at_stop() waits for
// all their ends together, each until its own deadline and none past
// close_linger from the stop. No lingering when the peer
// is judged gone (heartbeat_timeout, node_restarted) or its end was read.
//
// The socket's end: cut() shuts it down and cancels its ops; the loop
// finalises the connection once no op names it. An outbound connection that
// was not given up is then reset to backoff (reset_for_reconnect) and keeps
// its id and its queue; anything else is destroyed.
//
// Accounting: each user frame leaves the queue once, into one counter —
// written (on_send, whole batch done), undelivered (drop_queued, reported
// through on_undelivered) or fate unknown (abandon_in_flight: a write the
// loss cut short). On the receiving side each user frame read is handled
// or, once the connection is closing, counted discarded.
//
// All of it runs on the loop thread; link_shared's counters are the only
// state other threads see (relaxed: they bound a queue, they order nothing).
#include "transport_impl.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace volley::remote {

namespace {

close_reason reason_for(decode_error e) {
  switch (e) {
    case decode_error::oversized:
      return close_reason::oversized_frame;
    case decode_error::malformed_header:
      return close_reason::malformed_header;
    case decode_error::unknown_kind:
      return close_reason::unknown_kind;
    case decode_error::truncated_payload:
      return close_reason::truncated_payload;
    case decode_error::bad_path:
      return close_reason::bad_path;
    default:
      return close_reason::io_error;
  }
}

/// How long a refused connection is still read (and dropped) after its
/// refusal and our FIN, waiting for the peer to read the refusal and close
/// (close()). The peer closes one round trip after the refusal reaches it;
/// 200 ms is that with room for a loaded machine's scheduling (not
/// measured), and bounds how long a refused stranger keeps its socket here.
constexpr std::chrono::milliseconds refusal_drain_time{200};

/// A winner holds at most this much of its peer's frames while a loser
/// drains (transport_association.cpp); past it the drain ends. The winner
/// is not read meanwhile (pause_recv), so what it holds is only what its
/// receive had taken before the cancellation: at most the provided buffers
/// (4 MiB by default; assoc_test measured 21 KiB). The cap is a backstop
/// for a pause that found no SQE.
constexpr std::size_t max_held_inbound = 32u << 20;

/// Why a connection closes after a sender's torn direct write.
constexpr const char* torn_write_text =
    "a direct write was cut short: the stream cannot go on (the frame's fate is unknown)";

/// A frame the peer's sender counts written (send_queue): a user frame.
bool is_user_frame(const frame& f) {
  return f.kind >= frame_kind::message && f.kind <= frame_kind::terminated;
}

log_level level_for(close_reason r) {
  switch (r) {
    case close_reason::local_close:
    case close_reason::peer_closed:
    case close_reason::connect_failed:
      return log_level::info;  // routine, or retried with backoff
    default:
      return log_level::warning;
  }
}

}  // namespace

std::string address_of(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// -- timers and submissions ---------------------------------------------------------

void transport::impl::on_timer(connection& c, steady_clock::time_point now) {
  auto interval = std::chrono::duration_cast<steady_clock::duration>(cfg_.heartbeat_interval);
  switch (c.state) {
    case conn_state::backoff:
      if (now >= c.reconnect_at) {
        start_connect(c, now);
      } else {
        wake_timers_at(c.reconnect_at);
      }
      break;
    case conn_state::connecting:
    case conn_state::handshaking:
      if (now >= c.deadline) {
        bool connecting = c.state == conn_state::connecting;
        close(c, connecting ? close_reason::connect_failed : close_reason::handshake_timeout,
              (connecting ? "connect to " : "handshake with ") + c.peer.address +
                  " did not finish within " + std::to_string(cfg_.handshake_timeout.count()) +
                  " ms");
      } else {
        wake_timers_at(c.deadline);
      }
      break;
    case conn_state::folded:
      break;  // waits for the connection it gave way to (release_forwards_to)
    case conn_state::established: {
      if (now >= c.next_heartbeat) {
        c.out.push_control(heartbeat_bytes_);
        mark_dirty(c);
        c.next_heartbeat = now + interval;
      }
      // Not read while its losers drain (pause_recv): the peer's silence is
      // then ours, not its; the drain has its own bound (close_linger idle).
      if (c.recv_paused) c.last_frame_at = now;
      // The detector measures silence from its last heartbeat; a later frame
      // of any kind moves the start of the silence forward by as much.
      auto silence_from = std::max(c.last_frame_at, c.last_heartbeat_at);
      double phi = c.detector.phi(c.last_heartbeat_at + (now - silence_from));
      if (!(phi < c.detector.config().threshold)) {
        close(c, close_reason::heartbeat_timeout,
              "phi " + std::to_string(phi) +
                  " >= " + std::to_string(c.detector.config().threshold) +
                  " (mean heartbeat interval " + std::to_string(c.detector.mean_ms()) + " ms)");
        break;
      }
      wake_timers_at(c.next_heartbeat);
      // Half an interval between checks: detection comes at most that late.
      wake_timers_at(now + interval / 2);
      break;
    }
    case conn_state::closing:
      if (c.lingering) {
        if (now >= c.deadline) {
          cut(c);
        } else {
          wake_timers_at(c.deadline);
        }
      }
      if (c.draining) {
        if (now >= c.deadline) {
          drain_expired(c);  // idle for close_linger, or at its whole bound
        } else {
          wake_timers_at(c.deadline);
        }
      }
      if (c.discarding) {
        if (now >= c.deadline) {
          cut(c);  // no end of stream in time: closed with what is unread
        } else {
          wake_timers_at(c.deadline);
        }
      }
      break;
  }
}

void transport::impl::reset_for_reconnect(connection& c, steady_clock::time_point now) {
  // Reconnect later; frames sent meanwhile wait in the queue.
  c.state = conn_state::backoff;
  c.reconnect_at = now + c.backoff;
  wake_timers_at(c.reconnect_at);
  log(log_level::info, "connection " + std::to_string(c.id) + ": reconnecting to " +
                           c.peer.address + " in " + std::to_string(c.backoff.count()) + " ms");
  // (A reset() reconnects at once, backoff 0: the next wait is the minimum.)
  c.backoff = std::clamp(c.backoff * 2, cfg_.reconnect_min_backoff, cfg_.reconnect_max_backoff);
  c.hs.reset();
  c.send_stalled = false;
  c.recv_armed = false;
  c.lingering = false;
  c.flush_user_on_close = false;
  c.merged = false;
  c.gate_order = 0;
  c.kept_instead = 0;
  c.draining = false;
  c.drain_for = 0;
  c.drains_pending = 0;
  c.recv_paused = false;
  c.held_inbound.clear();
  c.linger_for = std::chrono::milliseconds(0);
  c.discarding = false;
  c.counts_discards = false;
  c.peer_eof = false;
  c.closed_by_frame = false;
  c.past_close_logged = false;
}

void transport::impl::start_connect(connection& c, steady_clock::time_point now) {
  int fd = ::socket(c.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    log(log_level::warning,
        "connection " + std::to_string(c.id) + ": socket: " + errno_text(errno));
    c.reconnect_at = now + c.backoff;
    c.backoff = std::min(c.backoff * 2, cfg_.reconnect_max_backoff);
    wake_timers_at(c.reconnect_at);
    return;
  }
  c.fd = fd;
  c.state = conn_state::connecting;
  c.deadline = now + cfg_.handshake_timeout;
  wake_timers_at(c.deadline);
  io_uring_sqe* sqe = ring_->sqe();
  if (!sqe) {
    close(c, close_reason::connect_failed, "io_uring took no connect (its queues are full)");
    return;
  }
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len);
  io_uring_sqe_set_data64(sqe, tagged(&c, op_connect));
  ++c.ops;
}

void transport::impl::arm_recv(connection& c) {
  io_uring_sqe* sqe = ring_->sqe();
  if (!sqe) {
    close(c, close_reason::io_error, "io_uring took no receive (its queues are full)");
    return;
  }
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data64(sqe, tagged(&c, op_recv));
  c.recv_armed = true;
  ++c.ops;
}

void transport::impl::pause_recv(connection& c) {
  // Its multishot receive is cancelled and not armed again until
  // resume_recv: the kernel stops taking the peer's bytes, the socket's
  // receive window closes, and the peer's writes and then its own bounded
  // queue push back on its senders (PROTOCOL.md §6.6.2). What the receive
  // had already taken still arrives, in order, before the cancellation.
  c.recv_paused = true;
  if (!c.recv_armed) return;
  if (io_uring_sqe* sqe = ring_->sqe()) {
    io_uring_prep_cancel64(sqe, tagged(&c, op_recv), 0);
    io_uring_sqe_set_data64(sqe, op_ignore);
  }
  // No SQE: the receive goes on, and held_inbound's cap still bounds it.
}

void transport::impl::resume_recv(connection& c) {
  if (!c.recv_paused) return;
  c.recv_paused = false;
  // Still armed: the cancellation is on its way, and on_recv arms again.
  if (!c.recv_armed && c.fd >= 0 && c.state == conn_state::established) arm_recv(c);
}

// -- completions ----------------------------------------------------------------------

void transport::impl::on_connect(connection& c, int res) {
  --c.ops;
  if (c.state != conn_state::connecting) return;  // timed out or shut down meanwhile
  if (res < 0) {
    close(c, close_reason::connect_failed,
          "connect to " + c.peer.address + ": " + errno_text(-res));
    return;
  }
  set_nodelay(c.fd);
  begin_handshake(c, handshake::role::initiator);
  arm_recv(c);
}

void transport::impl::on_recv(connection& c, int res, unsigned flags) {
  bool more = flags & IORING_CQE_F_MORE;
  if (!more) {
    c.recv_armed = false;
    --c.ops;
  }
  // A draining connection is closing but still read: a retired loser's
  // frames are handled (transport_association.cpp). One in a lingering
  // close is read until the peer's end of stream, its bytes dropped (cut()).
  // A winner whose losers drain is not read meanwhile (pause_recv).
  auto lingers = [&] {
    return c.state == conn_state::closing && !c.draining && c.linger_for.count() > 0;
  };
  auto reads = [&] { return c.state != conn_state::closing || c.draining || lingers(); };
  bool dropping = lingers();
  bool reading = reads();
  // Asked after feeding: a frame fed may have paused it (become_up), closed
  // it, or armed a receive already (start_discard).
  auto rearm = [&] { return !more && !c.recv_armed && reads() && !c.recv_paused; };
  if (res > 0) {
    // A loser drains while the peer still sends on it: its backlog can be
    // megabytes that a loaded receiver reads for seconds.
    if (c.draining) extend_drain(c);
    if (flags & IORING_CQE_F_BUFFER) {
      auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      // Dropped bytes of a connection that was up are still decoded, to
      // count its frames (on_frame); a refused stranger's are not.
      if (reading && (!dropping || c.counts_discards))
        feed(c, {ring_->buffer(bid), static_cast<std::size_t>(res)});
      ring_->recycle(bid);
    }
    if (rearm()) arm_recv(c);
    return;
  }
  if (res == -ENOBUFS) {  // the buffer ring ran dry; buffers come back this turn
    if (rearm()) arm_recv(c);
    return;
  }
  if (res == -ECANCELED && (c.state == conn_state::established || lingers())) {
    // pause_recv's cancellation (nothing else cancels an established or a
    // lingering connection's receive: cut() ends the linger first); the
    // pause may have ended meanwhile.
    if (rearm()) arm_recv(c);
    return;
  }
  if (res == 0) c.peer_eof = true;
  if (c.draining) {
    end_drain(c);  // the peer's end of stream (or an error): nothing more comes
    return;
  }
  if (c.discarding) {
    cut(c);  // likewise: the socket can be closed without a reset
    return;
  }
  if (c.state == conn_state::closing) return;
  // Every way on closes the connection: the write side is taken here, so a
  // sender's torn write is told apart from the peer's close.
  if (take_write_side_torn(c)) {
    // Our own shutdown, not the peer's: a sender's direct write was cut
    // short (transport_direct.cpp). Nothing more can be written, so no
    // close frame; the half frame already tells the peer.
    close(c, close_reason::io_error, torn_write_text);
    return;
  }
  if (res == 0) {
    if (c.decoder.finish() != decode_error::none) {
      close(c, close_reason::truncated_payload,
            "peer closed the connection inside a frame (" + std::to_string(c.decoder.buffered()) +
                " bytes of it received)");
    } else if (c.tls && !c.tls->session.handshake_done()) {
      close(c, close_reason::handshake_failed,
            "TLS handshake failed: peer closed the connection (a plaintext node, or it refused "
            "our certificate; its log says which)");
    } else {
      close(c, close_reason::peer_closed, "connection closed by peer");
    }
    return;
  }
  close(c, close_reason::io_error, "recv: " + errno_text(-res));
}

void transport::impl::feed(connection& c, std::span<const std::byte> bytes) {
  if (c.tls) {
    feed_tls(c, bytes);
    return;
  }
  if (c.sniff.undecided()) [[unlikely]] {
    // The bytes go to the decoder meanwhile: it does nothing before a
    // frame's 4-byte length is in.
    if (c.sniff.take(bytes) == detail::record_sniffer::verdict::tls_record) {
      close(c, close_reason::handshake_failed,
            "peer speaks TLS; this node has no tls configured (set node_config::transport.tls "
            "on every node of the cluster, or on none)");
      return;
    }
  }
  decode_frames(c, bytes);
}

void transport::impl::log_past_close(connection& c) {
  c.past_close_logged = true;  // once per connection: the count says how many
  log(log_level::warning, "connection " + std::to_string(c.id) + " ('" + c.peer.name +
                              "'): user frames follow the frame that closed it; they are "
                              "counted in frames_discarded, not handled");
}

void transport::impl::decode_frames(connection& c, std::span<const std::byte> bytes) {
  // Whether the frame before this one went straight to the handler: the
  // decoder's like_previous is passed on only then, so a handler that
  // trusts it knows that the bytes it compares against are the ones it was
  // just handed (a frame held for a drain, or discarded, breaks the chain).
  bool previous_direct = false;
  decode_error e = c.decoder.feed(bytes, [&](const frame& f, bool like_previous) {
    if (c.closed_by_frame && !c.past_close_logged && is_user_frame(f)) [[unlikely]]
      log_past_close(c);
    if (on_frame(c, f, like_previous && previous_direct, previous_direct)) return true;
    // That frame closed the connection (the peer's close, a violation) or
    // ended its drain. The peer counted the frames behind it written, so a
    // connection that was up decodes on, in this chunk and later ones, and
    // on_frame counts them discarded; stopping here would drop the rest of
    // the chunk uncounted and leave the decoder stopped for good.
    if (c.state != conn_state::closing || c.draining || !c.counts_discards) return false;
    c.closed_by_frame = true;
    return true;
  });
  if (e == decode_error::none) return;
  if (c.draining) {
    end_drain(c);
  } else if (c.state != conn_state::closing) {
    close(c, reason_for(e), std::string(to_string(e)) + " from " + c.peer.address, true);
  }
}

void transport::impl::on_send(connection& c, int res) {
  if (c.tls) {
    on_tls_send(c, res);
    return;
  }
  --c.ops;
  if (res <= 0) {
    // A failed sendmsg (EPIPE, a reset) wrote nothing: the frames no byte of
    // which an earlier part of this batch wrote are dead letters; the rest
    // may have reached the peer, their fate unknown (at-most-once).
    fail_in_flight(c, close_reason::io_error);
    if (c.state != conn_state::closing) {
      close(c, close_reason::io_error,
            take_write_side_torn(c) ? std::string(torn_write_text)
                                    : "send: " + errno_text(res == 0 ? EPIPE : -res));
    } else if (c.lingering) {
      cut(c);
    }
    return;
  }
  if (c.draining) extend_drain(c);  // its close frame is on its way
  if (!c.out.complete(static_cast<std::size_t>(res))) {
    if (c.state == conn_state::closing && !c.lingering) {
      fail_in_flight(c, c.reason);  // the rest is never resubmitted
      return;
    }
    // Short write: resubmit the rest, starting inside the iovec the kernel
    // stopped in; flush_dirty does it (now, or next turn if the ring is full).
    c.send_stalled = true;
    mark_dirty(c);
    return;
  }
  local_sent_ += c.out.done_frames();
  c.shared->release(c.out.done_frames(), c.out.done_bytes());
  if (c.lingering) {
    bool more = c.out.has_control() || (c.flush_user_on_close && c.out.has_user());
    if (more) {
      mark_dirty(c);
    } else {
      cut(c);
    }
  } else if (c.out.has_control() || (c.state == conn_state::established && c.out.has_user())) {
    mark_dirty(c);
  } else {
    offer_write_side(c);  // nothing left: senders may write (transport_direct.cpp)
  }
}

// -- frames and connection state ---------------------------------------------------

bool transport::impl::on_frame(connection& c, const frame& f, bool like_previous, bool& direct) {
  // A user frame on an established connection that is neither discarding
  // nor draining nor waiting for a loser's drain: what on_other_frame does
  // for it, without walking its steps or paying its prologue (52 -> 27
  // instructions per message, callgrind, remote_bench one-way, B's loop).
  if (c.state == conn_state::established && !c.discarding && !c.draining && c.drains_pending == 0 &&
      is_user_frame(f)) [[likely]] {
    ++local_received_;
    c.last_frame_at = now_;
    ++local_handed_on_;
    if (like_previous) {
      handler_.on_frame_like_previous(c.peer, f);
    } else {
      handler_.on_frame(c.peer, f);
    }
    direct = true;
    return c.state == conn_state::established;
  }
  direct = false;
  return on_other_frame(c, f);
}

bool transport::impl::on_other_frame(connection& c, const frame& f) {
  if (c.discarding || (c.state == conn_state::closing && !c.draining)) {
    // Sent before the peer read our close (a lingering close; a loser's
    // drain that the transport's stop cut short): it counted these written,
    // so they are counted here, not handled (the connection is down).
    if (is_user_frame(f)) frames_discarded_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  ++local_received_;
  if (c.state == conn_state::handshaking) {
    std::vector<std::byte> out;
    handshake::state st = c.hs->on_frame(f, out);
    if (!out.empty()) {
      c.out.push_control(out);
      mark_dirty(c);
    }
    if (st == handshake::state::established) {
      if (c.tls && !check_certificate_name(c)) return false;
      become_up(c);
      return true;
    }
    if (st == handshake::state::failed) {
      if (!c.hs->rejected_by_peer() &&
          c.hs->failure_code() == static_cast<std::uint16_t>(reject_reason::simultaneous_connect)) {
        // Refused at our gate: an established connection to the node is kept.
        if (connection* w = find(c.kept_instead); w != nullptr && w != &c) {
          fold_queue(c, *w);
          c.merged = true;
        }
        close(c, close_reason::simultaneous_connect, c.hs->failure(), true);
        return false;
      }
      if (c.hs->rejected_by_peer() &&
          c.hs->failure_code() == static_cast<std::uint16_t>(reject_reason::simultaneous_connect) &&
          yield_to_kept(c))
        return false;
      if (c.hs->rejected_by_peer()) {
        close(c, close_reason::rejected_by_peer, c.hs->failure());
      } else {
        close(c, close_reason::handshake_failed, c.hs->failure(),
              true);  // our reject goes out first
      }
      return false;
    }
    return true;
  }
  if (c.draining) {
    // A retired loser's last frames (transport_association.cpp): handed on
    // until the peer's close (or reject) says nothing more comes on it.
    switch (f.kind) {
      case frame_kind::close:
      case frame_kind::reject:
        end_drain(c);
        return false;
      case frame_kind::heartbeat:
      case frame_kind::hello:
      case frame_kind::challenge:
      case frame_kind::response:
      case frame_kind::accept:
        return true;
      default:
        ++local_handed_on_;
        handler_.on_frame(c.peer, f);
        return c.draining;
    }
  }
  if (c.state != conn_state::established) return false;
  // Any frame is a sign of life (Erlang's net_ticktime counts all traffic):
  // on a busy link the heartbeat may trail megabytes of data in TCP's byte
  // stream, and the data proves the peer alive just as well. Only heartbeats
  // feed the detector's interval statistics; see on_timer for how the two meet.
  c.last_frame_at = now_;
  switch (f.kind) {
    case frame_kind::heartbeat:
      c.detector.heartbeat(now_);
      c.last_heartbeat_at = now_;
      return true;
    case frame_kind::close: {
      reason_body why = decode_reason_body(f.payload);
      // The peer kept another connection to us: so do we, if we have it.
      if (why.code == static_cast<std::uint16_t>(close_reason::simultaneous_connect) &&
          yield_to_kept(c))
        return false;
      close(c, close_reason::peer_closed, "peer closed: " + std::string(why.text));
      return false;
    }
    case frame_kind::reject:
      // Our end was up when the peer's end, still handshaking, gave way to
      // another connection between us (it had not seen ours come up).
      if (decode_reason_body(f.payload).code ==
              static_cast<std::uint16_t>(reject_reason::simultaneous_connect) &&
          yield_to_kept(c))
        return false;
      [[fallthrough]];
    case frame_kind::hello:
    case frame_kind::challenge:
    case frame_kind::response:
    case frame_kind::accept:
      close(c, close_reason::protocol_violation,
            std::string(to_string(f.kind)) + " frame after the handshake", true);
      return false;
    default:
      if (c.drains_pending > 0) [[unlikely]] {
        // A loser of ours is still draining: its frames go first.
        encode_append(f, c.held_inbound);
        if (c.held_inbound.size() > max_held_inbound) {
          // The loser is taking too long: what it still holds is lost.
          for (auto& [id, owned] : conns_)
            if (owned->draining && owned->drain_for == c.id) end_drain(*owned);
        }
        return c.state == conn_state::established;
      }
      ++local_handed_on_;
      handler_.on_frame(c.peer, f);
      return c.state == conn_state::established;
  }
}

void transport::impl::begin_handshake(connection& c, handshake::role role) {
  c.state = conn_state::handshaking;
  c.deadline = now_ + cfg_.handshake_timeout;
  wake_timers_at(c.deadline);
  // Until the peer has proved the secret it may not make us buffer more than
  // the largest handshake frame (PROTOCOL.md §4): 512 bytes, not 1 MiB.
  frame_limits pre_login = cfg_.limits;
  pre_login.max_frame_size = std::min(pre_login.max_frame_size, pre_login_max_frame_size);
  c.decoder = frame_decoder(pre_login);
  c.sniff = {};
  // The role follows from who connected; start_secret_handshake (which TLS
  // calls later, once its own handshake is done) derives it the same way.
  assert((role == handshake::role::initiator) == c.outbound);
  (void)role;
  if (tls_) {
    start_tls(c);  // the shared-secret handshake follows inside it
    return;
  }
  start_secret_handshake(c);
}

void transport::impl::start_secret_handshake(connection& c) {
  auto role = c.outbound ? handshake::role::initiator : handshake::role::acceptor;
  handshake_config hc = hs_config_;
  if (c.outbound) hc.expected_peer = c.peer.name;  // a reconnect must reach the same node
  // The connection outlives its handshake (c.hs), so the reference stays good.
  hc.gate = [this, &c](const peer_identity& who) { return gate(c, who); };
  if (c.tls) {
    auto binding = c.tls->session.exporter(tls_binding_label);
    hc.channel_binding.assign(binding.begin(), binding.end());
  }
  c.hs.emplace(role, std::move(hc));
  std::vector<std::byte> out;
  c.hs->start(out);
  if (!out.empty()) {
    c.out.push_control(out);
    mark_dirty(c);
  }
}

void transport::impl::become_up(connection& c) {
  c.state = conn_state::established;
  c.decoder.set_limits(cfg_.limits);  // the next frame may be a full-sized user frame
  if (!c.outbound) --pending_handshakes_;
  c.peer.name = c.hs->peer().name;
  c.peer.incarnation = c.hs->peer().incarnation;
  c.backoff = cfg_.reconnect_min_backoff;
  c.detector = phi_accrual_detector(cfg_.phi);
  c.detector.heartbeat(now_);  // the handshake is the first sign of life
  c.last_heartbeat_at = now_;
  c.last_frame_at = now_;
  c.next_heartbeat = now_ + cfg_.heartbeat_interval;
  wake_timers_at(now_);
  if (c.outbound && c.up_incarnation != 0 && c.up_incarnation != c.peer.incarnation) {
    // A reconnect reached a new incarnation: what was queued meanwhile was
    // meant for the old one (PROTOCOL.md §6.1). Frames still in the inbox
    // are older than this epoch and go the same way (drain_inbox).
    std::uint32_t epoch = c.shared->epoch.fetch_add(1, std::memory_order_release) + 1;
    c.stale_epochs_below = epoch;
    drop_queued(c, close_reason::node_restarted);
  }
  c.up_incarnation = c.peer.incarnation;
  std::uint64_t& known = incarnations_[c.peer.name];
  std::uint64_t previous = known;
  known = c.peer.incarnation;
  bool restarted = previous != 0 && previous != c.peer.incarnation;
  log(log_level::info, "connection " + std::to_string(c.id) + " up: '" + c.peer.name + "' at " +
                           c.peer.address + (restarted ? " (restarted: new incarnation)" : ""));
  ++established_;
  // Before on_up: the handler learns where the losers' traffic went first.
  retire_losers_of(c);
  handler_.on_up(c.peer, previous);
  if (c.out.has_user() || c.out.has_control()) mark_dirty(c);
  offer_write_side(c);  // when nothing is queued (transport_direct.cpp)
}

void transport::impl::close(connection& c, close_reason reason, const std::string& detail,
                            bool flush) {
  if (c.state == conn_state::closing) return;
  take_write_side(c);  // no sender writes to a closing socket (transport_direct.cpp)
  if (c.drains_pending > 0) {
    // The association ends: its losers stop draining, and what they and
    // this one received goes to the handler before the on_down below.
    for (auto& [id, owned] : conns_)
      if (owned->draining && owned->drain_for == c.id) end_drain(*owned);
  }
  closes_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  bool was_up = c.state == conn_state::established;
  bool was_handshaking = c.state == conn_state::handshaking;
  // A refusal (a reject frame, a TLS alert) must reach the peer, which
  // logs it as the reason; a connection that was up may have written frames
  // the peer has not read yet. Closing a socket with unread input sends a
  // reset, and a reset makes the peer's kernel throw away what it still
  // holds: the refusal (the peer logs "connection reset", not why), or
  // frames counted written here. So both linger: once our last bytes are
  // out, our side is shut for writing only, and what the peer still sends is
  // read and dropped until its end of stream (cut()). Not when the peer is
  // judged gone (silent, or replaced by a new incarnation): nothing will come.
  bool refusal = flush && was_handshaking && c.fd >= 0;
  bool peer_gone =
      reason == close_reason::heartbeat_timeout || reason == close_reason::node_restarted;
  if (c.fd >= 0 && (refusal || (was_up && !peer_gone)))
    c.linger_for = was_up ? cfg_.close_linger : std::min(refusal_drain_time, cfg_.close_linger);
  c.counts_discards = was_up;
  if (!c.outbound) {
    // A lingering close keeps its socket up to close_linger longer: it
    // stays counted in inbound_open_ until the socket's end (cut()), so
    // max_inbound_connections bounds the sockets that closing peers hold,
    // however fast refused strangers come.
    if (c.linger_for.count() > 0) {
      c.open_past_close = true;
    } else {
      --inbound_open_;
    }
    if (c.state == conn_state::handshaking) --pending_handshakes_;
  }
  // An unauthenticated peer can make us close as often as it connects: those
  // lines are rate limited, like the accept errors.
  std::uint64_t held = 0;
  if (was_up || c.outbound || prelogin_close_log_.allow(now_, held))
    log(level_for(reason),
        "connection " + std::to_string(c.id) + " (" + (c.peer.name.empty() ? "?" : c.peer.name) +
            " at " + c.peer.address + ") closed: " + std::string(to_string(reason)) + ": " +
            detail +
            (held ? " (and " + std::to_string(held) + " more unauthenticated closes)" : ""));
  c.state = conn_state::closing;
  c.reason = reason;
  closing_.push_back(&c);
  if (was_up) --established_;
  if (was_up && !c.merged) handler_.on_down(c.peer, reason, detail);
  // Connections that gave way to this one, or wait for it, are free again.
  release_forwards_to(c, was_up);
  regate_held(c);
  if (flush && was_up) {
    // Tell the peer why, so its log names the cause too.
    std::vector<std::byte> bye;
    encode_reason_frame(frame_kind::close, static_cast<std::uint16_t>(reason),
                        detail.substr(0, max_reason_text), bye);
    if (reason == close_reason::local_close) {
      c.out.push_control_after_user(bye);
      c.flush_user_on_close = true;
    } else {
      c.out.push_control(bye);
    }
  }
  if (!c.flush_user_on_close) drop_queued(c, reason);
  // One bound for the whole close, the write and the read after it.
  c.deadline = now_ + cfg_.close_linger;
  // With TLS, an alert (why the TLS handshake failed) may still be owed.
  bool tls_owes = c.tls && (c.tls->session.has_output() || c.tls->unwritten());
  if (flush && c.fd >= 0 &&
      (c.out.has_control() || c.out.in_flight() || c.flush_user_on_close || tls_owes)) {
    c.lingering = true;
    wake_timers_at(c.deadline);
    mark_dirty(c);
    return;
  }
  cut(c);
}

void transport::impl::cut(connection& c) {
  c.lingering = false;
  if (c.flush_user_on_close) {
    c.flush_user_on_close = false;
    drop_queued(c, c.reason);
  }
  if (c.fd < 0) return;
  if (c.draining && !stopping_.load(std::memory_order_relaxed)) {
    // Our close frame is out and followed by our FIN: the peer's last
    // frames are still read and handed on (transport_association.cpp).
    ::shutdown(c.fd, SHUT_WR);
    return;
  }
  if (!c.discarding && !c.peer_eof && c.linger_for.count() > 0) {
    start_discard(c);
    return;
  }
  // The socket's end: the peer's end of stream was read (no reset), or the
  // linger ran out, or there was none to wait for.
  c.discarding = false;
  c.linger_for = std::chrono::milliseconds(0);  // nothing is read any more
  if (c.open_past_close) {
    c.open_past_close = false;
    --inbound_open_;
  }
  ::shutdown(c.fd, SHUT_RDWR);  // alone, this already ends its recv and send with errors
  if (io_uring_sqe* sqe = ring_->sqe()) {
    io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, op_ignore);
  }
}

void transport::impl::start_discard(connection& c) {
  // FIN after everything written; a write still in flight fails (EPIPE)
  // and its frames are counted fate unknown, as on any loss.
  ::shutdown(c.fd, SHUT_WR);
  c.discarding = true;
  // A refused stranger gets refusal_drain_time from its FIN; a connection
  // that was up keeps the whole close's bound (close()).
  if (!c.counts_discards) c.deadline = now_ + c.linger_for;
  wake_timers_at(c.deadline);
  c.recv_paused = false;  // a winner's pause ends with it
  if (!c.recv_armed) arm_recv(c);
  // No receive (the ring took none): the deadline ends it.
}

void transport::impl::linger_at_stop() {
  // shutdown_all closed every connection: those that linger get their
  // peer's end of stream, or their own deadline, together, and none lasts
  // past close_linger from here. Timers do not run here, so the deadlines
  // are checked here; completions do run (on_recv ends each one at its
  // peer's end). Each close's own deadline matters: a refused handshake
  // drains for 200 ms (refusal_drain_time), and a peer that never answers
  // (a listener that never accepts: a reconnect's peer that stopped) must
  // not hold the stop for a whole close_linger. Waiting for close_linger
  // here made remote_transport_linger_test's flood case take 60 s in about
  // 1 run in 10 under ASan: the sender's reconnect to the stopped receiver
  // was still handshaking when it was disconnected, and the stop waited for
  // its refusal drain with the test's close_linger of 60 s.
  now_ = steady_clock::now();
  auto until = now_ + cfg_.close_linger;
  auto lingering = [&] {
    bool any = false;
    for (auto& [id, owned] : conns_) {
      if (!owned->discarding) continue;
      if (now_ >= owned->deadline) {
        cut(*owned);  // its own bound passed: closed with what is unread
      } else {
        any = true;
      }
    }
    return any;
  };
  while (lingering() && now_ < until) {
    __kernel_timespec ts = stop_wait_slice;
    io_uring_cqe* cqe = nullptr;
    submitted(io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr));
    now_ = steady_clock::now();
    reap();
    ring_->publish_buffers();  // the dropped bytes' buffers go back to the kernel
  }
  for (auto& [id, owned] : conns_)
    if (owned->discarding) cut(*owned);
}

void transport::impl::fail_in_flight(connection& c, close_reason reason) {
  detail::send_queue::split r =
      c.out.fail_in_flight([&](const frame& f) { handler_.on_undelivered(c.id, f, reason); });
  local_fate_unknown_ += r.unknown_frames;
  local_undelivered_ += r.unwritten_frames;
  c.shared->release(r.unknown_frames + r.unwritten_frames, r.unknown_bytes + r.unwritten_bytes);
}

void transport::impl::drop_queued(connection& c, close_reason reason) {
  std::size_t frames = 0, bytes = 0;
  c.out.drop_queued([&](const frame& f) { handler_.on_undelivered(c.id, f, reason); }, frames,
                    bytes);
  local_undelivered_ += frames;
  c.shared->release(frames, bytes);
}

connection* transport::impl::find(connection_id id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

std::unique_ptr<connection> transport::impl::make_connection(connection_id id, bool outbound) {
  auto c = std::make_unique<connection>(cfg_.limits, cfg_.phi);
  c->id = id;
  c->outbound = outbound;
  c->peer.id = id;
  c->peer.outbound = outbound;
  c->backoff = cfg_.reconnect_min_backoff;
  volley::detail::exclusive_lock lock(links_mutex_);
  auto& link = links_[id];  // connect() registered outbound links already
  if (!link) link = std::make_shared<detail::link_shared>();
  c->shared = link;
  return c;
}

}  // namespace volley::remote
