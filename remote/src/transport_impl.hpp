// The transport's private state, shared by transport.cpp (construction, the
// sender-facing side), transport_stage.cpp (send() and staged sends), transport_loop.cpp
// (the loop thread's turn) and transport_connection.cpp (the connection state
// machine). Each of those
// opens with the essay of its protocol.
#pragma once

#include "asymmetric_fence.hpp"
#include "connection.hpp"
#include "reply_spin.hpp"
#include "stage_handshake.hpp"
#include "striped_counter.hpp"
#include "uring.hpp"

#include <volley/engine/detail/thread_safety.hpp>
#include <volley/queues/cache_line.hpp>
#include <volley/remote/transport.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace volley::remote {

using detail::conn_state;
using detail::connection;
using detail::outbound_item;
using steady_clock = std::chrono::steady_clock;

/// What an SQE was for: the low 3 bits of its user_data, above them the
/// connection it names (or nothing).
enum op_tag : std::uint64_t {
  op_ignore = 0,
  op_accept = 1,
  op_eventfd = 2,
  op_recv = 3,
  op_send = 4,
  op_connect = 5
};
inline constexpr std::uint64_t tag_mask = 7;
static_assert(alignof(connection) >= 8,
              "the op tag lives in the low 3 bits of a connection pointer");
inline std::uint64_t tagged(const void* p, op_tag t) {
  return reinterpret_cast<std::uint64_t>(p) | t;
}
/// The one provided-buffer group every multishot recv draws from.
inline constexpr std::uint16_t buffer_group = 0;
/// The smallest provided buffer a multishot recv may use. Not measured: a
/// floor against configurations where every completion carries a few bytes,
/// so a frame is reassembled from many CQEs (each a loop iteration and a
/// buffer recycle) instead of one; the default is 16 KiB.
inline constexpr unsigned min_recv_buffer_size = 512;
/// One wait for completions while a stop drains (lingering closes, then
/// the kernel's last uses of our buffers). Timers do not run then, so each
/// close's deadline is checked between waits: it is seen at most this late,
/// 10 ms, beside a refused handshake's drain of 200 ms.
inline constexpr __kernel_timespec stop_wait_slice{0, 10'000'000};
/// How long a stop waits, after the lingering closes, for the kernel to
/// finish with the buffers of operations in flight before it frees them.
/// Cancelled operations complete in microseconds; this bounds a kernel
/// that does not answer, and what is still in flight then is counted fate
/// unknown.
inline constexpr std::chrono::seconds stop_buffer_wait{2};
/// Longest sleep without a timer due: only bounds the damage of a lost wake-up.
inline constexpr std::chrono::milliseconds idle_wake{1000};
/// The longest transport_settings::busy_poll_idle: past a minute a poll is
/// no longer a pause between requests but a core given away for good.
inline constexpr std::chrono::seconds max_busy_poll_idle{60};

/// Rate limit for log lines an attacker can provoke (refused connections,
/// accept errors): at most one line per second, each saying how many it
/// stands for, so a flood costs a line a second instead of one per event.
class log_limiter {
 public:
  /// Whether to write a line now; `held` is then the number of events since
  /// the last line that were not written (0: none).
  bool allow(steady_clock::time_point now, std::uint64_t& held) noexcept {
    if (now < next_) {
      ++held_;
      return false;
    }
    held = held_;
    held_ = 0;
    next_ = now + interval;
    return true;
  }

  static constexpr std::chrono::seconds interval{1};

 private:
  steady_clock::time_point next_{};
  std::uint64_t held_ = 0;
};

/// The first accept pause after EMFILE/ENFILE, doubling while it persists up
/// to the maximum. 10 ms: long enough that a backlog of refused connects is
/// not spun on (each try is a syscall and a CQE), short enough that a brief
/// fd shortage costs peers little; 1 s: the reconnect backoff's order.
inline constexpr std::chrono::milliseconds accept_pause_min{10};
inline constexpr std::chrono::milliseconds accept_pause_max{1000};

namespace detail {
extern std::atomic<int> busy_poll_variant;  // transport_loop.cpp: tests' known-bad variants
extern std::atomic<void (*)(std::uint64_t)> busy_poll_rest_hook;
/// The product's side of basic_stage_handshake (stage_handshake.hpp).
struct stage_sync {
  template <class T>
  using atomic = std::atomic<T>;
  static void owner_fence() noexcept { std::atomic_signal_fence(std::memory_order_seq_cst); }
  static void fence_all_threads() noexcept { detail::fence_all_threads(); }
  static void wait() noexcept { std::this_thread::yield(); }
};
}  // namespace detail

/// A sending thread's staged frames for one transport (transport_stage.cpp):
/// items linked in order for one connection, not yet in the inbox, and the
/// outbound credit reserved for them. The chain fields belong to the
/// owning thread between handshake.enter() and leave(), and to a sweeper
/// (the loop, disconnect(), reset(), stop()) in handshake's sweep().
struct send_stage {
  /// Frames, and bytes, a stage holds at most before it is pushed: one
  /// exchange on the inbox and one reservation on the link per 32 frames
  /// instead of per frame. 32 x ~100 B items is ~50 lines, what a sender
  /// writes in ~1 us; the loop takes ~4,000 frames per sendmsg in the
  /// one-way run, so a batch never starves it. The bytes are the credit a
  /// chain reserves on the link when it starts: 4 KiB, 32 such items and
  /// room to spare; a larger frame reserves its own size instead.
  static constexpr std::size_t max_frames = 32;
  static constexpr std::size_t max_bytes = 4096;

  detail::basic_stage_handshake<detail::stage_sync> handshake;
  /// Bumped by the owner per staged frame, before the chain holding it is
  /// pushed: a sweeper that finds it unchanged over stage_idle knows the
  /// owner has stopped sending for now, and stats() counts it as the
  /// stage's share of frames_queued (transport_stage.cpp, "Accounting").
  std::atomic<std::uint64_t> appended{0};
  /// Set by stop() under takeover: the transport is gone, `owner_of` too.
  bool detached = false;
  outbound_item* first = nullptr;
  outbound_item* last = nullptr;
  std::size_t frames = 0;
  connection_id id = 0;
  std::shared_ptr<detail::link_shared> link;
  /// Reserved on `link` and not yet used: given back when the chain goes.
  std::size_t credit_frames = 0, credit_bytes = 0;
  /// When the chain was last pushed (owner or sweeper, under the handshake).
  steady_clock::time_point flushed_at{};
  // Loop thread only: when `appended` was last seen to change, and its
  // value at the last sweep (a stage is swept once per pause).
  std::uint64_t seen_appended = 0;
  std::uint64_t swept_appended = 0;
  steady_clock::time_point seen_at{};
};

/// "ip:port" of a socket address, for logs and peer_info.
std::string address_of(const sockaddr_storage& ss);
/// Frames are already batched per loop turn; Nagle would only add latency.
void set_nodelay(int fd);
inline std::string errno_text(int err) {
  return std::strerror(err);
}

struct transport::impl {
  impl(transport_config c, transport_handler& h);
  ~impl();
  /// Joins the loop and reports what is left in the inbox; idempotent.
  void stop();

  // -- any thread ---------------------------------------------------------------
  send_result send(connection_id id, const frame& f, path_check paths);
  connection_id connect(const std::string& host, std::uint16_t port);
  void disconnect(connection_id id);
  void reset(connection_id id);
  void push(outbound_item* item);
  void wake();
  // -- staged sends (transport_stage.cpp) ----------------------------------------
  // Inline, defined and called in transport_stage.cpp alone (send() is there).
  /// Null once stop() has swept the stages.
  inline send_stage* stage_for_this_thread();
  /// Its first send to this transport, or after a send to another: the
  /// thread's list of stages (out of line: the common case saves no registers).
  [[gnu::noinline]] send_stage* list_stage_for_this_thread();
  inline send_result send_staged(connection_id id, const frame& f, std::size_t size,
                                 std::uint32_t epoch,
                                 const std::shared_ptr<detail::link_shared>& link);
  /// Owner, busy: pushes the chain (one exchange) and gives back unused credit.
  void flush_stage(send_stage& s);
  // -- direct writes (transport_direct.cpp) ---------------------------------------
  /// Any thread: writes an ask or a reply to the socket itself when the
  /// write side is idle; false when it did not (the frame is then sent as
  /// any other). The frame is counted queued and sent when true.
  bool write_directly(const frame& f, std::size_t size, std::uint32_t epoch,
                      detail::link_shared& link);
  /// Loop: lets senders write to `c` while nothing is queued or in flight on it.
  void offer_write_side(connection& c);
  /// Loop: takes the write side back; false while a sender is writing.
  bool claim_write_side(connection& c);
  /// Loop: takes it back, waiting out a sender's write (one syscall).
  void take_write_side(connection& c);
  /// Loop, at the end of the stream or a failed write: takes it back, and
  /// whether a sender's torn write (its shutdown) was the cause.
  bool take_write_side_torn(connection& c);
  /// Any thread, before a command (disconnect, reset): pushes every chain
  /// staged so far, each once its owner is out of a send, so that no frame
  /// whose send() returned before the call is overtaken by the command (and
  /// counted undelivered when the command closes its connection).
  void flush_all_stages();
  /// Sweeper: takes the chains of `stages` (reordered) whose owners are not
  /// in a send (pushed to the inbox in order; at stop, also detached).
  /// Returns false when an owner was busy or another sweeper held one;
  /// `taken` (if given) gets the stages taken.
  bool sweep(std::vector<std::shared_ptr<send_stage>>& stages, bool at_stop,
             std::vector<send_stage*>* taken = nullptr);
  /// Sweeps `stages` until each was taken once.
  void sweep_each(std::vector<std::shared_ptr<send_stage>> stages, bool at_stop);
  /// Loop: sweeps the chains whose owner has added nothing to them for
  /// stage_idle. Returns whether it swept (the inbox may have work).
  bool sweep_stages(steady_clock::time_point now);
  /// Any thread: the frames send_staged queued, staged or pushed since
  /// (stats(); "Accounting" in transport_stage.cpp).
  std::uint64_t staged_frames_queued() const;
  /// How long the loop may sleep (stage_idle while a chain is staged).
  steady_clock::duration max_sleep() const noexcept;
  void log(log_level level, const std::string& text) const;

  // -- loop thread --------------------------------------------------------------
  /// The transport whose loop runs on this thread (set by run()), or null:
  /// lets write_directly tell the loop's own frames (an inline handler's
  /// reply) from other threads'.
  static thread_local const impl* running_loop;
  void run(std::promise<void>& ready);
  void turn_sleep(steady_clock::time_point now);
  connection_id sendmsg_in_flight();  ///< whose completion will end a sleep (0: none)
  bool sleep_ends_for(connection_id id) const noexcept;  ///< transport_stage.cpp
  /// Looks at the inbox for at most reply_spin_'s window: true when a push arrived.
  bool spin_for_push();
  /// busy_poll, a turn with nothing to do: looks at the completions and the
  /// inbox until one has work (true) or busy_poll_idle has passed since the
  /// last traffic (false: the loop sleeps). transport_loop.cpp, "Busy-poll".
  bool poll_idle();
  /// busy_poll: whether the loop still polls at `now` (busy_poll_idle since
  /// the last traffic has not passed).
  bool polls_at(steady_clock::time_point now) const noexcept;
  /// busy_poll: the poll ended at its bound; sleeps (turn_sleep).
  void rest(steady_clock::time_point now);
  bool reap();
  bool drain_inbox(steady_clock::time_point now);
  void timers(steady_clock::time_point now);
  void on_timer(connection& c, steady_clock::time_point now);
  void reset_for_reconnect(connection& c, steady_clock::time_point now);
  void flush_dirty();
  void finalize_closed(steady_clock::time_point now);
  void shutdown_all();
  /// Reports every frame left in the inbox undelivered (local_close), frees
  /// the items, and returns how many frames it reported. Only the inbox's
  /// consumer: the loop at its end (shutdown_all), or stop() once the loop
  /// is gone (what senders pushed after it, racing the stopping_ check).
  std::uint64_t undeliver_inbox();

  void arm_accept();
  void arm_eventfd();
  void arm_recv(connection& c);
  void pause_recv(connection& c);
  void resume_recv(connection& c);
  void start_connect(connection& c, steady_clock::time_point now);
  void on_accept(int res, unsigned flags);
  void pause_accept(int err, bool still_armed);
  void refuse(int fd, const char* why);
  void on_recv(connection& c, int res, unsigned flags);
  void on_send(connection& c, int res);
  void on_connect(connection& c, int res);
  void feed(connection& c, std::span<const std::byte> bytes);
  void decode_frames(connection& c, std::span<const std::byte> bytes);
  void start_secret_handshake(connection& c);
  // -- TLS (transport_tls.cpp) ----------------------------------------------------
  void start_tls(connection& c);
  void feed_tls(connection& c, std::span<const std::byte> bytes);
  bool flush_tls(connection& c);
  void on_tls_send(connection& c, int res);
  bool check_certificate_name(connection& c);
  /// Hands a decoded frame on (or to the handshake); false when it closed
  /// the connection or ended its drain. The common case, a user frame on an
  /// established connection, inline; the rest in on_other_frame.
  /// `like_previous`: the decoder's hint, already limited to a frame whose
  /// predecessor went straight to the handler; `direct` becomes whether
  /// this one did (handler_.on_frame or on_frame_like_previous, nothing
  /// else between).
  bool on_frame(connection& c, const frame& f, bool like_previous, bool& direct);
  /// decode_frames' warning for user frames behind the frame that closed
  /// the connection (once per connection); out of line so that the
  /// decoder's per-frame callback stays small enough to inline.
  [[gnu::cold, gnu::noinline]] void log_past_close(connection& c);
  bool on_other_frame(connection& c, const frame& f);
  void dispatch(const io_uring_cqe& cqe);
  void publish_counters();
  void submitted(int rc);
  void begin_handshake(connection& c, handshake::role role);
  // -- one association per node pair (transport_association.cpp) ------------------
  gate_verdict gate(connection& c, const peer_identity& who);
  bool same_peer(const connection& a, const connection& b) const;
  void retire(connection& loser, connection& winner);
  void fold_queue(connection& loser, connection& winner);
  void retire_losers_of(connection& winner);
  void release_forwards_to(connection& winner, bool winner_was_up);
  bool yield_to_kept(connection& c);
  void regate_held(const connection& gone);
  connection* forwarded(connection_id id, outbound_item* item);
  void end_drain(connection& loser);
  void extend_drain(connection& loser);
  void drain_expired(connection& loser);
  void become_up(connection& c);
  void close(connection& c, close_reason reason, const std::string& detail,
             bool flush_first = false);
  void cut(connection& c);
  void start_discard(connection& c);
  void linger_at_stop();
  void mark_dirty(connection& c);
  void drop_queued(connection& c, close_reason reason);
  /// The batch in flight will not be (re)submitted: its frames with a byte
  /// written count fate unknown, the others are dead letters with `reason`.
  void fail_in_flight(connection& c, close_reason reason);
  void wake_timers_at(steady_clock::time_point t) {
    if (t < next_tick_) next_tick_ = t;
  }
  connection* find(connection_id id);
  std::unique_ptr<connection> make_connection(connection_id id, bool outbound);

  transport_config cfg_;
  transport_handler& handler_;
  handshake_config hs_config_;
  std::unique_ptr<detail::tls_context> tls_;  // null: plaintext node
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int event_fd_ = -1;

  // Shared with other threads.
  detail::intrusive_mpsc inbox_;
  /// Stages with a chain (owner: +1 when a chain starts, seq_cst; whoever
  /// empties it: -1). The loop sleeps only after sweeping while it is > 0.
  alignas(queues::cache_line_size) std::atomic<std::int64_t> staged_chains_{0};
  mutable volley::detail::mutex stages_mutex_;
  std::vector<std::shared_ptr<send_stage>> stages_ VOLLEY_GUARDED_BY(stages_mutex_);
  bool stages_closed_ VOLLEY_GUARDED_BY(stages_mutex_) = false;  // stop() swept them
  /// The `appended` of the stages let go from stages_ (their threads gone,
  /// or the transport stopped): frames_queued's staged share that no stage
  /// in the list holds any more.
  std::uint64_t retired_appended_ VOLLEY_GUARDED_BY(stages_mutex_) = 0;
  std::atomic<bool> sleeping_{false};
  /// While the loop sleeps: a connection whose sendmsg was in flight when it
  /// went to sleep (0: none), so that its completion ends the sleep; a chain
  /// for it needs no eventfd write (transport_stage.cpp, flush_stage). Written
  /// by the loop before its seq_cst store of sleeping_.
  std::atomic<connection_id> sleep_ends_with_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<connection_id> next_id_{1};
  mutable volley::detail::shared_mutex links_mutex_;
  std::unordered_map<connection_id, std::shared_ptr<detail::link_shared>> links_
      VOLLEY_GUARDED_BY(links_mutex_);
  /// Never reused within a process: a sender's cached link (send()) names
  /// the transport it belongs to by this, not by an address a later
  /// transport could be given.
  const std::uint64_t serial_;
  // Bumped by senders on every send: a stripe per thread (a single counter
  // was one line every sending thread took in turn), away from the counters
  // the loop publishes every turn (sharing one made each send fetch the
  // line back from the loop's core).
  // Staged frames are not counted here but in their stage's `appended`
  // (staged_frames_queued): one count a staged frame instead of two.
  detail::striped_counter frames_queued_;
  alignas(queues::cache_line_size) std::atomic<std::uint64_t> wakeups_{0};
  // The loop's own (published where they change, not per turn).
  alignas(queues::cache_line_size) std::atomic<std::uint64_t> sleeps_{0}, poll_looks_{0},
      poll_rests_{0};
  alignas(queues::cache_line_size) std::array<
      std::atomic<std::uint64_t>, static_cast<std::size_t>(close_reason::count_)> closes_{};
  std::atomic<std::uint64_t> frames_sent_{0}, frames_received_{0}, send_calls_{0};
  std::atomic<std::uint64_t> refused_{0}, accept_pauses_{0}, inbound_gauge_{0}, pending_gauge_{0};
  std::atomic<std::uint64_t> established_gauge_{0};
  std::atomic<std::uint64_t> frames_undelivered_{0}, frames_fate_unknown_{0};
  std::atomic<std::uint64_t> frames_discarded_{0};  // rare: bumped where counted
  /// Frames their senders wrote themselves (transport_direct.cpp), and those
  /// whose write was cut short (the connection is then shut down).
  alignas(queues::cache_line_size) std::atomic<std::uint64_t> direct_sent_{0};
  std::atomic<std::uint64_t> direct_fate_unknown_{0};

  // Loop thread only.
  std::unique_ptr<detail::uring> ring_;
  std::unordered_map<connection_id, std::unique_ptr<connection>> conns_;
  std::unordered_map<std::string, std::uint64_t> incarnations_;
  std::vector<connection*> dirty_;
  std::vector<connection*> closing_;
  std::uint64_t eventfd_value_ = 0;
  steady_clock::time_point next_tick_{};
  steady_clock::time_point now_{};
  std::vector<std::byte> heartbeat_bytes_;  // encoded once
  detail::reply_spin reply_spin_{cfg_.reply_spin};
  std::uint64_t local_sent_ = 0, local_received_ = 0, local_send_calls_ = 0;
  std::uint64_t local_undelivered_ = 0, local_fate_unknown_ = 0;
  std::uint64_t local_handed_on_ = 0;  // user frames given to handler_ (reply_spin_'s cue)
  std::uint64_t local_sleeps_ = 0, local_poll_looks_ = 0, local_poll_rests_ = 0;
  /// busy_poll: the loop polls instead of sleeping until then (its last
  /// traffic + busy_poll_idle).
  steady_clock::time_point poll_until_{};
  connection_id last_sendmsg_ = 0;      // the last connection flush_dirty wrote to
  std::size_t inbound_open_ = 0;        // accepted, not yet closing
  std::size_t pending_handshakes_ = 0;  // accepted, still handshaking
  std::size_t established_ = 0;         // up now
  /// Connections that lost to another one to the same node (PROTOCOL.md
  /// §6.6): what is sent to them goes to `to`. `from_shared` is the loser's
  /// outbound bound, whose reservations move with the frames.
  struct forwarding {
    connection_id to;
    std::shared_ptr<detail::link_shared> from_shared;
    /// The loser was up and `to` is not yet: if `to` never comes up, the
    /// loser's on_down is owed (release_forwards_to pays it).
    std::optional<peer_info> down_owed;
  };
  std::unordered_map<connection_id, forwarding> forward_;
  std::uint64_t next_gate_order_ = 1;
  bool accept_armed_ = false;   // a multishot accept is in the kernel
  bool accept_paused_ = false;  // out of fds: not re-armed until accept_resume_at_
  steady_clock::time_point accept_resume_at_{};
  std::chrono::milliseconds accept_pause_{0};
  log_limiter accept_log_, refuse_log_, prelogin_close_log_, submit_log_;
  bool eventfd_armed_ = false;
  /// flush_dirty found a connection's write side held by a sender: the
  /// loop goes round again instead of sleeping, to write once it is free.
  bool write_contended_ = false;
  steady_clock::time_point next_stage_check_{};
  std::vector<std::shared_ptr<send_stage>> stages_due_;  // sweep_stages' scratch
  std::thread thread_;
};

}  // namespace volley::remote
