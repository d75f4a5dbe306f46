// The transport's event loop (one thread, one io_uring ring).
//
// A turn: reap completions -> drain the inbox (frames and commands from other
// threads) -> timers (heartbeats, failure detection, reconnects, handshake and
// linger deadlines) -> one sendmsg per dirty connection -> give receive
// buffers back to the kernel -> submit, and either go round again at once
// (there was work, or busy_poll) or sleep in io_uring_enter until a completion
// or the next timer deadline.
//
// Receiving: one multishot recv per connection draws from a shared ring of
// provided buffers. Each completion's bytes go through the connection's
// decoder at once and the buffer is handed back the same turn, so the ring
// only runs dry under a flood; the kernel then ends the multishot with
// ENOBUFS and we re-arm it, as we do whenever a completion lacks F_MORE.
//
// Sleep/wake: the loop sets `sleeping_` (seq_cst), then checks the inbox
// (seq_cst load of its tail); a producer pushes (seq_cst exchange of the tail),
// then checks `sleeping_` (seq_cst) and, only if set, claims it and writes the
// eventfd on which the loop always has a read armed. This is the
// store-buffering pattern: with all four accesses seq_cst at least one side
// sees the other's store, so no item is left behind by a sleeping loop, and a
// producer makes no syscall while the loop is awake.
//
// Lifetimes: a CQE's user_data is a connection pointer tagged with the op in
// its low bits. A connection counts its SQEs in flight (`ops`); closing it
// shuts the socket down and cancels its ops, and the object is destroyed (or,
// when outbound, reset for a reconnect) only at the end of a turn in which
// `ops` is 0, so no completion can name a dead connection.
#include "transport_impl.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

namespace volley::remote {

namespace {

enum op_tag : std::uint64_t {
  op_ignore = 0,
  op_accept = 1,
  op_eventfd = 2,
  op_recv = 3,
  op_send = 4,
  op_connect = 5
};
constexpr std::uint64_t tag_mask = 7;
static_assert(alignof(connection) >= 8,
              "the op tag lives in the low 3 bits of a connection pointer");
constexpr std::uint16_t buffer_group = 0;
/// Items taken from the inbox per turn: bounds how long completions wait
/// behind a flood of sends (64 Ki x ~50 ns = a few ms at most).
constexpr std::size_t max_drain_per_turn = 64 * 1024;
/// A reject or close frame gets this long to be written before the socket is cut.
constexpr std::chrono::milliseconds linger_time{1000};
/// Longest sleep without a timer due: only bounds the damage of a lost wake-up.
constexpr std::chrono::milliseconds idle_wake{1000};

std::uint64_t tagged(const void* p, op_tag t) {
  return reinterpret_cast<std::uint64_t>(p) | t;
}

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
  // Frames are already batched per loop turn; Nagle would only add latency.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

// -- the loop ----------------------------------------------------------------------

void transport::impl::run(std::promise<void>& ready) {
  try {
    ring_ = std::make_unique<detail::uring>(cfg_.ring_entries);
    ring_->setup_buffers(cfg_.recv_buffer_count, cfg_.recv_buffer_size, buffer_group);
  } catch (...) {
    ring_.reset();  // on this thread: a SINGLE_ISSUER ring is torn down by its owner
    ready.set_exception(std::current_exception());
    return;
  }
  frame hb;
  hb.kind = frame_kind::heartbeat;
  encode_append(hb, heartbeat_bytes_);
  if (listen_fd_ >= 0) arm_accept();
  arm_eventfd();
  log(log_level::debug,
      std::string("io_uring ready, SINGLE_ISSUER|DEFER_TASKRUN ") +
          (ring_->defer_taskrun() ? "on" : "refused by the kernel, running without"));
  ready.set_value();  // the constructor's promise: not to be touched after this

  now_ = steady_clock::now();
  next_tick_ = now_ + idle_wake;
  while (!stopping_.load(std::memory_order_acquire)) {
    now_ = steady_clock::now();
    bool busy = reap();
    busy |= drain_inbox(now_);
    if (now_ >= next_tick_) timers(now_);
    flush_dirty();
    finalize_closed(now_);
    ring_->publish_buffers();
    publish_counters();
    if (busy || cfg_.busy_poll) {
      io_uring_submit_and_get_events(ring_->get());
    } else {
      turn_sleep(now_);
    }
  }
  shutdown_all();
}

void transport::impl::turn_sleep(steady_clock::time_point now) {
  sleeping_.store(true, std::memory_order_seq_cst);
  if (inbox_.maybe_nonempty() || stopping_.load(std::memory_order_seq_cst)) {
    sleeping_.store(false, std::memory_order_relaxed);
    io_uring_submit_and_get_events(ring_->get());
    return;
  }
  auto wait = std::max(next_tick_ - now, steady_clock::duration::zero());
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  io_uring_cqe* cqe = nullptr;
  io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr);
  sleeping_.store(false, std::memory_order_relaxed);
}

void transport::impl::publish_counters() {
  frames_sent_.store(local_sent_, std::memory_order_relaxed);
  frames_received_.store(local_received_, std::memory_order_relaxed);
  send_calls_.store(local_send_calls_, std::memory_order_relaxed);
}

bool transport::impl::reap() {
  io_uring* ring = ring_->get();
  unsigned head;
  unsigned n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    ++n;
    dispatch(*cqe);
  }
  io_uring_cq_advance(ring, n);
  return n > 0;
}

void transport::impl::dispatch(const io_uring_cqe& cqe) {
  auto tag = static_cast<op_tag>(cqe.user_data & tag_mask);
  auto* c = reinterpret_cast<connection*>(cqe.user_data & ~tag_mask);
  switch (tag) {
    case op_accept:
      on_accept(cqe.res, cqe.flags);
      break;
    case op_eventfd:
      if (!stopping_.load(std::memory_order_relaxed)) arm_eventfd();
      break;
    case op_recv:
      on_recv(*c, cqe.res, cqe.flags);
      break;
    case op_send:
      on_send(*c, cqe.res);
      break;
    case op_connect:
      on_connect(*c, cqe.res);
      break;
    case op_ignore:
      break;
  }
}

bool transport::impl::drain_inbox(steady_clock::time_point now) {
  std::size_t n = 0;
  connection* cached = nullptr;  // runs of frames for one connection skip the lookup
  while (n < max_drain_per_turn) {
    auto* item = static_cast<outbound_item*>(inbox_.pop());
    if (!item) break;
    ++n;
    switch (item->what) {
      case outbound_item::type::frame: {
        connection* c = (cached && cached->id == item->id) ? cached : find(item->id);
        if (!c || c->state == conn_state::closing) {
          parse_result r = parse_frame(item->bytes(), {~std::size_t{0} >> 1, ~std::size_t{0} >> 1});
          handler_.on_undelivered(item->id, r.value, c ? c->reason : close_reason::peer_closed);
          if (c) {
            c->shared->queued_frames.fetch_sub(1, std::memory_order_relaxed);
            c->shared->queued_bytes.fetch_sub(item->size, std::memory_order_relaxed);
          }
          outbound_item::destroy(item);
          break;
        }
        cached = c;
        c->out.push_user(item);
        if (c->state == conn_state::established) mark_dirty(*c);
        break;
      }
      case outbound_item::type::connect: {
        auto owned = make_connection(item->id, true);
        connection& c = *owned;
        std::memcpy(&c.addr, item->data(), std::min<std::size_t>(item->size, sizeof c.addr));
        c.addr_len = static_cast<socklen_t>(item->size);
        c.peer.address = address_of(c.addr);
        conns_.emplace(c.id, std::move(owned));
        start_connect(c, now);
        outbound_item::destroy(item);
        break;
      }
      case outbound_item::type::disconnect: {
        if (connection* c = find(item->id)) {
          c->given_up = true;
          if (c->state != conn_state::closing)
            close(*c, close_reason::local_close, "disconnect requested", true);
        }
        outbound_item::destroy(item);
        break;
      }
    }
  }
  return n > 0;
}

void transport::impl::timers(steady_clock::time_point now) {
  next_tick_ = now + idle_wake;
  auto interval = std::chrono::duration_cast<steady_clock::duration>(cfg_.heartbeat_interval);
  for (auto& [id, owned] : conns_) {
    connection& c = *owned;
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
      case conn_state::established: {
        if (now >= c.next_heartbeat) {
          c.out.push_control(heartbeat_bytes_);
          mark_dirty(c);
          c.next_heartbeat = now + interval;
        }
        double phi = c.detector.phi(now);
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
        break;
    }
  }
}

void transport::impl::flush_dirty() {
  for (connection* c : dirty_) {
    c->dirty = false;
    if (c->fd < 0 || c->out.in_flight()) continue;
    if (c->state == conn_state::backoff || c->state == conn_state::connecting) continue;
    if (c->state == conn_state::closing && !c->lingering) continue;
    bool allow_user =
        c->state == conn_state::established || (c->lingering && c->flush_user_on_close);
    msghdr* m = c->out.prepare(allow_user);
    if (!m) continue;
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_sendmsg(sqe, c->fd, m, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tagged(c, op_send));
    ++c->ops;
    ++local_send_calls_;
  }
  dirty_.clear();
}

void transport::impl::finalize_closed(steady_clock::time_point now) {
  if (closing_.empty()) return;
  std::vector<connection*> still;
  for (connection* c : closing_) {
    if (c->ops > 0 || c->lingering) {
      still.push_back(c);
      continue;
    }
    if (c->fd >= 0) ::close(c->fd);
    c->fd = -1;
    std::size_t frames = 0, bytes = 0;
    c->out.abandon_in_flight(frames, bytes);
    c->out.clear_control();
    if (c->outbound && !c->given_up && !stopping_.load(std::memory_order_relaxed)) {
      // Reconnect later; frames sent meanwhile wait in the queue.
      c->state = conn_state::backoff;
      c->reconnect_at = now + c->backoff;
      wake_timers_at(c->reconnect_at);
      log(log_level::info, "connection " + std::to_string(c->id) + ": reconnecting to " +
                               c->peer.address + " in " + std::to_string(c->backoff.count()) +
                               " ms");
      c->backoff = std::min(c->backoff * 2, cfg_.reconnect_max_backoff);
      c->hs.reset();
      c->decoder = frame_decoder(cfg_.limits);
      c->recv_armed = false;
      c->lingering = false;
      c->flush_user_on_close = false;
      continue;
    }
    {
      std::unique_lock lock(links_mutex_);
      links_.erase(c->id);
    }
    conns_.erase(c->id);  // destroys c
  }
  closing_.swap(still);
}

void transport::impl::shutdown_all() {
  for (auto& [id, owned] : conns_) {
    owned->given_up = true;
    if (owned->state != conn_state::closing) {
      close(*owned, close_reason::local_close, "transport shutting down");
    } else if (owned->lingering) {
      cut(*owned);
    }
  }
  while (auto* item = static_cast<outbound_item*>(inbox_.pop())) {
    if (item->what == outbound_item::type::frame) {
      parse_result r = parse_frame(item->bytes(), {~std::size_t{0} >> 1, ~std::size_t{0} >> 1});
      handler_.on_undelivered(item->id, r.value, close_reason::local_close);
    }
    outbound_item::destroy(item);
  }
  if (listen_fd_ >= 0) {
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_cancel_fd(sqe, listen_fd_, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, op_ignore);
  }
  // Wait (bounded) for the kernel to finish with our buffers before freeing them.
  auto give_up_at = steady_clock::now() + std::chrono::seconds(2);
  auto busy = [&] {
    for (auto& [id, owned] : conns_)
      if (owned->ops > 0) return true;
    return false;
  };
  while (busy() && steady_clock::now() < give_up_at) {
    __kernel_timespec ts{0, 10'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_->get(), &cqe, 1, &ts, nullptr);
    now_ = steady_clock::now();
    reap();
  }
  finalize_closed(steady_clock::now());
  publish_counters();
  for (auto& [id, owned] : conns_)
    if (owned->fd >= 0) ::close(owned->fd);
  conns_.clear();
  ring_.reset();
}

// -- submissions ----------------------------------------------------------------------

void transport::impl::arm_accept() {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tagged(nullptr, op_accept));
}

void transport::impl::arm_eventfd() {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_read(sqe, event_fd_, &eventfd_value_, sizeof eventfd_value_, 0);
  io_uring_sqe_set_data64(sqe, tagged(nullptr, op_eventfd));
}

void transport::impl::arm_recv(connection& c) {
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data64(sqe, tagged(&c, op_recv));
  c.recv_armed = true;
  ++c.ops;
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
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len);
  io_uring_sqe_set_data64(sqe, tagged(&c, op_connect));
  ++c.ops;
}

void transport::impl::mark_dirty(connection& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
}

// -- completions ------------------------------------------------------------------------

void transport::impl::on_accept(int res, unsigned flags) {
  bool stopping = stopping_.load(std::memory_order_relaxed);
  if (!(flags & IORING_CQE_F_MORE) && !stopping && res != -ECANCELED) arm_accept();
  if (res < 0) {
    if (res != -ECANCELED) log(log_level::warning, "accept: " + errno_text(-res));
    return;
  }
  if (stopping) {
    ::close(res);
    return;
  }
  set_nodelay(res);
  connection_id id = next_id_.fetch_add(1, std::memory_order_relaxed);
  auto owned = make_connection(id, false);
  connection& c = *owned;
  c.fd = res;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(res, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    c.peer.address = address_of(ss);
  conns_.emplace(id, std::move(owned));
  begin_handshake(c, handshake::role::acceptor);
  arm_recv(c);
}

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
  if (res > 0) {
    if (flags & IORING_CQE_F_BUFFER) {
      auto bid = static_cast<std::uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      if (c.state != conn_state::closing)
        feed(c, {ring_->buffer(bid), static_cast<std::size_t>(res)});
      ring_->recycle(bid);
    }
    if (!more && c.state != conn_state::closing) arm_recv(c);
    return;
  }
  if (res == -ENOBUFS) {  // the buffer ring ran dry; buffers come back this turn
    if (!more && c.state != conn_state::closing) arm_recv(c);
    return;
  }
  if (c.state == conn_state::closing) return;
  if (res == 0) {
    if (c.decoder.finish() != decode_error::none) {
      close(c, close_reason::truncated_payload,
            "peer closed the connection inside a frame (" + std::to_string(c.decoder.buffered()) +
                " bytes of it received)");
    } else {
      close(c, close_reason::peer_closed, "connection closed by peer");
    }
    return;
  }
  close(c, close_reason::io_error, "recv: " + errno_text(-res));
}

void transport::impl::feed(connection& c, std::span<const std::byte> bytes) {
  decode_error e = c.decoder.feed(bytes, [&](const frame& f) { return on_frame(c, f); });
  if (e != decode_error::none && c.state != conn_state::closing)
    close(c, reason_for(e), std::string(to_string(e)) + " from " + c.peer.address, true);
}

void transport::impl::on_send(connection& c, int res) {
  --c.ops;
  std::size_t lost_frames = 0, lost_bytes = 0;
  if (res <= 0) {
    // Whether these frames reached the peer is unknown: at-most-once, not reported.
    c.out.abandon_in_flight(lost_frames, lost_bytes);
    c.shared->queued_frames.fetch_sub(lost_frames, std::memory_order_relaxed);
    c.shared->queued_bytes.fetch_sub(lost_bytes, std::memory_order_relaxed);
    if (c.state != conn_state::closing) {
      close(c, close_reason::io_error, "send: " + errno_text(res == 0 ? EPIPE : -res));
    } else if (c.lingering) {
      cut(c);
    }
    return;
  }
  if (!c.out.complete(static_cast<std::size_t>(res))) {
    if (c.state == conn_state::closing && !c.lingering) {
      c.out.abandon_in_flight(lost_frames, lost_bytes);
      c.shared->queued_frames.fetch_sub(lost_frames, std::memory_order_relaxed);
      c.shared->queued_bytes.fetch_sub(lost_bytes, std::memory_order_relaxed);
      return;
    }
    // Short write: resubmit the rest, starting inside the iovec the kernel stopped in.
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_sendmsg(sqe, c.fd, c.out.msg(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tagged(&c, op_send));
    ++c.ops;
    ++local_send_calls_;
    return;
  }
  local_sent_ += c.out.done_frames();
  c.shared->queued_frames.fetch_sub(c.out.done_frames(), std::memory_order_relaxed);
  c.shared->queued_bytes.fetch_sub(c.out.done_bytes(), std::memory_order_relaxed);
  if (c.lingering) {
    bool more = c.out.has_control() || (c.flush_user_on_close && c.out.has_user());
    if (more) {
      mark_dirty(c);
    } else {
      cut(c);
    }
  } else if (c.out.has_control() || (c.state == conn_state::established && c.out.has_user())) {
    mark_dirty(c);
  }
}

// -- frames and connection state ----------------------------------------------------------

bool transport::impl::on_frame(connection& c, const frame& f) {
  ++local_received_;
  if (c.state == conn_state::handshaking) {
    std::vector<std::byte> out;
    handshake::state st = c.hs->on_frame(f, out);
    if (!out.empty()) {
      c.out.push_control(out);
      mark_dirty(c);
    }
    if (st == handshake::state::established) {
      become_up(c);
      return true;
    }
    if (st == handshake::state::failed) {
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
  if (c.state != conn_state::established) return false;
  switch (f.kind) {
    case frame_kind::heartbeat:
      c.detector.heartbeat(now_);
      return true;
    case frame_kind::close: {
      reason_body why = decode_reason_body(f.payload);
      close(c, close_reason::peer_closed, "peer closed: " + std::string(why.text));
      return false;
    }
    case frame_kind::hello:
    case frame_kind::challenge:
    case frame_kind::response:
    case frame_kind::accept:
    case frame_kind::reject:
      close(c, close_reason::protocol_violation,
            std::string(to_string(f.kind)) + " frame after the handshake", true);
      return false;
    default:
      handler_.on_frame(c.peer, f);
      return c.state == conn_state::established;
  }
}

void transport::impl::begin_handshake(connection& c, handshake::role role) {
  c.state = conn_state::handshaking;
  c.deadline = now_ + cfg_.handshake_timeout;
  wake_timers_at(c.deadline);
  c.decoder = frame_decoder(cfg_.limits);
  handshake_config hc = hs_config_;
  if (c.outbound) hc.expected_peer = c.peer.name;  // a reconnect must reach the same node
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
  c.peer.name = c.hs->peer().name;
  c.peer.incarnation = c.hs->peer().incarnation;
  c.backoff = cfg_.reconnect_min_backoff;
  c.detector = phi_accrual_detector(cfg_.phi);
  c.detector.heartbeat(now_);  // the handshake is the first sign of life
  c.next_heartbeat = now_ + cfg_.heartbeat_interval;
  wake_timers_at(now_);
  std::uint64_t& known = incarnations_[c.peer.name];
  std::uint64_t previous = known;
  known = c.peer.incarnation;
  bool restarted = previous != 0 && previous != c.peer.incarnation;
  log(log_level::info, "connection " + std::to_string(c.id) + " up: '" + c.peer.name + "' at " +
                           c.peer.address + (restarted ? " (restarted: new incarnation)" : ""));
  handler_.on_up(c.peer, previous);
  if (c.out.has_user() || c.out.has_control()) mark_dirty(c);
}

void transport::impl::close(connection& c, close_reason reason, const std::string& detail,
                            bool flush) {
  if (c.state == conn_state::closing) return;
  closes_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  bool was_up = c.state == conn_state::established;
  log(level_for(reason), "connection " + std::to_string(c.id) + " (" +
                             (c.peer.name.empty() ? "?" : c.peer.name) + " at " + c.peer.address +
                             ") closed: " + std::string(to_string(reason)) + ": " + detail);
  c.state = conn_state::closing;
  c.reason = reason;
  closing_.push_back(&c);
  if (was_up) handler_.on_down(c.peer, reason, detail);
  if (flush && was_up) {
    // Tell the peer why, so its log names the cause too.
    std::vector<std::byte> bye;
    encode_reason_frame(frame_kind::close, static_cast<std::uint16_t>(reason),
                        detail.substr(0, 200), bye);
    if (reason == close_reason::local_close) {
      c.out.push_control_after_user(bye);
      c.flush_user_on_close = true;
    } else {
      c.out.push_control(bye);
    }
  }
  if (!c.flush_user_on_close) drop_queued(c, reason);
  if (flush && c.fd >= 0 && (c.out.has_control() || c.out.in_flight() || c.flush_user_on_close)) {
    c.lingering = true;
    c.deadline = now_ + linger_time;
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
  ::shutdown(c.fd, SHUT_RDWR);
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, op_ignore);
}

void transport::impl::drop_queued(connection& c, close_reason reason) {
  std::size_t frames = 0, bytes = 0;
  c.out.drop_queued([&](const frame& f) { handler_.on_undelivered(c.id, f, reason); }, frames,
                    bytes);
  c.shared->queued_frames.fetch_sub(frames, std::memory_order_relaxed);
  c.shared->queued_bytes.fetch_sub(bytes, std::memory_order_relaxed);
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
  std::unique_lock lock(links_mutex_);
  auto& link = links_[id];  // connect() registered outbound links already
  if (!link) link = std::make_shared<detail::link_shared>();
  c->shared = link;
  return c;
}

}  // namespace volley::remote
