// Handshake state machine and its HMAC proofs (OpenSSL). See handshake.hpp for
// the exchange; PROTOCOL.md for the body layouts.
#include <volley/remote/frame_codec.hpp>
#include <volley/remote/handshake.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace volley::remote {

namespace {

// Body sizes (PROTOCOL.md): magic u32, version u16, reserved u16, incarnation u64, nonce.
constexpr std::size_t intro_size = 4 + 2 + 2 + 8 + nonce_size;
constexpr std::size_t challenge_size = intro_size + mac_size;

void random_bytes(void* p, std::size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(p), static_cast<int>(n)) != 1)
    throw std::runtime_error("volley::remote: OpenSSL RAND_bytes failed");
}

bool same_tag(const std::byte* a, const mac_tag& b) noexcept {
  return CRYPTO_memcmp(a, b.data(), mac_size) == 0;
}

}  // namespace

std::uint64_t random_incarnation() {
  std::uint64_t v = 0;
  while (v == 0) random_bytes(&v, sizeof v);  // 0 means "unknown" on the wire
  return v;
}

nonce random_nonce() {
  nonce n;
  random_bytes(n.data(), n.size());
  return n;
}

mac_tag handshake_proof(std::string_view secret, const nonce& n, std::string_view name,
                        std::uint64_t incarnation) {
  std::vector<std::byte> msg(nonce_size + name.size() + 8);
  std::memcpy(msg.data(), n.data(), nonce_size);
  if (!name.empty()) std::memcpy(msg.data() + nonce_size, name.data(), name.size());
  detail::store_u64(msg.data() + nonce_size + name.size(), incarnation);
  mac_tag tag{};
  unsigned int len = 0;
  static const unsigned char empty_key = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&empty_key)
                                   : static_cast<const void*>(secret.data());
  if (!HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
            reinterpret_cast<unsigned char*>(tag.data()), &len) ||
      len != mac_size)
    throw std::runtime_error("volley::remote: HMAC-SHA256 failed");
  return tag;
}

std::string_view to_string(reject_reason r) noexcept {
  switch (r) {
    case reject_reason::version_mismatch:
      return "protocol version mismatch";
    case reject_reason::bad_magic:
      return "not a volley peer (bad magic)";
    case reject_reason::authentication_failed:
      return "authentication failed (wrong secret)";
    case reject_reason::protocol_violation:
      return "protocol violation during handshake";
    case reject_reason::self_connection:
      return "connection to self";
    case reject_reason::malformed_body:
      return "malformed handshake body";
  }
  return "unknown reason";
}

void encode_reason_frame(frame_kind kind, std::uint16_t code, std::string_view text,
                         std::vector<std::byte>& out) {
  std::vector<std::byte> body(2 + text.size());
  detail::store_u16(body.data(), code);
  if (!text.empty()) std::memcpy(body.data() + 2, text.data(), text.size());
  frame f;
  f.kind = kind;
  f.payload = body;
  encode_append(f, out);
}

reason_body decode_reason_body(std::span<const std::byte> payload) noexcept {
  reason_body r;
  if (payload.size() < 2) return r;
  r.code = detail::load_u16(payload.data());
  r.text = {reinterpret_cast<const char*>(payload.data() + 2), payload.size() - 2};
  return r;
}

handshake::handshake(role r, handshake_config config, nonce our_nonce)
    : role_(r),
      config_(std::move(config)),
      our_nonce_(our_nonce),
      state_(r == role::initiator ? state::awaiting_challenge : state::awaiting_hello) {}

void handshake::start(std::vector<std::byte>& out) {
  if (role_ == role::initiator) write_intro(frame_kind::hello, nullptr, out);
}

void handshake::write_intro(frame_kind kind, const mac_tag* proof,
                            std::vector<std::byte>& out) const {
  std::array<std::byte, challenge_size> body{};
  detail::store_u32(body.data(), protocol_magic);
  detail::store_u16(body.data() + 4, config_.version);
  detail::store_u16(body.data() + 6, 0);
  detail::store_u64(body.data() + 8, config_.incarnation);
  std::memcpy(body.data() + 16, our_nonce_.data(), nonce_size);
  if (proof) std::memcpy(body.data() + intro_size, proof->data(), mac_size);
  frame f;
  f.kind = kind;
  f.sender_node = config_.node_name;
  f.payload = std::span<const std::byte>(body.data(), proof ? challenge_size : intro_size);
  encode_append(f, out);
}

handshake::state handshake::fail(reject_reason reason, std::string text,
                                 std::vector<std::byte>& out) {
  encode_reason_frame(frame_kind::reject, static_cast<std::uint16_t>(reason), text, out);
  failure_ = std::move(text);
  return state_ = state::failed;
}

bool handshake::read_intro(const frame& f, std::size_t body_size, nonce& peer_nonce,
                           std::vector<std::byte>& out) {
  auto body = f.payload;
  // Magic and version come first and are read before the size check, so a
  // peer of another version gets "version mismatch", not "malformed".
  if (body.size() < 8 || detail::load_u32(body.data()) != protocol_magic) {
    fail(reject_reason::bad_magic, "peer did not send the volley magic", out);
    return false;
  }
  std::uint16_t version = detail::load_u16(body.data() + 4);
  if (version != config_.version) {
    fail(reject_reason::version_mismatch,
         "peer speaks protocol version " + std::to_string(version) + ", we speak " +
             std::to_string(config_.version),
         out);
    return false;
  }
  if (body.size() != body_size) {
    fail(reject_reason::malformed_body,
         "handshake body has " + std::to_string(body.size()) + " bytes", out);
    return false;
  }
  peer_.name.assign(f.sender_node);
  peer_.incarnation = detail::load_u64(body.data() + 8);
  std::memcpy(peer_nonce.data(), body.data() + 16, nonce_size);
  if (peer_.name == config_.node_name && peer_.incarnation == config_.incarnation) {
    // Also closes the reflection trick of making us prove a nonce for ourselves.
    fail(reject_reason::self_connection, "peer claims our own name and incarnation", out);
    return false;
  }
  return true;
}

handshake::state handshake::on_hello(const frame& f, std::vector<std::byte>& out) {
  if (!read_intro(f, intro_size, peer_nonce_, out)) return state_;
  mac_tag proof =
      handshake_proof(config_.secret, peer_nonce_, config_.node_name, config_.incarnation);
  write_intro(frame_kind::challenge, &proof, out);
  return state_ = state::awaiting_response;
}

handshake::state handshake::on_challenge(const frame& f, std::vector<std::byte>& out) {
  if (!read_intro(f, challenge_size, peer_nonce_, out)) return state_;
  mac_tag expected = handshake_proof(config_.secret, our_nonce_, peer_.name, peer_.incarnation);
  if (!same_tag(f.payload.data() + intro_size, expected))
    return fail(reject_reason::authentication_failed,
                "acceptor '" + peer_.name + "' failed the secret check", out);
  mac_tag proof =
      handshake_proof(config_.secret, peer_nonce_, config_.node_name, config_.incarnation);
  frame resp;
  resp.kind = frame_kind::response;
  resp.payload = proof;
  encode_append(resp, out);
  return state_ = state::awaiting_accept;
}

handshake::state handshake::on_response(const frame& f, std::vector<std::byte>& out) {
  if (f.payload.size() != mac_size)
    return fail(reject_reason::malformed_body,
                "response body has " + std::to_string(f.payload.size()) + " bytes", out);
  mac_tag expected = handshake_proof(config_.secret, our_nonce_, peer_.name, peer_.incarnation);
  if (!same_tag(f.payload.data(), expected))
    return fail(reject_reason::authentication_failed,
                "initiator '" + peer_.name + "' failed the secret check", out);
  frame acc;
  acc.kind = frame_kind::accept;
  encode_append(acc, out);
  return state_ = state::established;
}

handshake::state handshake::on_frame(const frame& f, std::vector<std::byte>& out) {
  if (state_ == state::failed || state_ == state::established) return state_;
  if (f.kind == frame_kind::reject) {
    reason_body why = decode_reason_body(f.payload);
    failure_ = "rejected by peer (code " + std::to_string(why.code) + "): " + std::string(why.text);
    rejected_by_peer_ = true;
    return state_ = state::failed;
  }
  switch (state_) {
    case state::awaiting_hello:
      if (f.kind == frame_kind::hello) return on_hello(f, out);
      break;
    case state::awaiting_challenge:
      if (f.kind == frame_kind::challenge) return on_challenge(f, out);
      break;
    case state::awaiting_response:
      if (f.kind == frame_kind::response) return on_response(f, out);
      break;
    case state::awaiting_accept:
      if (f.kind == frame_kind::accept) return state_ = state::established;
      break;
    default:
      break;
  }
  return fail(
      reject_reason::protocol_violation,
      std::string("unexpected ") + std::string(to_string(f.kind)) + " frame during the handshake",
      out);
}

}  // namespace volley::remote
