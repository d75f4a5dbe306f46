// volley/remote/frame_codec.hpp — frames to bytes and bytes to frames.
//
// Use `encode` to write one frame into a caller buffer (size it with
// `encoded_size`), and a `frame_decoder` per connection to turn a TCP byte
// stream, delivered in chunks split anywhere, back into frames. The decoder
// never trusts its input: every length is checked against the limits before
// anything is read or allocated, and the first error stops the stream for good
// (a byte stream cannot be resynchronised once a length is wrong). It never
// crashes on any input; a fuzz target (remote/fuzz) and a corpus test hold it
// to that.
//
// Zero copy on the common path: a frame that lies entirely inside a chunk is
// handed to the callback as views into that chunk; only a frame split across
// chunks is assembled in the decoder's own buffer. Either way the views live
// only during the callback.
#pragma once

#include <volley/remote/wire.hpp>

#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

namespace volley::remote {

/// Bytes `f` takes on the wire.
std::size_t encoded_size(const frame& f) noexcept;

/// Checks what a receiver would check (paths, node name, flag use, size) before
/// a frame is sent, so a bad frame is refused at the sender instead of closing
/// the connection at the receiver.
decode_error validate(const frame& f, const frame_limits& limits = {}) noexcept;

/// validate(), also giving the frame's encoded_size() in `size` when valid:
/// a sender that validates, sizes and encodes each frame computes it once.
decode_error validate(const frame& f, const frame_limits& limits, std::size_t& size) noexcept;

/// Who checks a frame's target and sender paths: validate() on every frame,
/// or the sender itself, once for many frames, against the same limits (a
/// node checks a proxy's path when it makes the proxy and a sender's path
/// once per sending thread). Checking both paths of every frame again was
/// ~1.4% of the one-way profile (bench/remote/remote_bench, the sending thread).
enum class path_check : std::uint8_t { each_frame, done_by_sender };

namespace detail {
/// validate() of every frame but the proxy's tells and asks below.
decode_error validate_any(const frame& f, const frame_limits& limits, std::size_t& size,
                          path_check paths) noexcept;
}  // namespace detail

/// validate(), leaving the paths out when `paths` is done_by_sender. A path
/// the sender did not check is refused by the receiver, which closes the
/// connection (bad_path): pass done_by_sender only for paths checked with
/// valid_path() against these limits.
inline decode_error validate(const frame& f, const frame_limits& limits, std::size_t& size,
                             path_check paths) noexcept {
  // A proxy's tell or ask (node_core::send_message): its paths were checked
  // by the sender, it has no flags and no sender node, and its kind takes
  // a target and a sender path, so of the other checks only the size can
  // fail. Every message of a stream comes this way: the rule table and the
  // node-name branch were ~25 instructions a message, and the call to this
  // case ~15 more (callgrind, remote_bench one-way, the sending thread).
  if (paths == path_check::done_by_sender && f.flags == 0 && f.sender_node.empty() &&
      (f.kind == frame_kind::message || f.kind == frame_kind::ask_request)) {
    // One compare for both 16-bit length fields (a limit may allow more).
    if ((f.target_path.size() | f.sender_path.size()) > 0xffff) return decode_error::bad_path;
    std::size_t total =
        header_size + f.target_path.size() + f.sender_path.size() + f.payload.size();
    if (total > limits.max_frame_size || total > 0xffffffffu) return decode_error::oversized;
    size = total;
    return decode_error::none;
  }
  return detail::validate_any(f, limits, size, paths);
}

/// Whether `p` is a path a frame may carry (PROTOCOL.md: '/' first, 1 to
/// `max_len` bytes of printable ASCII, no space).
bool valid_path(std::string_view p, std::size_t max_len) noexcept;

/// Writes `f` into `out`. Returns the bytes written, or 0 when `out` is too small
/// (nothing meaningful is written then). Does not validate; call validate().
std::size_t encode(const frame& f, std::span<std::byte> out) noexcept;

/// Writes `f` into `out`, which must be exactly encoded_size(f) bytes (the
/// size validate() gave). Does not validate.
void encode_exact(const frame& f, std::span<std::byte> out) noexcept;

/// Appends the encoding of `f` to `out`.
void encode_append(const frame& f, std::vector<std::byte>& out);

/// Result of parsing one complete frame from a buffer.
struct parse_result {
  decode_error error = decode_error::none;
  std::size_t consumed = 0;  ///< bytes of the frame; 0 when more bytes are needed
  frame value;
};

/// Parses the frame at the start of `bytes`. `consumed == 0` and no error means
/// the buffer holds only part of a frame. Views in `value` point into `bytes`.
parse_result parse_frame(std::span<const std::byte> bytes,
                         const frame_limits& limits = {}) noexcept;

/// The frame at the start of `bytes` when it is like the one before it:
/// `previous` points at the bytes of a frame that parse_frame() (or this
/// function) accepted, under any limits, and `f` holds that frame. When the
/// next frame's kind, flags, section lengths and section bytes (target,
/// sender node, sender path) are those of `previous`, and it is whole and
/// within `limits`, `f` becomes it (its views into `bytes`) and its size is
/// returned: parse_frame() would accept it and give the same frame. Else 0,
/// `f` untouched: parse it with parse_frame(), which gives the verdict.
/// The checks of those bytes are not made again: a stream of tells to one
/// actor is such frames one after another, and parse_frame with its path
/// scan took 160 of the receiving loop's ~620 instructions per message;
/// this takes 80 (callgrind, remote_bench one-way).
std::size_t parse_frame_like(std::span<const std::byte> bytes, const std::byte* previous, frame& f,
                             const frame_limits& limits = {}) noexcept;

/// Incremental decoder for one connection's byte stream.
class frame_decoder {
 public:
  explicit frame_decoder(frame_limits limits = {}) : limits_(limits) {}

  /// Feeds a chunk; calls `on_frame(const frame&)` for each complete frame, in
  /// order. Returns the first error met (decode_error::none if all was well).
  /// After an error the decoder stays failed and ignores further input.
  /// `on_frame` may return void, or bool where false stops decoding (the rest of
  /// the chunk is dropped and the decoder is left stopped: the caller is closing).
  /// It may take `(const frame&, bool like_previous)`: `like_previous` is true
  /// when this frame's kind, flags and sections (target, sender node, sender
  /// path) are the bytes of the frame handed over by the call just before, in
  /// this same feed() (parse_frame_like); false for the first frame of a
  /// chunk and for a frame assembled across chunks. What the caller did with
  /// that previous frame the decoder does not know: a caller that skips a
  /// check on the strength of this hint must know that the previous call
  /// passed it (see transport_handler::on_frame_like_previous).
  template <class OnFrame>
  decode_error feed(std::span<const std::byte> chunk, OnFrame&& on_frame);

  /// Call when the stream ended: reports truncated_payload if a frame was cut.
  decode_error finish() noexcept {
    if (error_ == decode_error::none && !partial_.empty()) error_ = decode_error::truncated_payload;
    return error_;
  }

  decode_error error() const noexcept { return error_; }
  /// Bytes of an incomplete frame currently held.
  std::size_t buffered() const noexcept { return partial_.size(); }
  const frame_limits& limits() const noexcept { return limits_; }
  /// Limits for the frames after the one being delivered: callable from the
  /// on_frame callback, e.g. to lift the pre-login cap once the handshake is
  /// done (the next frame of the same chunk already gets the new limits).
  void set_limits(frame_limits limits) noexcept { limits_ = limits; }

 private:
  template <class OnFrame>
  bool deliver(const frame& f, bool like_previous, OnFrame& on_frame);
  /// How many more bytes the partial frame needs (its header, once complete,
  /// has already passed parse_frame, so the length field is trusted).
  std::size_t wanted() const noexcept {
    if (partial_.size() < header_size) return header_size - partial_.size();
    return detail::load_u32(partial_.data()) - partial_.size();
  }

  frame_limits limits_;
  std::vector<std::byte> partial_;
  decode_error error_ = decode_error::none;
  bool stopped_ = false;
};

// -- implementation -------------------------------------------------------------

template <class OnFrame>
bool frame_decoder::deliver(const frame& f, bool like_previous, OnFrame& on_frame) {
  auto call = [&] {
    if constexpr (std::is_invocable_v<OnFrame&, const frame&, bool>) {
      return on_frame(f, like_previous);
    } else {
      return on_frame(f);
    }
  };
  if constexpr (std::is_same_v<decltype(call()), bool>) {
    if (!call()) {
      stopped_ = true;
      return false;
    }
  } else {
    call();
  }
  return true;
}

template <class OnFrame>
decode_error frame_decoder::feed(std::span<const std::byte> chunk, OnFrame&& on_frame) {
  if (error_ != decode_error::none || stopped_) return error_;
  // Finish a frame split across chunks first: copy only what it still needs.
  while (!partial_.empty() && !chunk.empty()) {
    std::size_t need = wanted();
    std::size_t take = need < chunk.size() ? need : chunk.size();
    partial_.insert(partial_.end(), chunk.begin(),
                    chunk.begin() + static_cast<std::ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (take < need) return error_;  // chunk exhausted, still partial
    if (partial_.size() < header_size) continue;
    parse_result r = parse_frame(partial_, limits_);
    if (r.error != decode_error::none) return error_ = r.error;
    if (r.consumed == 0) {  // header complete and valid, body still missing
      partial_.reserve(detail::load_u32(partial_.data()));
      continue;
    }
    bool go_on = deliver(r.value, false, on_frame);
    partial_.clear();
    if (!go_on) return error_;
  }
  // Then parse whole frames straight out of the chunk; a frame like the one
  // before it updates that one in place (parse_frame_like: the chunk's bytes
  // stay put meanwhile).
  const std::byte* previous = nullptr;
  parse_result r;
  while (!chunk.empty()) {
    std::size_t consumed =
        previous != nullptr ? parse_frame_like(chunk, previous, r.value, limits_) : 0;
    bool like_previous = consumed != 0;
    if (consumed == 0) {
      r = parse_frame(chunk, limits_);
      if (r.error != decode_error::none) return error_ = r.error;
      if (r.consumed == 0) {
        partial_.assign(chunk.begin(), chunk.end());
        return error_;
      }
      consumed = r.consumed;
    }
    if (!deliver(r.value, like_previous, on_frame)) return error_;
    previous = chunk.data();
    chunk = chunk.subspan(consumed);
  }
  return error_;
}

}  // namespace volley::remote
