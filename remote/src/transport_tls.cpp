// TLS under the frame layer: the transport loop's half of it (tls_session.cpp
// is the engine, connection.hpp's tls_link the per-connection state).
//
// A node with tls configured runs every connection, inbound and outbound,
// through a tls_session; the choice is made once per connection (c.tls set
// or not), so the plaintext path pays one well-predicted branch per recv and
// per send completion, never per frame.
//
//   receive: recv bytes -> session.feed -> session.receive -> plaintext
//            -> decode_frames (the plaintext path's decoder and on_frame)
//   send:    send_queue::prepare gathers control and user frames as on the
//            plaintext path -> each iovec is encrypted -> one sendmsg writes
//            the ciphertext; a short write resumes at tls_link::written
//
// Order of handshakes: TCP connect, TLS 1.3 (both certificates checked
// against the CA), then the shared-secret handshake inside TLS with the
// session's exporter as channel binding; when it establishes, the peer's
// certificate must name the node name the peer proved (check_certificate_name).
// The connection's handshake deadline covers all of it.
//
// Accounting is the plaintext path's: the frames of a prepared batch stay in
// the send_queue's in-flight batch until the last byte of its ciphertext is
// written (then complete() counts them sent), and a loss before that
// abandons them as fate unknown (on_tls_send, or finalize_closed). TLS
// records that carry no batch (handshake, alerts) count nothing.
//
// Loop thread only, like the rest of the transport's connection state.
#include "transport_impl.hpp"

#include <cstdio>

namespace volley::remote {

void transport::impl::start_tls(connection& c) {
  auto role = c.outbound ? detail::tls_session::role::caller : detail::tls_session::role::acceptor;
  c.tls = std::make_unique<detail::tls_link>(*tls_, role);
  if (c.outbound) {
    // The caller speaks first: receive() with nothing fed yields the ClientHello.
    c.tls->session.receive(c.tls->plain);
    mark_dirty(c);
  }
}

void transport::impl::feed_tls(connection& c, std::span<const std::byte> bytes) {
  detail::tls_link& t = *c.tls;
  if (c.sniff.undecided()) {
    // Every TLS flight starts with a record header (a handshake record, or
    // an alert refusing ours); a plaintext node's hello starts with its frame
    // length instead. One byte may come alone: it waits in the session.
    if (c.sniff.take(bytes) == detail::record_sniffer::verdict::other) {
      char first[8];
      std::snprintf(first, sizeof first, "0x%02x", static_cast<unsigned>(c.sniff.first));
      close(c, close_reason::handshake_failed,
            std::string("TLS handshake failed: peer speaks plaintext (first byte ") + first +
                ", not a TLS record); this node requires TLS");
      return;
    }
  }
  t.session.feed(bytes);
  t.plain.clear();
  bool was_done = t.session.handshake_done();
  detail::tls_session::status st = t.session.receive(t.plain);
  if (!was_done && t.session.handshake_done()) start_secret_handshake(c);
  if (!t.plain.empty() && (c.state != conn_state::closing || c.draining || c.counts_discards))
    decode_frames(c, t.plain);  // counts_discards: a lingering close counts what it drops
  if (c.draining && st != detail::tls_session::status::ok) {
    end_drain(c);  // a draining loser's session ended or failed: nothing more comes
  } else if (c.state != conn_state::closing) {
    if (st == detail::tls_session::status::failed) {
      bool up = c.state == conn_state::established;
      // flush: the alert OpenSSL wrote tells the peer why, too.
      close(c, up ? close_reason::io_error : close_reason::handshake_failed,
            t.session.error().rfind("TLS", 0) == 0 ? t.session.error()
                                                   : "TLS handshake failed: " + t.session.error(),
            true);
    } else if (st == detail::tls_session::status::closed) {
      close(c, close_reason::peer_closed, "peer closed the TLS session");
    }
  }
  if (t.session.has_output()) mark_dirty(c);
}

bool transport::impl::check_certificate_name(connection& c) {
  const std::string& claimed = c.hs->peer().name;
  if (c.tls->session.peer_is(claimed)) return true;
  std::string why = "TLS certificate does not name node '" + claimed +
                    "', the name the peer proved (a node's certificate must carry its node "
                    "name as a subjectAltName DNS entry)";
  // The peer learns why (a reject inside TLS) unless we proved last already.
  c.out.clear_control();
  std::vector<std::byte> reject;
  encode_reason_frame(frame_kind::reject,
                      static_cast<std::uint16_t>(reject_reason::authentication_failed), why,
                      reject);
  c.out.push_control(reject);
  close(c, close_reason::handshake_failed, why, true);
  return false;
}

bool transport::impl::flush_tls(connection& c) {
  detail::tls_link& t = *c.tls;
  if (t.writing) return true;  // its completion marks the connection dirty again
  if (!t.unwritten()) {
    t.cipher.clear();
    t.written = 0;
    t.session.take_output(t.cipher);  // handshake records, alerts
    bool usable = t.session.handshake_done() && t.session.error().empty();
    if (usable && !c.out.in_flight()) {
      bool allow_user =
          c.state == conn_state::established || (c.lingering && c.flush_user_on_close);
      if (msghdr* m = c.out.prepare(allow_user)) {
        std::size_t plain = 0;
        for (std::size_t i = 0; i < m->msg_iovlen; ++i) {
          const iovec& v = m->msg_iov[i];
          std::span<const std::byte> bytes(static_cast<const std::byte*>(v.iov_base), v.iov_len);
          if (t.session.send(bytes) != detail::tls_session::status::ok) {
            // Nothing of the batch reached the socket; finalize_closed
            // abandons it (fate unknown, as a cut-short write).
            close(c, close_reason::io_error, t.session.error());
            return true;
          }
          plain += v.iov_len;
        }
        t.batch_plain = plain;
        t.session.take_output(t.cipher);
      }
    }
    if (!t.unwritten()) return true;
  }
  io_uring_sqe* sqe = ring_->sqe();
  if (!sqe) return false;
  t.iov = {t.cipher.data() + t.written, t.cipher.size() - t.written};
  t.msg = {};
  t.msg.msg_iov = &t.iov;
  t.msg.msg_iovlen = 1;
  io_uring_prep_sendmsg(sqe, c.fd, &t.msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, tagged(&c, op_send));
  ++c.ops;
  ++local_send_calls_;
  t.writing = true;
  return true;
}

void transport::impl::on_tls_send(connection& c, int res) {
  --c.ops;
  detail::tls_link& t = *c.tls;
  t.writing = false;
  std::size_t lost_frames = 0, lost_bytes = 0;
  auto abandon = [&] {
    // Part of the batch's ciphertext may have reached the peer: fate unknown.
    c.out.abandon_in_flight(lost_frames, lost_bytes);
    local_fate_unknown_ += lost_frames;
    c.shared->release(lost_frames, lost_bytes);
    t.batch_plain = 0;
    t.cipher.clear();
    t.written = 0;
  };
  if (res <= 0) {
    abandon();
    if (c.state != conn_state::closing) {
      close(c, close_reason::io_error, "send: " + errno_text(res == 0 ? EPIPE : -res));
    } else if (c.lingering) {
      cut(c);
    }
    return;
  }
  t.written += static_cast<std::size_t>(res);
  if (t.unwritten()) {
    if (c.state == conn_state::closing && !c.lingering) {
      abandon();
      return;
    }
    mark_dirty(c);  // short write: flush_tls writes the rest
    return;
  }
  if (t.batch_plain > 0) {
    // The batch's last ciphertext byte is written: its frames count as the
    // plaintext path counts them when its sendmsg completes.
    c.out.complete(t.batch_plain);
    t.batch_plain = 0;
    local_sent_ += c.out.done_frames();
    c.shared->release(c.out.done_frames(), c.out.done_bytes());
  }
  bool usable = t.session.handshake_done() && t.session.error().empty();
  bool owed = t.session.has_output();
  if (c.lingering) {
    bool more =
        owed || (usable && (c.out.has_control() || (c.flush_user_on_close && c.out.has_user())));
    if (more) {
      mark_dirty(c);
    } else {
      cut(c);
    }
  } else if (owed || (usable && (c.out.has_control() ||
                                 (c.state == conn_state::established && c.out.has_user())))) {
    mark_dirty(c);
  }
}

}  // namespace volley::remote
