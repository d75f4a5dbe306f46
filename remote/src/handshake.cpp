// Handshake state machine and its HMAC proofs (OpenSSL). See handshake.hpp for
// the exchange and PROTOCOL.md §6.1 for the body layouts and the argument.
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

// The introduction body, hello and challenge (PROTOCOL.md §6.1): magic u32,
// version u16, reserved u16, incarnation u64, nonce; where each field starts.
constexpr std::size_t intro_version_at = 4;
constexpr std::size_t intro_reserved_at = 6;
constexpr std::size_t intro_incarnation_at = 8;
constexpr std::size_t intro_nonce_at = 16;
constexpr std::size_t intro_size = intro_nonce_at + nonce_size;

// Role labels: distinct, and neither a prefix of the other, so no proof of one
// role is a proof of the other (they are length-prefixed besides).
constexpr std::string_view initiator_label = "volley handshake initiator proof";
constexpr std::string_view acceptor_label = "volley handshake acceptor proof";

void random_bytes(void* p, std::size_t n) {
  if (RAND_bytes(static_cast<unsigned char*>(p), static_cast<int>(n)) != 1)
    throw std::runtime_error("volley::remote: OpenSSL RAND_bytes failed");
}

void append_u16(std::vector<std::byte>& out, std::uint16_t v) {
  std::byte b[2];
  detail::store_u16(b, v);
  out.insert(out.end(), b, b + 2);
}

void append_u64(std::vector<std::byte>& out, std::uint64_t v) {
  std::byte b[8];
  detail::store_u64(b, v);
  out.insert(out.end(), b, b + 8);
}

/// u16 length, then the bytes: no two field lists encode to the same message.
void append_prefixed(std::vector<std::byte>& out, std::string_view s) {
  append_u16(out, static_cast<std::uint16_t>(s.size()));
  auto bytes = std::as_bytes(std::span(s.data(), s.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void append_nonce(std::vector<std::byte>& out, const nonce& n) {
  out.insert(out.end(), n.begin(), n.end());
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

std::vector<std::byte> proof_message(proof_role role, const handshake_transcript& t) {
  std::vector<std::byte> msg;
  msg.reserve(2 + acceptor_label.size() + 2 + 2 * (2 + max_node_name_length + 8 + nonce_size));
  append_prefixed(msg, role == proof_role::initiator ? initiator_label : acceptor_label);
  append_u16(msg, t.version);
  append_prefixed(msg, t.initiator_name);
  append_u64(msg, t.initiator_incarnation);
  append_nonce(msg, t.initiator_nonce);
  append_prefixed(msg, t.acceptor_name);
  append_u64(msg, t.acceptor_incarnation);
  append_nonce(msg, t.acceptor_nonce);
  if (!t.channel_binding.empty()) {
    append_u16(msg, static_cast<std::uint16_t>(t.channel_binding.size()));
    msg.insert(msg.end(), t.channel_binding.begin(), t.channel_binding.end());
  }
  return msg;
}

mac_tag handshake_proof(std::string_view secret, proof_role role, const handshake_transcript& t) {
  std::vector<std::byte> msg = proof_message(role, t);
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
      return "authentication failed (the nodes do not share the secret)";
    case reject_reason::protocol_violation:
      return "protocol violation during handshake";
    case reject_reason::self_connection:
      return "connection to self";
    case reject_reason::malformed_body:
      return "malformed handshake body";
    case reject_reason::unexpected_peer:
      return "not the node the initiator meant to reach";
    case reject_reason::simultaneous_connect:
      return "another connection between the two nodes is kept (simultaneous connect)";
  }
  return "unknown reason";
}

// -- arbitration ---------------------------------------------------------------------

bool precedes(const node_identity& a, const node_identity& b) noexcept {
  if (a.name != b.name) return a.name < b.name;
  return a.incarnation < b.incarnation;
}

bool keeps_over(const contender& a, const contender& b, const node_identity& us,
                const node_identity& peer) noexcept {
  if (a.outbound != b.outbound) {
    // The one initiated by the node that comes first: both ends compute the
    // same answer from the same two identities (PROTOCOL.md §6.6).
    const node_identity& initiator_a = a.outbound ? us : peer;
    const node_identity& initiator_b = b.outbound ? us : peer;
    return precedes(initiator_a, initiator_b);
  }
  if (a.outbound) return a.gate_order < b.gate_order;  // both ours: the first one
  return false;                                        // both the peer's: its call
}

gate_verdict arbitrate(const contender& c, std::span<const contender> others,
                       const node_identity& us, const node_identity& peer) noexcept {
  gate_verdict v = gate_verdict::proceed;
  for (const contender& o : others) {
    if (!keeps_over(o, c, us, peer)) continue;
    if (o.established) return gate_verdict::refuse;
    v = gate_verdict::hold;
  }
  return v;
}

void encode_reason_frame(frame_kind kind, std::uint16_t code, std::string_view text,
                         std::vector<std::byte>& out) {
  // PROTOCOL.md §6.4: at most 200 bytes of text, so that a reject (whose text
  // may quote two 255-byte node names) stays within a pre-login frame cap.
  text = text.substr(0, max_reason_text);
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
  if (role_ == role::initiator) write_intro(frame_kind::hello, out);
}

handshake_transcript handshake::transcript() const {
  handshake_transcript t;
  t.version = config_.version;
  bool we_initiate = role_ == role::initiator;
  t.initiator_name = we_initiate ? std::string_view(config_.node_name) : peer_.name;
  t.initiator_incarnation = we_initiate ? config_.incarnation : peer_.incarnation;
  t.initiator_nonce = we_initiate ? our_nonce_ : peer_nonce_;
  t.acceptor_name = we_initiate ? std::string_view(peer_.name) : config_.node_name;
  t.acceptor_incarnation = we_initiate ? peer_.incarnation : config_.incarnation;
  t.acceptor_nonce = we_initiate ? peer_nonce_ : our_nonce_;
  t.channel_binding = config_.channel_binding;
  return t;
}

void handshake::write_intro(frame_kind kind, std::vector<std::byte>& out) const {
  std::array<std::byte, intro_size> body{};
  detail::store_u32(body.data(), protocol_magic);
  detail::store_u16(body.data() + intro_version_at, config_.version);
  detail::store_u16(body.data() + intro_reserved_at, 0);
  detail::store_u64(body.data() + intro_incarnation_at, config_.incarnation);
  std::memcpy(body.data() + intro_nonce_at, our_nonce_.data(), nonce_size);
  frame f;
  f.kind = kind;
  f.sender_node = config_.node_name;
  f.payload = body;
  encode_append(f, out);
}

void handshake::write_proof(frame_kind kind, proof_role r, std::vector<std::byte>& out) const {
  mac_tag proof = handshake_proof(config_.secret, r, transcript());
  frame f;
  f.kind = kind;
  f.payload = proof;
  encode_append(f, out);
}

bool handshake::check_proof(const frame& f, proof_role r) const {
  mac_tag expected = handshake_proof(config_.secret, r, transcript());
  return f.payload.size() == mac_size &&
         CRYPTO_memcmp(f.payload.data(), expected.data(), mac_size) == 0;
}

handshake::state handshake::fail(reject_reason reason, std::string text,
                                 std::vector<std::byte>& out) {
  encode_reason_frame(frame_kind::reject, static_cast<std::uint16_t>(reason), text, out);
  failure_ = std::move(text);
  failure_code_ = static_cast<std::uint16_t>(reason);
  return state_ = state::failed;
}

bool handshake::read_intro(const frame& f, nonce& peer_nonce, std::vector<std::byte>& out) {
  auto body = f.payload;
  // Magic and version come first and are read before the size check, so a
  // peer of another version gets "version mismatch", not "malformed".
  if (body.size() < intro_incarnation_at || detail::load_u32(body.data()) != protocol_magic) {
    fail(reject_reason::bad_magic, "peer did not send the volley magic", out);
    return false;
  }
  std::uint16_t version = detail::load_u16(body.data() + intro_version_at);
  if (version != config_.version) {
    fail(reject_reason::version_mismatch,
         "peer speaks protocol version " + std::to_string(version) + ", we speak " +
             std::to_string(config_.version),
         out);
    return false;
  }
  if (body.size() != intro_size) {
    fail(reject_reason::malformed_body,
         "handshake body has " + std::to_string(body.size()) + " bytes", out);
    return false;
  }
  peer_.name.assign(f.sender_node);
  peer_.incarnation = detail::load_u64(body.data() + intro_incarnation_at);
  std::memcpy(peer_nonce.data(), body.data() + intro_nonce_at, nonce_size);
  if (peer_.name == config_.node_name && peer_.incarnation == config_.incarnation) {
    // Refuses a reflection of our own frames back at us before any proof.
    fail(reject_reason::self_connection, "peer claims our own name and incarnation", out);
    return false;
  }
  return true;
}

handshake::state handshake::on_hello(const frame& f, std::vector<std::byte>& out) {
  if (!read_intro(f, peer_nonce_, out)) return state_;
  // No proof yet: the acceptor proves only after the initiator has (accept).
  write_intro(frame_kind::challenge, out);
  return state_ = state::awaiting_response;
}

handshake::state handshake::on_challenge(const frame& f, std::vector<std::byte>& out) {
  if (!read_intro(f, peer_nonce_, out)) return state_;
  if (!config_.expected_peer.empty() && peer_.name != config_.expected_peer)
    return fail(reject_reason::unexpected_peer,
                "this node (" + config_.node_name + ") expected node '" + config_.expected_peer +
                    "' but '" + peer_.name + "' answered",
                out);
  return pass_gate(out);
}

handshake::state handshake::pass_gate(std::vector<std::byte>& out) {
  gate_verdict v = config_.gate ? config_.gate(peer_) : gate_verdict::proceed;
  if (v == gate_verdict::hold) return state_ = state::held;
  if (v == gate_verdict::refuse) return resume(false, out);
  return prove(out);
}

handshake::state handshake::prove(std::vector<std::byte>& out) {
  if (role_ == role::initiator) {
    // Both nonces are fixed now: Ni went out in our hello, Na came in the challenge.
    write_proof(frame_kind::response, proof_role::initiator, out);
    return state_ = state::awaiting_accept;
  }
  write_proof(frame_kind::accept, proof_role::acceptor, out);
  return state_ = state::established;
}

handshake::state handshake::resume(bool proceed, std::vector<std::byte>& out) {
  if (state_ == state::established || state_ == state::failed) return state_;
  if (proceed) return state_ == state::held ? prove(out) : state_;
  return fail(reject_reason::simultaneous_connect,
              "this node (" + config_.node_name + ") keeps another connection to '" + peer_.name +
                  "' (simultaneous connect)",
              out);
}

handshake::state handshake::on_response(const frame& f, std::vector<std::byte>& out) {
  if (f.payload.size() != mac_size)
    return fail(reject_reason::malformed_body,
                "response body has " + std::to_string(f.payload.size()) + " bytes", out);
  if (!check_proof(f, proof_role::initiator))
    return fail(reject_reason::authentication_failed,
                "this node (" + config_.node_name + ") rejected the proof of initiator '" +
                    peer_.name + "': the two nodes do not share the secret",
                out);
  // The initiator has proved itself: our gate is here, before we prove.
  return pass_gate(out);
}

handshake::state handshake::on_accept(const frame& f, std::vector<std::byte>& out) {
  if (f.payload.size() != mac_size)
    return fail(reject_reason::malformed_body,
                "accept body has " + std::to_string(f.payload.size()) + " bytes", out);
  if (!check_proof(f, proof_role::acceptor))
    return fail(reject_reason::authentication_failed,
                "this node (" + config_.node_name + ") rejected the proof of acceptor '" +
                    peer_.name + "': the two nodes do not share the secret",
                out);
  return state_ = state::established;
}

handshake::state handshake::on_frame(const frame& f, std::vector<std::byte>& out) {
  if (state_ == state::failed || state_ == state::established) return state_;
  if (f.kind == frame_kind::reject) {
    reason_body why = decode_reason_body(f.payload);
    failure_ = "rejected by peer" + (peer_.name.empty() ? "" : " '" + peer_.name + "'") +
               " (code " + std::to_string(why.code) + "): " + std::string(why.text);
    failure_code_ = why.code;
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
      if (f.kind == frame_kind::accept) return on_accept(f, out);
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
