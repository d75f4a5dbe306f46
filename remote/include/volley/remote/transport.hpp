// volley/remote/transport.hpp — a node's network endpoint: one io_uring event
// loop thread that listens, connects, handshakes, frames, heartbeats and
// detects failed peers.
//
// Use one transport per process (per node). Other threads call send(), which
// encodes the frame on the calling thread and hands it to the loop through a
// lock-free queue: it never blocks and never makes a syscall unless the loop
// may be asleep. A thread that streams tells to one connection hands them over
// up to 32 at a time; a tell that is not part of a stream, and every other
// kind of frame, goes at once, and a stream's last frames wait at most ~0.1 ms
// after the thread stops sending (remote/src/transport_stage.cpp).
// The loop gathers everything queued for a connection into one sendmsg per
// turn, so many small frames cost one syscall.
//
// Everything the network says comes back through a transport_handler, called
// on the loop thread: keep the callbacks short (hand work to actors/queues),
// and never call a blocking transport method from them.
//
// Delivery is at most once and in order per connection. Frames still queued
// when a connection is lost are reported through on_undelivered. An outbound
// connection keeps its queue across a reconnect: if the same incarnation
// answers, what was queued during the gap goes out after it, in order
// (frames in a write the loss cut short may be lost: never reordered); if a
// new incarnation answers, what was queued for the old one is reported
// undelivered (close_reason::node_restarted), never sent to the new one.
// A close on purpose (disconnect(), stop()) ends with FIN, not a reset: it
// reads on, dropping what arrives (counted in frames_discarded), until the
// peer's end of stream or close_linger, so a peer that reads gets everything
// already written.
//
// Before a peer has completed the handshake it can make the transport hold
// little: frames are capped at pre_login_max_frame_size (512 bytes), accepted
// connections at max_inbound_connections and those still handshaking at
// max_pending_handshakes (refusals are counted), and when file descriptors run
// out the transport stops accepting for a growing pause (10 ms to 1 s) and
// logs it at most once a second.
//
// When not to use plaintext: the handshake authenticates peers but does not
// encrypt; on an untrusted network set transport_settings::tls (TLS 1.3 with
// mutual certificates, tls.hpp), or run under a tunnel (WireGuard, stunnel).
//
// Figures (bench/remote/remote_transport_bench 3000000 5000 all --tls,
// Release, g++ 12, a 2-core VM shared with other builds at load ~15,
// loopback, median of 3 runs): one-way 16-byte payloads over one connection
// 2.3 M frames/s at 130 CPU-ns per frame, all threads (a raw socket writing
// 1024 frames per send() costs 25 CPU-ns per frame; its wall rate swung
// 6-41 M/s with the load); RTT p50 8.8 us (raw blocking TCP 6.6 us); TLS
// one-way 1.4 M/s, TLS RTT p50 11.6 us. busy_poll: RTT p50 10.7-11.0 us, p99
// 19-29 us (raw TCP spinning on MSG_DONTWAIT: 6.5-6.6 us), two runs; an
// idle spin yields the core (sched_yield), which costs ~2.5 us of p50 on
// this loaded VM and took p99 from 1-16 ms (threads woken behind a spinning
// loop waited for the scheduler tick) to tens of us. Where the time goes:
// remote/src/transport_loop.cpp.
#pragma once

#include <volley/remote/frame_codec.hpp>
#include <volley/remote/phi_accrual.hpp>
#include <volley/remote/tls.hpp>
#include <volley/remote/wire.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace volley::remote {

/// Identifies a connection for its whole life. An outbound connection keeps its
/// id across reconnects; an inbound one has a new id per accepted socket.
using connection_id = std::uint64_t;

/// Why a connection ended. Each close increments the counter of its reason.
enum class close_reason : std::uint8_t {
  local_close,         ///< disconnect() or transport shutdown
  peer_closed,         ///< orderly close frame or EOF between frames
  oversized_frame,     ///< decode_error::oversized
  malformed_header,    ///< decode_error::malformed_header
  unknown_kind,        ///< decode_error::unknown_kind
  truncated_payload,   ///< decode_error::truncated_payload, incl. EOF inside a frame
  bad_path,            ///< decode_error::bad_path
  handshake_failed,    ///< we rejected the peer (secret, version, ...)
  rejected_by_peer,    ///< the peer rejected us
  handshake_timeout,   ///< handshake did not finish in time
  protocol_violation,  ///< handshake frame after the handshake, etc.
  heartbeat_timeout,   ///< phi-accrual detector declared the peer down
  connect_failed,      ///< outbound connect() failed (refused, unreachable)
  io_error,            ///< send/recv failed
  /// Another connection between the same two nodes was kept instead
  /// (simultaneous connect, PROTOCOL.md §6.6); its frames moved there.
  simultaneous_connect,
  /// The peer's node came back as a new incarnation: a connection still tied
  /// to the old one is reset (transport::reset), and frames queued for the
  /// old one are reported undelivered with this reason instead of reaching
  /// the new one.
  node_restarted,
  count_
};
std::string_view to_string(close_reason r) noexcept;

/// Outcome of send().
enum class send_result : std::uint8_t {
  queued,              ///< handed to the loop
  queue_full,          ///< the connection's outbound bound is reached: frame dropped
  unknown_connection,  ///< no such connection (never existed or closed for good)
  invalid_frame,       ///< validate() refused it (bad path, too big, ...)
  stopped,             ///< transport is shutting down
};
std::string_view to_string(send_result r) noexcept;

/// A connected peer as the handler sees it.
struct peer_info {
  connection_id id = 0;
  std::string name;               ///< node name from the handshake
  std::uint64_t incarnation = 0;  ///< random per peer process start
  std::string address;            ///< "ip:port" of the socket's other end
  bool outbound = false;          ///< we connected (and will reconnect)
};

enum class log_level : std::uint8_t { debug, info, warning, error };

/// How a transport treats its connections: limits, bounds, heartbeats,
/// reconnects, the ring. A transport_config is one of these plus the node's
/// identity; node_config carries one (node_config::transport) and hands it to
/// its transport whole, so a setting added here reaches nodes without a copy
/// list to forget it in.
struct transport_settings {
  frame_limits limits;
  /// Outbound bound per connection. 64 Ki frames (~3 MiB of 48-byte frames)
  /// absorbs bursts of a few ms at full speed; the byte bound caps large frames.
  /// At most 2^23 frames and 2^39 bytes (larger values are clamped to these).
  std::size_t max_queued_frames = 64 * 1024;
  std::size_t max_queued_bytes = 64u << 20;
  /// Akka's default interval; with the phi defaults a silent peer is declared
  /// down after roughly acceptable_pause + a few intervals.
  std::chrono::milliseconds heartbeat_interval{1000};
  /// phi.first_heartbeat_estimate is set to heartbeat_interval by the transport.
  phi_config phi;
  std::chrono::milliseconds handshake_timeout{5000};
  /// How long a closing connection waits for its peer: for our close or
  /// reject frame (and on disconnect() the frames queued before it) to be
  /// written, then, after our FIN, for the peer's end of stream while what
  /// it still sends is read and dropped, so that the close ends with FIN and
  /// not a reset, which would throw away what we wrote and it has not read
  /// (PROTOCOL.md §6.2.1). Also how long a retired loser drains with nothing
  /// moving on it, and at most 10x that in all (§6.6.2), and how long
  /// stop() waits for all of them together. A live peer answers in one round trip; 1 s, as Akka's
  /// shutdown-flush-timeout, only bounds a peer that does not.
  std::chrono::milliseconds close_linger{1000};
  /// Reconnect backoff for outbound connections: doubles per failed try.
  std::chrono::milliseconds reconnect_min_backoff{100};
  std::chrono::milliseconds reconnect_max_backoff{10000};
  /// Spin instead of sleeping in the kernel while the node has traffic:
  /// lowest latency, one core busy. The loop then looks at its completions
  /// and its inbox (yielding the core between looks) instead of sleeping in
  /// io_uring_enter, for as long as it has an established connection and
  /// busy_poll_idle has not passed since its last traffic; after that it
  /// sleeps as a loop without busy_poll does, and the next traffic that wakes
  /// it starts the polling again (remote/src/transport_loop.cpp, "Busy-poll").
  bool busy_poll = false;
  /// How long a busy-polling loop goes on polling after its last traffic (a
  /// user frame received, a frame or command handed to it), before it sleeps.
  /// Heartbeats are not traffic: a node that only exchanges them rests.
  /// Default 10 ms: about a thousand busy-poll round trips (10-20 us on the
  /// 2-core VMs), so a conversation whose requests come less than 10 ms apart
  /// never finds the loop asleep (each wake-up there costs 5-40 us and two
  /// context switches), while a node whose traffic stops spends at most 10 ms
  /// of one core before it sleeps. Must be > 0 and at most 60 s (the
  /// transport refuses to start otherwise); to never poll, leave busy_poll
  /// off.
  std::chrono::microseconds busy_poll_idle{10'000};
  /// After a turn that handed received frames to the node, how long the loop
  /// looks at its inbox for the answer (a worker's reply, the asker's next
  /// request) before it sleeps, so that the answer needs no eventfd write and
  /// the loop no wake-up. Adaptive: tried only while answers come inside it,
  /// so one-way traffic and an idle node cost nothing. After its first 2 us
  /// each look yields the core (sched_yield). 0: never. Default 50 us: on
  /// the quiet 2-core VM (suite run results/intel-xeon-2c/
  /// 2026-11-29T17-54-28Z.json) the ask RTT p50 was 65.0 us without it and
  /// 18.4 us with it (raw blocking socket 76.6 us), actor to actor 45.5 ->
  /// 10.9 us, and CPU per round trip fell (99 -> 39 us): the wake-ups it
  /// saves cost more than the looks. On a machine whose cores are busy with
  /// other processes each yield hands the core away: at load ~9, 15
  /// interleaved rounds of 0 against 10-100 us, ask RTT p50 24 -> 27 us,
  /// actor to actor 25 -> 31 us, CPU per round trip +3.5 us; set 0 there
  /// (remote/src/reply_spin.hpp).
  std::chrono::microseconds reply_spin{50};
  /// A thread that sends an ask, or the reply to one, writes the frame to
  /// the socket itself when the connection has nothing queued or in flight
  /// (plaintext only; TLS records are the loop's), instead of handing it to
  /// the loop: one thread hand-off (and, when the loop sleeps, one wake-up)
  /// less per request and per reply. Tells are never written this way: they
  /// are batched. Not with busy_poll: a spinning loop takes a frame within
  /// a turn, with no wake-up, for less than the sender's two syscalls
  /// (remote_bench busy-poll ask p50 12.95 -> 14.14 us and 4.0 -> 6.0
  /// switches per round trip with them, 7 interleaved rounds at load ~12).
  /// false: every frame goes through the loop.
  bool direct_writes = true;
  /// Submission queue depth. Each connection holds at most a receive, a send
  /// and a connect in flight, so 1024 serves a few hundred peers.
  unsigned ring_entries = 1024;
  /// Provided receive buffers (a power of two) and their size: 256 x 16 KiB =
  /// 4 MiB per node, enough for every connection of a small cluster to have
  /// several reads in flight at socket-buffer-sized chunks.
  unsigned recv_buffer_count = 256;
  unsigned recv_buffer_size = 16 * 1024;
  /// Accepted connections open at once (pending or established); an accept
  /// past it is closed at once and counted in transport_stats::refused. Each
  /// costs an fd and a few KiB; 512 is several times a large cluster's peers
  /// and stays inside ring_entries' few hundred.
  std::size_t max_inbound_connections = 512;
  /// Accepted connections still in the handshake; past it, new ones are
  /// refused the same way. An honest handshake finishes in one round trip,
  /// so 64 covers a whole small cluster reconnecting at once, while a flood
  /// of idle sockets (each held up to handshake_timeout) cannot take more.
  std::size_t max_pending_handshakes = 64;
  /// TLS 1.3 with mutual certificates on every connection (see tls.hpp);
  /// empty: plaintext. Bad files fail the transport (and node) at start.
  tls_config tls;
};

struct transport_config : transport_settings {
  std::string node_name;          ///< letters, digits and . _ - : @ ; 1..255 bytes
  std::string secret;             ///< shared by the cluster; must not be empty
  std::uint64_t incarnation = 0;  ///< 0: random_incarnation()
  bool listen = true;
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;  ///< 0: an ephemeral port (see transport::port())
  /// Where the loop reports what it does (closes, reasons). Default: stderr for
  /// warnings and errors.
  std::function<void(log_level, std::string_view)> log;
};

/// Callbacks from the loop thread. Default implementations ignore the event.
class transport_handler {
 public:
  virtual ~transport_handler() = default;
  /// Handshake done. `previous_incarnation` is the incarnation this node name
  /// last had (0 if never seen); a different non-zero value means the peer
  /// restarted and is a new node: state tied to the old one is gone.
  virtual void on_up(const peer_info& peer, std::uint64_t previous_incarnation) {
    (void)peer;
    (void)previous_incarnation;
  }
  /// A frame from an established peer (never handshake, heartbeat or close
  /// frames). Views in `f` are valid only during the call.
  virtual void on_frame(const peer_info& peer, const frame& f) = 0;
  /// on_frame for a frame whose kind, flags and sections (target, sender
  /// node, sender path) are the bytes of the frame this connection handed
  /// to on_frame or on_frame_like_previous in the call just before, with
  /// no other handler call between them (frame_decoder's like_previous,
  /// given on only while every frame of the chunk goes straight to the
  /// handler). A handler that remembers what it checked of that frame may
  /// skip checking those bytes again; the default forgets the hint.
  virtual void on_frame_like_previous(const peer_info& peer, const frame& f) { on_frame(peer, f); }
  /// The end of a loop turn's frames (once per turn, after every on_frame of
  /// it, and once more as the loop ends): a handler that held frames back
  /// to hand them on together does so now.
  virtual void on_batch_end() {}
  /// A connection that was up is gone (also called with heartbeat_timeout when
  /// the failure detector declares the peer down). An outbound connection
  /// reconnects by itself afterwards.
  virtual void on_down(const peer_info& peer, close_reason reason, std::string_view detail) {
    (void)peer;
    (void)reason;
    (void)detail;
  }
  /// Connection `from.id` lost to `into.id`, another connection to the same node
  /// and incarnation (simultaneous connect, PROTOCOL.md §6.6): frames sent
  /// to `from` from now on travel on `into`, and those still queued on it
  /// were moved behind `into`'s, in order. `from` gets no on_down (if it was
  /// up, the association goes on, on `into`) and no more frames. Called
  /// before `into`'s on_up. When `into` goes down, an outbound `from`
  /// reconnects by itself again.
  virtual void on_merged(const peer_info& from, const peer_info& into) {
    (void)from;
    (void)into;
  }
  /// A frame queued by send() that was not written: its connection was lost.
  virtual void on_undelivered(connection_id id, const frame& f, close_reason reason) {
    (void)id;
    (void)f;
    (void)reason;
  }
};

/// Per-reason close counters and traffic totals; read from any thread.
///
/// Every frame send() accepted ends in exactly one of three counters, so that
/// once nothing is queued any more (all connections idle or gone)
///     frames_queued == frames_sent + frames_undelivered + frames_fate_unknown.
/// Delivery is at most once with no acknowledgements: a frame counted in
/// frames_sent reached the kernel; if its connection is lost later, it may
/// still have been lost in a socket buffer (at most what the two socket
/// buffers hold). The counters are published at the end of each loop turn.
struct transport_stats {
  std::array<std::uint64_t, static_cast<std::size_t>(close_reason::count_)> closes{};
  std::uint64_t frames_queued = 0;  ///< send() returned queued
  /// Never written (still queued when the connection was lost, or the
  /// connection was gone): each was reported through on_undelivered.
  std::uint64_t frames_undelivered = 0;
  /// In a write that the connection's loss interrupted (a failed or cut-short
  /// sendmsg): possibly written in part or whole, fate unknown.
  std::uint64_t frames_fate_unknown = 0;
  /// Written: a sendmsg that carried them completed.
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  /// User frames the peer sent that arrived after this side had closed the
  /// connection (read during its lingering close, not handled): the peer
  /// counted them written, and here they are counted, not lost silently.
  std::uint64_t frames_discarded = 0;
  std::uint64_t send_calls = 0;  ///< sendmsg submissions (frames_sent / send_calls = batching)
  /// Of frames_sent, those their sending thread wrote itself
  /// (transport_settings::direct_writes), with no sendmsg of the loop's.
  std::uint64_t direct_writes = 0;
  std::uint64_t wakeups = 0;  ///< eventfd writes by producers
  /// Times the loop slept in io_uring_enter (waiting for a completion, its
  /// eventfd or a timer). Beside wakeups: what a round trip costs the loop.
  std::uint64_t sleeps = 0;
  /// busy_poll: looks the loop made at its completions and inbox while it
  /// had nothing to do (each a sched_yield and an io_uring_enter that does
  /// not wait), and times it stopped polling because busy_poll_idle passed
  /// without traffic (each followed by a sleep, as without busy_poll).
  std::uint64_t poll_looks = 0;
  std::uint64_t poll_rests = 0;
  /// Accepted sockets closed at once: max_inbound_connections or
  /// max_pending_handshakes was reached.
  std::uint64_t refused = 0;
  /// Times accepting paused because the process or system ran out of file
  /// descriptors (EMFILE/ENFILE) or memory.
  std::uint64_t accept_pauses = 0;
  std::uint64_t inbound_connections = 0;  ///< open now (a snapshot)
  /// Established connections now (a snapshot): one per peer node once
  /// simultaneous connects are resolved.
  std::uint64_t established_connections = 0;
  std::uint64_t pending_handshakes = 0;  ///< inbound ones still handshaking now
  std::uint64_t closes_for(close_reason r) const { return closes[static_cast<std::size_t>(r)]; }
};

class transport {
 public:
  /// Starts the loop thread, binds and listens. Throws std::system_error when
  /// io_uring is unavailable (old kernel, seccomp, EPERM) or the bind fails,
  /// std::invalid_argument on a bad config. `handler` must outlive the transport.
  transport(transport_config config, transport_handler& handler);
  /// Stops the loop: connections are closed (on_down with local_close).
  ~transport();
  /// What the destructor does, leaving stats() readable (the final figures).
  /// Idempotent. Not concurrently with send(): a frame pushed after the
  /// loop's last drain would wait for the destructor to be reported.
  void stop();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// The bound port (useful with listen_port = 0).
  std::uint16_t port() const noexcept;
  const std::string& node_name() const noexcept;
  std::uint64_t incarnation() const noexcept;

  /// Starts an outbound connection that reconnects with backoff until
  /// disconnect(). Frames may be sent at once; they wait for the handshake.
  /// Resolves `host` on the calling thread. Throws std::system_error when the
  /// address does not resolve.
  connection_id connect(const std::string& host, std::uint16_t port);
  /// Sends a close frame and closes; an outbound connection stops reconnecting.
  void disconnect(connection_id id);
  /// Closes the connection's socket now (close_reason::node_restarted): the
  /// node it reached has a new incarnation elsewhere. An outbound connection
  /// reconnects at once, to whichever incarnation answers at its address;
  /// what was queued for the old one is then reported undelivered.
  void reset(connection_id id);

  /// Any thread, never blocks. See send_result. `paths`: see path_check
  /// (frame_codec.hpp); done_by_sender only for paths checked with
  /// valid_path() against this transport's limits.
  send_result send(connection_id id, const frame& f, path_check paths = path_check::each_frame);

  transport_stats stats() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace volley::remote
