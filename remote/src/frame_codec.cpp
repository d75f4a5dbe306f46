// Frame encoding and parsing. The header layout is in PROTOCOL.md; the offsets
// below are the only place that knows it.
#include <volley/remote/frame_codec.hpp>

#include <cstdint>
#include <cstring>

namespace volley::remote {

namespace {

// Header offsets (PROTOCOL.md, "Frame header").
constexpr std::size_t off_length = 0;
constexpr std::size_t off_kind = 4;
constexpr std::size_t off_flags = 5;
constexpr std::size_t off_target_len = 6;
constexpr std::size_t off_sender_node_len = 8;
constexpr std::size_t off_sender_path_len = 10;
constexpr std::size_t off_reserved = 12;
constexpr std::size_t off_type_marker = 16;
constexpr std::size_t off_correlation = 24;
static_assert(off_correlation + 8 == header_size);

// Which sections a kind may carry. Handshake, heartbeat and close frames talk
// about the connection, not about actors, so they carry no target or sender path.
struct kind_rules {
  bool target_allowed;
  bool sender_path_allowed;
  bool sender_node_required;
};
constexpr kind_rules rules_for(frame_kind k) noexcept {
  switch (k) {
    case frame_kind::hello:
    case frame_kind::challenge:
      return {false, false, true};
    case frame_kind::response:
    case frame_kind::accept:
    case frame_kind::reject:
    case frame_kind::heartbeat:
    case frame_kind::close:
      return {false, false, false};
    default:
      return {true, true, false};
  }
}

/// The top bit of each byte of `x` that is not printable ASCII (below 0x21
/// or above 0x7e), and maybe of bytes above such a byte (a borrow or a
/// carry runs on from it); zero exactly when all eight bytes are printable.
/// Below 0x21: x - 0x21 borrows into the top bit of a byte whose own top bit
/// is clear. Above 0x7e: x + 1 reaches 0x80 from 0x7f, and `| x` keeps the
/// top bit of bytes at 0x80 and above (0xff's carry out is then harmless).
constexpr std::uint64_t unprintable_bytes(std::uint64_t x) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t tops = ones * 0x80;
  return (((x - ones * 0x21) & ~x) | (x + ones * (0x7f - 0x7e)) | x) & tops;
}
static_assert(unprintable_bytes(0x2121212121212121ull) == 0);
static_assert(unprintable_bytes(0x7e7e7e7e7e7e7e7eull) == 0);
static_assert(unprintable_bytes(0x2121212121212120ull) != 0);
static_assert(unprintable_bytes(0x7f21212121212121ull) != 0);
static_assert(unprintable_bytes(0x21212121ff212121ull) != 0);

}  // namespace

bool valid_path(std::string_view p, std::size_t max_len) noexcept {
  if (p.empty() || p.size() > max_len || p.front() != '/') return false;
  // Printable ASCII, no space: both ends check every frame's paths, and
  // valid is the common case. Eight bytes a step; a path of 8 or more ends
  // with an 8-byte load that overlaps the previous one. The byte loop this
  // replaced was 45% of parse_frame (4.4% of the one-way profile, B's loop,
  // a 14-char target path): GCC kept it a loop of 8 instructions per byte.
  const auto* s = reinterpret_cast<const std::byte*>(p.data());
  std::size_t n = p.size();
  if (n < 8) {
    unsigned bad = 0;
    for (std::size_t i = 0; i < n; ++i)
      bad |= std::to_integer<unsigned>(s[i]) - 0x21u > 0x7eu - 0x21u;  // wraps below 0x21
    return bad == 0;
  }
  std::uint64_t bad = unprintable_bytes(detail::load_u64(s + n - 8));
  for (std::size_t i = 0; i + 8 < n; i += 8) bad |= unprintable_bytes(detail::load_u64(s + i));
  return bad == 0;
}

namespace {

bool valid_node_name(std::string_view n) noexcept {
  if (n.empty() || n.size() > max_node_name_length) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return true;
}

/// memcpy for a frame's sections, which are mostly short (a path of 8 to
/// 32 chars, a 16-byte message): word moves that overlap, two for 8 to 16
/// bytes, four for 17 to 32, two of half a word for 4 to 7, no call;
/// longer or shorter ones take memcpy. The three memcpy calls of a one-way
/// message frame were ~40 instructions of encode_exact's ~75 (callgrind,
/// remote_bench one-way); its 20-char target path still took a memcpy call
/// (~47 instructions) until the 17 to 32 case.
inline void copy_section(std::byte* to, const void* from, std::size_t n) noexcept {
  const auto* src = static_cast<const std::byte*>(from);
  auto move_words = [&](auto... at) {  // all read before any is written
    std::uint64_t w[sizeof...(at)];
    std::size_t i = 0;
    ((std::memcpy(&w[i++], src + at, 8)), ...);
    i = 0;
    ((std::memcpy(to + at, &w[i++], 8)), ...);
  };
  if (n >= 8 && n <= 16) {
    move_words(std::size_t{0}, n - 8);
  } else if (n > 16 && n <= 32) {
    move_words(std::size_t{0}, std::size_t{8}, n - 16, n - 8);
  } else if (n >= 4 && n < 8) {
    std::uint32_t head, tail;
    std::memcpy(&head, src, 4);
    std::memcpy(&tail, src + n - 4, 4);
    std::memcpy(to, &head, 4);
    std::memcpy(to + n - 4, &tail, 4);
  } else if (n != 0) {
    std::memcpy(to, src, n);
  }
}

std::string_view as_chars(const std::byte* p, std::size_t n) noexcept {
  return {reinterpret_cast<const char*>(p), n};
}

std::size_t target_len(const frame& f) noexcept {
  return (f.flags & flag_target_id) ? 8 : f.target_path.size();
}

// Checks shared by validate() (sender side) and parse_frame() (receiver side)
// once the sections are known.
decode_error check_sections(const frame& f, std::size_t total, const frame_limits& limits,
                            path_check paths = path_check::each_frame) noexcept {
  auto raw_kind = static_cast<std::uint8_t>(f.kind);
  if (raw_kind == 0 || raw_kind > max_frame_kind) return decode_error::unknown_kind;
  if (f.flags & ~known_flags) return decode_error::malformed_header;
  if (total > limits.max_frame_size) return decode_error::oversized;
  kind_rules rules = rules_for(f.kind);
  bool has_target = (f.flags & flag_target_id) || !f.target_path.empty();
  if (has_target && !rules.target_allowed) return decode_error::malformed_header;
  if (!f.sender_path.empty() && !rules.sender_path_allowed) return decode_error::malformed_header;
  if (rules.sender_node_required && f.sender_node.empty()) return decode_error::malformed_header;
  if (paths == path_check::each_frame) {
    if (!(f.flags & flag_target_id) && !f.target_path.empty() &&
        !valid_path(f.target_path, limits.max_path_length))
      return decode_error::bad_path;
    if (!f.sender_path.empty() && !valid_path(f.sender_path, limits.max_path_length))
      return decode_error::bad_path;
  }
  if (!f.sender_node.empty() && !valid_node_name(f.sender_node)) return decode_error::bad_path;
  return decode_error::none;
}

}  // namespace

std::string_view to_string(decode_error e) noexcept {
  switch (e) {
    case decode_error::none:
      return "none";
    case decode_error::oversized:
      return "oversized frame";
    case decode_error::malformed_header:
      return "malformed header";
    case decode_error::unknown_kind:
      return "unknown frame kind";
    case decode_error::truncated_payload:
      return "truncated payload";
    case decode_error::bad_path:
      return "bad path";
  }
  return "unknown decode error";
}

std::string_view to_string(frame_kind k) noexcept {
  switch (k) {
    case frame_kind::hello:
      return "hello";
    case frame_kind::challenge:
      return "challenge";
    case frame_kind::response:
      return "response";
    case frame_kind::accept:
      return "accept";
    case frame_kind::reject:
      return "reject";
    case frame_kind::heartbeat:
      return "heartbeat";
    case frame_kind::message:
      return "message";
    case frame_kind::ask_request:
      return "ask_request";
    case frame_kind::ask_reply:
      return "ask_reply";
    case frame_kind::ask_failure:
      return "ask_failure";
    case frame_kind::watch:
      return "watch";
    case frame_kind::unwatch:
      return "unwatch";
    case frame_kind::terminated:
      return "terminated";
    case frame_kind::close:
      return "close";
  }
  return "unknown";
}

std::size_t encoded_size(const frame& f) noexcept {
  return header_size + target_len(f) + f.sender_node.size() + f.sender_path.size() +
         f.payload.size();
}

decode_error detail::validate_any(const frame& f, const frame_limits& limits, std::size_t& size,
                                  path_check paths) noexcept {
  if (f.target_path.size() > 0xffff || f.sender_node.size() > 0xffff ||
      f.sender_path.size() > 0xffff)
    return decode_error::bad_path;
  std::size_t total = header_size + target_len(f) + f.sender_node.size() + f.sender_path.size() +
                      f.payload.size();  // encoded_size, without the call
  if (total > 0xffffffffu) return decode_error::oversized;
  size = total;
  return check_sections(f, total, limits, paths);
}

decode_error validate(const frame& f, const frame_limits& limits, std::size_t& size) noexcept {
  return validate(f, limits, size, path_check::each_frame);
}

decode_error validate(const frame& f, const frame_limits& limits) noexcept {
  std::size_t size = 0;
  return validate(f, limits, size);
}

std::size_t encode(const frame& f, std::span<std::byte> out) noexcept {
  std::size_t total = encoded_size(f);
  if (out.size() < total) return 0;
  encode_exact(f, out.first(total));
  return total;
}

void encode_exact(const frame& f, std::span<std::byte> out) noexcept {
  std::size_t total = out.size();
  std::byte* p = out.data();
  std::size_t tlen = target_len(f);
  std::size_t nlen = f.sender_node.size();
  std::size_t slen = f.sender_path.size();
  // Field by field: the fields as two composed 64-bit words were 4
  // instructions a frame more (callgrind, remote_bench one-way).
  detail::store_u32(p + off_length, static_cast<std::uint32_t>(total));
  p[off_kind] = std::byte(static_cast<std::uint8_t>(f.kind));
  p[off_flags] = std::byte(f.flags);
  detail::store_u16(p + off_target_len, static_cast<std::uint16_t>(tlen));
  detail::store_u16(p + off_sender_node_len, static_cast<std::uint16_t>(nlen));
  detail::store_u16(p + off_sender_path_len, static_cast<std::uint16_t>(slen));
  detail::store_u32(p + off_reserved, 0);
  detail::store_u64(p + off_type_marker, f.type_marker);
  detail::store_u64(p + off_correlation, f.correlation_id);
  std::byte* q = p + header_size;
  if (f.flags & flag_target_id) {
    detail::store_u64(q, f.target_id);
  } else {
    copy_section(q, f.target_path.data(), tlen);
  }
  q += tlen;
  // Only handshake frames name a node: a tell skips the copy's size tests.
  if (nlen != 0) copy_section(q, f.sender_node.data(), nlen);
  q += nlen;
  copy_section(q, f.sender_path.data(), slen);
  q += slen;
  copy_section(q, f.payload.data(), f.payload.size());
}

void encode_append(const frame& f, std::vector<std::byte>& out) {
  std::size_t at = out.size();
  out.resize(at + encoded_size(f));
  encode(f, std::span<std::byte>(out).subspan(at));
}

namespace {
/// Points `f`'s target, sender and payload into the frame of `length`
/// bytes at `p`, whose header gave the section lengths and `f.flags`.
void point_sections(frame& f, const std::byte* p, std::size_t length, std::size_t tlen,
                    std::size_t nlen, std::size_t slen) noexcept {
  const std::byte* q = p + header_size;
  if (f.flags & flag_target_id) {
    f.target_id = detail::load_u64(q);
  } else {
    f.target_path = as_chars(q, tlen);
  }
  q += tlen;
  f.sender_node = as_chars(q, nlen);
  q += nlen;
  f.sender_path = as_chars(q, slen);
  q += slen;
  f.payload = {q, static_cast<std::size_t>(p + length - q)};
}
}  // namespace

parse_result parse_frame(std::span<const std::byte> bytes, const frame_limits& limits) noexcept {
  parse_result r;
  // Check the length as soon as it is there, so an oversized frame is refused
  // before anyone waits for (or buffers) its body.
  if (bytes.size() < 4) return r;
  const std::byte* p = bytes.data();
  std::size_t length = detail::load_u32(p + off_length);
  if (length > limits.max_frame_size) {
    r.error = decode_error::oversized;
    return r;
  }
  if (length < header_size) {
    r.error = decode_error::malformed_header;
    return r;
  }
  if (bytes.size() < header_size) return r;

  auto raw_kind = std::to_integer<std::uint8_t>(p[off_kind]);
  if (raw_kind == 0 || raw_kind > max_frame_kind) {
    r.error = decode_error::unknown_kind;
    return r;
  }
  frame& f = r.value;
  f.kind = static_cast<frame_kind>(raw_kind);
  f.flags = std::to_integer<std::uint8_t>(p[off_flags]);
  std::size_t tlen = detail::load_u16(p + off_target_len);
  std::size_t nlen = detail::load_u16(p + off_sender_node_len);
  std::size_t slen = detail::load_u16(p + off_sender_path_len);
  if ((f.flags & ~known_flags) || detail::load_u32(p + off_reserved) != 0 ||
      ((f.flags & flag_target_id) && tlen != 8)) {
    r.error = decode_error::malformed_header;
    return r;
  }
  if (header_size + tlen + nlen + slen > length) {
    r.error = decode_error::truncated_payload;
    return r;
  }
  if (bytes.size() < length) return r;  // header fine, body not all here yet

  f.type_marker = detail::load_u64(p + off_type_marker);
  f.correlation_id = detail::load_u64(p + off_correlation);
  point_sections(f, p, length, tlen, nlen, slen);
  r.error = check_sections(f, length, limits);
  if (r.error == decode_error::none) r.consumed = length;
  return r;
}

namespace {
/// Whether the `n` bytes at `a` and `b` are the same: a word at a time, the
/// last word overlapping the one before (as same_path in inbound.cpp); up
/// to 16 bytes (a short target path alone) in two words and no loop. No
/// call for fewer than 8 either: with the memcmp call that case made,
/// parse_frame_like saved and restored six registers on every frame.
bool same_bytes(const std::byte* a, const std::byte* b, std::size_t n) noexcept {
  if (n < 8) {
    if (n >= 4)
      return ((detail::load_u32(a) ^ detail::load_u32(b)) |
              (detail::load_u32(a + n - 4) ^ detail::load_u32(b + n - 4))) == 0;
    unsigned diff = 0;
    for (std::size_t i = 0; i < n; ++i) diff |= std::to_integer<unsigned>(a[i] ^ b[i]);
    return diff == 0;
  }
  std::uint64_t diff = (detail::load_u64(a) ^ detail::load_u64(b)) |
                       (detail::load_u64(a + n - 8) ^ detail::load_u64(b + n - 8));
  for (std::size_t i = 8; i + 8 < n; i += 8)
    diff |= detail::load_u64(a + i) ^ detail::load_u64(b + i);
  return diff == 0;
}
}  // namespace

std::size_t parse_frame_like(std::span<const std::byte> bytes, const std::byte* previous, frame& f,
                             const frame_limits& limits) noexcept {
  // Bytes 4..15 (kind, flags, the three section lengths, reserved) and the
  // sections equal to those of a frame that passed check_sections: every
  // check parse_frame makes on them gives the same answer again, except
  // those against the limits (which may have changed since) and those
  // that involve the length (which may differ). Those are made here.
  if (bytes.size() < header_size) return 0;
  const std::byte* p = bytes.data();
  if (detail::load_u64(p + off_kind) != detail::load_u64(previous + off_kind) ||
      detail::load_u32(p + off_reserved) != detail::load_u32(previous + off_reserved))
    return 0;
  std::size_t length = detail::load_u32(p + off_length);
  std::size_t tlen = detail::load_u16(p + off_target_len);
  std::size_t nlen = detail::load_u16(p + off_sender_node_len);
  std::size_t slen = detail::load_u16(p + off_sender_path_len);
  std::size_t sections = tlen + nlen + slen;
  bool target_is_path = !(f.flags & flag_target_id);  // f's flags are those at p + off_flags
  if (length > limits.max_frame_size || header_size + sections > length || bytes.size() < length ||
      (target_is_path && tlen > limits.max_path_length) || slen > limits.max_path_length ||
      !same_bytes(p + header_size, previous + header_size, sections))
    return 0;
  f.type_marker = detail::load_u64(p + off_type_marker);
  f.correlation_id = detail::load_u64(p + off_correlation);
  point_sections(f, p, length, tlen, nlen, slen);
  return length;
}

}  // namespace volley::remote
