// Per-connection state of the transport loop, and the queue of bytes waiting
// to be written. Private to volley::remote; everything here is touched by the
// loop thread only, except link_shared (atomics shared with senders).
//
// Send path. Producers encode a frame (or a staged run of tells) into an
// outbound_item and push it on the loop's MPSC inbox. The loop moves items
// into the connection's send_queue:
// small frames are copied into a growing segment (a memcpy of < 1 KiB costs
// less than the kernel's per-iovec work), large ones are sent in place. One
// sendmsg per connection is in flight at a time; it carries the segments
// queued when it was prepared, up to IOV_MAX iovecs and max_batch_bytes. A
// short write advances through the iovec array and resubmits the rest, so
// framing is never broken.
#pragma once

#include "tls_session.hpp"
#include "write_side.hpp"

#include <volley/queues/cache_line.hpp>
#include <volley/remote/detail/intrusive_mpsc.hpp>
#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>
#include <volley/remote/phi_accrual.hpp>
#include <volley/remote/transport.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace volley::remote::detail {

struct item_chunk;

/// What other threads hand to the loop: encoded frames, or a command.
///
/// Items are carved from a 64 KiB chunk owned by the producing thread (bump
/// allocation, no malloc per frame; see connection.cpp) and released by the
/// loop thread; the chunk is freed when its last item is released. Items too
/// big for a chunk are allocated on their own.
///
/// A frame item holds `frames` whole frames, back to back, all for one
/// connection and one epoch: one, or a run of tells a sending thread staged
/// (transport_stage.cpp grows the chain's last item in place, up to
/// max_run_bytes). The loop moves the run into a segment with one copy and
/// one release; every path that dead-letters an item goes frame by frame
/// (for_each_frame).
struct outbound_item : mpsc_node {
  enum class type : std::uint8_t { frame, connect, disconnect, reset };
  /// A staged item grows to at most this many bytes: within
  /// send_queue::coalesce_limit, so the loop still copies it into a segment
  /// (an item sent in place would pin its chunk until written). 1 KiB is
  /// ~16 one-way frames (62 B) per item.
  static constexpr std::uint32_t max_run_bytes = 1024;

  type what = type::frame;
  /// link_shared::epoch when send() took the frame: which incarnation of
  /// the peer it was meant for (see connection::stale_epochs_below).
  std::uint32_t epoch = 0;
  connection_id id = 0;
  std::uint32_t size = 0;    ///< bytes following the item
  std::uint32_t frames = 1;  ///< whole frames in those bytes (frame items)
  item_chunk* chunk = nullptr;

  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  std::span<const std::byte> bytes() noexcept { return {data(), size}; }
  /// The item and its bytes behind it, in one piece.
  static outbound_item* make(type what, connection_id id, std::uint32_t size);
  /// Makes room for `extra` more bytes behind this item's, in place, and
  /// counts them in `size`; false (nothing changed) unless this item is the
  /// last one carved from this thread's current chunk and the chunk has the
  /// room. Only the thread that made the item, before it is pushed.
  /// Inline (below): out of line it was 41 instructions a staged tell
  /// (callgrind, remote_bench one-way, the sending thread).
  bool grow(std::uint32_t extra) noexcept;
  static void destroy(outbound_item* item) noexcept;
};

/// The chunk items are carved from (connection.cpp: who owns it, who frees it).
struct item_chunk {
  /// 64 KiB: ~1000 small frames per chunk, so retiring (one atomic RMW and,
  /// usually, one malloc) is rare; a stalled frame pins at most this much.
  static constexpr std::size_t capacity = 64 * 1024;
  /// A frame whose item is bigger than this (8 KiB) gets a block of its own
  /// (operator new) rather than a chunk's space: a chunk then holds at least
  /// 8 items, and one large frame that stalls does not pin the small ones
  /// carved around it. A bound chosen by that reasoning, not measured.
  static constexpr std::size_t largest_carved = capacity / 8;
  alignas(queues::cache_line_size) std::atomic<std::int64_t> live{
      0};                                                 // loop (and the retiring producer)
  alignas(queues::cache_line_size) std::size_t used = 0;  // producer only
  std::int64_t carved = 0;                                // producer only
  alignas(alignof(outbound_item)) std::byte storage[capacity];

  void retire() noexcept {
    // Read `carved` before the add: once it is added, a release may free us.
    std::int64_t n = carved;
    if (live.fetch_add(n, std::memory_order_acq_rel) + n == 0) delete this;
  }
  void release(std::int64_t n = 1) noexcept {
    if (live.fetch_sub(n, std::memory_order_acq_rel) - n == 0) delete this;
  }
  static constexpr std::size_t round_up(std::size_t n) {
    constexpr std::size_t a = alignof(outbound_item);
    return (n + a - 1) / a * a;
  }
  /// Asks for the lines a few items past `used` for writing now: a chunk's
  /// memory was last read by the loop (a freed chunk comes back), and the
  /// push's exchange waits for every store before it, so a line fetched late
  /// stalls the sender at the exchange (85% of push's samples).
  /// Two lines 256 B ahead, two to three items (an item and its encoded
  /// frame take ~104 B): perf, remote_bench one-way under load ~10, two
  /// pairs, push 6.1% and 7.7% of all samples -> 4.4% (git log, "prefetch a
  /// sender's item chunk").
  void prefetch_ahead() noexcept {
    constexpr std::size_t ahead = 256;
    constexpr std::size_t line = queues::cache_line_size;
    if (used + ahead + 2 * line <= capacity) {
      __builtin_prefetch(storage + used + ahead, 1);
      __builtin_prefetch(storage + used + ahead + line, 1);
    }
  }
};

/// This thread's current chunk (connection.cpp).
extern constinit thread_local item_chunk* this_thread_chunk;

inline bool outbound_item::grow(std::uint32_t extra) noexcept {
  item_chunk* c = chunk;
  // Its own chunk still current on this thread (a retired one is never
  // carved again), and nothing carved behind this item since.
  if (c == nullptr || c != this_thread_chunk) return false;
  const std::size_t at = static_cast<std::size_t>(reinterpret_cast<std::byte*>(this) - c->storage);
  if (at + item_chunk::round_up(sizeof(outbound_item) + size) != c->used) return false;
  const std::size_t need = item_chunk::round_up(sizeof(outbound_item) + size + extra);
  if (at + need > item_chunk::capacity) return false;
  c->used = at + need;
  size += extra;
  c->prefetch_ahead();
  return true;
}

/// Calls `each(const frame&)` for every frame of a frame item, in order
/// (our own encoding: it parses cleanly under any limits).
template <class Each>
void for_each_frame(outbound_item& item, Each&& each) {
  std::span<const std::byte> rest = item.bytes();
  const frame_limits any{~std::size_t{0} >> 1, ~std::size_t{0} >> 1};
  while (!rest.empty()) {
    parse_result r = parse_frame(rest, any);
    if (r.consumed == 0) break;
    each(r.value);
    rest = rest.subspan(r.consumed);
  }
}

/// Releases outbound items on the loop thread with one atomic RMW per run of
/// items from the same chunk instead of one per item. Items from one producer
/// arrive in runs (a chunk holds ~1000 small frames), so the loop's writes to
/// a chunk's counter drop ~1000-fold. The count held back keeps the chunk
/// alive (its `live` cannot reach 0 while releases are pending), so flush()
/// must run before the loop stops touching items for a while (end of a drain).
class item_releaser {
 public:
  item_releaser() = default;
  item_releaser(const item_releaser&) = delete;
  item_releaser& operator=(const item_releaser&) = delete;
  ~item_releaser() { flush(); }

  void release(outbound_item* item) noexcept;
  void flush() noexcept;

 private:
  item_chunk* chunk_ = nullptr;
  std::int64_t held_ = 0;
};

/// The part of a connection that senders touch: its outbound bound.
///
/// The bound is one word, frames in the top 24 bits and bytes in the low 40,
/// so a send reserves both with one RMW instead of two (the two were 44% of
/// send()'s own samples in the one-way profile, bench/remote). The limits
/// (max_frames, max_bytes) leave each field room for the overshoot of
/// racing senders, which undo their reservation at once.
struct link_shared {
  static constexpr unsigned frame_shift = 40;
  static constexpr std::uint64_t one_frame = std::uint64_t{1} << frame_shift;
  static constexpr std::uint64_t byte_mask = one_frame - 1;
  /// The largest bounds the word can hold; larger settings are clamped.
  static constexpr std::size_t max_frames = std::size_t{1} << 23;
  static constexpr std::size_t max_bytes = std::size_t{1} << 39;

  std::atomic<std::uint64_t> queued{0};

  /// Counts `frames` frames of `bytes` in all unless that passes a bound. Any thread.
  bool reserve(std::size_t bytes, std::size_t frame_bound, std::size_t byte_bound,
               std::size_t frames = 1) noexcept {
    std::uint64_t add = frames * one_frame + bytes;
    std::uint64_t before = queued.fetch_add(add, std::memory_order_relaxed);
    if ((before >> frame_shift) + frames > frame_bound ||
        (before & byte_mask) + bytes > byte_bound) {
      queued.fetch_sub(add, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  /// Frames left the queue (written, dropped or lost). Relaxed: the counts
  /// bound a queue, they order nothing.
  void release(std::size_t frames, std::size_t bytes) noexcept {
    queued.fetch_sub(frames * one_frame + bytes, std::memory_order_relaxed);
  }
  /// Frames moved here from another connection's queue (association
  /// arbitration): counted without a bound, they were admitted already.
  void add(std::size_t frames, std::size_t bytes) noexcept {
    queued.fetch_add(frames * one_frame + bytes, std::memory_order_relaxed);
  }
  std::size_t queued_frames() const noexcept {
    return static_cast<std::size_t>(queued.load(std::memory_order_relaxed) >> frame_shift);
  }
  std::size_t queued_bytes() const noexcept {
    return static_cast<std::size_t>(queued.load(std::memory_order_relaxed) & byte_mask);
  }
  /// Set (by the loop, before it forgets the connection) when no frame sent
  /// to it can be written any more; a sender's cached pointer to this link
  /// then stops being used. Relaxed: a send racing the close is reported as
  /// undelivered by the loop, exactly as one that looked the link up just
  /// before it was erased.
  std::atomic<bool> gone{false};
  /// Bumped by the loop when the connection comes up to a new incarnation of
  /// its peer: frames stamped with an older epoch were meant for the old one.
  std::atomic<std::uint32_t> epoch{0};

  /// Who may write to the socket: the loop or, for one frame, a sender
  /// (write_side.hpp, transport_direct.cpp).
  write_side writer;
};

/// A send_queue segment's bytes: one block, filled by appends that copy and
/// never zero first. std::vector's range insert made each frame's copy into
/// a segment ~60 instructions of push_user's ~75 (callgrind, remote_bench
/// one-way, A's loop), for a memcpy of ~50 bytes.
class segment_bytes {
 public:
  segment_bytes() = default;
  segment_bytes(segment_bytes&& o) noexcept
      : data_(std::move(o.data_)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  segment_bytes& operator=(segment_bytes&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    return *this;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::span<const std::byte> view() const noexcept { return {data_.get(), size_}; }
  void clear() noexcept { size_ = 0; }
  /// Room for `n` bytes in all (what is held is kept).
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    auto grown = std::make_unique_for_overwrite<std::byte[]>(n);
    if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = n;
  }
  void assign(std::span<const std::byte> bytes) {
    size_ = 0;
    reserve(bytes.size());
    append(bytes);
  }
  /// Appends `bytes`, which must fit (size() + bytes.size() <= capacity()).
  void append(std::span<const std::byte> bytes) noexcept {
    if (bytes.empty()) return;
    std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// Bytes waiting to be written on one connection.
class send_queue {
 public:
  /// Frames at most this big are copied into a shared segment.
  static constexpr std::size_t coalesce_limit = 1024;
  /// A segment stops growing here: 64 KiB is about what one sendmsg moves into
  /// a loopback/LAN socket buffer at once, so bigger segments buy nothing.
  static constexpr std::size_t segment_capacity = 64 * 1024;
  /// Linux's IOV_MAX; sendmsg refuses more.
  static constexpr std::size_t max_iovecs = 1024;
  /// A batch stops taking segments once it holds this many bytes (one segment
  /// always goes, so a single large frame is a batch of its own). Control
  /// frames (heartbeats) can only go out between batches, so this bounds how
  /// long a heartbeat waits behind user data: one batch, instead of up to
  /// max_iovecs x 64 KiB = 64 MiB drained at the reader's pace. 256 KiB is
  /// ~4x what one sendmsg moves into a loopback socket buffer. Small frames
  /// never reach it: bench/remote/remote_transport_bench (release, 2-core VM
  /// at load 13-17, 3 M frames of 56 B) batched 180-300 frames (10-17 KB)
  /// per sendmsg with or without it, one-way 4.56/1.87/1.88 M msg/s with
  /// it against 1.60/1.83/1.39 without (noise from the load dominates).
  static constexpr std::size_t max_batch_bytes = 256 * 1024;

  send_queue() = default;
  send_queue(const send_queue&) = delete;
  send_queue& operator=(const send_queue&) = delete;
  ~send_queue();

  /// A loop-made frame (handshake, heartbeat) sent ahead of queued user frames.
  void push_control(std::span<const std::byte> bytes);
  /// A loop-made frame that must follow the user frames queued so far (close).
  void push_control_after_user(std::span<const std::byte> bytes);
  /// A user frame; takes the item (released at once if copied).
  void push_user(outbound_item* item);
  /// The same, releasing a copied item through `releaser` (the loop's drain).
  void push_user(outbound_item* item, item_releaser& releaser);

  bool in_flight() const noexcept { return !iov_.empty(); }
  bool has_control() const noexcept { return !control_.empty(); }
  bool has_user() const noexcept { return !queue_.empty(); }

  /// The next sendmsg (control first, then user segments when `allow_user`),
  /// or nullptr when there is nothing to send.
  msghdr* prepare(bool allow_user);
  /// Accounts `n` written bytes. Returns true when the whole batch went out,
  /// false when msg() now describes the rest to resubmit.
  bool complete(std::size_t n);
  msghdr* msg() noexcept { return &msg_; }
  /// User frames/bytes finished by the last complete() that returned true.
  std::size_t done_frames() const noexcept { return done_frames_; }
  std::size_t done_bytes() const noexcept { return done_bytes_; }

  /// Drops what is queued (not in flight); calls `each` per user frame.
  void drop_queued(const std::function<void(const frame&)>& each, std::size_t& frames,
                   std::size_t& bytes);
  /// Moves the queued user frames (not the batch in flight) behind `to`'s,
  /// in order: the connection they were queued on lost to another one
  /// between the same two nodes (PROTOCOL.md §6.6).
  void move_queued_to(send_queue& to, std::size_t& frames, std::size_t& bytes);
  /// Forgets the in-flight batch (its connection is gone); counts its user frames.
  void abandon_in_flight(std::size_t& frames, std::size_t& bytes);
  /// What is left of a sendmsg that failed (or will never be resubmitted):
  /// its user frames, split at the bytes complete() accounted. A frame with
  /// a byte written may have reached the peer (`unknown`); one with none
  /// was never written and goes to `each` (`unwritten`: a dead letter).
  struct split {
    std::size_t unknown_frames = 0, unknown_bytes = 0;
    std::size_t unwritten_frames = 0, unwritten_bytes = 0;
  };
  split fail_in_flight(const std::function<void(const frame&)>& each);
  /// Clears control bytes (a new socket starts a new handshake).
  void clear_control() noexcept { control_.clear(); }

 private:
  struct segment {
    segment_bytes bytes;            // coalesced frames, or empty
    outbound_item* item = nullptr;  // one large frame sent in place
    std::size_t frames = 0;         // user frames inside (control frames count 0)
    std::size_t user_bytes = 0;
    std::span<const std::byte> view() const noexcept { return item ? item->bytes() : bytes.view(); }
  };
  segment fresh_segment();
  void release(segment& s) noexcept;
  /// The batch in flight is done with (its segments released): no batch.
  void forget_batch() noexcept;

  std::vector<std::byte> control_;
  std::vector<std::byte> control_in_flight_;
  std::deque<segment> queue_;
  std::vector<segment> in_flight_;
  std::vector<iovec> iov_;
  std::size_t iov_at_ = 0;
  std::size_t written_ = 0;  // bytes of the batch in flight that complete() accounted
  msghdr msg_{};
  std::size_t done_frames_ = 0;
  std::size_t done_bytes_ = 0;
  /// Recycled segment buffers, at most two batches' worth (8 of 64 KiB):
  /// one batch in flight and the next filling then allocate nothing.
  static constexpr std::size_t max_spare_segments = 2 * max_batch_bytes / segment_capacity;
  std::vector<segment_bytes> spare_;
};

/// A TLS connection's encryption and the ciphertext it writes (loop thread).
///
/// The send_queue still decides what goes out and counts frames; with TLS the
/// iovecs that prepare() gathers are encrypted into `cipher` instead of being
/// handed to sendmsg, and sendmsg writes `cipher` (short writes resume at
/// `written`). The batch's frames complete, exactly as on the plaintext path,
/// when the last ciphertext byte of the batch is written; a loss before that
/// leaves them in the send_queue's in-flight batch, counted fate unknown.
struct tls_link {
  tls_link(const tls_context& ctx, tls_session::role r) : session(ctx, r) {}

  tls_session session;
  std::vector<std::byte> cipher;  ///< ciphertext being written
  std::size_t written = 0;        ///< of cipher, already taken by the kernel
  std::size_t batch_plain = 0;    ///< plaintext bytes of the send_queue batch in cipher; 0: none
  bool writing = false;           ///< a sendmsg over cipher is in the kernel
  std::vector<std::byte> plain;   ///< decrypted bytes, reused per receive
  iovec iov{};
  msghdr msg{};

  bool unwritten() const noexcept { return written < cipher.size(); }
};

/// Whether a peer's first bytes open a TLS record: content type 22
/// (handshake) or 21 (alert), then major version 3. That takes two bytes,
/// and a first receive may carry one: the verdict waits for the second.
/// (No volley frame starts so: its length would be >= 0x0315 = 789 bytes,
/// past the 512-byte pre-login cap.)
struct record_sniffer {
  enum class verdict : std::uint8_t { undecided, tls_record, other };
  verdict seen = verdict::undecided;
  std::byte first{};
  bool have_first = false;

  bool undecided() const noexcept { return seen == verdict::undecided; }
  /// Looks at the start of a receive (bytes the caller still processes).
  verdict take(std::span<const std::byte> bytes) noexcept {
    if (seen != verdict::undecided || bytes.empty()) return seen;
    std::size_t at = 0;
    if (!have_first) {
      first = bytes[0];
      have_first = true;
      at = 1;
    }
    if (first != std::byte{0x16} && first != std::byte{0x15}) return seen = verdict::other;
    if (at == bytes.size()) return seen;  // one byte so far
    return seen = bytes[at] == std::byte{0x03} ? verdict::tls_record : verdict::other;
  }
};

/// folded: an outbound connection that lost to another one to the same node
/// (PROTOCOL.md §6.6); no socket, its frames go to the one kept, and it
/// reconnects (backoff) when that one goes down.
enum class conn_state : std::uint8_t {
  backoff,
  connecting,
  handshaking,
  established,
  closing,
  folded
};

struct connection {
  using clock = std::chrono::steady_clock;

  connection_id id = 0;
  bool outbound = false;
  int fd = -1;
  conn_state state = conn_state::backoff;
  peer_info peer;
  sockaddr_storage addr{};  // outbound: where to connect
  socklen_t addr_len = 0;
  std::shared_ptr<link_shared> shared;

  frame_decoder decoder;
  std::optional<handshake> hs;
  phi_accrual_detector detector;
  send_queue out;
  std::unique_ptr<tls_link> tls;  // TLS on (chosen once per connection)
  record_sniffer sniff;           // the peer's first bytes: TLS or not (reset per socket)

  int ops = 0;  // SQEs in flight that name this connection (recv counts while armed)
  bool recv_armed = false;
  bool dirty = false;                // on the loop's flush list
  bool lingering = false;            // closing, but a reject/close frame is still being written
  bool given_up = false;             // disconnect(): do not reconnect
  bool flush_user_on_close = false;  // disconnect(): write queued frames, then the close frame
  bool send_stalled = false;         // a short write's rest waits for flush_dirty to resubmit
  bool merged = false;               // lost to another connection: closes without on_down
  /// When this side reached the handshake's gate (0: not yet); the peer's
  /// name and incarnation are known from then on (peer.name, peer.incarnation).
  std::uint64_t gate_order = 0;
  connection_id kept_instead = 0;  // the connection the gate refused this one for
  /// An established loser retired for `drain_for` (PROTOCOL.md §6.6.2):
  /// closing, its own close frame written or being written, but still read
  /// until the peer's close frame (or its end, or close_linger with nothing
  /// moving on it, or `drain_until`), so that what the peer wrote on it
  /// before it gave way is handled, not cut off.
  bool draining = false;
  connection_id drain_for = 0;
  /// The drain's whole bound (transport_association.cpp, max_drain_lingers):
  /// traffic on the loser extends its idle deadline, never past this.
  clock::time_point drain_until{};
  /// A winner: losers still draining for it. Until none is, it is not read
  /// (`recv_paused`: TCP pushes back on its sender), and the user frames that
  /// were already on their way wait in `held_inbound` (re-encoded), behind
  /// the losers' own.
  int drains_pending = 0;
  bool recv_paused = false;
  std::vector<std::byte> held_inbound;
  /// The peer's incarnation when this connection was last up (0: never):
  /// a reconnect that reaches another one drops what was queued meanwhile.
  std::uint64_t up_incarnation = 0;
  /// Frames stamped with an epoch below this were meant for an incarnation
  /// that is gone (0: none so far).
  std::uint32_t stale_epochs_below = 0;
  close_reason reason = close_reason::local_close;  // why it is closing
  /// The lingering close (transport_connection.cpp): once our last bytes
  /// are written, how long the socket is still read, after our FIN, for the
  /// peer's (0: not at all, it is closed at once). Set by close().
  std::chrono::milliseconds linger_for{0};
  /// In it now: our FIN is sent and the peer's bytes are read and dropped
  /// until its end of stream or `deadline`, so that closing the socket
  /// finds no unread input and sends no reset.
  bool discarding = false;
  /// What is dropped meanwhile is decoded and its user frames counted
  /// (transport_stats::frames_discarded): the connection was up.
  bool counts_discards = false;
  bool peer_eof = false;  ///< the peer's end of stream was read: nothing is left to linger for
  /// A frame closed the connection (the peer's close, a violation) and the
  /// frames behind it are still decoded, to be counted discarded
  /// (decode_frames); `past_close_logged`: that was logged, once.
  bool closed_by_frame = false;
  bool past_close_logged = false;
  /// Inbound, closing and still counted in inbound_open_ until its socket
  /// is closed (a lingering close holds an fd as long as a live one).
  bool open_past_close = false;

  clock::time_point deadline{};  // handshake/connect or linger deadline
  clock::time_point next_heartbeat{};
  clock::time_point last_heartbeat_at{};  // fed to the detector
  clock::time_point last_frame_at{};      // any frame: a sign of life too
  clock::time_point reconnect_at{};
  std::chrono::milliseconds backoff{0};

  connection(frame_limits limits, phi_config phi) : decoder(limits), detector(phi) {}
};

}  // namespace volley::remote::detail
