// volley/remote/wire.hpp — the vocabulary of volley's wire protocol.
//
// What a frame is (kinds, flags, header layout, limits) and a non-owning view
// of one decoded frame. Use it with frame_codec.hpp to turn frames into bytes
// and back; remote/PROTOCOL.md is the normative description, this header
// mirrors it. Nothing here does I/O or knows about actors: a target is a path
// or an interned id, a sender is a node name plus a path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace volley::remote {

/// Protocol version carried in the handshake. Bumped when a frame kind,
/// flag or body layout changes; peers of different versions reject each other.
/// 2: proofs bound to role and transcript, acceptor proves last (PROTOCOL.md §6.1).
/// 3: one association per node pair, arbitrated at the handshake's gate (§6.6).
inline constexpr std::uint16_t protocol_version = 3;

/// First four bytes of every hello/challenge body ("VOLY" read as little-endian u32),
/// so a volley node that reaches something else fails fast with a clear reason.
inline constexpr std::uint32_t protocol_magic = 0x594C4F56;

/// Size of the fixed frame header; the variable sections follow it.
inline constexpr std::size_t header_size = 32;

/// Default cap on a whole frame. 1 MiB bounds what one peer can make us buffer
/// for a single frame while leaving room for any reasonable message; a node
/// that needs bigger messages raises it on both sides.
inline constexpr std::size_t default_max_frame_size = std::size_t{1} << 20;

/// Longest actor path accepted. Akka-style paths rarely exceed ~200 bytes;
/// 1 KiB leaves headroom while keeping a path small enough to copy freely.
inline constexpr std::size_t default_max_path_length = 1024;

/// Longest node name (fits the u8-sized budget of common host names + port).
inline constexpr std::size_t max_node_name_length = 255;

/// Bytes of a handshake nonce and of an HMAC-SHA256 tag.
inline constexpr std::size_t nonce_size = 32;
inline constexpr std::size_t mac_size = 32;

/// Longest reason text volley puts in a reject or close body (after the
/// 2-byte code): enough for a cause and a figure, short enough for a log line.
inline constexpr std::size_t max_reason_text = 200;
/// Largest handshake body a peer may send: a reject's code and longest text
/// (202), which is above a challenge's introduction and proof (80 today).
/// A new handshake body must stay within it (see pre_login_max_frame_size).
inline constexpr std::size_t max_handshake_body = 2 + max_reason_text;
/// Largest legal frame before the handshake completes: a header, the longest
/// node name in the sender-node section, the largest handshake body (489).
inline constexpr std::size_t max_handshake_frame_size =
    header_size + max_node_name_length + max_handshake_body;
/// Frame cap until the handshake completes (PROTOCOL.md §4): nothing a peer
/// legally sends before it proves the secret is bigger than
/// max_handshake_frame_size, so an unauthenticated peer can make us buffer at
/// most this much per connection instead of max_frame_size (1 MiB). 512: the
/// next power of two, 23 bytes of headroom for a handshake body that grows.
inline constexpr std::size_t pre_login_max_frame_size = 512;
static_assert(max_handshake_frame_size <= pre_login_max_frame_size,
              "the pre-login frame cap must admit every legal handshake frame");

/// What a frame is for. Values are wire values; 0 is never valid.
enum class frame_kind : std::uint8_t {
  hello = 1,         ///< initiator -> acceptor: version, incarnation, name, nonce
  challenge = 2,     ///< acceptor -> initiator: same + proof of the secret
  response = 3,      ///< initiator -> acceptor: proof of the secret
  accept = 4,        ///< acceptor -> initiator: handshake done
  reject = 5,        ///< either way: handshake refused, reason inside; then close
  heartbeat = 6,     ///< either way, every heartbeat interval
  message = 7,       ///< a tell: target, optional sender, type marker, payload
  ask_request = 8,   ///< like message, with a correlation id awaiting a reply
  ask_reply = 9,     ///< answer to ask_request (same correlation id)
  ask_failure = 10,  ///< ask_request failed; payload is UTF-8 text
  watch = 11,        ///< sender path watches target path
  unwatch = 12,      ///< sender path stops watching target path
  terminated = 13,   ///< sender path (watched) stopped; target is the watcher
  close = 14,        ///< orderly close, reason inside
};
inline constexpr std::uint8_t max_frame_kind = 14;

/// Header flag bits. Unknown bits must be zero (a receiver rejects them).
inline constexpr std::uint8_t flag_target_id = 0x01;  ///< target section is a u64 interned id
inline constexpr std::uint8_t known_flags = flag_target_id;

/// Why a byte stream was refused by the decoder.
enum class decode_error : std::uint8_t {
  none = 0,
  oversized,          ///< length field above the configured maximum
  malformed_header,   ///< length below header size, reserved/flag bits set, section not allowed for
                      ///< the kind
  unknown_kind,       ///< kind byte outside 1..max_frame_kind
  truncated_payload,  ///< sections do not fit in the frame, or the stream ended inside a frame
  bad_path,           ///< target/sender path or node name not in the allowed alphabet/length
};

/// Human-readable name of a decode error, for logs.
std::string_view to_string(decode_error e) noexcept;
/// Human-readable name of a frame kind ("unknown" for invalid values).
std::string_view to_string(frame_kind k) noexcept;

/// Limits a receiver enforces. Both sides should agree; the receiver's wins.
struct frame_limits {
  std::size_t max_frame_size = default_max_frame_size;
  std::size_t max_path_length = default_max_path_length;
};

/// A frame as fields. Non-owning: the views point into a decoder's buffer (valid
/// only during the callback that received it) or into the caller's data when
/// encoding. Fields unused by a kind stay empty/zero.
struct frame {
  frame_kind kind = frame_kind::message;
  std::uint8_t flags = 0;
  std::string_view target_path;  ///< used when !(flags & flag_target_id); may be empty
  std::uint64_t target_id = 0;   ///< used when flags & flag_target_id
  std::string_view sender_node;  ///< empty: the peer that sent the frame
  std::string_view sender_path;  ///< empty: no sender
  std::uint64_t type_marker = 0;
  std::uint64_t correlation_id = 0;
  std::span<const std::byte> payload;
};

// -- little-endian helpers (the wire is little-endian whatever the host) -------

namespace detail {
// memcpy plus a byte swap on big-endian hosts only: GCC 12 at -O2 kept the
// byte-at-a-time loops these replaced as loops, and parse_frame, which runs
// them five times per frame, was 15-17% of the receiving loop's one-way
// profile (perf annotate, bench/remote/remote_transport_bench); now each is
// one load or store.
template <class T>
inline T little_endian(T v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return __builtin_bswap16(v);
  } else if constexpr (sizeof(T) == 4) {
    return __builtin_bswap32(v);
  } else {
    return __builtin_bswap64(v);
  }
}
template <class T>
inline void store_le(std::byte* p, T v) noexcept {
  v = little_endian(v);
  std::memcpy(p, &v, sizeof v);
}
template <class T>
inline T load_le(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return little_endian(v);
}
inline void store_u16(std::byte* p, std::uint16_t v) noexcept {
  store_le(p, v);
}
inline void store_u32(std::byte* p, std::uint32_t v) noexcept {
  store_le(p, v);
}
inline void store_u64(std::byte* p, std::uint64_t v) noexcept {
  store_le(p, v);
}
inline std::uint16_t load_u16(const std::byte* p) noexcept {
  return load_le<std::uint16_t>(p);
}
inline std::uint32_t load_u32(const std::byte* p) noexcept {
  return load_le<std::uint32_t>(p);
}
inline std::uint64_t load_u64(const std::byte* p) noexcept {
  return load_le<std::uint64_t>(p);
}
}  // namespace detail

}  // namespace volley::remote
